//! The timed operations. Each is checked (a known answer or a round trip) so that a
//! figure can never come from code the optimiser removed or from a wrong result.
//!
//! The primitives are used directly from RustCrypto, at the main workspace's versions,
//! not through ped-proto's API (which is still moving); `ped_power_on` proves that the
//! PED core itself links and runs in this image.

use alloc::vec;
use alloc::vec::Vec;
use core::hint::black_box;

use aes_kw::KwpAes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha512};

use crate::clock::Calibration;

/// PBKDF2-HMAC-SHA-512("123456", 00 01 .. 0f, 1000 iterations, 64 bytes), computed on
/// the host with Python's `hashlib.pbkdf2_hmac`.
const PBKDF2_EXPECTED: [u8; 64] = hex64(
    b"e629244e0d492c52f8076b32c748b0a5dea4585ebb4520c7f20c328dc05faf63\
      0dfc247600d5e69a6777895414fd279b34d1a8a82072ecb20e9a18756b930df0",
);

/// SHA-512("abc"), FIPS 180-2 appendix C.1.
const SHA512_ABC: [u8; 64] = hex64(
    b"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
      2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
);

/// Runs every operation, reporting `(name, instructions)` for each.
pub fn run(cal: &Calibration, report: &mut dyn FnMut(&str, u64)) {
    // A fixed seed: this is a bench, not a PED. A real board draws from its TRNG.
    let mut rng = ChaCha20Rng::from_seed([0x42; 32]);

    sha512(cal, report);
    pbkdf2_sha512(cal, report);
    aes256_ctr(cal, report);
    hmac_sha512(cal, report);
    aes256_kwp(cal, report);
    ped_power_on(cal, report, &mut rng);
}

fn sha512(cal: &Calibration, report: &mut dyn FnMut(&str, u64)) {
    check(Sha512::digest(b"abc")[..] == SHA512_ABC, "SHA-512 known answer");

    // The compression function alone, averaged over 16 × 64 blocks.
    const BLOCKS: usize = 16;
    const ROUNDS: u64 = 64;
    let blocks = [[0x5a_u8; 128]; BLOCKS];
    let mut state = [0u64; 8];
    let ((), instructions) = cal.span(|| {
        for _ in 0..ROUNDS {
            sha2::block_api::compress512(black_box(&mut state), black_box(&blocks));
        }
    });
    black_box(state);
    report("sha512_compression", instructions / (ROUNDS * BLOCKS as u64));

    // A whole digest of a 111-byte message: the longest that pads into one block.
    const REPS: u64 = 100;
    let message = [0xa5_u8; 111];
    let (_, instructions) = cal.span(|| {
        let mut last = [0u8; 64];
        for _ in 0..REPS {
            last.copy_from_slice(&Sha512::digest(black_box(&message)));
        }
        last
    });
    report("sha512_111B", instructions / REPS);
}

fn pbkdf2_sha512(cal: &Calibration, report: &mut dyn FnMut(&str, u64)) {
    let salt: [u8; 16] = core::array::from_fn(|i| i as u8);
    let mut out = [0u8; 64];
    let (result, instructions) =
        cal.span(|| pbkdf2::pbkdf2::<Hmac<Sha512>>(black_box(b"123456"), black_box(&salt), 1000, &mut out));
    check(result.is_ok() && out == PBKDF2_EXPECTED, "PBKDF2-HMAC-SHA-512 known answer");
    report("pbkdf2_sha512_1000", instructions);
}

fn aes256_ctr(cal: &Calibration, report: &mut dyn FnMut(&str, u64)) {
    let key = [0x11_u8; 32];
    let iv = [0x22_u8; 16];
    let mut data = vec![0x33_u8; 16 * 1024];
    let ((), instructions) = cal.span(|| {
        let mut cipher = ctr::Ctr128BE::<aes::Aes256>::new(black_box(&key).into(), black_box(&iv).into());
        cipher.apply_keystream(&mut data);
    });
    let mut cipher = ctr::Ctr128BE::<aes::Aes256>::new((&key).into(), (&iv).into());
    cipher.apply_keystream(&mut data);
    check(data.iter().all(|&b| b == 0x33), "AES-256-CTR round trip");
    report("aes256_ctr_16k", instructions);
}

fn hmac_sha512(cal: &Calibration, report: &mut dyn FnMut(&str, u64)) {
    let key = [0x44_u8; 64];
    let data = vec![0x55_u8; 16 * 1024];
    let (tag, instructions) = cal.span(|| {
        let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(black_box(&key)).unwrap_or_else(|_| halt_key());
        mac.update(black_box(&data));
        mac.finalize().into_bytes()
    });
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(&key).unwrap_or_else(|_| halt_key());
    mac.update(&data);
    check(mac.verify_slice(&tag).is_ok(), "HMAC-SHA-512 recomputes");
    report("hmac_sha512_16k", instructions);
}

fn halt_key() -> ! {
    panic!("HMAC takes keys of any length")
}

fn aes256_kwp(cal: &Calibration, report: &mut dyn FnMut(&str, u64)) {
    let key = [0x66_u8; 32];
    let plaintext: [u8; 40] = core::array::from_fn(|i| i as u8);
    const REPS: u64 = 16;
    let mut wrapped = [0u8; 48];
    let (ok, instructions) = cal.span(|| {
        let mut ok = true;
        for _ in 0..REPS {
            let kwp = KwpAes256::new(black_box(&key).into());
            ok &= kwp.wrap_key(black_box(&plaintext), &mut wrapped).map(<[u8]>::len) == Ok(48);
        }
        ok
    });
    check(ok, "AES-256-KWP wraps 40 bytes into 48");
    let mut unwrapped = [0u8; 48];
    let kwp = KwpAes256::new((&key).into());
    let unwrapped = kwp.unwrap_key(&wrapped, &mut unwrapped);
    check(unwrapped == Ok(&plaintext[..]), "AES-256-KWP round trip");
    report("aes256_kwp_wrap_40B", instructions / REPS);
}

/// The PED core on the board: built, powered on, and fed a garbage host frame (which
/// it must refuse without panicking). Proves `ped-firmware` links into this image.
fn ped_power_on(cal: &Calibration, report: &mut dyn FnMut(&str, u64), rng: &mut ChaCha20Rng) {
    use ped_firmware::io::Event;
    use ped_firmware::{Ped, PedConfig};

    let ((mut ped, effects), instructions) = cal.span(|| {
        let mut ped = Ped::new(PedConfig::new("MCU-BENCH-0001", "7.8.0", Vec::new()));
        let effects = ped.handle(Event::PowerOn, &mut *rng);
        (ped, effects)
    });
    check(!effects.is_empty(), "the PED answers power-on");
    report("ped_power_on", instructions);

    let garbage: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
    let effects = ped.handle(Event::HostFrame(black_box(garbage)), &mut *rng);
    black_box(effects);
}

fn check(ok: bool, what: &str) {
    if !ok {
        panic!("check failed: {what}");
    }
}

/// Decodes 128 hex digits at compile time.
const fn hex64(hex: &[u8; 128]) -> [u8; 64] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let mut out = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        out[i] = (nibble(hex[2 * i]) << 4) | nibble(hex[2 * i + 1]);
        i += 1;
    }
    out
}
