//! M-of-N splitting, the login collector, the keyset verifier, PINs and PIN binding.

use std::num::NonZeroU32;

use hmac::Hmac;
use ped_proto::pin::{
    PIN_ITERATIONS, PIN_LABEL, PIN_MAX_DIGITS, Pin, PinError, PinSalt, apply_pin_mask, apply_pin_mask_with_iterations,
    compressions_per_unlock,
};
use ped_proto::quorum::{
    KeysetId, MAX_SECRET_LEN, MAX_SPLITS, Progress, Quorum, QuorumCollector, QuorumError, Split, SplitInfo, Verifier,
    gf256, reassemble, split_secret,
};
use ped_proto::{Error, ErrorCode};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sha2::Sha512;
use zeroize::Zeroizing;

/// PBKDF2 iterations for property tests: the binding's logic does not depend on the count,
/// and a few iterations keep the 64 cases of the login property fast in debug builds.
const FEW: NonZeroU32 = NonZeroU32::new(3).expect("non-zero");

const ID_A: KeysetId = KeysetId::from_bytes([0xAA; 16]);
const ID_B: KeysetId = KeysetId::from_bytes([0xBB; 16]);

/// A schoolbook GF(2^8) product, branchy and independent of the crate's: carry-less
/// multiply into 16 bits, then long division by x^8+x^4+x^3+x+1.
fn reference_mul(a: u8, b: u8) -> u8 {
    let mut product: u16 = 0;
    for bit in 0..8 {
        if (b >> bit) & 1 == 1 {
            product ^= u16::from(a) << bit;
        }
    }
    for bit in (8..16).rev() {
        if (product >> bit) & 1 == 1 {
            product ^= 0x11B << (bit - 8);
        }
    }
    u8::try_from(product).expect("reduced below x^8")
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn quorum(m: u8, n: u8) -> Quorum {
    Quorum::new(m, n).expect("valid quorum")
}

/// The splits with the given indices (1-based), in that order.
fn pick(splits: &[Split], indices: &[u8]) -> Vec<Split> {
    indices.iter().map(|&i| splits[usize::from(i - 1)].clone()).collect()
}

/// M ≤ N ≤ 16, and the indices 1..=N in a random order.
fn quorum_and_order() -> impl Strategy<Value = (u8, u8, Vec<u8>)> {
    (1..=MAX_SPLITS).prop_flat_map(|n| (1..=n, Just(n), Just((1..=n).collect::<Vec<u8>>()).prop_shuffle()))
}

fn secret() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 1..=MAX_SECRET_LEN)
}

fn pin_text() -> impl Strategy<Value = String> {
    "[1-9][0-9]{3,47}"
}

// ---------------------------------------------------------------------------------------
// GF(2^8)

#[test]
fn field_known_answers() {
    // FIPS-197 §4.2: {57}·{83} = {c1}, {57}·{13} = {fe}; {53} and {ca} are inverses.
    assert_eq!(gf256::mul(0x57, 0x83), 0xC1);
    assert_eq!(gf256::mul(0x57, 0x13), 0xFE);
    assert_eq!(gf256::mul(0x53, 0xCA), 0x01);
    assert_eq!(gf256::inv(0x53), 0xCA);
    assert_eq!(gf256::inv(0xCA), 0x53);
    assert_eq!(gf256::inv(0x01), 0x01);
    assert_eq!(gf256::inv(0x00), 0x00, "0 has no inverse; a^254 maps it to 0");
}

#[test]
fn field_agrees_with_a_reference_for_every_pair() {
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            assert_eq!(gf256::mul(a, b), reference_mul(a, b), "{a:#04x}·{b:#04x}");
        }
        if a != 0 {
            assert_eq!(gf256::mul(a, gf256::inv(a)), 1, "{a:#04x}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Splitting and reassembly

/// Pins the split layout: the coefficients are one draw of (M-1)·L bytes from the RNG,
/// coefficient k of byte j at (k-1)·L + j, and split i holds f_j(i).
#[test]
fn fixed_vector_split() {
    let secret = *b"PED-key!";
    let splits = split_secret(&secret, quorum(3, 5), ID_A, &mut rng(0x0b1e)).unwrap();

    let mut coefficients = [0u8; 16];
    rng(0x0b1e).fill_bytes(&mut coefficients);
    for split in &splits {
        let x = split.index();
        let expected: Vec<u8> = (0..secret.len())
            .map(|j| {
                let c1 = coefficients[j];
                let c2 = coefficients[8 + j];
                secret[j] ^ reference_mul(c1, x) ^ reference_mul(c2, reference_mul(x, x))
            })
            .collect();
        assert_eq!(split.expose_value(), expected, "split {x}");
    }

    let values: Vec<String> = splits.iter().map(|s| hex::encode(s.expose_value())).collect();
    assert_eq!(
        values,
        ["9e84a1abcfff7c1e", "58042d54db0a7d44", "96c5c8d27f90787b", "4a8a407cb1a04987", "844ba5fa153a4cb8"]
    );
    assert_eq!(splits.iter().map(Split::index).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert!(splits.iter().all(|s| s.keyset_id() == &ID_A && s.quorum() == quorum(3, 5)));
}

#[test]
fn one_of_n_gives_every_key_the_secret() {
    let secret = [7u8; 32];
    let splits = split_secret(&secret, quorum(1, 4), ID_A, &mut rng(1)).unwrap();
    assert_eq!(splits.len(), 4);
    for split in &splits {
        assert_eq!(split.expose_value(), secret);
        assert_eq!(&reassemble(std::slice::from_ref(split)).unwrap()[..], secret);
    }
}

#[test]
fn quorum_bounds() {
    for m in 0..=20u8 {
        for n in 0..=20u8 {
            let valid = 1 <= m && m <= n && n <= MAX_SPLITS;
            match Quorum::new(m, n) {
                Ok(q) => {
                    assert!(valid, "{m} of {n}");
                    assert_eq!((q.m(), q.n()), (m, n));
                    assert_eq!(q.to_string(), format!("{m} of {n}"));
                }
                Err(e) => {
                    assert!(!valid, "{m} of {n}");
                    assert_eq!(e, QuorumError::InvalidQuorum { m, n });
                }
            }
        }
    }
}

#[test]
fn split_indices_lie_in_one_to_n() {
    let q = quorum(2, 5);
    assert_eq!(SplitInfo::new(ID_A, 0, q), Err(QuorumError::BadIndex { index: 0, n: 5 }));
    assert_eq!(SplitInfo::new(ID_A, 6, q), Err(QuorumError::BadIndex { index: 6, n: 5 }));
    assert_eq!(SplitInfo::new(ID_A, 255, q), Err(QuorumError::BadIndex { index: 255, n: 5 }));
    for index in 1..=5 {
        let info = SplitInfo::new(ID_A, index, q).unwrap();
        assert_eq!((info.keyset_id(), info.index(), info.quorum()), (&ID_A, index, q));
    }
}

#[test]
fn secret_and_split_lengths_are_bounded() {
    let q = quorum(2, 3);
    assert_eq!(split_secret(&[], q, ID_A, &mut rng(2)).unwrap_err(), QuorumError::SecretLength { len: 0 });
    let long = [0u8; MAX_SECRET_LEN + 1];
    assert_eq!(split_secret(&long, q, ID_A, &mut rng(2)).unwrap_err(), QuorumError::SecretLength { len: 129 });
    assert!(split_secret(&long[..MAX_SECRET_LEN], q, ID_A, &mut rng(2)).is_ok());

    let info = SplitInfo::new(ID_A, 1, q).unwrap();
    assert_eq!(Split::new(info, Zeroizing::new(vec![])).unwrap_err(), QuorumError::SecretLength { len: 0 });
    assert_eq!(Split::new(info, Zeroizing::new(long.to_vec())).unwrap_err(), QuorumError::SecretLength { len: 129 });
    assert_eq!(reassemble(&[]), Err(QuorumError::NoSplits));
}

#[test]
fn reassembly_refuses_disagreeing_splits() {
    let secret = [0x42u8; 16];
    let splits = split_secret(&secret, quorum(2, 3), ID_A, &mut rng(3)).unwrap();

    // The same index with another value: a damaged copy, or a copy unmasked with a wrong PIN.
    let mut tampered = splits[0].expose_value().to_vec();
    tampered[5] ^= 1;
    let tampered = Split::new(*splits[0].info(), Zeroizing::new(tampered)).unwrap();
    assert_eq!(reassemble(&[splits[0].clone(), tampered, splits[1].clone()]), Err(QuorumError::Inconsistent));

    // A key claiming another M of N for the same keyset.
    let forged = Split::new(SplitInfo::new(ID_A, 3, quorum(3, 3)).unwrap(), Zeroizing::new(vec![0; 16])).unwrap();
    assert_eq!(reassemble(&[splits[0].clone(), forged]), Err(QuorumError::Inconsistent));

    // A value of another length.
    let short = Split::new(*splits[2].info(), Zeroizing::new(vec![0; 15])).unwrap();
    assert_eq!(reassemble(&[splits[0].clone(), short]), Err(QuorumError::Inconsistent));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any M distinct splits reassemble the secret; any M-1 are refused; duplicates
    /// count once, wherever they sit.
    #[test]
    fn any_m_splits_reassemble_and_m_minus_1_do_not(
        (m, n, order) in quorum_and_order(),
        secret in secret(),
        seed in any::<u64>(),
        duplicate in any::<Index>(),
    ) {
        let splits = split_secret(&secret, quorum(m, n), ID_A, &mut rng(seed)).unwrap();
        prop_assert_eq!(splits.len(), usize::from(n));
        let chosen = &order[..usize::from(m)];

        prop_assert_eq!(&reassemble(&pick(&splits, chosen)).unwrap()[..], &secret[..]);

        // All N, in any order, also work: the first M distinct are used.
        prop_assert_eq!(&reassemble(&pick(&splits, &order)).unwrap()[..], &secret[..]);

        let fewer = &chosen[..chosen.len() - 1];
        let expected = if fewer.is_empty() {
            QuorumError::NoSplits
        } else {
            QuorumError::NotEnoughSplits { have: m - 1, need: m }
        };
        prop_assert_eq!(reassemble(&pick(&splits, fewer)), Err(expected));

        // M-1 distinct splits plus a copy of one of them are still M-1.
        if !fewer.is_empty() {
            let mut with_copy = fewer.to_vec();
            with_copy.push(*duplicate.get(fewer));
            prop_assert_eq!(reassemble(&pick(&splits, &with_copy)), Err(expected));
        }

        // M distinct splits with a copy inserted anywhere still reassemble.
        let mut with_copy = chosen.to_vec();
        let copied = *duplicate.get(chosen);
        with_copy.insert(duplicate.index(chosen.len() + 1), copied);
        prop_assert_eq!(&reassemble(&pick(&splits, &with_copy)).unwrap()[..], &secret[..]);
    }

    /// Splits of two keysets never combine, even for the same secret and M of N.
    #[test]
    fn keysets_never_mix(
        (m, n, order) in quorum_and_order(),
        secret in secret(),
        seed in any::<u64>(),
        intruder in any::<Index>(),
    ) {
        let ours = split_secret(&secret, quorum(m, n), ID_A, &mut rng(seed)).unwrap();
        let theirs = split_secret(&secret, quorum(m, n), ID_B, &mut rng(seed ^ 1)).unwrap();
        let mut mixed = pick(&ours, &order[..usize::from(m)]);
        let slot = intruder.index(mixed.len());
        mixed[slot] = theirs[usize::from(order[slot] - 1)].clone();
        if m == 1 {
            // One split alone is a complete quorum of its own keyset.
            prop_assert_eq!(&reassemble(&mixed).unwrap()[..], &secret[..]);
        } else {
            prop_assert_eq!(reassemble(&mixed), Err(QuorumError::MixedKeysets));
        }
        // However many splits are given, one of another keyset spoils the lot.
        mixed.extend(ours.iter().cloned());
        prop_assert_eq!(reassemble(&mixed), Err(QuorumError::MixedKeysets));
    }

    /// The verifier accepts the secret of its keyset and nothing else.
    #[test]
    fn verifier_recognises_the_secret(secret in secret(), flip in any::<Index>()) {
        let verifier = Verifier::of(&ID_A, &secret);
        prop_assert!(verifier.check(&ID_A, &secret));
        prop_assert!(!verifier.check(&ID_B, &secret));
        let mut other = secret.clone();
        other[flip.index(secret.len())] ^= 0x01;
        prop_assert!(!verifier.check(&ID_A, &other));
        prop_assert!(!verifier.check(&ID_A, &secret[..secret.len() - 1]));
        prop_assert!(Verifier::from_bytes(*verifier.as_bytes()).check(&ID_A, &secret));
    }
}

#[test]
fn verifier_is_the_documented_hash() {
    use sha2::Digest;
    let secret = b"a role secret";
    let expected = Sha512::new()
        .chain_update(b"PED keyset verifier v1")
        .chain_update(ID_A.as_bytes())
        .chain_update(secret)
        .finalize();
    assert_eq!(Verifier::of(&ID_A, secret).as_bytes()[..], expected[..]);
}

// ---------------------------------------------------------------------------------------
// The login collector

#[test]
fn collector_follows_a_login() {
    let secret = [0x5Au8; 32];
    let splits = split_secret(&secret, quorum(3, 5), ID_A, &mut rng(4)).unwrap();
    let others = split_secret(&secret, quorum(3, 5), ID_B, &mut rng(5)).unwrap();

    let mut login = QuorumCollector::new(None);
    assert_eq!(login.progress(), None);
    assert!(!login.is_complete());
    assert_eq!(login.accept(splits[3].clone()), Ok(Progress { read: 1, needed: 3 }));
    // The same key again, or an exact copy of it, never counts twice.
    assert_eq!(login.accept(splits[3].clone()), Err(QuorumError::AlreadyPresented { index: 4 }));
    // The first key fixed the keyset.
    assert_eq!(login.accept(others[0].clone()), Err(QuorumError::MixedKeysets));
    // A key of the same keyset that claims another M of N.
    let forged = Split::new(SplitInfo::new(ID_A, 1, quorum(2, 5)).unwrap(), Zeroizing::new(vec![0; 32])).unwrap();
    assert_eq!(login.accept(forged), Err(QuorumError::Inconsistent));
    assert_eq!(login.progress(), Some(Progress { read: 1, needed: 3 }));

    assert_eq!(login.accept(splits[0].clone()), Ok(Progress { read: 2, needed: 3 }));
    let done = login.accept(splits[4].clone()).unwrap();
    assert_eq!(done, Progress { read: 3, needed: 3 });
    assert!(done.is_complete() && login.is_complete());
    assert_eq!(login.accept(splits[1].clone()), Err(QuorumError::QuorumComplete));

    let presented = login.into_splits();
    assert_eq!(presented.iter().map(Split::index).collect::<Vec<_>>(), [4, 1, 5]);
    assert_eq!(&reassemble(&presented).unwrap()[..], secret);
}

#[test]
fn collector_refuses_other_keysets_when_the_hsm_names_one() {
    let splits = split_secret(&[1u8; 16], quorum(2, 2), ID_B, &mut rng(6)).unwrap();
    let mut login = QuorumCollector::new(Some(ID_A));
    assert_eq!(login.accept(splits[0].clone()), Err(QuorumError::MixedKeysets));
    assert_eq!(login.progress(), None);
}

/// The PED sees split metadata only; the collector works on that alone.
#[test]
fn collector_works_on_metadata_alone() {
    let q = quorum(2, 3);
    let mut login = QuorumCollector::new(Some(ID_A));
    assert_eq!(login.accept(SplitInfo::new(ID_A, 2, q).unwrap()), Ok(Progress { read: 1, needed: 2 }));
    assert_eq!(login.accept(SplitInfo::new(ID_A, 2, q).unwrap()), Err(QuorumError::AlreadyPresented { index: 2 }));
    assert_eq!(login.accept(SplitInfo::new(ID_A, 3, q).unwrap()), Ok(Progress { read: 2, needed: 2 }));
    assert!(login.is_complete());
    assert_eq!(login.into_splits().len(), 2);
}

// ---------------------------------------------------------------------------------------
// PINs

#[test]
fn pin_rules() {
    let digits = "123456789".repeat(6);
    assert_eq!(Pin::parse(&digits[..3]), Err(PinError::TooShort));
    assert_eq!(Pin::parse(&digits[..4]).unwrap().expose(), b"1234");
    assert_eq!(Pin::parse(&digits[..48]).unwrap().expose(), &digits.as_bytes()[..48]);
    assert_eq!(Pin::parse(&digits[..49]), Err(PinError::TooLong));
    assert_eq!(Pin::parse(""), Err(PinError::TooShort));
    for len in 4..=PIN_MAX_DIGITS {
        assert!(Pin::parse(&digits[..len]).is_ok(), "{len} digits");
        assert_eq!(Pin::parse(&format!("0{}", &digits[..len - 1])), Err(PinError::LeadingZero), "{len}");
    }
    for bad in ["123a", "12 34", "1234 ", "+1234", "-1234", "12.34", "１２３４", "١٢٣٤", "1234\n", "1234\0"] {
        assert_eq!(Pin::parse(bad), Err(PinError::NotDigits), "{bad:?}");
    }
    // Characters are checked before length and before the first digit.
    assert_eq!(Pin::parse("0a"), Err(PinError::NotDigits));
    assert_eq!(Pin::parse("012"), Err(PinError::TooShort));
    assert_eq!(Pin::parse(&format!("0{digits}")), Err(PinError::TooLong));
}

#[test]
fn pins_compare_by_value_and_never_print() {
    let pin = Pin::parse("73915824").unwrap();
    assert_eq!(pin, Pin::parse("73915824").unwrap());
    assert_ne!(pin, Pin::parse("7391582").unwrap());
    assert_ne!(pin, Pin::parse("739158240").unwrap());
    assert_ne!(pin, Pin::parse("73915825").unwrap());
    assert_eq!(format!("{pin:?}"), "Pin(..)");
    assert!(!PinError::TooShort.to_string().is_empty());
}

#[test]
fn the_binding_is_the_documented_pbkdf2() {
    let info = SplitInfo::new(ID_A, 7, quorum(2, 9)).unwrap();
    let salt = PinSalt::from_bytes(*b"0123456789abcdef");
    let pin = Pin::parse("4242").unwrap();
    let value = [0u8; 80];
    let masked = apply_pin_mask_with_iterations(&value, Some(&pin), &salt, &info, FEW).unwrap();

    // "PED PIN v2" ‖ salt ‖ keyset id ‖ index: 10 + 16 + 16 + 1 bytes.
    let mut kdf_salt = b"PED PIN v2".to_vec();
    kdf_salt.extend_from_slice(b"0123456789abcdef");
    kdf_salt.extend_from_slice(ID_A.as_bytes());
    kdf_salt.push(7);
    assert_eq!(kdf_salt.len(), 43);
    assert_eq!(&kdf_salt[..10], PIN_LABEL);
    let mut expected = [0u8; 80];
    pbkdf2::pbkdf2::<Hmac<Sha512>>(b"4242", &kdf_salt, FEW.get(), &mut expected).unwrap();
    assert_eq!(masked[..], expected[..]);
    // Computed with Python's hashlib.pbkdf2_hmac, a third implementation.
    assert_eq!(hex::encode(&masked[..16]), "4a4330c26a979cd5ff0f4846ed21f023");
}

/// The production binding, a known answer: PIN 73915824, salt 10..1f, keyset a0..af,
/// split 3 of 2-of-5, value 00..1f, 600 iterations. The expected bytes come from the
/// `pbkdf2` crate driven directly over the documented salt layout, and the hex was
/// checked against Python's `hashlib.pbkdf2_hmac`.
#[test]
fn pin_mask_known_answer_at_the_production_count() {
    assert_eq!(PIN_ITERATIONS.get(), 600);
    let keyset: [u8; 16] = core::array::from_fn(|i| 0xa0 + i as u8);
    let salt_bytes: [u8; 16] = core::array::from_fn(|i| 0x10 + i as u8);
    let value: [u8; 32] = core::array::from_fn(|i| i as u8);
    let info = SplitInfo::new(KeysetId::from_bytes(keyset), 3, quorum(2, 5)).unwrap();
    let salt = PinSalt::from_bytes(salt_bytes);
    let pin = Pin::parse("73915824").unwrap();
    let masked = apply_pin_mask(&value, Some(&pin), &salt, &info).unwrap();

    let kdf_salt = [&b"PED PIN v2"[..], &salt_bytes, &keyset, &[3]].concat();
    let mut mask = [0u8; 32];
    pbkdf2::pbkdf2::<Hmac<Sha512>>(b"73915824", &kdf_salt, 600, &mut mask).unwrap();
    let expected: Vec<u8> = value.iter().zip(mask).map(|(v, m)| v ^ m).collect();
    assert_eq!(masked[..], expected[..]);
    assert_eq!(hex::encode(&masked[..]), "cc57f6bdd71eb256d0224a002f37aa90919b8abce6faff868a41f64c4d7d6631");
    // Unbinding with the same PIN restores the value; without a PIN nothing changes.
    assert_eq!(&apply_pin_mask(&masked, Some(&pin), &salt, &info).unwrap()[..], &value[..]);
    assert_eq!(&apply_pin_mask(&value, None, &salt, &info).unwrap()[..], &value[..]);
    // Each salt field matters: another index, keyset or salt gives another mask.
    let other_index = SplitInfo::new(KeysetId::from_bytes(keyset), 4, quorum(2, 5)).unwrap();
    assert_ne!(apply_pin_mask(&value, Some(&pin), &salt, &other_index).unwrap(), masked);
    let other_keyset = SplitInfo::new(KeysetId::from_bytes([0xa0; 16]), 3, quorum(2, 5)).unwrap();
    assert_ne!(apply_pin_mask(&value, Some(&pin), &salt, &other_keyset).unwrap(), masked);
    let other_salt = PinSalt::from_bytes([0x10; 16]);
    assert_ne!(apply_pin_mask(&value, Some(&pin), &other_salt, &info).unwrap(), masked);
}

/// The PED's budget: 2 + 2c SHA-512 compressions per 64-byte PBKDF2 block.
#[test]
fn compressions_per_unlock_counts_blocks_and_iterations() {
    assert_eq!(compressions_per_unlock(32, 600), 1202);
    assert_eq!(compressions_per_unlock(32, PIN_ITERATIONS.get()), 1202);
    assert_eq!(compressions_per_unlock(1, 1), 4);
    assert_eq!(compressions_per_unlock(64, 600), 1202);
    assert_eq!(compressions_per_unlock(65, 600), 2402, "the key pads are computed once");
    assert_eq!(compressions_per_unlock(MAX_SECRET_LEN, 600), 2402);
    assert_eq!(compressions_per_unlock(0, 600), 0);
}

/// One round trip at the real iteration count (well under a millisecond), so the constant is what
/// `apply_pin_mask` uses.
#[test]
fn apply_pin_mask_uses_the_full_iteration_count() {
    let info = SplitInfo::new(ID_A, 1, quorum(1, 1)).unwrap();
    let salt = PinSalt::generate(&mut rng(7));
    let pin = Pin::parse("1357").unwrap();
    let value = [9u8; 32];
    let masked = apply_pin_mask(&value, Some(&pin), &salt, &info).unwrap();
    let explicit = apply_pin_mask_with_iterations(&value, Some(&pin), &salt, &info, PIN_ITERATIONS).unwrap();
    assert_eq!(masked, explicit);
    assert_ne!(&masked[..], value);
    assert_eq!(&apply_pin_mask(&masked, Some(&pin), &salt, &info).unwrap()[..], value);
}

#[test]
fn pin_mask_lengths_are_bounded() {
    let info = SplitInfo::new(ID_A, 1, quorum(1, 1)).unwrap();
    let salt = PinSalt::from_bytes([0; 16]);
    let pin = Pin::parse("1234").unwrap();
    for len in [0, MAX_SECRET_LEN + 1] {
        let value = vec![0u8; len];
        let refused = apply_pin_mask_with_iterations(&value, Some(&pin), &salt, &info, FEW);
        assert_eq!(refused.unwrap_err(), QuorumError::SecretLength { len });
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Binding with the right PINs and unbinding with the same PINs gives back the splits
    /// and the verifier accepts the secret; a wrong PIN on any one key gives no error
    /// anywhere until the verifier refuses the reassembled secret.
    #[test]
    fn a_wrong_pin_shows_only_at_the_verifier(
        (m, n, order) in quorum_and_order(),
        // At least 16 bytes, so that two PINs' masks cannot agree by chance (2^-128).
        secret in vec(any::<u8>(), 16..=MAX_SECRET_LEN),
        seed in any::<u64>(),
        pins in vec(proptest::option::of(pin_text()), MAX_SPLITS as usize),
        victim in any::<Index>(),
        right in pin_text(),
        wrong in pin_text(),
    ) {
        prop_assume!(right != wrong);
        let mut rng = rng(seed);
        let keyset_id = KeysetId::generate(&mut rng);
        let verifier = Verifier::of(&keyset_id, &secret);
        let splits = split_secret(&secret, quorum(m, n), keyset_id, &mut rng).unwrap();
        let mut pins: Vec<Option<Pin>> = pins.iter().map(|p| p.as_deref().map(|p| Pin::parse(p).unwrap())).collect();
        let victim_index = order[victim.index(usize::from(m))];
        pins[usize::from(victim_index - 1)] = Some(Pin::parse(&right).unwrap());

        // What the keys hold: each split masked under its holder's PIN and its own salt.
        let keys: Vec<(PinSalt, Zeroizing<Vec<u8>>)> = splits
            .iter()
            .map(|split| {
                let salt = PinSalt::generate(&mut rng);
                let pin = pins[usize::from(split.index() - 1)].as_ref();
                let masked = apply_pin_mask_with_iterations(split.expose_value(), pin, &salt, split.info(), FEW);
                (salt, masked.unwrap())
            })
            .collect();
        for (split, (_, masked)) in splits.iter().zip(&keys) {
            // Without a PIN the key holds the split itself.
            if pins[usize::from(split.index() - 1)].is_none() {
                prop_assert_eq!(&masked[..], split.expose_value());
            } else {
                prop_assert_ne!(&masked[..], split.expose_value());
            }
        }

        // A login with M keys; `wrong_for` is the index whose holder mistypes, if any.
        let login = |wrong_for: Option<u8>| -> Zeroizing<Vec<u8>> {
            let presented: Vec<Split> = order[..usize::from(m)]
                .iter()
                .map(|&index| {
                    let (salt, masked) = &keys[usize::from(index - 1)];
                    let info = *splits[usize::from(index - 1)].info();
                    let typed = if wrong_for == Some(index) {
                        Some(Pin::parse(&wrong).unwrap())
                    } else {
                        pins[usize::from(index - 1)].clone()
                    };
                    let value = apply_pin_mask_with_iterations(masked, typed.as_ref(), salt, &info, FEW).unwrap();
                    Split::new(info, value).unwrap()
                })
                .collect();
            reassemble(&presented).unwrap()
        };
        prop_assert!(verifier.check(&keyset_id, &login(None)));
        prop_assert!(!verifier.check(&keyset_id, &login(Some(victim_index))));
    }
}

// ---------------------------------------------------------------------------------------
// Printing and error codes

#[test]
fn secrets_never_print() {
    let secret = [0xC3u8; 32];
    let splits = split_secret(&secret, quorum(2, 2), ID_A, &mut rng(8)).unwrap();
    for split in &splits {
        let text = format!("{split:?}");
        assert!(text.contains("<32 bytes>"), "{text}");
        assert!(!text.contains(&format!("{:?}", split.expose_value())), "{text}");
        assert!(!text.contains(&hex::encode(split.expose_value())), "{text}");
    }
    assert_eq!(format!("{:?}", Verifier::of(&ID_A, &secret)), "Verifier(..)");
    assert_eq!(format!("{ID_A:?}"), format!("KeysetId({})", "aa".repeat(16)));
    assert_eq!(format!("{:?}", PinSalt::from_bytes([0x0F; 16])), format!("PinSalt({})", "0f".repeat(16)));
    assert_eq!(KeysetId::from_bytes(*ID_B.as_bytes()), ID_B);
    assert_ne!(KeysetId::generate(&mut rng(9)), KeysetId::generate(&mut rng(10)));
}

#[test]
fn quorum_errors_carry_codes_and_advice() {
    let cases = [
        (QuorumError::NoSplits, ErrorCode::CkrTokenNotPresent),
        (QuorumError::NotEnoughSplits { have: 2, need: 3 }, ErrorCode::CkrTokenNotPresent),
        (QuorumError::MixedKeysets, ErrorCode::CkrTokenNotPresent),
        (QuorumError::AlreadyPresented { index: 2 }, ErrorCode::CkrTokenNotPresent),
        (QuorumError::InvalidQuorum { m: 4, n: 3 }, ErrorCode::PedProtocolError),
        (QuorumError::BadIndex { index: 0, n: 3 }, ErrorCode::PedProtocolError),
        (QuorumError::SecretLength { len: 0 }, ErrorCode::PedProtocolError),
        (QuorumError::Inconsistent, ErrorCode::PedError),
        (QuorumError::QuorumComplete, ErrorCode::PedError),
    ];
    for (quorum_error, code) in cases {
        let error = Error::from(quorum_error);
        assert_eq!(error, Error::Quorum(quorum_error));
        assert_eq!(error.code(), code, "{quorum_error:?}");
        let text = error.to_string();
        assert!(text.contains(&quorum_error.to_string()) && text.contains(code.name()), "{text}");
    }
    assert!(Error::from(QuorumError::AlreadyPresented { index: 2 }).to_string().contains("split 2"));
    assert!(QuorumError::NotEnoughSplits { have: 2, need: 3 }.to_string().contains("2 distinct PED keys"));
}
