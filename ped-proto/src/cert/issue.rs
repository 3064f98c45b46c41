//! The emulated HSM factory: certificate authorities that issue the root, the MIC, the
//! HOC and the static-key certificates.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use der::asn1::{Any, AnyRef, OctetString, PrintableStringRef, Utf8StringRef};
use der::oid::db::rfc4519::{COMMON_NAME, ORGANIZATION_NAME, SERIAL_NUMBER};
use der::oid::{AssociatedOid, ObjectIdentifier};
use der::{DateTime, Decode, Encode, EncodeValue, Tag, Tagged};
use p521::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{self, Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use zeroize::{Zeroize, Zeroizing};

use super::parse::ParsedCert;
use super::{FACTORY_ORGANIZATION, LeafRole, key_identifier};
use crate::ecdh::{EcdhKeyPair, EcdhPublicKey, FIELD_LEN};
use crate::error::CertificateError;

/// The root's pathLenConstraint: room for the MIC and the HOC below it.
const ROOT_PATH_LEN: u8 = 2;
/// Upper bound of commonName and serialNumber (X.520 ub-common-name, ub-serial-number).
const MAX_NAME_CHARS: usize = 64;
/// Serial numbers are 16 random bytes (RFC 5280 §4.1.2.2 allows up to 20).
const SERIAL_LEN: usize = 16;

/// Why the factory could not issue a certificate or load a certificate authority.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueError {
    /// A common name or serial number is empty or longer than 64 characters, or a
    /// serial number is not a PrintableString (letters, digits, space, `'()+,-./:=?`).
    InvalidName,
    /// `not_after` is before `not_before`, or a time is past the year 9999.
    InvalidValidity,
    /// The issuer's path length constraint does not allow a CA with this path length.
    PathLength,
    /// The stored signing key is not a 66-byte P-521 scalar in [1, n-1].
    InvalidPrivateKey,
    /// The stored signing key is not the key the stored certificate certifies.
    KeyMismatch,
    /// The stored certificate is not a usable CA certificate.
    Certificate(CertificateError),
    /// Encoding or signing the certificate failed.
    Encoding,
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueError::InvalidName => f.write_str("name is empty, too long or has characters it may not have"),
            IssueError::InvalidValidity => f.write_str("validity period is empty or out of range"),
            IssueError::PathLength => f.write_str("issuer's path length constraint forbids this CA"),
            IssueError::InvalidPrivateKey => f.write_str("signing key is not a valid P-521 private key"),
            IssueError::KeyMismatch => f.write_str("signing key does not match the certificate"),
            IssueError::Certificate(e) => write!(f, "CA certificate unusable: {e}"),
            IssueError::Encoding => f.write_str("certificate could not be encoded or signed"),
        }
    }
}

impl core::error::Error for IssueError {}

impl From<builder::Error> for IssueError {
    fn from(_: builder::Error) -> Self {
        IssueError::Encoding
    }
}

impl From<der::Error> for IssueError {
    fn from(_: der::Error) -> Self {
        IssueError::Encoding
    }
}

impl From<spki::Error> for IssueError {
    fn from(_: spki::Error) -> Self {
        IssueError::Encoding
    }
}

/// A certificate authority of the emulated factory: an ECDSA P-521 signing key and the
/// certificate that certifies it. The root, the MIC and each HSM's HOC are one each.
///
/// The signing key is wiped on drop (by `SigningKey`) and never shown by `Debug`.
/// Times are Unix seconds, and validity periods are inclusive at both ends.
pub struct CertificateAuthority {
    signing_key: SigningKey,
    cert_der: Vec<u8>,
    subject: Name,
    path_len: Option<u8>,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("subject", &format_args!("{}", self.subject))
            .field("path_len", &self.path_len)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Creates a self-signed root CA with pathLenConstraint 2 (the MIC, then the HOC).
    pub fn new_root<R: CryptoRng + ?Sized>(
        rng: &mut R,
        common_name: &str,
        not_before: u64,
        not_after: u64,
    ) -> Result<Self, IssueError> {
        let signing_key = generate_signing_key(rng);
        let subject = factory_name(common_name, None)?;
        let profile =
            FactoryProfile { subject: subject.clone(), issuer: None, kind: CertKind::Ca { path_len: ROOT_PATH_LEN } };
        let spki = SubjectPublicKeyInfoOwned::from_key(signing_key.verifying_key())?;
        let cert_der = sign(rng, &signing_key, profile, spki, not_before, not_after)?;
        Ok(CertificateAuthority { signing_key, cert_der, subject, path_len: Some(ROOT_PATH_LEN) })
    }

    /// Issues a subordinate CA with a fresh key: the MIC (`path_len` 1, issued by the
    /// root) or an HSM's HOC (`path_len` 0, issued by the MIC). `path_len` must be
    /// below this CA's own, or the certificate could never verify.
    pub fn issue_ca<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        common_name: &str,
        path_len: u8,
        not_before: u64,
        not_after: u64,
    ) -> Result<CertificateAuthority, IssueError> {
        if self.path_len.is_some_and(|own| path_len >= own) {
            return Err(IssueError::PathLength);
        }
        let signing_key = generate_signing_key(rng);
        let subject = factory_name(common_name, None)?;
        let profile = FactoryProfile {
            subject: subject.clone(),
            issuer: Some(self.subject.clone()),
            kind: CertKind::Ca { path_len },
        };
        let spki = SubjectPublicKeyInfoOwned::from_key(signing_key.verifying_key())?;
        let cert_der = sign(rng, &self.signing_key, profile, spki, not_before, not_after)?;
        Ok(CertificateAuthority { signing_key, cert_der, subject, path_len: Some(path_len) })
    }

    /// Issues the certificate of a static ECDH key for `role` (the HSM's own key, or
    /// the RPK static key of an orange key) and returns its DER. The role goes into the
    /// certificate as its only extended key usage, and verifiers refuse the certificate
    /// in the other role. `hsm_serial`, when given, goes into the subject as the X.520
    /// serialNumber attribute.
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is a distinct, required field of the certificate; a struct would only rename them"
    )]
    pub fn issue_key_agreement_cert<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        role: LeafRole,
        common_name: &str,
        hsm_serial: Option<&str>,
        public_key: &EcdhPublicKey,
        not_before: u64,
        not_after: u64,
    ) -> Result<Vec<u8>, IssueError> {
        let subject = factory_name(common_name, hsm_serial)?;
        let profile = FactoryProfile { subject, issuer: Some(self.subject.clone()), kind: CertKind::Leaf(role) };
        let spki = SubjectPublicKeyInfoOwned::from_key(public_key.as_p521())?;
        sign(rng, &self.signing_key, profile, spki, not_before, not_after)
    }

    /// Loads a CA from its stored signing key (66 bytes, big-endian) and certificate.
    /// The certificate must be a CA certificate allowed to sign certificates, for
    /// exactly this key.
    pub fn from_parts(signing_key_bytes: &[u8], cert_der: &[u8]) -> Result<Self, IssueError> {
        if signing_key_bytes.len() != FIELD_LEN {
            return Err(IssueError::InvalidPrivateKey);
        }
        let signing_key = SigningKey::from_slice(signing_key_bytes).map_err(|_| IssueError::InvalidPrivateKey)?;
        let cert = ParsedCert::parse(cert_der).map_err(IssueError::Certificate)?;
        cert.check_can_issue(0).map_err(IssueError::Certificate)?;
        if *signing_key.verifying_key() != VerifyingKey::from(cert.key().as_p521()) {
            return Err(IssueError::KeyMismatch);
        }
        Ok(CertificateAuthority {
            signing_key,
            cert_der: cert_der.to_vec(),
            subject: cert.subject().clone(),
            path_len: cert.path_len(),
        })
    }

    /// The signing key, big-endian, for storing in the emulated HSM's secure storage.
    pub fn signing_key_bytes(&self) -> Zeroizing<[u8; FIELD_LEN]> {
        let mut bytes = self.signing_key.to_bytes();
        let mut out = Zeroizing::new([0u8; FIELD_LEN]);
        out.copy_from_slice(&bytes);
        bytes.zeroize();
        out
    }

    /// This CA's certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// This CA's subject name, the issuer name of everything it issues.
    pub fn subject(&self) -> &Name {
        &self.subject
    }
}

/// A fresh P-521 signing key, generated as the ECDH keys are (FIPS 186-5 A.4.2 applies
/// to both): the scalar is the same kind of value whatever the key is used for.
fn generate_signing_key<R: CryptoRng + ?Sized>(rng: &mut R) -> SigningKey {
    let scalar = EcdhKeyPair::generate(rng).private_bytes();
    SigningKey::from_slice(scalar.as_slice()).expect("EcdhKeyPair::generate yields a scalar in [1, n-1]")
}

/// Builds, signs and encodes one certificate.
fn sign<R: CryptoRng + ?Sized>(
    rng: &mut R,
    issuer_key: &SigningKey,
    profile: FactoryProfile,
    spki: SubjectPublicKeyInfoOwned,
    not_before: u64,
    not_after: u64,
) -> Result<Vec<u8>, IssueError> {
    if not_after < not_before {
        return Err(IssueError::InvalidValidity);
    }
    let validity = Validity::new(rfc5280_time(not_before)?, rfc5280_time(not_after)?);
    let builder = CertificateBuilder::new(profile, random_serial(rng)?, validity, spki)?;
    // Hedged signing (RFC 6979 nonce plus fresh randomness): a fault or a weak RNG
    // alone cannot leak the issuer's key.
    let cert = builder.build_with_rng::<_, DerSignature, _>(issuer_key, rng)?;
    Ok(cert.to_der()?)
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on.
fn rfc5280_time(unix_seconds: u64) -> Result<Time, IssueError> {
    let date =
        DateTime::from_unix_duration(Duration::from_secs(unix_seconds)).map_err(|_| IssueError::InvalidValidity)?;
    Ok(Time::from(date))
}

/// 16 random bytes, made positive and kept at full length (RFC 5280 §4.1.2.2): the top
/// bit cleared, the next one set.
fn random_serial<R: CryptoRng + ?Sized>(rng: &mut R) -> Result<SerialNumber, IssueError> {
    let mut bytes = [0u8; SERIAL_LEN];
    rng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::new(&bytes)?)
}

/// `O=ped-proto emulated factory, CN=<common_name>[, serialNumber=<hsm_serial>]`.
fn factory_name(common_name: &str, hsm_serial: Option<&str>) -> Result<Name, IssueError> {
    let within_bounds = |s: &str| (1..=MAX_NAME_CHARS).contains(&s.chars().count());
    if !within_bounds(common_name) || !hsm_serial.is_none_or(within_bounds) {
        return Err(IssueError::InvalidName);
    }
    let mut rdns = vec![
        rdn(ORGANIZATION_NAME, &Utf8StringRef::new(FACTORY_ORGANIZATION)?)?,
        rdn(COMMON_NAME, &Utf8StringRef::new(common_name)?)?,
    ];
    if let Some(serial) = hsm_serial {
        // X.520 defines serialNumber as a PrintableString.
        let printable = PrintableStringRef::new(serial).map_err(|_| IssueError::InvalidName)?;
        rdns.push(rdn(SERIAL_NUMBER, &printable)?);
    }
    // x509-cert builds a Name only by decoding one; the round trip is exact.
    Ok(Name::from_der(&RdnSequence::from(rdns).to_der()?)?)
}

fn rdn<T: Tagged + EncodeValue>(oid: ObjectIdentifier, value: &T) -> Result<RelativeDistinguishedName, IssueError> {
    let atv = AttributeTypeAndValue { oid, value: Any::encode_from(value)? };
    Ok(RelativeDistinguishedName::try_from(vec![atv])?)
}

/// What a certificate is for, which decides its extensions.
#[derive(Clone, Copy, Debug)]
enum CertKind {
    Ca { path_len: u8 },
    Leaf(LeafRole),
}

/// The factory's certificate profile (see the table in the module documentation).
#[derive(Debug)]
struct FactoryProfile {
    subject: Name,
    /// `None` for a self-signed root.
    issuer: Option<Name>,
    kind: CertKind,
}

impl BuilderProfile for FactoryProfile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer.clone().unwrap_or_else(|| subject.clone())
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> builder::Result<Vec<Extension>> {
        let (basic, usage) = match self.kind {
            CertKind::Ca { path_len } => (
                BasicConstraints { ca: true, path_len_constraint: Some(path_len) },
                KeyUsages::KeyCertSign | KeyUsages::CRLSign,
            ),
            CertKind::Leaf(_) => {
                (BasicConstraints { ca: false, path_len_constraint: None }, KeyUsages::KeyAgreement.into())
            }
        };
        let ski = SubjectKeyIdentifier(OctetString::new(key_identifier(spk.subject_public_key.raw_bytes()))?);
        let mut extensions =
            vec![extension(true, &basic)?, extension(true, &KeyUsage(usage))?, extension(false, &ski)?];
        if let CertKind::Leaf(role) = self.kind {
            extensions.push(purpose_extension(role)?);
        }
        if self.issuer.is_some() {
            let aki = AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(key_identifier(issuer_spk.subject_public_key.raw_bytes()))?),
                ..AuthorityKeyIdentifier::default()
            };
            extensions.push(extension(false, &aki)?);
        }
        Ok(extensions)
    }
}

fn extension<T: AssociatedOid + Encode>(critical: bool, value: &T) -> der::Result<Extension> {
    Ok(Extension { extn_id: T::OID, critical, extn_value: OctetString::new(value.to_der()?)? })
}

/// extendedKeyUsage with `role`'s purpose and nothing else. Critical, so that a
/// verifier that does not understand it refuses the key rather than use it for another
/// purpose (RFC 5280 §4.2.1.12). The purpose OID has a 128-bit arc, which `const-oid`
/// (and so [`ExtendedKeyUsage`]'s own encoder) cannot hold: the SEQUENCE OF is written
/// from the OID's DER contents.
fn purpose_extension(role: LeafRole) -> der::Result<Extension> {
    let purposes = vec![AnyRef::new(Tag::ObjectIdentifier, role.purpose_oid())?];
    Ok(Extension { extn_id: ExtendedKeyUsage::OID, critical: true, extn_value: OctetString::new(purposes.to_der()?)? })
}
