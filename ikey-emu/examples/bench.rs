//! Measures what a PED waits for: writing an orange key (the split of its seed)
//! with everything that makes it durable, and reading a key.
//!
//! ```text
//! cargo run --release -p ikey-emu --example bench
//! ```
//!
//! Prints `<name> <median_ns>` per figure on standard output (the payload size and the
//! directory go to standard error). Goals: `write_rpk_fsync` ≤ 50 ms, `read_key` ≤ 1 ms.
//! The key directory is a fresh one under `$IKEY_EMU_BENCH_DIR`, else the system's
//! temporary directory: point it at the disk you care about.

use std::env;
use std::error::Error;
use std::io::Write;
use std::time::Instant;

use ikey_emu::{KeySerial, KeyStore, NewKey, Port};
use ped_proto::orange::ORANGE_SEED_LEN;
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_proto::pin::PinSalt;
use ped_proto::quorum::{KeysetId, Quorum, SplitInfo};
use zeroize::Zeroizing;

/// Each write ends in two fsyncs; 200 of them keep the run to seconds on a slow disk.
const WRITES: usize = 200;
const READS: usize = 5_000;

fn main() -> Result<(), Box<dyn Error>> {
    let base = env::var_os("IKEY_EMU_BENCH_DIR").map_or_else(env::temp_dir, Into::into);
    let tmp = tempfile::tempdir_in(&base)?;
    let store = KeyStore::open(tmp.path().join("keys"))?;
    let serial = store.create(NewKey { serial: Some(KeySerial(1)), ..NewKey::default() })?.serial();
    let payload = orange_payload()?;
    let mut err = std::io::stderr();
    writeln!(err, "# orange payload {} bytes, key directory {}", payload.len(), store.dir().display())?;

    let mut out = std::io::stdout().lock();
    let write = median_ns(WRITES, || store.write(serial, &payload).map(drop))?;
    writeln!(out, "write_rpk_fsync {write}")?;
    let read = median_ns(READS, || store.load(serial).map(drop))?;
    writeln!(out, "read_key {read}")?;

    let port = Port::open(&store, "bench")?;
    port.insert(serial)?;
    let port_write = median_ns(WRITES, || port.write_payload(&payload).map(drop))?;
    writeln!(out, "port_write_rpk_fsync {port_write}")?;
    let port_read = median_ns(READS, || port.read_payload().map(drop))?;
    writeln!(out, "port_read_key {port_read}")?;
    Ok(())
}

/// An orange key as `ped vector init` writes it (PED key format 2): split 1 of 2-of-3
/// of the 32-byte orange seed, nothing beside it.
fn orange_payload() -> Result<Vec<u8>, Box<dyn Error>> {
    let payload = PedKeyPayload {
        colour: KeyColour::Orange,
        split: SplitInfo::new(KeysetId::from_bytes([7; 16]), 1, Quorum::new(2, 3)?)?,
        pin_protected: true,
        salt: PinSalt::from_bytes([9; 16]),
        masked_split: Zeroizing::new(vec![0x5c; ORANGE_SEED_LEN]),
    };
    Ok(payload.encode()?.to_vec())
}

/// The median of `n` timed runs after a tenth as many untimed ones.
fn median_ns<E>(n: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<u128, E> {
    for _ in 0..n / 10 {
        f()?;
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_nanos());
    }
    times.sort_unstable();
    Ok(times[n / 2])
}
