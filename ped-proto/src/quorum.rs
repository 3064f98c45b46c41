//! M-of-N secret splitting of PED-key secrets: Shamir's scheme over GF(2^8), byte by byte.
//!
//! The HSM splits a role, domain or RPV secret into N splits (at most [`MAX_SPLITS`]),
//! one per PED key; any M of them give the secret back and M-1 of them say nothing about
//! it. The PED only carries splits: it reads each key, binds or removes the key holder's
//! PIN (see [`crate::pin`]), and forwards the split wrapped under the channel's CSP key.
//! Reassembly happens in the HSM, which then checks the result against the keyset's
//! [`Verifier`]; that check is the only place a wrong split (a wrong PIN, a damaged or
//! forged key) shows.
//!
//! # Why the field arithmetic is written here
//!
//! The Shamir crates for GF(2^8) do not meet this crate's rules. `sharks` 0.5 (and its
//! fork `blahaj`) multiply through log/exp tables indexed by the secret bytes, with a
//! branch on zero: the addresses touched, and so the cache lines, depend on the secret.
//! Both also pull in `rand` 0.8, a generation behind the `rand_core` 0.10 used here, and
//! so does the `gf256` crate's example Shamir module. `vsss-rs` is constant-time but is
//! built for verifiable sharing over elliptic-curve scalar fields; it drags in their
//! generic field machinery for what is a few dozen lines here. So this module carries
//! its own field: the AES field GF(2)\[x\]/(x^8+x^4+x^3+x+1), multiplied bit-serially with
//! masks (no table, no branch on a value), inverted as a^254.
//!
//! # Layout
//!
//! A secret of L bytes (1 to [`MAX_SECRET_LEN`]) is shared byte-wise: byte j of the
//! secret is the constant term of a polynomial f_j of degree M-1 whose other
//! coefficients are uniformly random; split i (1 ≤ i ≤ N) holds f_j(i) for every j.
//! The random coefficients are drawn in one call to the caller's RNG, (M-1)·L bytes:
//! coefficient k (1 ≤ k < M) of byte j is byte (k-1)·L + j of that draw. With M = 1 the
//! polynomial is the constant, so every split equals the secret: that is Shamir of
//! degree 0 and exactly what a 1-of-N keyset means (N copies of one key).

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The largest N: a keyset has at most 16 splits (the PED's "M value? (1-16)").
pub const MAX_SPLITS: u8 = 16;
/// The longest secret this module splits, in bytes. Role secrets are far shorter; the
/// bound keeps a hostile length from costing time or memory in the PED or the HSM.
pub const MAX_SECRET_LEN: usize = 128;
/// Length of a [`KeysetId`].
pub const KEYSET_ID_LEN: usize = 16;
/// Length of a [`Verifier`] (a SHA-512 digest).
pub const VERIFIER_LEN: usize = 64;

/// Domain-separation label of the verifier hash. Its version changes if the construction does.
const VERIFIER_LABEL: &[u8] = b"PED keyset verifier v1";

/// Arithmetic in GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1 (0x11B), in constant time.
///
/// Public so that its known-answer tests can pin it; nothing outside this module needs it.
pub mod gf256 {
    /// The low byte of the reduction polynomial: x^8 = x^4+x^3+x+1 in the field.
    const REDUCTION: u8 = 0x1B;

    /// The product a·b. Eight rounds of shift-and-add whatever the operands: each round
    /// selects with an all-ones or all-zeros mask made from one bit, so neither the time
    /// nor the memory addresses depend on `a` or `b`.
    pub const fn mul(a: u8, b: u8) -> u8 {
        let mut a = a;
        let mut b = b;
        let mut product = 0u8;
        let mut round = 0;
        while round < 8 {
            // 0xFF if the low bit of b is set, else 0x00.
            product ^= a & (b & 1).wrapping_neg();
            // 0xFF if a overflows x^7 on the shift, else 0x00: then reduce.
            let carry = (a >> 7).wrapping_neg();
            a = (a << 1) ^ (REDUCTION & carry);
            b >>= 1;
            round += 1;
        }
        product
    }

    /// The inverse of a (0 for 0), as a^254: the multiplicative group has order 255, so
    /// a^254 = a^-1. Square-and-multiply over the public exponent 254 = 0b1111_1110,
    /// so the sequence of operations is the same for every `a`.
    pub const fn inv(a: u8) -> u8 {
        let mut result = 1u8;
        let mut bit = 7;
        loop {
            result = mul(result, result);
            if (254u8 >> bit) & 1 == 1 {
                result = mul(result, a);
            }
            if bit == 0 {
                return result;
            }
            bit -= 1;
        }
    }
}

/// Why a quorum operation was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuorumError {
    /// M and N do not satisfy 1 ≤ M ≤ N ≤ [`MAX_SPLITS`].
    InvalidQuorum {
        /// The M asked for.
        m: u8,
        /// The N asked for.
        n: u8,
    },
    /// A split index is outside 1..=N of its keyset.
    BadIndex {
        /// The index found.
        index: u8,
        /// The keyset's N.
        n: u8,
    },
    /// A secret or split value is empty or longer than [`MAX_SECRET_LEN`].
    SecretLength {
        /// The length found.
        len: usize,
    },
    /// No split was given.
    NoSplits,
    /// Fewer distinct splits than the quorum needs.
    NotEnoughSplits {
        /// Distinct splits given.
        have: u8,
        /// The keyset's M.
        need: u8,
    },
    /// A split belongs to another keyset than the first one (or than the expected one).
    MixedKeysets,
    /// Splits of one keyset disagree: on M of N, on the value length, or, for two copies
    /// of the same split, on the value itself.
    Inconsistent,
    /// The split with this index was already presented in this login.
    AlreadyPresented {
        /// The index presented twice.
        index: u8,
    },
    /// The quorum is complete; no further split is taken.
    QuorumComplete,
}

impl fmt::Display for QuorumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuorumError::InvalidQuorum { m, n } => {
                write!(f, "{m} of {n} is not a valid quorum; M and N must satisfy 1 <= M <= N <= {MAX_SPLITS}")
            }
            QuorumError::BadIndex { index, n } => {
                write!(f, "split index {index} is outside 1..={n}; the PED key's data is damaged")
            }
            QuorumError::SecretLength { len } => {
                write!(f, "a secret or split of {len} bytes; 1 to {MAX_SECRET_LEN} bytes are allowed")
            }
            QuorumError::NoSplits => f.write_str("no PED key was presented"),
            QuorumError::NotEnoughSplits { have, need } => {
                write!(f, "{have} distinct PED keys presented where {need} are needed; present more keys of the keyset")
            }
            QuorumError::MixedKeysets => {
                f.write_str("the PED key belongs to another keyset; present a key of the requested keyset")
            }
            QuorumError::Inconsistent => f.write_str("the PED keys presented disagree about their keyset"),
            QuorumError::AlreadyPresented { index } => {
                write!(f, "split {index} was already presented; present a different key of the keyset")
            }
            QuorumError::QuorumComplete => f.write_str("the quorum is already complete; no more keys are needed"),
        }
    }
}

impl core::error::Error for QuorumError {}

/// The public identifier of one keyset: 16 random bytes chosen by the HSM when it
/// creates the secret, written in clear on every key of the keyset (and every copy).
/// It keeps splits of different secrets of the same colour apart.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeysetId([u8; KEYSET_ID_LEN]);

impl KeysetId {
    /// A fresh random identifier.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; KEYSET_ID_LEN];
        rng.fill_bytes(&mut bytes);
        KeysetId(bytes)
    }

    /// An identifier from its bytes (read from a key or from the HSM's records).
    pub const fn from_bytes(bytes: [u8; KEYSET_ID_LEN]) -> Self {
        KeysetId(bytes)
    }

    /// The identifier's bytes.
    pub const fn as_bytes(&self) -> &[u8; KEYSET_ID_LEN] {
        &self.0
    }
}

impl fmt::Debug for KeysetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeysetId(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        f.write_str(")")
    }
}

/// M of N: M splits out of the N made are needed to reassemble the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quorum {
    m: u8,
    n: u8,
}

impl Quorum {
    /// M of N, refused unless 1 ≤ M ≤ N ≤ [`MAX_SPLITS`]. The seed advises against
    /// M = 1 and M = N, but both are legal (1 of 1 is a keyset of one key).
    pub const fn new(m: u8, n: u8) -> Result<Self, QuorumError> {
        if m == 0 || m > n || n > MAX_SPLITS {
            return Err(QuorumError::InvalidQuorum { m, n });
        }
        Ok(Quorum { m, n })
    }

    /// M, the number of distinct splits needed.
    pub const fn m(&self) -> u8 {
        self.m
    }

    /// N, the number of splits made.
    pub const fn n(&self) -> u8 {
        self.n
    }
}

impl fmt::Display for Quorum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {}", self.m, self.n)
    }
}

/// What a PED key says in clear about the split it carries: the keyset, the split's
/// index and the keyset's M of N. The PED reads and shows this (it prompts "Keys read:
/// 01 of 03") without ever seeing the split value unwrapped on the HSM's behalf.
///
/// Nothing authenticates this metadata on its own: a key whose metadata was altered
/// yields a wrong secret, which the HSM's [`Verifier`] check refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SplitInfo {
    keyset_id: KeysetId,
    index: u8,
    quorum: Quorum,
}

impl SplitInfo {
    /// The metadata of split `index` of a keyset; the index must lie in 1..=N.
    pub const fn new(keyset_id: KeysetId, index: u8, quorum: Quorum) -> Result<Self, QuorumError> {
        if index == 0 || index > quorum.n {
            return Err(QuorumError::BadIndex { index, n: quorum.n });
        }
        Ok(SplitInfo { keyset_id, index, quorum })
    }

    /// The keyset the split belongs to.
    pub const fn keyset_id(&self) -> &KeysetId {
        &self.keyset_id
    }

    /// The split's index, its x coordinate: 1..=N.
    pub const fn index(&self) -> u8 {
        self.index
    }

    /// The keyset's M of N.
    pub const fn quorum(&self) -> Quorum {
        self.quorum
    }
}

impl AsRef<SplitInfo> for SplitInfo {
    fn as_ref(&self) -> &SplitInfo {
        self
    }
}

/// One split: its metadata and its value, 1 to [`MAX_SECRET_LEN`] bytes, wiped on drop
/// and never printed.
#[derive(Clone)]
pub struct Split {
    info: SplitInfo,
    value: Zeroizing<Vec<u8>>,
}

impl Split {
    /// A split received from the PED (unwrapped from the channel) or read back from storage.
    pub fn new(info: SplitInfo, value: Zeroizing<Vec<u8>>) -> Result<Self, QuorumError> {
        check_secret_len(value.len())?;
        Ok(Split { info, value })
    }

    /// The split's metadata.
    pub const fn info(&self) -> &SplitInfo {
        &self.info
    }

    /// The keyset the split belongs to.
    pub const fn keyset_id(&self) -> &KeysetId {
        &self.info.keyset_id
    }

    /// The split's index: 1..=N.
    pub const fn index(&self) -> u8 {
        self.info.index
    }

    /// The keyset's M of N.
    pub const fn quorum(&self) -> Quorum {
        self.info.quorum
    }

    /// The split value, for PIN binding and for wrapping to the peer. Secret.
    pub fn expose_value(&self) -> &[u8] {
        &self.value
    }
}

impl AsRef<SplitInfo> for Split {
    fn as_ref(&self) -> &SplitInfo {
        &self.info
    }
}

impl fmt::Debug for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Split")
            .field("keyset_id", &self.info.keyset_id)
            .field("index", &self.info.index)
            .field("quorum", &self.info.quorum)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .finish()
    }
}

const fn check_secret_len(len: usize) -> Result<(), QuorumError> {
    if len == 0 || len > MAX_SECRET_LEN {
        return Err(QuorumError::SecretLength { len });
    }
    Ok(())
}

/// Splits `secret` into N splits of which any M reassemble it (see the module's layout).
/// The splits come back in index order, 1 to N; the random coefficients are drawn from
/// `rng` and wiped before returning.
pub fn split_secret<R: CryptoRng + ?Sized>(
    secret: &[u8],
    quorum: Quorum,
    keyset_id: KeysetId,
    rng: &mut R,
) -> Result<Vec<Split>, QuorumError> {
    check_secret_len(secret.len())?;
    let len = secret.len();
    let degree = usize::from(quorum.m - 1);
    let mut coefficients = Zeroizing::new(vec![0u8; degree * len]);
    rng.fill_bytes(&mut coefficients);
    (1..=quorum.n)
        .map(|x| {
            let mut value = Zeroizing::new(vec![0u8; len]);
            for (j, (out, &constant)) in value.iter_mut().zip(secret).enumerate() {
                // Horner from the highest coefficient down to the secret byte.
                let mut acc = 0u8;
                for k in (0..degree).rev() {
                    acc = gf256::mul(acc, x) ^ coefficients[k * len + j];
                }
                *out = gf256::mul(acc, x) ^ constant;
            }
            Ok(Split { info: SplitInfo::new(keyset_id, x, quorum)?, value })
        })
        .collect()
}

/// Reassembles the secret from splits of one keyset.
///
/// Every split must carry the same keyset ([`QuorumError::MixedKeysets`]), the same
/// M of N and the same value length ([`QuorumError::Inconsistent`]). A split whose
/// index was already seen is an exact copy (an Admin-mode duplicate, or a copy made at
/// creation) and counts once; the same index with a different value is
/// [`QuorumError::Inconsistent`]. The first M distinct indices, in slice order, are
/// interpolated at 0; fewer than M is [`QuorumError::NotEnoughSplits`].
///
/// No error says the result is wrong: a wrong PIN or a forged key gives a wrong secret,
/// which only the keyset's [`Verifier`] detects. The time taken depends on M, N, the
/// indices and the length, all public, and not on the values.
pub fn reassemble(splits: &[Split]) -> Result<Zeroizing<Vec<u8>>, QuorumError> {
    let first = splits.first().ok_or(QuorumError::NoSplits)?;
    let (keyset_id, quorum, len) = (first.info.keyset_id, first.info.quorum, first.value.len());
    // At most N ≤ 16 distinct indices: SplitInfo::new keeps every index within 1..=N.
    let mut distinct: Vec<&Split> = Vec::with_capacity(usize::from(quorum.n));
    for split in splits {
        if split.info.keyset_id != keyset_id {
            return Err(QuorumError::MixedKeysets);
        }
        if split.info.quorum != quorum || split.value.len() != len {
            return Err(QuorumError::Inconsistent);
        }
        match distinct.iter().find(|seen| seen.info.index == split.info.index) {
            Some(seen) if bool::from(seen.value.ct_eq(&split.value)) => {}
            Some(_) => return Err(QuorumError::Inconsistent),
            None => distinct.push(split),
        }
    }
    // At most 16, see above.
    let have = u8::try_from(distinct.len()).unwrap_or(u8::MAX);
    if have < quorum.m {
        return Err(QuorumError::NotEnoughSplits { have, need: quorum.m });
    }
    let chosen = &distinct[..usize::from(quorum.m)];

    // Lagrange basis at 0, from the public indices only: in characteristic 2,
    // l_i(0) = Π_{j≠i} x_j / (x_i + x_j), and x_i ≠ x_j for distinct indices.
    let basis: Vec<u8> = chosen
        .iter()
        .map(|si| {
            chosen.iter().filter(|sj| sj.info.index != si.info.index).fold(1u8, |acc, sj| {
                let (xi, xj) = (si.info.index, sj.info.index);
                gf256::mul(acc, gf256::mul(xj, gf256::inv(xi ^ xj)))
            })
        })
        .collect();

    let mut secret = Zeroizing::new(vec![0u8; len]);
    for (j, out) in secret.iter_mut().enumerate() {
        *out = chosen.iter().zip(&basis).fold(0u8, |acc, (split, &l)| acc ^ gf256::mul(l, split.value[j]));
    }
    Ok(secret)
}

/// How far a login has got: "Keys read: `read` of `needed`".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Distinct splits accepted so far.
    pub read: u8,
    /// The keyset's M.
    pub needed: u8,
}

impl Progress {
    /// Whether the quorum is complete.
    pub const fn is_complete(&self) -> bool {
        self.read >= self.needed
    }
}

/// Gathers the splits of one login, key by key, refusing at once what reassembly would
/// refuse later, so that the PED can say which key was wrong while its holder is still
/// there.
///
/// Generic over what is collected: the HSM collects [`Split`]s and hands them to
/// [`reassemble`]; the PED, which sees only the metadata in clear and forwards each
/// value wrapped, collects [`SplitInfo`]s, or its own type pairing a `SplitInfo` with
/// the wrapped value (anything that is `AsRef<SplitInfo>`).
///
/// Unlike [`reassemble`], the collector refuses the same index twice even for an exact
/// copy: the seed's login asks for M different keys, and a copy never counts twice.
#[derive(Debug)]
pub struct QuorumCollector<T> {
    expected: Option<KeysetId>,
    items: Vec<T>,
}

impl<T: AsRef<SplitInfo>> QuorumCollector<T> {
    /// A collector for one login. With `expected`, a split of any other keyset is refused
    /// (the HSM knows which keyset a role uses); without, the first split accepted fixes
    /// the keyset and its M of N.
    pub const fn new(expected: Option<KeysetId>) -> Self {
        QuorumCollector { expected, items: Vec::new() }
    }

    /// Takes one more split: refused if it is of another keyset, disagrees with the first
    /// split about M of N, repeats an index already presented, or comes after the quorum
    /// is complete. The item is dropped (and a [`Split`] wiped) when refused.
    pub fn accept(&mut self, item: T) -> Result<Progress, QuorumError> {
        let info = *item.as_ref();
        if self.expected.is_some_and(|expected| expected != info.keyset_id) {
            return Err(QuorumError::MixedKeysets);
        }
        if let Some(first) = self.items.first().map(|first| *first.as_ref()) {
            if first.keyset_id != info.keyset_id {
                return Err(QuorumError::MixedKeysets);
            }
            if first.quorum != info.quorum {
                return Err(QuorumError::Inconsistent);
            }
            if self.items.len() >= usize::from(first.quorum.m) {
                return Err(QuorumError::QuorumComplete);
            }
            if self.items.iter().any(|seen| seen.as_ref().index == info.index) {
                return Err(QuorumError::AlreadyPresented { index: info.index });
            }
        }
        self.items.push(item);
        Ok(self.progress_with(info.quorum))
    }

    /// Progress so far; `None` before the first split, when M is not yet known.
    pub fn progress(&self) -> Option<Progress> {
        self.items.first().map(|first| self.progress_with(first.as_ref().quorum))
    }

    /// Whether M distinct splits have been accepted.
    pub fn is_complete(&self) -> bool {
        self.progress().is_some_and(|p| p.is_complete())
    }

    /// The accepted splits, in the order presented.
    pub fn into_splits(self) -> Vec<T> {
        self.items
    }

    fn progress_with(&self, quorum: Quorum) -> Progress {
        // At most M ≤ 16 items are ever accepted, so the count fits.
        Progress { read: u8::try_from(self.items.len()).unwrap_or(u8::MAX), needed: quorum.m }
    }
}

/// What the HSM keeps to recognise a keyset's secret without keeping the secret in the
/// clear beside it:
///
/// `Verifier = SHA-512("PED keyset verifier v1" ‖ keyset_id ‖ secret)`
///
/// with the 22-byte ASCII label and the 16-byte keyset identifier of fixed lengths, so
/// the concatenation is unambiguous, and the keyset identifier binding the verifier to
/// one keyset. Secrets are random (at least 128 bits), so one hash is enough: no
/// guessing attack on the secret itself is possible. The verifier is still an oracle
/// for a holder of M-1 splits who guesses the PIN of an M-th (see [`crate::pin`]), so
/// it stays inside the HSM and is not printed.
#[derive(Clone)]
pub struct Verifier([u8; VERIFIER_LEN]);

impl Verifier {
    /// The verifier of `secret` in keyset `keyset_id`.
    pub fn of(keyset_id: &KeysetId, secret: &[u8]) -> Self {
        let digest =
            Sha512::new().chain_update(VERIFIER_LABEL).chain_update(keyset_id.0).chain_update(secret).finalize();
        Verifier(digest.into())
    }

    /// Whether `secret` is the keyset's secret, compared in constant time.
    pub fn check(&self, keyset_id: &KeysetId, secret: &[u8]) -> bool {
        Verifier::of(keyset_id, secret).0.ct_eq(&self.0).into()
    }

    /// A verifier read back from the HSM's storage.
    pub const fn from_bytes(bytes: [u8; VERIFIER_LEN]) -> Self {
        Verifier(bytes)
    }

    /// The bytes, for the HSM's storage.
    pub const fn as_bytes(&self) -> &[u8; VERIFIER_LEN] {
        &self.0
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Verifier(..)")
    }
}
