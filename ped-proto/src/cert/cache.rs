//! The PED's memory of what it has already verified, so that reconnecting to the same
//! HSM costs a few hashes instead of four P-521 signature verifications, and the first
//! contact with another HSM of the same manufacturer verifies only the two signatures
//! that are new (MIC → HOC and HOC → HSM static key): the root's self-signature and the
//! root → MIC link are the same for every HSM.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use sha2::{Digest, Sha512};

use super::LeafRole;
use super::verify::{VerifiedHsmChain, verify_chain_with};
use crate::error::CertificateError;

/// Labels that keep the two kinds of cache key apart.
const CHAIN_LABEL: &[u8] = b"PED verified chain";
const LINK_LABEL: &[u8] = b"PED verified link";

/// A bounded cache of verified chains and verified certificate links.
///
/// - A **chain** is keyed by SHA-512 over the role asked for and the SHA-512 of each
///   certificate received and then of the root, in order. The role is in the key so
///   that a chain verified in one role is never taken as verified in the other. A hit
///   skips every check but the clock: the cached verdict is refused when `now` is
///   outside every certificate's validity period.
/// - A **link** is an (issuer, child) pair whose name match and signature were
///   verified, the trust anchor's self-signature included (issuer = child), keyed by
///   SHA-512 over the two certificates' SHA-512s. A known link skips only its
///   signature: validity, CA constraints, path lengths and the leaf's role are checked
///   again in every chain it appears in.
///
/// Only chains that verified whole are remembered, with their links; failures never
/// are. When full, the oldest entry of each kind is evicted.
///
/// `Clone` under `cfg(fuzzing)` only: the fuzz targets start every PED with a copy of
/// one warm cache.
#[derive(Debug)]
#[cfg_attr(fuzzing, derive(Clone))]
pub struct ChainCache {
    capacity: usize,
    entries: VecDeque<([u8; 64], VerifiedHsmChain)>,
    links: VecDeque<[u8; 64]>,
}

impl Default for ChainCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl ChainCache {
    /// Capacity of [`ChainCache::default`]: more HSMs than one PED serves in a day.
    pub const DEFAULT_CAPACITY: usize = 8;

    /// Links remembered per chain of capacity: a chain of 3 certificates has 4 links
    /// with the root's self-signature, 2 of them shared by every HSM of a factory.
    const LINKS_PER_CHAIN: usize = 2;
    /// Links always room for: the root's self-signature and root → MIC of a few
    /// factories.
    const SHARED_LINKS: usize = 4;

    /// An empty cache holding at most `capacity` chains (at least one) and
    /// `2 × capacity + 4` links.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        ChainCache { capacity, entries: VecDeque::new(), links: VecDeque::new() }
    }

    fn link_capacity(&self) -> usize {
        self.capacity * Self::LINKS_PER_CHAIN + Self::SHARED_LINKS
    }

    /// [`verify_hsm_chain`](super::verify_hsm_chain) with memory: this cache's
    /// [`verify_chain`](Self::verify_chain) for [`LeafRole::HsmStatic`].
    pub fn verify_hsm_chain(
        &mut self,
        chain: &[&[u8]],
        trusted_root_der: &[u8],
        now: u64,
    ) -> Result<VerifiedHsmChain, CertificateError> {
        self.verify_chain(chain, trusted_root_der, now, LeafRole::HsmStatic)
    }

    /// [`verify_chain`](super::verify_chain) with memory: a chain verified before for
    /// the same role (against the same root) is answered from the cache, after
    /// checking `now` against its validity; in a new chain, the links verified before
    /// (in any chain) skip their signature checks. Failures are never cached.
    pub fn verify_chain(
        &mut self,
        chain: &[&[u8]],
        trusted_root_der: &[u8],
        now: u64,
        role: LeafRole,
    ) -> Result<VerifiedHsmChain, CertificateError> {
        // [chain…, root]; a chain of a wrong length is refused by the verifier below.
        let digests: Vec<[u8; 64]> =
            chain.iter().take(super::MAX_CHAIN_LEN + 1).chain([&trusted_root_der]).map(|der| digest(der)).collect();
        let key = chain_key(role, &digests);
        if let Some((_, hit)) = self.entries.iter().find(|(k, _)| *k == key) {
            hit.check_valid_at(now)?;
            return Ok(hit.clone());
        }
        let mut links = Vec::new();
        let verified = verify_chain_with(chain, trusted_root_der, now, role, &mut |issuer, child| {
            let link = link_key(&digests[issuer], &digests[child]);
            let known = self.links.contains(&link);
            links.push(link);
            known
        })?;
        for link in links {
            if !self.links.contains(&link) {
                if self.links.len() >= self.link_capacity() {
                    self.links.pop_front();
                }
                self.links.push_back(link);
            }
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back((key, verified.clone()));
        Ok(verified)
    }

    /// How many chains are cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no chain is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many verified links (issuer, child) are remembered.
    pub fn links(&self) -> usize {
        self.links.len()
    }
}

fn digest(der: &[u8]) -> [u8; 64] {
    Sha512::digest(der).into()
}

fn chain_key(role: LeafRole, digests: &[[u8; 64]]) -> [u8; 64] {
    let mut hash = Sha512::new();
    hash.update(CHAIN_LABEL);
    hash.update([role.tag(), digests.len() as u8]);
    digests.iter().for_each(|d| hash.update(d));
    hash.finalize().into()
}

fn link_key(issuer: &[u8; 64], child: &[u8; 64]) -> [u8; 64] {
    Sha512::new().chain_update(LINK_LABEL).chain_update(issuer).chain_update(child).finalize().into()
}
