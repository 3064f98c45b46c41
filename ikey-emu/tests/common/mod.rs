//! What the integration tests share: real PED key payloads made with `ped_proto`, and
//! self-checking payloads for the crash tests.
#![allow(dead_code, unreachable_pub, reason = "each test binary uses a different part")]

use ped_proto::EcdhKeyPair;
use ped_proto::factory::Factory;
use ped_proto::orange::ORANGE_SEED_LEN;
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
    }
    .encode()
    .unwrap()
    .to_vec()
}

/// Split `index` of an M-of-N orange keyset as a PED writes it in format 2: the split
/// of the 32-byte orange seed and nothing beside it.
pub fn orange_payload(m: u8, n: u8, index: u8) -> Vec<u8> {
    PedKeyPayload {
        colour: KeyColour::Orange,
        split: SplitInfo::new(KeysetId::from_bytes([0x0a; 16]), index, Quorum::new(m, n).unwrap()).unwrap(),
        pin_protected: false,
        salt: PinSalt::from_bytes([0x22; 16]),
        masked_split: Zeroizing::new(vec![0x9e; ORANGE_SEED_LEN]),
    }
    .encode()
    .unwrap()
    .to_vec()
}

/// An orange key as format 1 wrote it, built by hand: "PEDK" 01 colour flags
/// keyset[16] M N index salt[16] len16 split (the 98-byte RPV ‖ RPK secret of then),
/// and a len16 RPK certificate, real, issued by an emulated HSM's HOC.
pub fn old_orange_payload(m: u8, n: u8, index: u8) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(0x0a4a_9e00);
    let factory = Factory::manufacture(&mut rng, "154438865", NOW).unwrap();
    let rpk = EcdhKeyPair::generate(&mut rng);
    let cert = factory.certify_rpk(&mut rng, "154438865", rpk.public(), NOW).unwrap();
    let mut out = b"PEDK".to_vec();
    out.extend_from_slice(&[1, KeyColour::Orange.to_byte(), 0]);
    out.extend_from_slice(&[0x0a; 16]);
    out.extend_from_slice(&[m, n, index]);
    out.extend_from_slice(&[0x22; 16]);
    for field in [&[0x9e; 98][..], &cert] {
        out.extend_from_slice(&u16::try_from(field.len()).unwrap().to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

/// A blue key as format 1 wrote it (no certificate): 2 of 3, index 1.
pub fn old_blue_payload() -> Vec<u8> {
    let mut out = b"PEDK".to_vec();
    out.extend_from_slice(&[1, KeyColour::Blue.to_byte(), 0]);
    out.extend_from_slice(&[0x5a; 16]);
    out.extend_from_slice(&[2, 3, 1]);
    out.extend_from_slice(&[0x11; 16]);
    out.extend_from_slice(&32u16.to_be_bytes());
    out.extend_from_slice(&[0xc3; 32]);
    out
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
