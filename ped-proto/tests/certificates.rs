//! The certificate chain: the emulated factory issues it, the PED's verifier accepts it
//! and refuses every way it can be wrong, the cache remembers it, and OpenSSL agrees.

use std::path::Path;
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use der::asn1::{ObjectIdentifier, OctetString};
use der::oid::AssociatedOid;
use der::{DateTime, Decode, Encode};
use p521::ecdsa::{DerSignature, SigningKey};
use ped_proto::CertificateError;
use ped_proto::cert::{
    CertificateAuthority, ChainCache, HSM_STATIC_KEY_PURPOSE_UUID, IssueError, LeafRole, MAX_CERT_LEN, MAX_CHAIN_LEN,
    RPK_STATIC_KEY_PURPOSE_UUID, VerifiedHsmChain, verify_chain, verify_hsm_chain, verify_rpk_cert,
};
use ped_proto::internal::ecdh::EcdhKeyPair;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha512};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

#[path = "../examples/certs.rs"]
#[allow(dead_code, reason = "the example's main is not called here, only its factory logic")]
mod certs_example;

const DAY: u64 = 24 * 3600;
const YEAR: u64 = 365 * DAY;
/// 2026-09-21: the factory runs at this instant in every test.
const NOW: u64 = 1_790_000_000;
const FROM: u64 = NOW - DAY;
const LEAF_UNTIL: u64 = NOW + 10 * YEAR;
const SERIAL: &str = "154438865";

/// One HSM's certificates, issued deterministically from `seed`.
struct Factory {
    root: CertificateAuthority,
    mic: CertificateAuthority,
    hoc: CertificateAuthority,
    hsm_key: EcdhKeyPair,
    hsm_cert: Vec<u8>,
    rpk_key: EcdhKeyPair,
    rpk_cert: Vec<u8>,
}

impl Factory {
    fn new(seed: u64, serial: &str) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let root = CertificateAuthority::new_root(&mut rng, "test root", FROM, NOW + 30 * YEAR).unwrap();
        let mic = root.issue_ca(&mut rng, "test MIC", 1, FROM, NOW + 25 * YEAR).unwrap();
        let hoc = mic.issue_ca(&mut rng, &format!("HOC {serial}"), 0, FROM, NOW + 20 * YEAR).unwrap();
        let hsm_key = EcdhKeyPair::generate(&mut rng);
        let hsm_cert = hoc
            .issue_key_agreement_cert(
                &mut rng,
                LeafRole::HsmStatic,
                "HSM static",
                Some(serial),
                hsm_key.public(),
                FROM,
                LEAF_UNTIL,
            )
            .unwrap();
        let rpk_key = EcdhKeyPair::generate(&mut rng);
        let rpk_cert = hoc
            .issue_key_agreement_cert(
                &mut rng,
                LeafRole::RpkStatic,
                "RPK static",
                None,
                rpk_key.public(),
                FROM,
                LEAF_UNTIL,
            )
            .unwrap();
        Factory { root, mic, hoc, hsm_key, hsm_cert, rpk_key, rpk_cert }
    }

    fn chain(&self) -> [&[u8]; 3] {
        [&self.hsm_cert, self.hoc.certificate_der(), self.mic.certificate_der()]
    }

    /// The RPK certificate under the same issuers: the shape of an HSM chain.
    fn rpk_chain(&self) -> [&[u8]; 3] {
        [&self.rpk_cert, self.hoc.certificate_der(), self.mic.certificate_der()]
    }

    fn root(&self) -> &[u8] {
        self.root.certificate_der()
    }

    fn verify(&self, chain: &[&[u8]], now: u64) -> Result<VerifiedHsmChain, CertificateError> {
        verify_hsm_chain(chain, self.root(), now)
    }
}

fn factory() -> Factory {
    Factory::new(7, SERIAL)
}

fn signing_key(ca: &CertificateAuthority) -> SigningKey {
    SigningKey::from_slice(ca.signing_key_bytes().as_slice()).unwrap()
}

fn ecdsa_key(pair: &EcdhKeyPair) -> SigningKey {
    SigningKey::from_slice(pair.private_bytes().as_slice()).unwrap()
}

fn subject_of(der: &[u8]) -> Name {
    Certificate::from_der(der).unwrap().tbs_certificate().subject().clone()
}

/// Replaces the first occurrence of `needle` by a same-length `replacement`, so the DER
/// stays well-formed.
fn patch(der: &[u8], needle: &[u8], replacement: &[u8]) -> Vec<u8> {
    let at = der.windows(needle.len()).position(|w| w == needle).expect("needle present");
    let mut out = der.to_vec();
    out[at..at + needle.len()].copy_from_slice(replacement);
    out
}

// ---------------------------------------------------------------------------------
// Forging: certificates outside the factory's profile, built with x509-cert directly.

/// A certificate profile that writes exactly the given names and extensions.
struct Forge {
    subject: Name,
    issuer: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for Forge {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

fn ext<T: AssociatedOid + Encode>(critical: bool, value: &T) -> Extension {
    Extension { extn_id: T::OID, critical, extn_value: OctetString::new(value.to_der().unwrap()).unwrap() }
}

fn ca_extensions(ca: bool, path_len: Option<u8>, usage: impl Into<der::flagset::FlagSet<KeyUsages>>) -> Vec<Extension> {
    vec![ext(true, &BasicConstraints { ca, path_len_constraint: path_len }), ext(true, &KeyUsage(usage.into()))]
}

/// extendedKeyUsage holding `purposes`, each given as an OID's DER contents (the
/// project's purposes have a 128-bit arc, which `ObjectIdentifier` cannot hold).
fn eku(critical: bool, purposes: &[&[u8]]) -> Extension {
    let purposes: Vec<der::asn1::AnyRef<'_>> =
        purposes.iter().map(|oid| der::asn1::AnyRef::new(der::Tag::ObjectIdentifier, oid).unwrap()).collect();
    Extension {
        extn_id: ExtendedKeyUsage::OID,
        critical,
        extn_value: OctetString::new(purposes.to_der().unwrap()).unwrap(),
    }
}

/// The factory's HSM static-key leaf profile with `usage` in keyUsage.
fn leaf_extensions(usage: impl Into<der::flagset::FlagSet<KeyUsages>>) -> Vec<Extension> {
    let mut extensions = ca_extensions(false, None, usage);
    extensions.push(eku(true, &[LeafRole::HsmStatic.purpose_oid()]));
    extensions
}

fn time(unix: u64) -> Time {
    Time::from(DateTime::from_unix_duration(Duration::from_secs(unix)).unwrap())
}

/// Signs a certificate for `subject_key` named `cn`, claiming `issuer` as issuer.
fn forge(
    issuer: &Name,
    issuer_key: &SigningKey,
    cn: &str,
    subject_key: &EcdhKeyPair,
    extensions: Vec<Extension>,
) -> Vec<u8> {
    let profile =
        Forge { subject: Name::from_str(&format!("CN={cn},O=forgery")).unwrap(), issuer: issuer.clone(), extensions };
    let spki = SubjectPublicKeyInfoOwned::from_key(subject_key.public().as_p521()).unwrap();
    let validity = Validity::new(time(FROM), time(LEAF_UNTIL));
    let builder = CertificateBuilder::new(profile, SerialNumber::new(&[0x2a]).unwrap(), validity, spki).unwrap();
    builder.build::<_, DerSignature>(issuer_key).unwrap().to_der().unwrap()
}

/// A leaf under `issuer_cert` (signed by `issuer_key`) with the factory's leaf profile.
fn forged_leaf(issuer_cert: &[u8], issuer_key: &SigningKey, seed: u64) -> (EcdhKeyPair, Vec<u8>) {
    let key = EcdhKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    let cert =
        forge(&subject_of(issuer_cert), issuer_key, "forged leaf", &key, leaf_extensions(KeyUsages::KeyAgreement));
    (key, cert)
}

// ---------------------------------------------------------------------------------
// The good path.

#[test]
fn factory_chain_verifies() {
    let f = factory();
    let verified = f.verify(&f.chain(), NOW).unwrap();
    assert_eq!(verified.leaf_key(), f.hsm_key.public());
    assert_eq!(verified.hoc_der(), f.hoc.certificate_der());
    assert_eq!(verified.hoc_id().as_slice(), Sha512::digest(f.hoc.certificate_der()).as_slice());
    assert_eq!(verified.hsm_serial(), Some(SERIAL));
    // Valid at both ends of the leaf's period, inclusive.
    assert!(f.verify(&f.chain(), FROM).is_ok());
    assert!(f.verify(&f.chain(), LEAF_UNTIL).is_ok());
}

#[test]
fn rpk_cert_verifies_under_its_hoc() {
    let f = factory();
    let key = verify_rpk_cert(&f.rpk_cert, f.hoc.certificate_der(), NOW).unwrap();
    assert_eq!(&key, f.rpk_key.public());
    let verified = verify_chain(&f.rpk_chain(), f.root(), NOW, LeafRole::RpkStatic).unwrap();
    assert_eq!(verified.role(), LeafRole::RpkStatic);
    assert_eq!(verified.leaf_key(), f.rpk_key.public());
    assert_eq!(f.verify(&f.chain(), NOW).unwrap().role(), LeafRole::HsmStatic);
}

#[test]
fn issuing_is_deterministic_for_a_seeded_rng() {
    let (a, b) = (factory(), factory());
    assert_eq!(a.chain(), b.chain());
    assert_eq!(a.root(), b.root());
    assert_ne!(a.chain(), Factory::new(8, SERIAL).chain());
}

#[test]
fn certificates_follow_the_profile() {
    let f = factory();
    let leaf = Certificate::from_der(&f.hsm_cert).unwrap();
    let tbs = leaf.tbs_certificate();
    assert_eq!(tbs.serial_number().as_bytes().len(), 16, "16-byte positive serial");
    assert!(tbs.serial_number().as_bytes()[0] & 0x80 == 0);
    assert_eq!(tbs.issuer(), f.hoc.subject());
    assert_eq!(
        tbs.subject().to_string(),
        format!("SERIALNUMBER={SERIAL},CN=HSM static,O={}", ped_proto::cert::FACTORY_ORGANIZATION)
    );
    let (critical, usage) = tbs.get_extension::<KeyUsage>().unwrap().unwrap();
    assert!(critical && usage.key_agreement() && !usage.key_cert_sign());
    // One critical extendedKeyUsage with the leaf's purpose alone, on each leaf; none
    // on the CAs.
    for (der, role) in [(&f.hsm_cert, LeafRole::HsmStatic), (&f.rpk_cert, LeafRole::RpkStatic)] {
        let leaf = Certificate::from_der(der).unwrap();
        let ekus: Vec<&Extension> = leaf
            .tbs_certificate()
            .extensions()
            .unwrap()
            .iter()
            .filter(|e| e.extn_id == ExtendedKeyUsage::OID)
            .collect();
        assert_eq!(ekus, [&eku(true, &[role.purpose_oid()])], "{role:?}");
    }
    for ca in [&f.root, &f.mic, &f.hoc] {
        let ca = Certificate::from_der(ca.certificate_der()).unwrap();
        assert!(ca.tbs_certificate().extensions().unwrap().iter().all(|e| e.extn_id != ExtendedKeyUsage::OID));
    }
    let root = Certificate::from_der(f.root()).unwrap();
    let (_, bc) = root.tbs_certificate().get_extension::<BasicConstraints>().unwrap().unwrap();
    assert_eq!(bc, BasicConstraints { ca: true, path_len_constraint: Some(2) });
}

#[test]
fn times_use_utctime_before_2050_and_generalizedtime_after() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let y2049_end = 2_524_607_999; // 2049-12-31T23:59:59Z
    let root = CertificateAuthority::new_root(&mut rng, "time root", y2049_end, y2049_end + 1).unwrap();
    let validity = *Certificate::from_der(root.certificate_der()).unwrap().tbs_certificate().validity();
    assert!(matches!(validity.not_before, Time::UtcTime(_)));
    assert!(matches!(validity.not_after, Time::GeneralTime(_)));
    assert_eq!(validity.not_after.to_unix_duration().as_secs(), y2049_end + 1);
}

// ---------------------------------------------------------------------------------
// Each check, refused.

#[test]
fn tampered_signature_is_refused() {
    let f = factory();
    let [leaf, hoc, mic] = f.chain();
    let flip_last = |der: &[u8]| {
        let mut out = der.to_vec();
        *out.last_mut().unwrap() ^= 0x01;
        out
    };
    let (bad_leaf, bad_hoc, bad_mic) = (flip_last(leaf), flip_last(hoc), flip_last(mic));
    assert_eq!(f.verify(&[&bad_leaf, hoc, mic], NOW).unwrap_err(), CertificateError::BadSignature);
    assert_eq!(f.verify(&[leaf, &bad_hoc, mic], NOW).unwrap_err(), CertificateError::BadSignature);
    // The MIC's signature is the root's: a bad one means the chain does not reach it.
    assert_eq!(f.verify(&[leaf, hoc, &bad_mic], NOW).unwrap_err(), CertificateError::UntrustedRoot);
}

#[test]
fn tampered_signed_content_is_refused() {
    let f = factory();
    let [leaf, hoc, mic] = f.chain();
    let renamed = patch(leaf, b"HSM static", b"HSM statiC");
    assert_eq!(f.verify(&[&renamed, hoc, mic], NOW).unwrap_err(), CertificateError::BadSignature);
}

#[test]
fn expired_and_not_yet_valid_are_refused() {
    let f = factory();
    assert_eq!(f.verify(&f.chain(), FROM - 1).unwrap_err(), CertificateError::Expired);
    assert_eq!(f.verify(&f.chain(), LEAF_UNTIL + 1).unwrap_err(), CertificateError::Expired);
    assert_eq!(verify_rpk_cert(&f.rpk_cert, f.hoc.certificate_der(), LEAF_UNTIL + 1), Err(CertificateError::Expired));
}

#[test]
fn an_expired_root_is_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let root = CertificateAuthority::new_root(&mut rng, "short root", FROM, NOW + DAY).unwrap();
    let mic = root.issue_ca(&mut rng, "MIC", 1, FROM, NOW + YEAR).unwrap();
    let hoc = mic.issue_ca(&mut rng, "HOC", 0, FROM, NOW + YEAR).unwrap();
    let key = EcdhKeyPair::generate(&mut rng);
    let leaf = hoc
        .issue_key_agreement_cert(&mut rng, LeafRole::HsmStatic, "leaf", None, key.public(), FROM, NOW + YEAR)
        .unwrap();
    let chain: [&[u8]; 3] = [&leaf, hoc.certificate_der(), mic.certificate_der()];
    assert!(verify_hsm_chain(&chain, root.certificate_der(), NOW).is_ok());
    assert_eq!(verify_hsm_chain(&chain, root.certificate_der(), NOW + 2 * DAY), Err(CertificateError::Expired));
}

#[test]
fn a_leaf_used_as_issuer_is_not_a_ca() {
    let f = factory();
    // Under the MIC (which may have one CA below it) a certificate that is not a CA,
    // though it claims keyCertSign, then a leaf under that.
    let fake_key = EcdhKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(11));
    let fake_hoc = forge(
        f.mic.subject(),
        &signing_key(&f.mic),
        "not a CA",
        &fake_key,
        ca_extensions(false, None, KeyUsages::KeyCertSign | KeyUsages::KeyAgreement),
    );
    let (_, leaf) = forged_leaf(&fake_hoc, &ecdsa_key(&fake_key), 12);
    assert_eq!(f.verify(&[&leaf, &fake_hoc, f.mic.certificate_der()], NOW), Err(CertificateError::NotACa));

    // The real HSM leaf signing a certificate of its own (the HOC's pathLen 0 refuses
    // it as well, and is met first walking down from the root).
    let (_, under_leaf) = forged_leaf(&f.hsm_cert, &ecdsa_key(&f.hsm_key), 13);
    let chain: [&[u8]; 4] = [&under_leaf, &f.hsm_cert, f.hoc.certificate_der(), f.mic.certificate_der()];
    assert_eq!(f.verify(&chain, NOW), Err(CertificateError::NotACa));
}

#[test]
fn path_length_is_enforced() {
    let f = factory();
    // The HOC has pathLen 0: a CA below it, however permissive, may not issue.
    let sub_key = EcdhKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(14));
    let sub_ca = forge(
        f.hoc.subject(),
        &signing_key(&f.hoc),
        "sub CA",
        &sub_key,
        ca_extensions(true, None, KeyUsages::KeyCertSign),
    );
    let (_, leaf) = forged_leaf(&sub_ca, &ecdsa_key(&sub_key), 15);
    let chain: [&[u8]; 4] = [&leaf, &sub_ca, f.hoc.certificate_der(), f.mic.certificate_der()];
    assert_eq!(f.verify(&chain, NOW), Err(CertificateError::NotACa));

    let mut rng = ChaCha20Rng::seed_from_u64(16);
    assert_eq!(f.hoc.issue_ca(&mut rng, "deeper", 0, FROM, NOW).unwrap_err(), IssueError::PathLength);
    assert_eq!(f.mic.issue_ca(&mut rng, "as deep", 1, FROM, NOW).unwrap_err(), IssueError::PathLength);
}

#[test]
fn wrong_key_usage_is_refused() {
    let f = factory();
    let hoc_key = signing_key(&f.hoc);
    let key = EcdhKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(17));
    let hoc_name = f.hoc.subject();
    let [_, hoc, mic] = f.chain();
    let leaf_with = |extensions| forge(hoc_name, &hoc_key, "leaf", &key, extensions);

    let signing_leaf = leaf_with(leaf_extensions(KeyUsages::DigitalSignature));
    assert_eq!(f.verify(&[&signing_leaf, hoc, mic], NOW), Err(CertificateError::KeyUsage));
    assert_eq!(verify_rpk_cert(&signing_leaf, hoc, NOW), Err(CertificateError::KeyUsage));

    let no_usage = leaf_with(vec![ext(true, &BasicConstraints { ca: false, path_len_constraint: None })]);
    assert_eq!(f.verify(&[&no_usage, hoc, mic], NOW), Err(CertificateError::KeyUsage));

    let mut ca_leaf = ca_extensions(true, Some(0), KeyUsages::KeyAgreement | KeyUsages::KeyCertSign);
    ca_leaf.push(eku(true, &[LeafRole::HsmStatic.purpose_oid()]));
    let ca_leaf = leaf_with(ca_leaf);
    assert_eq!(f.verify(&[&ca_leaf, hoc, mic], NOW), Err(CertificateError::KeyUsage));

    // A CA without keyCertSign may not sign certificates.
    let ca_key = EcdhKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(18));
    let no_cert_sign =
        forge(f.mic.subject(), &signing_key(&f.mic), "CA", &ca_key, ca_extensions(true, Some(0), KeyUsages::CRLSign));
    let (_, leaf) = forged_leaf(&no_cert_sign, &ecdsa_key(&ca_key), 19);
    assert_eq!(f.verify(&[&leaf, &no_cert_sign, mic], NOW), Err(CertificateError::KeyUsage));
}

// ---------------------------------------------------------------------------------
// Leaf roles: the HSM's static key and the RPK static key are not interchangeable.

#[test]
fn each_role_is_refused_in_the_other() {
    let f = factory();
    // The RPK certificate presented as the HSM's: the HSM keeps it and never sends it,
    // but whoever got hold of it together with the orange seed (from which the RPK
    // private key follows) would have a matching key pair, so this is the
    // impersonation the roles exist to stop.
    assert_eq!(f.verify(&f.rpk_chain(), NOW), Err(CertificateError::KeyUsage));
    // The HSM's certificate presented as an RPK certificate.
    assert_eq!(verify_rpk_cert(&f.hsm_cert, f.hoc.certificate_der(), NOW), Err(CertificateError::KeyUsage));
    assert_eq!(verify_chain(&f.chain(), f.root(), NOW, LeafRole::RpkStatic), Err(CertificateError::KeyUsage));
}

#[test]
fn the_leaf_must_name_exactly_its_role() {
    let f = factory();
    let key = EcdhKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(32));
    let [_, hoc, mic] = f.chain();
    let (hsm, rpk) = (LeafRole::HsmStatic.purpose_oid(), LeafRole::RpkStatic.purpose_oid());
    let leaf_with = |purposes: Option<Extension>| {
        let mut extensions = ca_extensions(false, None, KeyUsages::KeyAgreement);
        extensions.extend(purposes);
        forge(f.hoc.subject(), &signing_key(&f.hoc), "leaf", &key, extensions)
    };
    let in_both_roles = |leaf: &[u8]| {
        (
            f.verify(&[leaf, hoc, mic], NOW).map(|v| v.role()),
            verify_rpk_cert(leaf, hoc, NOW).map(|_| LeafRole::RpkStatic),
        )
    };

    // The forged profile itself is sound: with the one right purpose, each verifies in
    // its role only. Criticality is not what decides: a non-critical purpose binds too.
    let hsm_leaf = leaf_with(Some(eku(true, &[hsm])));
    assert_eq!(in_both_roles(&hsm_leaf), (Ok(LeafRole::HsmStatic), Err(CertificateError::KeyUsage)));
    let rpk_leaf = leaf_with(Some(eku(false, &[rpk])));
    assert_eq!(in_both_roles(&rpk_leaf), (Err(CertificateError::KeyUsage), Ok(LeafRole::RpkStatic)));

    let server_auth = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
    let any_purpose = ObjectIdentifier::new_unwrap("2.5.29.37.0");
    let mut near_miss = hsm.to_vec();
    *near_miss.last_mut().unwrap() ^= 1;
    let refused = [
        ("no extendedKeyUsage", None),
        ("both roles", Some(eku(true, &[hsm, rpk]))),
        ("both roles, other order", Some(eku(true, &[rpk, hsm]))),
        ("a role twice", Some(eku(true, &[hsm, hsm]))),
        ("a role and another purpose", Some(eku(true, &[hsm, server_auth.as_bytes()]))),
        ("another purpose", Some(eku(true, &[server_auth.as_bytes()]))),
        ("anyExtendedKeyUsage", Some(eku(true, &[any_purpose.as_bytes()]))),
        ("a UUID off by one", Some(eku(true, &[&near_miss]))),
        ("a truncated purpose", Some(eku(true, &[&hsm[..hsm.len() - 1]]))),
    ];
    for (what, purposes) in refused {
        let leaf = leaf_with(purposes);
        assert_eq!(in_both_roles(&leaf), (Err(CertificateError::KeyUsage), Err(CertificateError::KeyUsage)), "{what}");
    }

    // An extendedKeyUsage that is not a non-empty SEQUENCE OF OBJECT IDENTIFIER is not
    // DER of the extension at all.
    let raw_eku = |value: Vec<u8>| Extension {
        extn_id: ExtendedKeyUsage::OID,
        critical: true,
        extn_value: OctetString::new(value).unwrap(),
    };
    let mut trailing = eku(true, &[hsm]).extn_value.as_bytes().to_vec();
    trailing.push(0);
    let malformed = [
        ("empty", vec![0x30, 0x00]),
        ("not an OID", vec![0x30, 0x03, 0x02, 0x01, 0x01]),
        ("trailing byte", trailing),
        ("not a SEQUENCE", [&[0x31, 0x16][..], &eku(true, &[hsm]).extn_value.as_bytes()[2..]].concat()),
    ];
    for (what, value) in malformed {
        let leaf = leaf_with(Some(raw_eku(value)));
        assert_eq!(
            in_both_roles(&leaf),
            (Err(CertificateError::Malformed), Err(CertificateError::Malformed)),
            "{what}"
        );
    }
}

#[test]
fn purpose_oids_are_the_documented_uuid_oids() {
    // X.690 base 128 read back: the OIDs are 2.25.<UUID as an integer> (X.667).
    for role in LeafRole::ALL {
        let (first, arc) = role.purpose_oid().split_first().unwrap();
        assert_eq!(*first, 2 * 40 + 25, "{role:?}");
        assert!(arc.len() <= 19 && arc[0] != 0x80 && arc[..arc.len() - 1].iter().all(|b| b & 0x80 != 0));
        assert_eq!(arc[arc.len() - 1] & 0x80, 0);
        let value = arc.iter().fold(0u128, |acc, b| (acc << 7) | u128::from(b & 0x7f));
        assert_eq!(value, role.purpose_uuid(), "{role:?}");
    }
    assert_eq!(LeafRole::HsmStatic.purpose_uuid(), HSM_STATIC_KEY_PURPOSE_UUID);
    assert_eq!(LeafRole::RpkStatic.purpose_uuid(), RPK_STATIC_KEY_PURPOSE_UUID);
    let hsm = format!("2.25.{HSM_STATIC_KEY_PURPOSE_UUID}");
    let rpk = format!("2.25.{RPK_STATIC_KEY_PURPOSE_UUID}");
    assert_eq!(hsm, "2.25.125867660181788637105590279927392609305");
    assert_eq!(rpk, "2.25.278392019325399512036190755181243680228");
    let protocol = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md")).unwrap();
    assert!(protocol.contains(&hsm) && protocol.contains(&rpk), "docs/protocol.md §8 names both OIDs");
    for (name, role) in [("hsm-static", LeafRole::HsmStatic), ("rpk-static", LeafRole::RpkStatic)] {
        let spaced: Vec<String> = role.purpose_oid().iter().map(|b| format!("{b:02x}")).collect();
        assert!(protocol.contains(&format!("{name}  {}", spaced.join(" "))), "docs/protocol.md §8 has {name}'s DER");
    }
}

#[test]
fn unknown_critical_extension_is_refused() {
    let f = factory();
    let key = EcdhKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(20));
    let mut extensions = leaf_extensions(KeyUsages::KeyAgreement);
    let private = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1");
    extensions.push(Extension { extn_id: private, critical: true, extn_value: OctetString::new([5u8, 0]).unwrap() });
    let leaf = forge(f.hoc.subject(), &signing_key(&f.hoc), "leaf", &key, extensions.clone());
    assert_eq!(
        f.verify(&[&leaf, f.hoc.certificate_der(), f.mic.certificate_der()], NOW),
        Err(CertificateError::Malformed)
    );

    // The same extension, not critical, is ignored.
    extensions.last_mut().unwrap().critical = false;
    let leaf = forge(f.hoc.subject(), &signing_key(&f.hoc), "leaf", &key, extensions);
    assert!(f.verify(&[&leaf, f.hoc.certificate_der(), f.mic.certificate_der()], NOW).is_ok());
}

#[test]
fn duplicate_extensions_are_refused() {
    let f = factory();
    let key = EcdhKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(21));
    let mut extensions = leaf_extensions(KeyUsages::KeyAgreement);
    extensions.push(ext(true, &KeyUsage(KeyUsages::KeyAgreement.into())));
    let leaf = forge(f.hoc.subject(), &signing_key(&f.hoc), "leaf", &key, extensions);
    assert_eq!(
        f.verify(&[&leaf, f.hoc.certificate_der(), f.mic.certificate_der()], NOW),
        Err(CertificateError::Malformed)
    );
}

#[test]
fn name_mismatch_is_refused() {
    let f = factory();
    let key = EcdhKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(22));
    let [_, hoc, mic] = f.chain();
    // Signed by the HOC's key but naming another issuer.
    let other = Name::from_str("CN=HOC 999,O=ped-proto emulated factory").unwrap();
    let leaf = forge(&other, &signing_key(&f.hoc), "leaf", &key, leaf_extensions(KeyUsages::KeyAgreement));
    assert_eq!(f.verify(&[&leaf, hoc, mic], NOW), Err(CertificateError::NameMismatch));
    // Out of order: the leaf names the HOC but the MIC follows it (and the top of the
    // chain, the HOC, does not reach the root: that is met first).
    assert_eq!(f.verify(&[&f.hsm_cert, mic, hoc], NOW), Err(CertificateError::UntrustedRoot));
    assert_eq!(f.verify(&[&f.hsm_cert, mic], NOW), Err(CertificateError::NameMismatch));
}

#[test]
fn wrong_root_is_refused() {
    let f = factory();
    let other = Factory::new(23, SERIAL);
    assert_eq!(verify_hsm_chain(&f.chain(), other.root(), NOW), Err(CertificateError::UntrustedRoot));
    // Same name, other key.
    let mut rng = ChaCha20Rng::seed_from_u64(24);
    let twin = CertificateAuthority::new_root(&mut rng, "test root", FROM, NOW + 30 * YEAR).unwrap();
    assert_eq!(twin.subject(), f.root.subject());
    assert_eq!(verify_hsm_chain(&f.chain(), twin.certificate_der(), NOW), Err(CertificateError::UntrustedRoot));
    // A chain that stops short of the root.
    assert_eq!(f.verify(&f.chain()[..2], NOW), Err(CertificateError::UntrustedRoot));
    // A "root" that is not self-signed.
    assert_eq!(verify_hsm_chain(&f.chain()[..2], f.mic.certificate_der(), NOW), Err(CertificateError::UntrustedRoot));
}

#[test]
fn chain_length_is_bounded() {
    let f = factory();
    assert_eq!(f.verify(&[], NOW), Err(CertificateError::ChainLength));
    let [leaf, hoc, mic] = f.chain();
    let too_long = [leaf, hoc, mic, mic, mic];
    assert_eq!(too_long.len(), MAX_CHAIN_LEN + 1);
    assert_eq!(f.verify(&too_long, NOW), Err(CertificateError::ChainLength));
}

#[test]
fn rpk_cert_from_another_hoc_is_refused() {
    let f = factory();
    // Another HSM: another HOC name.
    let other = Factory::new(25, "777");
    assert_eq!(verify_rpk_cert(&other.rpk_cert, f.hoc.certificate_der(), NOW), Err(CertificateError::HocMismatch));
    // Another HOC of the same name (the same serial from another factory run).
    let twin = Factory::new(26, SERIAL);
    assert_eq!(twin.hoc.subject(), f.hoc.subject());
    assert_eq!(verify_rpk_cert(&twin.rpk_cert, f.hoc.certificate_der(), NOW), Err(CertificateError::HocMismatch));
    // A leaf in the HOC's place did not issue it.
    assert_eq!(verify_rpk_cert(&f.rpk_cert, &f.hsm_cert, NOW), Err(CertificateError::HocMismatch));
}

#[test]
fn wrong_algorithms_are_refused() {
    let f = factory();
    let [leaf, hoc, mic] = f.chain();
    // ecdsa-with-SHA512 → ecdsa-with-SHA256, in the outer AlgorithmIdentifier only
    // (the last occurrence), then in both.
    let sha512 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
    let sha256 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    let outer_at = leaf.windows(8).rposition(|w| w == sha512).unwrap();
    let mut outer_only = leaf.to_vec();
    outer_only[outer_at..outer_at + 8].copy_from_slice(&sha256);
    assert_eq!(f.verify(&[&outer_only, hoc, mic], NOW), Err(CertificateError::UnsupportedAlgorithm));
    let both = patch(&outer_only, &sha512, &sha256);
    assert_eq!(f.verify(&[&both, hoc, mic], NOW), Err(CertificateError::UnsupportedAlgorithm));

    // secp521r1 → secp384r1 in the leaf's key.
    let p384 = patch(leaf, &[0x2b, 0x81, 0x04, 0x00, 0x23], &[0x2b, 0x81, 0x04, 0x00, 0x22]);
    assert_eq!(f.verify(&[&p384, hoc, mic], NOW), Err(CertificateError::UnsupportedKey));
    // A point off the curve.
    let point = f.hsm_key.public().to_uncompressed();
    let mut off_curve = point;
    off_curve[132] ^= 1;
    let bad_point = patch(leaf, &point, &off_curve);
    assert_eq!(f.verify(&[&bad_point, hoc, mic], NOW), Err(CertificateError::UnsupportedKey));
}

#[test]
fn garbage_and_truncated_der_are_malformed() {
    let f = factory();
    let [leaf, hoc, mic] = f.chain();
    for garbage in [&b""[..], b"\x30", b"\x30\x00", b"\x30\x84\xff\xff\xff\xff", b"not a certificate", &[0u8; 600]] {
        assert_eq!(f.verify(&[garbage, hoc, mic], NOW), Err(CertificateError::Malformed));
        assert_eq!(verify_hsm_chain(&f.chain(), garbage, NOW), Err(CertificateError::Malformed));
    }
    for len in 0..leaf.len() {
        assert_eq!(f.verify(&[&leaf[..len], hoc, mic], NOW), Err(CertificateError::Malformed), "prefix {len}");
    }
    let mut trailing = leaf.to_vec();
    trailing.push(0);
    assert_eq!(f.verify(&[&trailing, hoc, mic], NOW), Err(CertificateError::Malformed));
    let huge = vec![0x30; MAX_CERT_LEN + 1];
    assert_eq!(f.verify(&[&huge, hoc, mic], NOW), Err(CertificateError::Malformed));
}

// ---------------------------------------------------------------------------------
// Persistence of a CA.

#[test]
fn a_ca_survives_storage() {
    let f = factory();
    let loaded =
        CertificateAuthority::from_parts(f.hoc.signing_key_bytes().as_slice(), f.hoc.certificate_der()).unwrap();
    assert_eq!(loaded.certificate_der(), f.hoc.certificate_der());
    assert_eq!(loaded.subject(), f.hoc.subject());
    let mut rng = ChaCha20Rng::seed_from_u64(27);
    let key = EcdhKeyPair::generate(&mut rng);
    let leaf = loaded
        .issue_key_agreement_cert(&mut rng, LeafRole::HsmStatic, "after restart", None, key.public(), FROM, LEAF_UNTIL)
        .unwrap();
    let verified = f.verify(&[&leaf, f.hoc.certificate_der(), f.mic.certificate_der()], NOW).unwrap();
    assert_eq!(verified.leaf_key(), key.public());
    assert_eq!(verified.hsm_serial(), None);
    // The stored path length still binds.
    assert_eq!(loaded.issue_ca(&mut rng, "deeper", 0, FROM, NOW).unwrap_err(), IssueError::PathLength);
}

#[test]
fn loading_a_ca_checks_its_parts() {
    let f = factory();
    let mic_key = f.mic.signing_key_bytes();
    assert_eq!(
        CertificateAuthority::from_parts(mic_key.as_slice(), f.hoc.certificate_der()).unwrap_err(),
        IssueError::KeyMismatch
    );
    assert_eq!(
        CertificateAuthority::from_parts(&mic_key[..65], f.mic.certificate_der()).unwrap_err(),
        IssueError::InvalidPrivateKey
    );
    assert_eq!(
        CertificateAuthority::from_parts(&[0u8; 66], f.mic.certificate_der()).unwrap_err(),
        IssueError::InvalidPrivateKey
    );
    assert_eq!(
        CertificateAuthority::from_parts(f.hsm_key.private_bytes().as_slice(), &f.hsm_cert).unwrap_err(),
        IssueError::Certificate(CertificateError::NotACa)
    );
    assert_eq!(
        CertificateAuthority::from_parts(mic_key.as_slice(), b"garbage").unwrap_err(),
        IssueError::Certificate(CertificateError::Malformed)
    );
}

#[test]
fn debug_never_shows_the_signing_key() {
    let f = factory();
    let shown = format!("{:?}", f.hoc);
    assert!(shown.contains("HOC 154438865"), "{shown}");
    for window in f.hoc.signing_key_bytes().windows(4) {
        assert!(!shown.contains(&hex::encode(window)), "{shown}");
    }
}

#[test]
fn bad_issuing_requests_are_refused() {
    let f = factory();
    let mut rng = ChaCha20Rng::seed_from_u64(28);
    let key = f.hsm_key.public();
    let issue = |rng: &mut ChaCha20Rng, cn: &str, serial: Option<&str>, from: u64, until: u64| {
        f.hoc.issue_key_agreement_cert(rng, LeafRole::HsmStatic, cn, serial, key, from, until).unwrap_err()
    };
    assert_eq!(issue(&mut rng, "", None, FROM, NOW), IssueError::InvalidName);
    assert_eq!(issue(&mut rng, &"x".repeat(65), None, FROM, NOW), IssueError::InvalidName);
    assert_eq!(issue(&mut rng, "leaf", Some("12_34"), FROM, NOW), IssueError::InvalidName);
    assert_eq!(issue(&mut rng, "leaf", Some(""), FROM, NOW), IssueError::InvalidName);
    assert_eq!(issue(&mut rng, "leaf", None, NOW, FROM), IssueError::InvalidValidity);
    assert_eq!(issue(&mut rng, "leaf", None, FROM, u64::MAX), IssueError::InvalidValidity);
    let longest = "x".repeat(64);
    assert!(
        f.hoc
            .issue_key_agreement_cert(&mut rng, LeafRole::RpkStatic, &longest, Some("A-1 (2)"), key, FROM, NOW)
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------
// The cache.

#[test]
fn cache_hit_returns_the_same_verdict() {
    let f = factory();
    let mut cache = ChainCache::default();
    let first = cache.verify_hsm_chain(&f.chain(), f.root(), NOW).unwrap();
    assert_eq!(cache.len(), 1);
    let again = cache.verify_hsm_chain(&f.chain(), f.root(), NOW + DAY).unwrap();
    assert_eq!(cache.len(), 1, "a hit adds nothing");
    assert_eq!(first, again);
    assert_eq!(first, f.verify(&f.chain(), NOW).unwrap());
}

#[test]
fn cache_hit_after_expiry_fails() {
    let f = factory();
    let mut cache = ChainCache::default();
    cache.verify_hsm_chain(&f.chain(), f.root(), NOW).unwrap();
    assert_eq!(cache.verify_hsm_chain(&f.chain(), f.root(), LEAF_UNTIL + 1), Err(CertificateError::Expired));
    assert_eq!(cache.verify_hsm_chain(&f.chain(), f.root(), FROM - 1), Err(CertificateError::Expired));
    assert_eq!(cache.len(), 1);
}

#[test]
fn cache_keys_on_exact_bytes_and_root() {
    let f = factory();
    let mut cache = ChainCache::default();
    cache.verify_hsm_chain(&f.chain(), f.root(), NOW).unwrap();
    // A verified chain does not vouch for other bytes, nor for another root.
    let [leaf, hoc, mic] = f.chain();
    let mut bad_leaf = leaf.to_vec();
    *bad_leaf.last_mut().unwrap() ^= 1;
    assert_eq!(cache.verify_hsm_chain(&[&bad_leaf, hoc, mic], f.root(), NOW), Err(CertificateError::BadSignature));
    let other = Factory::new(29, SERIAL);
    assert_eq!(cache.verify_hsm_chain(&f.chain(), other.root(), NOW), Err(CertificateError::UntrustedRoot));
    assert_eq!(cache.len(), 1, "failures are not cached");
}

#[test]
fn cache_keys_on_the_role() {
    let f = factory();
    let mut cache = ChainCache::default();
    let hsm = cache.verify_hsm_chain(&f.chain(), f.root(), NOW).unwrap();
    let rpk = cache.verify_chain(&f.rpk_chain(), f.root(), NOW, LeafRole::RpkStatic).unwrap();
    assert_eq!((hsm.role(), rpk.role()), (LeafRole::HsmStatic, LeafRole::RpkStatic));
    assert_eq!(cache.len(), 2);
    // The same bytes, verified before in one role, are not thereby verified in the other.
    assert_eq!(cache.verify_chain(&f.chain(), f.root(), NOW, LeafRole::RpkStatic), Err(CertificateError::KeyUsage));
    assert_eq!(cache.verify_hsm_chain(&f.rpk_chain(), f.root(), NOW), Err(CertificateError::KeyUsage));
    assert_eq!(cache.len(), 2, "failures are not cached");
    // Hits answer in the role asked.
    assert_eq!(cache.verify_chain(&f.rpk_chain(), f.root(), NOW, LeafRole::RpkStatic), Ok(rpk));
    assert_eq!(cache.verify_hsm_chain(&f.chain(), f.root(), NOW), Ok(hsm));
}

#[test]
fn cache_evicts_the_oldest() {
    let f = factory();
    let mut rng = ChaCha20Rng::seed_from_u64(30);
    let leaves: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            let key = EcdhKeyPair::generate(&mut rng);
            let cn = format!("leaf {i}");
            f.hoc
                .issue_key_agreement_cert(&mut rng, LeafRole::HsmStatic, &cn, None, key.public(), FROM, LEAF_UNTIL)
                .unwrap()
        })
        .collect();
    let mut cache = ChainCache::new(2);
    for leaf in &leaves {
        cache.verify_hsm_chain(&[leaf, f.hoc.certificate_der(), f.mic.certificate_der()], f.root(), NOW).unwrap();
    }
    assert_eq!(cache.len(), 2);
    assert!(ChainCache::new(0).is_empty());
}

#[test]
fn cache_remembers_links_and_rechecks_everything_else() {
    let f = factory();
    let mut rng = ChaCha20Rng::seed_from_u64(32);
    let key = EcdhKeyPair::generate(&mut rng);
    let leaf = f
        .hoc
        .issue_key_agreement_cert(
            &mut rng,
            LeafRole::HsmStatic,
            "HSM static",
            Some(SERIAL),
            key.public(),
            FROM,
            LEAF_UNTIL,
        )
        .unwrap();
    let (hoc, mic) = (f.hoc.certificate_der(), f.mic.certificate_der());
    let mut cache = ChainCache::default();
    cache.verify_hsm_chain(&f.chain(), f.root(), NOW).unwrap();
    // The root's self-signature, root → MIC, MIC → HOC, HOC → leaf.
    assert_eq!(cache.links(), 4);
    // Another leaf of the same HOC: one new link, the verdict of a full verification.
    let second = cache.verify_hsm_chain(&[&leaf, hoc, mic], f.root(), NOW).unwrap();
    assert_eq!(second, f.verify(&[&leaf, hoc, mic], NOW).unwrap());
    assert_eq!((cache.len(), cache.links()), (2, 5));
    // Known links skip only their signatures: the new link, the clock and the leaf's
    // role are checked as always.
    let mut bad_leaf = leaf.clone();
    *bad_leaf.last_mut().unwrap() ^= 1;
    assert_eq!(cache.verify_hsm_chain(&[&bad_leaf, hoc, mic], f.root(), NOW), Err(CertificateError::BadSignature));
    assert_eq!(cache.verify_hsm_chain(&[&f.rpk_cert, hoc, mic], f.root(), NOW), Err(CertificateError::KeyUsage));
    let rpk = cache.verify_chain(&f.rpk_chain(), f.root(), NOW, LeafRole::RpkStatic).unwrap();
    assert_eq!(rpk.role(), LeafRole::RpkStatic);
    assert_eq!(
        cache.verify_chain(&f.rpk_chain(), f.root(), LEAF_UNTIL + 1, LeafRole::RpkStatic),
        Err(CertificateError::Expired)
    );
    // A known root → MIC link does not make another factory's MIC acceptable.
    let other = Factory::new(29, SERIAL);
    assert_eq!(cache.verify_hsm_chain(&other.chain(), f.root(), NOW), Err(CertificateError::UntrustedRoot));
    // Links are bounded too.
    let mut small = ChainCache::new(1);
    small.verify_hsm_chain(&f.chain(), f.root(), NOW).unwrap();
    small.verify_hsm_chain(&[&leaf, hoc, mic], f.root(), NOW).unwrap();
    small.verify_hsm_chain(&other.chain(), other.root(), NOW).unwrap();
    assert_eq!((small.len(), small.links()), (1, 6));
}

// ---------------------------------------------------------------------------------
// Interoperability.

#[test]
fn openssl_verifies_the_example_chains() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("certs-openssl");
    let _ = std::fs::remove_dir_all(&dir);
    let mut rng = ChaCha20Rng::seed_from_u64(31);
    let written = certs_example::write_factory_pems(&dir, &mut rng, NOW).unwrap();
    let names: Vec<_> = written.iter().map(|p| p.file_name().unwrap().to_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["root.pem", "mic.pem", "hoc.pem", "hsm-static.pem", "rpk-static.pem"]);

    // Our verifier accepts what the example wrote…
    let der = |name: &str| der::pem::decode_vec(&std::fs::read(dir.join(name)).unwrap()).unwrap().1;
    let (root, mic, hoc) = (der("root.pem"), der("mic.pem"), der("hoc.pem"));
    let verified = verify_hsm_chain(&[&der("hsm-static.pem"), &hoc, &mic], &root, NOW).unwrap();
    assert_eq!(verified.hsm_serial(), Some(certs_example::HSM_SERIAL));
    verify_rpk_cert(&der("rpk-static.pem"), &hoc, NOW).unwrap();
    assert_eq!(verify_rpk_cert(&der("hsm-static.pem"), &hoc, NOW), Err(CertificateError::KeyUsage));

    // …and so does OpenSSL, strict about RFC 5280, at the same instant.
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("note: no `openssl` binary on PATH; skipping the OpenSSL cross-check");
        return;
    }
    for leaf in ["hsm-static.pem", "rpk-static.pem"] {
        let out = Command::new("openssl")
            .current_dir(&dir)
            .args(["verify", "-x509_strict", "-attime", &NOW.to_string(), "-CAfile", "root.pem"])
            .args(["-untrusted", "mic.pem", "-untrusted", "hoc.pem", leaf])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{leaf}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout.trim_end(), format!("{leaf}: OK"));
    }
    // OpenSSL reads each leaf's one purpose as the UUID OID we mean (so our DER of the
    // 128-bit arc is right), and holds the leaves to it: neither is a TLS server key.
    for (leaf, uuid) in
        [("hsm-static.pem", HSM_STATIC_KEY_PURPOSE_UUID), ("rpk-static.pem", RPK_STATIC_KEY_PURPOSE_UUID)]
    {
        let out = Command::new("openssl")
            .current_dir(&dir)
            .args(["x509", "-noout", "-ext", "extendedKeyUsage", "-in", leaf])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
        assert_eq!(lines, ["X509v3 Extended Key Usage: critical", &format!("2.25.{uuid}")], "{leaf}");
        let out = Command::new("openssl")
            .current_dir(&dir)
            .args(["verify", "-purpose", "sslserver", "-attime", &NOW.to_string(), "-CAfile", "root.pem"])
            .args(["-untrusted", "mic.pem", "-untrusted", "hoc.pem", leaf])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{leaf} passed as a TLS server certificate");
    }
    // OpenSSL refuses the chain after the leaves expire, as we do.
    let out = Command::new("openssl")
        .current_dir(&dir)
        .args(["verify", "-attime", &(NOW + 11 * YEAR).to_string(), "-CAfile", "root.pem"])
        .args(["-untrusted", "mic.pem", "-untrusted", "hoc.pem", "hsm-static.pem"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

// ---------------------------------------------------------------------------------
// Totality.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(chain in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..6),
                                root in prop::collection::vec(any::<u8>(), 0..300),
                                now in any::<u64>()) {
        let chain: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
        prop_assert!(verify_hsm_chain(&chain, &root, now).is_err());
        prop_assert!(verify_rpk_cert(&root, &root, now).is_err());
    }

    #[test]
    fn mutated_chains_never_panic(which in 0usize..4, at in any::<prop::sample::Index>(), xor in 1u8..=255,
                                  cut in any::<prop::sample::Index>()) {
        let f = factory_cached();
        let mut certs: Vec<Vec<u8>> = f.chain().iter().map(|c| c.to_vec()).collect();
        certs.push(f.root().to_vec());
        let target = &mut certs[which];
        let i = at.index(target.len());
        target[i] ^= xor;
        let keep = cut.index(target.len() + 1).max(i + 1);
        target.truncate(keep);
        let chain: Vec<&[u8]> = certs[..3].iter().map(Vec::as_slice).collect();
        // One changed byte in signed DER must never verify; every outcome is a value.
        prop_assert!(verify_hsm_chain(&chain, &certs[3], NOW).is_err());
        let _ = verify_rpk_cert(&certs[0], &certs[1], NOW);
    }
}

/// The factory is the same for every case; issuing it once keeps the proptest fast.
fn factory_cached() -> &'static Factory {
    static FACTORY: std::sync::OnceLock<Factory> = std::sync::OnceLock::new();
    FACTORY.get_or_init(factory)
}
