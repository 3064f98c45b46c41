//! The PED's memory of chains it has already verified, so that reconnecting to the same
//! HSM costs one hash instead of four P-521 signature verifications.

use alloc::collections::VecDeque;

use sha2::{Digest, Sha512};

use super::LeafRole;
use super::verify::{VerifiedHsmChain, verify_chain};
use crate::error::CertificateError;

/// A bounded cache of verified chains, keyed by SHA-512 over the role asked for (one
/// byte) and the exact bytes received (each certificate and then the root, each
/// preceded by its length as a 64-bit big-endian integer, so that no two different
/// inputs share an encoding). The role is in the key so that a chain verified in one
/// role is never taken as verified in the other.
///
/// A hit skips the signature checks but not the clock: the cached verdict is refused
/// when `now` is outside every certificate's validity period. When full, the oldest
/// entry is evicted.
#[derive(Debug)]
pub struct ChainCache {
    capacity: usize,
    entries: VecDeque<([u8; 64], VerifiedHsmChain)>,
}

impl Default for ChainCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl ChainCache {
    /// Capacity of [`ChainCache::default`]: more HSMs than one PED serves in a day.
    pub const DEFAULT_CAPACITY: usize = 8;

    /// An empty cache holding at most `capacity` chains (at least one).
    pub fn new(capacity: usize) -> Self {
        ChainCache { capacity: capacity.max(1), entries: VecDeque::new() }
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
    /// checking `now` against its validity. Failures are never cached.
    pub fn verify_chain(
        &mut self,
        chain: &[&[u8]],
        trusted_root_der: &[u8],
        now: u64,
        role: LeafRole,
    ) -> Result<VerifiedHsmChain, CertificateError> {
        let key = cache_key(role, chain, trusted_root_der);
        if let Some((_, hit)) = self.entries.iter().find(|(k, _)| *k == key) {
            hit.check_valid_at(now)?;
            return Ok(hit.clone());
        }
        let verified = verify_chain(chain, trusted_root_der, now, role)?;
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
}

fn cache_key(role: LeafRole, chain: &[&[u8]], root: &[u8]) -> [u8; 64] {
    let mut hash = Sha512::new();
    hash.update([role.tag()]);
    for der in chain.iter().chain([&root]) {
        hash.update((der.len() as u64).to_be_bytes());
        hash.update(der);
    }
    hash.finalize().into()
}
