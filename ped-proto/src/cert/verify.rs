//! Chain verification: what the PED runs on the certificates the HSM sends.

use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha512};

use super::parse::ParsedCert;
use super::{LeafRole, MAX_CHAIN_LEN};
use crate::ecdh::EcdhPublicKey;
use crate::error::CertificateError;

/// The outcome of a successful [`verify_chain`] (or [`verify_hsm_chain`]): what the PED
/// may rely on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedHsmChain {
    role: LeafRole,
    leaf_key: EcdhPublicKey,
    hoc_der: Vec<u8>,
    hoc_id: [u8; 64],
    hsm_serial: Option<String>,
    /// The intersection of every validity period in the chain, root included: the
    /// verdict holds exactly while `now` is inside it.
    valid_from: u64,
    valid_until: u64,
}

impl VerifiedHsmChain {
    /// The role the leaf was verified for: the only one its certificate allows.
    pub fn role(&self) -> LeafRole {
        self.role
    }

    /// The leaf's static ECDH key, certified by the chain for [`role`](Self::role):
    /// the HSM's static key after [`verify_hsm_chain`].
    pub fn leaf_key(&self) -> &EcdhPublicKey {
        &self.leaf_key
    }

    /// The DER of the certificate that issued the leaf: the HOC (or the root itself for
    /// a one-certificate chain). RPK certificates must come from this same issuer.
    pub fn hoc_der(&self) -> &[u8] {
        &self.hoc_der
    }

    /// SHA-512 of [`hoc_der`](Self::hoc_der): a fixed-size identity of the HSM.
    pub fn hoc_id(&self) -> &[u8; 64] {
        &self.hoc_id
    }

    /// The HSM serial number from the leaf's subject (X.520 serialNumber), if present.
    pub fn hsm_serial(&self) -> Option<&str> {
        self.hsm_serial.as_deref()
    }

    /// Whether the verdict holds at `now`: every certificate of the chain is valid then.
    pub(super) fn check_valid_at(&self, now: u64) -> Result<(), CertificateError> {
        if (self.valid_from..=self.valid_until).contains(&now) { Ok(()) } else { Err(CertificateError::Expired) }
    }
}

/// Verifies an HSM's certificate chain: `chain` is `[HSM static key, HOC, MIC]`, leaf
/// first, without the root, which is `trusted_root_der`. `now` is Unix seconds.
///
/// This is [`verify_chain`] with [`LeafRole::HsmStatic`]: an RPK certificate in the
/// leaf's place is refused with [`CertificateError::KeyUsage`].
pub fn verify_hsm_chain(
    chain: &[&[u8]],
    trusted_root_der: &[u8],
    now: u64,
) -> Result<VerifiedHsmChain, CertificateError> {
    verify_chain(chain, trusted_root_der, now, LeafRole::HsmStatic)
}

/// Verifies a certificate chain under the HSM's issuers whose leaf is certified for
/// `role`: `chain` is `[leaf, HOC, MIC]`, leaf first, without the root, which is
/// `trusted_root_der`. `now` is Unix seconds.
///
/// Every certificate, root included, must be valid at `now`, signed with ECDSA
/// P-521/SHA-512 and carry a P-521 key. Each one must name its parent as issuer and
/// verify under the parent's key; every parent must be a CA allowed to sign
/// certificates (basicConstraints, keyUsage keyCertSign, path length); the leaf must be
/// a key-agreement certificate whose extendedKeyUsage names `role`'s purpose and no
/// other, or the chain is refused with [`CertificateError::KeyUsage`]. A failure on the
/// link to the root is reported as [`CertificateError::UntrustedRoot`], whatever broke
/// it.
pub fn verify_chain(
    chain: &[&[u8]],
    trusted_root_der: &[u8],
    now: u64,
    role: LeafRole,
) -> Result<VerifiedHsmChain, CertificateError> {
    verify_chain_with(chain, trusted_root_der, now, role, &mut |_, _| false)
}

/// [`verify_chain`] with a memory of signatures already checked: for each link
/// (issuer, child), the trust anchor's own self-signature included, `known(issuer,
/// child)` says whether that exact pair of certificates was verified before (see
/// [`ChainCache`](super::ChainCache)). `issuer` and `child` index the path `[chain…,
/// root]`. A known link skips its name and signature check, which depend on the two
/// certificates' bytes alone; every other check (validity at `now`, CA constraints,
/// path lengths, the leaf's role) runs as always.
pub(super) fn verify_chain_with(
    chain: &[&[u8]],
    trusted_root_der: &[u8],
    now: u64,
    role: LeafRole,
    known: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<VerifiedHsmChain, CertificateError> {
    if chain.is_empty() || chain.len() > MAX_CHAIN_LEN {
        return Err(CertificateError::ChainLength);
    }
    let root = ParsedCert::parse(trusted_root_der)?;
    let mut path = chain.iter().map(|der| ParsedCert::parse(der)).collect::<Result<Vec<_>, _>>()?;
    let root_index = path.len();
    check_trust_anchor(&root, now, known(root_index, root_index))?;
    path.push(root);

    // Top down, as RFC 5280 §6.1 walks: each window is [child, issuer], and the child
    // at index i has i CA certificates below it, so its issuer must allow i of them.
    let root_link = path.len() - 2;
    for (i, pair) in path.windows(2).enumerate().rev() {
        let (child, issuer) = (&pair[0], &pair[1]);
        if !known(i + 1, i) {
            child
                .check_issued_by(issuer)
                .map_err(|e| if i == root_link { CertificateError::UntrustedRoot } else { e })?;
        }
        issuer.check_can_issue(i)?;
        child.check_valid_at(now)?;
    }
    path[0].check_key_agreement_leaf(role)?;
    verified(&path, role)
}

/// Verifies the certificate of an RPK static key (read from an orange key) against the
/// HOC of the HSM whose chain was verified: the RPK certificate must be a valid
/// key-agreement certificate for [`LeafRole::RpkStatic`] issued by that very HOC, and
/// both must be valid at `now`. An RPK certificate from another issuer is
/// [`CertificateError::HocMismatch`]; any other leaf of that HOC (the HSM's own static
/// key) is [`CertificateError::KeyUsage`].
pub fn verify_rpk_cert(rpk_der: &[u8], hoc_der: &[u8], now: u64) -> Result<EcdhPublicKey, CertificateError> {
    let hoc = ParsedCert::parse(hoc_der)?;
    let rpk = ParsedCert::parse(rpk_der)?;
    hoc.check_valid_at(now)?;
    rpk.check_issued_by(&hoc).map_err(|_| CertificateError::HocMismatch)?;
    hoc.check_can_issue(0)?;
    rpk.check_valid_at(now)?;
    rpk.check_key_agreement_leaf(LeafRole::RpkStatic)?;
    Ok(*rpk.key())
}

/// The trust anchor is configured, not received, but it is still checked: it must be
/// self-signed and valid at `now`, so that a corrupted or wrong file fails loudly here.
/// Its CA role is checked with the other issuers.
/// `signature_known`: its self-signature was verified before (the same bytes).
fn check_trust_anchor(root: &ParsedCert<'_>, now: u64, signature_known: bool) -> Result<(), CertificateError> {
    if !signature_known {
        root.check_issued_by(root).map_err(|_| CertificateError::UntrustedRoot)?;
    }
    root.check_valid_at(now)
}

/// Collects the verdict from a checked path `[leaf, …, root]` whose leaf is certified
/// for `role`.
fn verified(path: &[ParsedCert<'_>], role: LeafRole) -> Result<VerifiedHsmChain, CertificateError> {
    let (leaf, hoc) = match path {
        [leaf, hoc, ..] => (leaf, hoc),
        _ => return Err(CertificateError::ChainLength),
    };
    let (valid_from, valid_until) = path
        .iter()
        .map(ParsedCert::validity)
        .fold((u64::MIN, u64::MAX), |(from, until), (nb, na)| (from.max(nb), until.min(na)));
    Ok(VerifiedHsmChain {
        role,
        leaf_key: *leaf.key(),
        hoc_der: hoc.der().to_vec(),
        hoc_id: Sha512::digest(hoc.der()).into(),
        hsm_serial: leaf.subject_serial_number()?,
        valid_from,
        valid_until,
    })
}
