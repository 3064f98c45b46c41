//! What the integration tests share: real PED key payloads made with `ped_proto`, and
//! self-checking payloads for the crash tests.
#![allow(dead_code, unreachable_pub, reason = "each test binary uses a different part")]

use ped_proto::factory::Factory;
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_proto::pin::PinSalt;
use ped_proto::quorum::{KeysetId, Quorum, SplitInfo};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use zeroize::Zeroizing;

pub const NOW: u64 = 1_790_000_000;

/// Split `index` of an M-of-N keyset of `colour` (not orange), as a PED writes it.
pub fn split_payload(colour: KeyColour, m: u8, n: u8, index: u8, pin: bool) -> Vec<u8> {
    PedKeyPayload {
        colour,
        split: SplitInfo::new(KeysetId::from_bytes([0x5a; 16]), index, Quorum::new(m, n).unwrap()).unwrap(),
        pin_protected: pin,
        salt: PinSalt::from_bytes([0x11; 16]),
        masked_split: Zeroizing::new(vec![0xc3; 32]),
        rpk_cert: None,
    }
    .encode()
    .unwrap()
    .to_vec()
}

/// An orange key's payload with a real RPK certificate issued by an emulated HSM's HOC:
/// split `index` of M of N of the 98-byte orange secret.
pub fn orange_payload(m: u8, n: u8, index: u8) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(0x0a4a_9e00);
    let factory = Factory::manufacture(&mut rng, "154438865", NOW).unwrap();
    let (_, credential) = factory.new_rpk(&mut rng, "154438865", NOW).unwrap();
    PedKeyPayload {
        colour: KeyColour::Orange,
        split: SplitInfo::new(KeysetId::from_bytes([0x0a; 16]), index, Quorum::new(m, n).unwrap()).unwrap(),
        pin_protected: false,
        salt: PinSalt::from_bytes([0x22; 16]),
        masked_split: Zeroizing::new(vec![0x9e; 98]),
        rpk_cert: Some(credential.cert_der),
    }
    .encode()
    .unwrap()
    .to_vec()
}

/// A payload that proves itself whole: its first 8 bytes are a seed, the rest the
/// output of a generator from that seed. A mix of two writes fails [`check_payload`].
pub fn payload_from_seed(seed: u64) -> Vec<u8> {
    let len = 8 + (seed % 3000) as usize;
    let mut out = seed.to_be_bytes().to_vec();
    let mut x = seed | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(x as u8);
    }
    out
}

/// Whether `payload` is what [`payload_from_seed`] made.
pub fn check_payload(payload: &[u8]) -> bool {
    payload.len() >= 8 && payload_from_seed(u64::from_be_bytes(payload[..8].try_into().unwrap())) == payload
}
