//! Timings of M-of-N splitting and of one PIN unlock, as `<name> <median_ns>` lines.
//!
//! `cargo run --release -p ped-proto --example quorum_bench`
//!
//! - `pin_unlock`: one unlock of a 32-byte split at the production count
//!   (`pin::PIN_ITERATIONS`), as the PED does once per key presented.
//! - `pin_unlock_compressions <n>`: SHA-512 compressions of that unlock
//!   (`pin::compressions_per_unlock`), the figure the PED's instruction budget is sized by.
//! - `pin_unlock_orange`: what the PED does with a 1-of-1 orange key: unlock, reassemble
//!   the orange seed, derive the RPV and the RPK scalar (`RpkCredential::from_seed`).
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use ped_proto::orange::{ORANGE_SEED_LEN, RpkCredential};
use ped_proto::pin::{PIN_ITERATIONS, Pin, PinSalt, apply_pin_mask, compressions_per_unlock};
use ped_proto::quorum::{KeysetId, Quorum, Split, reassemble, split_secret};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// The median, in nanoseconds, of `runs` timed calls of `f`.
fn median_ns(runs: usize, mut f: impl FnMut()) -> u128 {
    // One untimed call warms caches and the allocator.
    f();
    let mut samples: Vec<u128> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_nanos()
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed);
    let secret = [0xA5u8; 32];
    let quorum = Quorum::new(16, 16)?;
    let keyset_id = KeysetId::generate(&mut rng);

    let split = median_ns(1001, || {
        black_box(split_secret(black_box(&secret), quorum, keyset_id, &mut rng).expect("valid split"));
    });
    println!("split_16_of_16_32B {split}");

    let splits = split_secret(&secret, quorum, keyset_id, &mut rng)?;
    let join = median_ns(1001, || {
        black_box(reassemble(black_box(&splits)).expect("complete quorum"));
    });
    println!("reassemble_16_of_16_32B {join}");

    let pin = Pin::parse("73915824")?;
    let salt = PinSalt::generate(&mut rng);
    let info = *splits[0].info();
    let masked = apply_pin_mask(splits[0].expose_value(), Some(&pin), &salt, &info)?;
    let unlock = median_ns(101, || {
        black_box(apply_pin_mask(black_box(&masked), Some(&pin), &salt, &info).expect("valid length"));
    });
    println!("pin_unlock {unlock}");
    println!("pin_unlock_compressions {}", compressions_per_unlock(masked.len(), PIN_ITERATIONS.get()));

    // A 1-of-1 orange keyset: the key holds the whole seed, masked under the PIN.
    let seed = [0x3cu8; ORANGE_SEED_LEN];
    let orange_id = KeysetId::generate(&mut rng);
    let orange = split_secret(&seed, Quorum::new(1, 1)?, orange_id, &mut rng)?;
    let orange_info = *orange[0].info();
    let orange_salt = PinSalt::generate(&mut rng);
    let on_key = apply_pin_mask(orange[0].expose_value(), Some(&pin), &orange_salt, &orange_info)?;
    let expected = RpkCredential::from_seed(orange_id, &seed)?;
    let orange_unlock = median_ns(101, || {
        let value = apply_pin_mask(black_box(&on_key), Some(&pin), &orange_salt, &orange_info).expect("valid length");
        let split = Split::new(orange_info, value).expect("valid split");
        let seed = reassemble(std::slice::from_ref(&split)).expect("1 of 1");
        black_box(RpkCredential::from_seed(orange_id, &seed).expect("32-byte seed"));
    });
    let check = {
        let value = apply_pin_mask(&on_key, Some(&pin), &orange_salt, &orange_info)?;
        let seed = reassemble(&[Split::new(orange_info, value)?])?;
        RpkCredential::from_seed(orange_id, &seed)?
    };
    if check.rpv != expected.rpv {
        return Err("the orange unlock did not give back the seed's RPV".into());
    }
    println!("pin_unlock_orange {orange_unlock}");
    Ok(())
}
