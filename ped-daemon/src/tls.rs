//! PED-initiated mode's TLS (seed 5480-5560, 5640-5700): pedserver connects out to an
//! appliance's pedclient; both ends present a certificate and each accepts exactly one,
//! the one registered out of band. There is no CA: the pin is the trust decision, as with
//! SSH host keys, so names, dates and chains are not consulted; the TLS handshake
//! signature is still checked against the pinned certificate's key, which proves that the
//! peer holds its private key.
//!
//! TLS 1.3 only (both ends are ours), aws-lc-rs as the provider: it is the rustls provider
//! with ECDSA P-521 (ring has none), so the certificates are P-521 / SHA-512 like the rest
//! of the system. The same configuration helpers serve pedserver ([`client_config`]) and a
//! pedclient ([`server_config`]), and both verifiers are one pin check, so both
//! ends and the tests run one verification code path.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, aws_lc_rs};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The port an appliance's pedclient listens on for PED-initiated mode unless told
/// otherwise: pedclient's `-listenport` default and pedserver's `-appliance register` one.
pub const DEFAULT_PED_INITIATED_PORT: u16 = 9696;

/// Why a certificate, a key or a TLS configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A file holds no certificate or key of the expected kind.
    #[error("{path}: {message}")]
    Format {
        /// Which file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Key generation, signing or configuration failed.
    #[error("{0}")]
    Crypto(String),
}

/// A certificate and its private key: this end's identity in the handshake.
pub struct Identity {
    /// The certificate (DER).
    pub cert: CertificateDer<'static>,
    /// Its private key (PKCS#8 DER; pki-types wipes it on drop).
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Identity").field("fingerprint", &fingerprint(&self.cert)).finish_non_exhaustive()
    }
}

/// A freshly generated identity, as the PEM texts written to disk.
#[derive(Clone)]
pub struct GeneratedIdentity {
    /// The self-signed certificate.
    pub cert_pem: String,
    /// The PKCS#8 private key; wiped on drop.
    pub key_pem: Zeroizing<String>,
}

impl std::fmt::Debug for GeneratedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedIdentity").field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}

impl GeneratedIdentity {
    /// Makes a P-521 key and a self-signed ECDSA-SHA-512 certificate for `common_name`.
    pub fn new(common_name: &str) -> Result<GeneratedIdentity, TlsError> {
        let crypto = |e: rcgen::Error| TlsError::Crypto(e.to_string());
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).map_err(crypto)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(crypto)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
        let cert = params.self_signed(&key).map_err(crypto)?;
        Ok(GeneratedIdentity { cert_pem: cert.pem(), key_pem: Zeroizing::new(key.serialize_pem()) })
    }

    /// The identity as the TLS configuration takes it.
    pub fn identity(&self) -> Result<Identity, TlsError> {
        let path = Path::new("(generated)");
        Ok(Identity {
            cert: parse_certificate(self.cert_pem.as_bytes(), path)?,
            key: PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| format_error(path, e))?,
        })
    }
}

fn format_error(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::Format { path: path.into(), message: e.to_string() }
}

impl Identity {
    /// Reads a certificate file and its key file (PEM).
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Identity, TlsError> {
        let cert = read_certificate(cert_file)?;
        let bytes =
            Zeroizing::new(std::fs::read(key_file).map_err(|source| TlsError::Io { path: key_file.into(), source })?);
        let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| format_error(key_file, e))?;
        Ok(Identity { cert, key })
    }
}

/// Reads a certificate file, PEM or DER, and checks that it is an X.509 certificate.
pub fn read_certificate(path: &Path) -> Result<CertificateDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Io { path: path.into(), source })?;
    parse_certificate(&bytes, path)
}

fn parse_certificate(bytes: &[u8], path: &Path) -> Result<CertificateDer<'static>, TlsError> {
    let der = if bytes.starts_with(b"-----BEGIN") || bytes.iter().take(64).all(u8::is_ascii) {
        CertificateDer::from_pem_slice(bytes).map_err(|e| format_error(path, format!("no PEM certificate: {e}")))?
    } else {
        CertificateDer::from(bytes.to_vec())
    };
    x509::subject(der.as_ref()).map_err(|e| format_error(path, format!("not an X.509 certificate: {e}")))?;
    Ok(der)
}

/// A certificate as PEM text, as a configuration file keeps a registered peer's beside its
/// pin.
pub fn certificate_pem(cert: &CertificateDer<'_>) -> String {
    // Only an encoder's length overflow can fail, far beyond any certificate.
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, cert.as_ref()).unwrap_or_default()
}

/// A certificate kept as PEM text in the file `origin` (a configuration).
pub fn certificate_from_pem(text: &str, origin: &Path) -> Result<CertificateDer<'static>, TlsError> {
    parse_certificate(text.as_bytes(), origin)
}

/// The subject common name of a certificate (empty if it has none).
pub fn common_name(cert: &CertificateDer<'_>) -> String {
    x509::subject(cert.as_ref()).ok().and_then(|subject| x509::common_name(subject).ok().flatten()).unwrap_or_default()
}

/// The two things the daemons read in a certificate, its shape and its subject's common
/// name, through `der`'s generic decoder rather than x509-cert: the relays link no
/// certificate or channel crypto crate (DESIGN.md rule 2; `.ci/run` checks the graph), and
/// the trust decision is the pin, not anything in the certificate.
mod x509 {
    use der::asn1::{AnyRef, ObjectIdentifier};
    use der::{Decode, Reader, SliceReader, Tag, Tagged};

    /// id-at-commonName.
    const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

    /// The elements of a SEQUENCE or SET, in order.
    fn elements<'a>(any: AnyRef<'a>) -> der::Result<Vec<AnyRef<'a>>> {
        let mut reader = SliceReader::new(any.value())?;
        let mut out = Vec::new();
        while !reader.is_finished() {
            out.push(AnyRef::decode(&mut reader)?);
        }
        Ok(out)
    }

    /// Checks the Certificate shape (RFC 5280 §4.1: tbsCertificate, signatureAlgorithm,
    /// signatureValue) and returns the subject Name.
    pub(super) fn subject(der: &[u8]) -> der::Result<AnyRef<'_>> {
        let certificate = AnyRef::from_der(der)?;
        certificate.tag().assert_eq(Tag::Sequence)?;
        let [tbs, algorithm, signature] = <[AnyRef<'_>; 3]>::try_from(elements(certificate)?)
            .map_err(|_| der::Error::from(der::ErrorKind::Length { tag: Tag::Sequence }))?;
        tbs.tag().assert_eq(Tag::Sequence)?;
        algorithm.tag().assert_eq(Tag::Sequence)?;
        signature.tag().assert_eq(Tag::BitString)?;
        // version [0] is optional; then serialNumber, signature, issuer, validity, subject.
        let fields = elements(tbs)?;
        let skip = usize::from(fields.first().is_some_and(|f| f.tag().is_context_specific()));
        let subject =
            *fields.get(skip + 4).ok_or_else(|| der::Error::from(der::ErrorKind::Length { tag: Tag::Sequence }))?;
        subject.tag().assert_eq(Tag::Sequence)?;
        Ok(subject)
    }

    /// The first commonName of a Name (a SEQUENCE of SETs of AttributeTypeAndValue).
    pub(super) fn common_name(subject: AnyRef<'_>) -> der::Result<Option<String>> {
        for rdn in elements(subject)? {
            for attribute in elements(rdn)? {
                let [kind, value] = <[AnyRef<'_>; 2]>::try_from(elements(attribute)?)
                    .map_err(|_| der::Error::from(der::ErrorKind::Length { tag: Tag::Sequence }))?;
                if ObjectIdentifier::try_from(kind)? == COMMON_NAME {
                    return Ok(Some(String::from_utf8_lossy(value.value()).into_owned()));
                }
            }
        }
        Ok(None)
    }
}

/// SHA-256 of the certificate's DER, lower-case hex: the pin stored in the configuration.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    hex::encode(Sha256::digest(cert.as_ref()))
}

/// A stored fingerprint as people compare it: upper-case pairs joined by colons, the form
/// of `openssl x509 -noout -fingerprint -sha256 -in FILE`.
pub fn fingerprint_for_humans(hex_fingerprint: &str) -> String {
    let upper = hex_fingerprint.to_ascii_uppercase();
    let pairs: Vec<&str> = upper.as_bytes().chunks(2).map(|pair| std::str::from_utf8(pair).unwrap_or("??")).collect();
    pairs.join(":")
}

/// Where `-regen` writes a certificate and its key in `dir`: the seed's names, `CN.pem`
/// and `CNKey.pem`.
pub fn identity_files(dir: &Path, common_name: &str) -> (PathBuf, PathBuf) {
    (dir.join(format!("{common_name}.pem")), dir.join(format!("{common_name}Key.pem")))
}

/// Writes a new identity as `cert_file` and `key_file`, which share a directory, in one
/// atomic step (ped-fs's `replace_files`): after a kill at any instant both files are the
/// old pair or both the new one, never a key beside another key's certificate. The
/// directory's other files stay; each file is owner-only and keeps the owner of the file
/// it replaces.
pub fn write_identity_files(cert_file: &Path, key_file: &Path, generated: &GeneratedIdentity) -> Result<(), TlsError> {
    let dir = cert_file.parent().filter(|d| Some(*d) == key_file.parent()).ok_or_else(|| TlsError::Format {
        path: key_file.into(),
        message: format!("not in the directory of {}", cert_file.display()),
    })?;
    let name = |path: &Path| path.file_name().and_then(|n| n.to_str()).map(str::to_owned);
    let (Some(cert_name), Some(key_name)) = (name(cert_file), name(key_file)) else {
        return Err(format_error(cert_file, "not a file name"));
    };
    // The certificate directory and its parents are private, as the keys in them.
    ped_fs::private_dir(dir).map_err(|source| TlsError::Io { path: dir.into(), source })?;
    let files =
        [(cert_name.as_str(), generated.cert_pem.as_bytes()), (key_name.as_str(), generated.key_pem.as_bytes())];
    ped_fs::replace_files(dir, &files, &[]).map_err(|source| TlsError::Io { path: dir.into(), source })
}

/// A name that cannot be a file name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} {name:?} must be 1-64 letters, digits, '.', '_' or '-', not starting with '.'")]
pub struct FileNameError {
    /// What the name is, e.g. `the common name`.
    pub what: &'static str,
    /// The name given.
    pub name: String,
}

/// Names and common names become file names: letters, digits, `.`, `_`, `-`, not
/// starting with `.`, at most 64 characters (X.509's upper bound for a common name).
pub fn check_file_name(what: &'static str, name: &str) -> Result<(), FileNameError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok { Ok(()) } else { Err(FileNameError { what, name: name.to_string() }) }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

/// The peer's certificate is not the pinned one.
#[derive(Debug, thiserror::Error)]
#[error("the peer presented a certificate with fingerprint {presented}, not the registered {expected}")]
struct NotPinned {
    presented: String,
    expected: String,
}

/// Accepts exactly one certificate, byte for byte, and checks handshake signatures with
/// its key. Serves as the client's server verifier and as the server's client verifier.
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Pinned {
    fn new(cert: CertificateDer<'static>, provider: &CryptoProvider) -> Pinned {
        Pinned { cert, algorithms: provider.signature_verification_algorithms }
    }

    fn check(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            return Ok(());
        }
        let why = NotPinned {
            presented: fingerprint_for_humans(&fingerprint(end_entity)),
            expected: fingerprint_for_humans(&fingerprint(&self.cert)),
        };
        tracing::warn!("{why}");
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(why)))))
    }
}

/// The handshake-signature half of a verifier, the same for both roles: the signature is
/// checked with the presented certificate's key, which `Pinned::check` has matched.
/// A macro because the two verifier traits declare these methods separately.
macro_rules! pinned_signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity).map(|()| ServerCertVerified::assertion())
    }

    pinned_signature_checks!();
}

impl ClientCertVerifier for Pinned {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity).map(|()| ClientCertVerified::assertion())
    }

    pinned_signature_checks!();
}

fn config_error(e: rustls::Error) -> TlsError {
    TlsError::Crypto(e.to_string())
}

/// The connecting end (pedserver): presents `identity`, accepts only `peer`.
pub fn client_config(
    identity: &Identity,
    peer: CertificateDer<'static>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = provider();
    let pinned = Arc::new(Pinned::new(peer, &provider));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(config_error)?
        .dangerous()
        .with_custom_certificate_verifier(pinned)
        .with_client_auth_cert(vec![identity.cert.clone()], identity.key.clone_key())
        .map_err(config_error)?;
    Ok(Arc::new(config))
}

/// The listening end (an appliance's pedclient): presents `identity`, demands a client
/// certificate and accepts only `peer`.
pub fn server_config(
    identity: &Identity,
    peer: CertificateDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = provider();
    let pinned = Arc::new(Pinned::new(peer, &provider));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(config_error)?
        .with_client_cert_verifier(pinned)
        .with_single_cert(vec![identity.cert.clone()], identity.key.clone_key())
        .map_err(config_error)?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_identity_is_p521_with_its_common_name() {
        let generated = GeneratedIdentity::new("laptop").unwrap();
        assert!(generated.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let identity = generated.identity().unwrap();
        assert_eq!(common_name(&identity.cert), "laptop");
        let cert = <x509_cert::Certificate as der::Decode>::from_der(identity.cert.as_ref()).unwrap();
        let spki = cert.tbs_certificate().subject_public_key_info();
        // id-ecPublicKey with the secp521r1 parameter.
        let params = spki.algorithm.parameters.as_ref().unwrap();
        assert_eq!(params.value(), [0x2b, 0x81, 0x04, 0x00, 0x23]);
        assert!(!format!("{identity:?}").contains("PRIVATE"));
        assert!(!format!("{generated:?}").contains("PRIVATE"));
    }

    /// `-regen` over an existing identity: the pair changes together, in a directory that
    /// stays 0700 with its other files (the old common name's pair, which the command
    /// deletes once the configuration names the new one).
    #[test]
    fn an_identity_is_written_as_one_pair() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let client = dir.path().join("cert/client");
        let (cert, key) = identity_files(&client, "laptop");
        let first = GeneratedIdentity::new("laptop").unwrap();
        write_identity_files(&cert, &key, &first).unwrap();
        let (old_cert, old_key) = identity_files(&client, "old");
        write_identity_files(&old_cert, &old_key, &first).unwrap();
        let second = GeneratedIdentity::new("laptop").unwrap();
        write_identity_files(&cert, &key, &second).unwrap();
        let loaded = Identity::load(&cert, &key).unwrap();
        assert_eq!(loaded.cert, second.identity().unwrap().cert);
        assert_eq!(std::fs::read_to_string(&key).unwrap(), *second.key_pem);
        assert!(old_cert.exists() && old_key.exists());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&client), mode(&key), mode(&cert)), (0o700, 0o600, 0o600));
        let elsewhere = dir.path().join("k.pem");
        assert!(matches!(write_identity_files(&cert, &elsewhere, &second), Err(TlsError::Format { .. })));
    }

    #[test]
    fn fingerprints_and_names() {
        let cert = CertificateDer::from(vec![1u8, 2, 3]);
        let fp = fingerprint(&cert);
        assert_eq!(fp, "039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81");
        assert!(fingerprint_for_humans(&fp).starts_with("03:90:58:C6:"));
        assert_eq!(fingerprint_for_humans(&fp).len(), 32 * 3 - 1);
        assert!(check_file_name("name", "abox-1.b_c").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_file_name("name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pem");
        std::fs::write(&path, "hello").unwrap();
        assert!(matches!(read_certificate(&path), Err(TlsError::Format { .. })));
        std::fs::write(&path, [0x30u8, 0x82, 0xff, 0xff, 0xc0, 0x01]).unwrap();
        assert!(matches!(read_certificate(&path), Err(TlsError::Format { .. })));
        let generated = GeneratedIdentity::new("a").unwrap();
        std::fs::write(&path, &generated.cert_pem).unwrap();
        let pem = read_certificate(&path).unwrap();
        std::fs::write(&path, pem.as_ref()).unwrap();
        assert_eq!(read_certificate(&path).unwrap(), pem, "DER is read too");
    }
}
