//! The orange seed: RFC 9497 DeriveKeyPair (P521-SHA512) known answers, the RPV and
//! RPK derivations of `crate::orange`, and the agreement of the PED's credential with
//! the HSM's entry for every seed.

use ped_proto::Error;
use ped_proto::internal::ecdh::EcdhPrivateKey;
use ped_proto::orange::{self, ORANGE_SEED_LEN, RPK_CONTEXT, RPK_INFO, RPV_LABEL, RpkCredential, RpkEntry};
use ped_proto::quorum::KeysetId;
use ped_proto::secrets::Rpv;
use proptest::collection::vec;
use proptest::prelude::*;
use sha2::{Digest, Sha512};

const KEYSET: KeysetId = KeysetId::from_bytes([0x4b; 16]);

/// The big-endian bytes of a derived scalar.
fn scalar_hex(seed: &[u8], info: &[u8], dst: &[u8]) -> String {
    let scalar = orange::derive_key_pair(seed, info, dst).unwrap();
    hex::encode(&EcdhPrivateKey::from_scalar(scalar).private_bytes()[..])
}

/// RFC 9497 Appendix A.5 (P521-SHA512), DeriveKeyPair for the three modes (OPRF 00,
/// VOPRF 01, POPRF 02): seed a3…a3, info "test key", skSm. The same vectors as the
/// p521 crate's own `hash_to_scalar_voprf` test.
#[test]
fn derive_key_pair_matches_rfc_9497_p521_sha512() {
    let seed = [0xa3u8; 32];
    let info = hex::decode("74657374206b6579").unwrap();
    assert_eq!(info, b"test key");
    let vectors: [(&[u8], &str); 3] = [
        (
            b"DeriveKeyPairOPRFV1-\x00-P521-SHA512",
            "0153441b8faedb0340439036d6aed06d1217b34c42f17f8db4c5cc610a4a955d698a688831b16d0dc7713a1aa3611ec60703bffc7dc9c84e3ed673b3dbe1d5fccea6",
        ),
        (
            b"DeriveKeyPairOPRFV1-\x01-P521-SHA512",
            "015c7fc1b4a0b1390925bae915bd9f3d72009d44d9241b962428aad5d13f22803311e7102632a39addc61ea440810222715c9d2f61f03ea424ec9ab1fe5e31cf9238",
        ),
        (
            b"DeriveKeyPairOPRFV1-\x02-P521-SHA512",
            "014893130030ce69cf714f536498a02ff6b396888f9bb507985c32928c4427d6d39de10ef509aca4240e8569e3a88debc0d392e3361bcd934cb9bdd59e339dff7b27",
        ),
    ];
    for (dst, sk_sm) in vectors {
        assert_eq!(scalar_hex(&seed, &info, dst), sk_sm, "{}", String::from_utf8_lossy(dst));
    }
}

/// The seed, the info and the DST each change the key (and a longer info is length-
/// prefixed, so "ab" ‖ "c" differs from "a" ‖ "bc").
#[test]
fn derive_key_pair_separates_its_inputs() {
    let dst = b"DeriveKeyPairOPRFV1-\x00-P521-SHA512";
    let base = scalar_hex(&[0xa3; 32], b"test key", dst);
    assert_ne!(scalar_hex(&[0xa2; 32], b"test key", dst), base);
    assert_ne!(scalar_hex(&[0xa3; 32], b"test kez", dst), base);
    assert_ne!(scalar_hex(&[0xa3; 32], b"test key", b"DeriveKeyPairOPRFV1-\x01-P521-SHA512"), base);
    assert_ne!(scalar_hex(b"ab", b"c", dst), scalar_hex(b"a", b"bc", dst));
    assert_eq!(orange::derive_key_pair(&[0; 32], &vec![0; 65_536], dst).unwrap_err(), Error::KdfLengthInvalid);
}

/// The orange seed 00 01 … 1f: RPV and RPK scalar computed independently (Python:
/// `hashlib.sha512`, and RFC 9380 expand_message_xmd written from the RFC and checked
/// against the three vectors above), and the RPK public key (Python affine P-521).
#[test]
fn the_orange_seed_known_answer() {
    let seed: [u8; 32] = core::array::from_fn(|i| i as u8);
    let credential = RpkCredential::from_seed(KEYSET, &seed).unwrap();
    assert_eq!(credential.keyset_id, KEYSET);
    assert_eq!(
        hex::encode(credential.rpv.expose()),
        "3a7427795945992fb7bb52b865cd471c2a9c6a5568c8d1a5b9580923a87c8e29"
    );
    assert_eq!(
        hex::encode(&credential.static_key.private_bytes()[..]),
        "0113eab85265c740a990fcc1571b834110577e4af743f79d292e2c38cf47bdc8a9b0331dd4e0d23a259f36285ec872c6bf98102b950ed26e2881776596a78ba41b9b"
    );
    let entry = RpkEntry::from_seed(KEYSET, &seed).unwrap();
    assert_eq!(
        hex::encode(entry.public_key.to_uncompressed()),
        "0401b4e0d6cc0a8a698bbb73f50da8b2dfed43f9a029540fe946040e99cf8a972ab0cd96c8a36bd1cb85a6aa72e7bedcab3fdfdd32d5f0888cbb\
         7d7613036336a25f510006bf28203348ee71123715c4a06779151dbed2b18bae0252edb49bd1c996c43f6ec0ce93987bd794d13b7e847fcc61f4770\
         a08d5856fe0a0b1bd621f18dc3cdc3f"
    );
}

/// The documented formulas, through the crate's public constants.
#[test]
fn the_derivations_are_the_documented_ones() {
    assert_eq!(ORANGE_SEED_LEN, 32);
    assert_eq!(RPV_LABEL, b"PED orange RPV v2");
    assert_eq!(RPK_CONTEXT, b"PED-ORANGE-V2-P521-SHA512");
    assert_eq!(RPK_INFO, b"RPK static key");
    let seed = [0x5cu8; 32];
    let credential = RpkCredential::from_seed(KEYSET, &seed).unwrap();
    let digest = Sha512::new().chain_update(b"PED orange RPV v2").chain_update(seed).finalize();
    assert_eq!(credential.rpv.expose()[..], digest[..32]);
    let dst = b"DeriveKeyPairPED-ORANGE-V2-P521-SHA512";
    assert_eq!(hex::encode(&credential.static_key.private_bytes()[..]), scalar_hex(&seed, b"RPK static key", dst));
}

/// Only 32 bytes are a seed: a damaged key, or the secret of another colour, is refused
/// by both ends.
#[test]
fn seeds_of_other_lengths_are_refused() {
    for len in [0, 1, 16, 31, 33, 64, 98, 128] {
        let seed = vec![0x42; len];
        assert_eq!(RpkCredential::from_seed(KEYSET, &seed).unwrap_err(), Error::InvalidPrivateKey, "{len} bytes");
        assert_eq!(RpkEntry::from_seed(KEYSET, &seed).unwrap_err(), Error::InvalidPrivateKey, "{len} bytes");
    }
    // The all-zero seed is a seed like any other.
    assert!(RpkCredential::from_seed(KEYSET, &[0; 32]).is_ok());
}

/// The credential never prints its secrets.
#[test]
fn credentials_never_print_their_secrets() {
    let credential = RpkCredential::from_seed(KEYSET, &[0x77; 32]).unwrap();
    let text = format!("{credential:?}");
    assert!(text.contains("Rpv(..)") && text.contains("EcdhPrivateKey(..)"), "{text}");
    assert!(!text.contains(&hex::encode(credential.rpv.expose())), "{text}");
    assert!(!text.contains(&hex::encode(&credential.static_key.private_bytes()[..8])), "{text}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Every 32-byte seed gives a credential, and the HSM's entry for the same seed
    /// agrees with it: same keyset, same RPV, and the entry's public key is the
    /// credential's private key times G. The keyset identity plays no part in the keys.
    #[test]
    fn every_seed_gives_a_credential_the_entry_agrees_with(seed in any::<[u8; 32]>(), id in any::<[u8; 16]>()) {
        let keyset_id = KeysetId::from_bytes(id);
        let credential = RpkCredential::from_seed(keyset_id, &seed).unwrap();
        let entry = RpkEntry::from_seed(keyset_id, &seed).unwrap();
        prop_assert_eq!(credential.keyset_id, entry.keyset_id);
        prop_assert_eq!(&credential.rpv, &entry.rpv);
        prop_assert_eq!(credential.static_key.public_key(), entry.public_key);
        let other_id = RpkCredential::from_seed(KEYSET, &seed).unwrap();
        prop_assert_eq!(&other_id.rpv, &credential.rpv);
        prop_assert_eq!(other_id.static_key.private_bytes(), credential.static_key.private_bytes());
    }

    /// Any other seed (a wrong PIN unmasks to one) gives another RPV and another key.
    #[test]
    fn another_seed_gives_another_rpv_and_key(seed in any::<[u8; 32]>(), at in 0..32usize, mask in 1..=u8::MAX) {
        let mut other = seed;
        other[at] ^= mask;
        let a = RpkCredential::from_seed(KEYSET, &seed).unwrap();
        let b = RpkCredential::from_seed(KEYSET, &other).unwrap();
        prop_assert_ne!(&a.rpv, &b.rpv);
        prop_assert_ne!(a.static_key.private_bytes(), b.static_key.private_bytes());
    }

    /// Every length but 32 is refused, whatever the bytes.
    #[test]
    fn other_lengths_are_refused(seed in vec(any::<u8>(), 0..=200)) {
        let result = RpkCredential::from_seed(KEYSET, &seed);
        if seed.len() == ORANGE_SEED_LEN {
            prop_assert!(result.is_ok());
        } else {
            prop_assert_eq!(result.unwrap_err(), Error::InvalidPrivateKey);
        }
    }
}

#[test]
fn rpv_bytes_compare_by_value() {
    let a = RpkCredential::from_seed(KEYSET, &[1; 32]).unwrap();
    let expected: [u8; 32] =
        Sha512::new().chain_update(RPV_LABEL).chain_update([1u8; 32]).finalize()[..32].try_into().unwrap();
    assert_eq!(a.rpv, Rpv::from_bytes(expected));
}
