//! Timings of M-of-N splitting and of one PIN check, as `<name> <median_ns>` lines.
//!
//! `cargo run --release -p ped-proto --example quorum_bench`
//!
//! The PIN check figure is the one quoted beside `pin::PIN_ITERATIONS`.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use ped_proto::pin::{Pin, PinSalt, apply_pin_mask};
use ped_proto::quorum::{KeysetId, Quorum, reassemble, split_secret};
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
    let check = median_ns(11, || {
        black_box(apply_pin_mask(black_box(&masked), Some(&pin), &salt, &info).expect("valid length"));
    });
    println!("pin_check {check}");
    Ok(())
}
