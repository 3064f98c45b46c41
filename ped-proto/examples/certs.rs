//! Runs a fresh emulated factory and writes its certificates as PEM, for inspection and
//! for checking with other tools:
//!
//! ```text
//! cargo run --release -p ped-proto --example certs -- OUTDIR
//! openssl verify -CAfile OUTDIR/root.pem -untrusted OUTDIR/mic.pem -untrusted OUTDIR/hoc.pem OUTDIR/hsm-static.pem
//! ```
//!
//! Writes root.pem, mic.pem, hoc.pem, hsm-static.pem and rpk-static.pem (creating
//! OUTDIR if needed) and prints each path. The private keys are generated, used and
//! dropped: nothing secret is written.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use der::pem::LineEnding;
use getrandom::SysRng;
use ped_proto::cert::{CertificateAuthority, LeafRole};
use ped_proto::internal::ecdh::EcdhKeyPair;
use rand_core::{CryptoRng, UnwrapErr};

/// The HSM serial number the emulated factory stamps on this HSM's certificates.
pub(crate) const HSM_SERIAL: &str = "154438865";

const DAY: u64 = 24 * 3600;
const YEAR: u64 = 365 * DAY;

#[allow(clippy::print_stdout, reason = "a command-line tool reports on its terminal")]
fn main() -> ExitCode {
    let Some(outdir) = std::env::args_os().nth(1) else {
        eprintln!("usage: certs OUTDIR");
        return ExitCode::from(2);
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    match write_factory_pems(Path::new(&outdir), &mut UnwrapErr(SysRng), now) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("certs: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Issues root → MIC → HOC → {HSM static key, RPK static key} valid around `now` and
/// writes them to `outdir` as PEM; returns the paths written, root first.
pub(crate) fn write_factory_pems<R: CryptoRng + ?Sized>(
    outdir: &Path,
    rng: &mut R,
    now: u64,
) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    // Back-dated a day so that a clock slightly behind still accepts them.
    let from = now.saturating_sub(DAY);
    let root = CertificateAuthority::new_root(rng, "ped-proto emulated root CA", from, now + 30 * YEAR)?;
    let mic = root.issue_ca(rng, "ped-proto emulated MIC", 1, from, now + 25 * YEAR)?;
    let hoc = mic.issue_ca(rng, &format!("HOC {HSM_SERIAL}"), 0, from, now + 20 * YEAR)?;
    let hsm_key = EcdhKeyPair::generate(rng);
    let hsm_static = hoc.issue_key_agreement_cert(
        rng,
        LeafRole::HsmStatic,
        "HSM static ECDH key",
        Some(HSM_SERIAL),
        hsm_key.public(),
        from,
        now + 10 * YEAR,
    )?;
    let rpk_key = EcdhKeyPair::generate(rng);
    let rpk_static = hoc.issue_key_agreement_cert(
        rng,
        LeafRole::RpkStatic,
        "RPK static ECDH key",
        Some(HSM_SERIAL),
        rpk_key.public(),
        from,
        now + 10 * YEAR,
    )?;

    fs::create_dir_all(outdir)?;
    let files = [
        ("root.pem", root.certificate_der()),
        ("mic.pem", mic.certificate_der()),
        ("hoc.pem", hoc.certificate_der()),
        ("hsm-static.pem", hsm_static.as_slice()),
        ("rpk-static.pem", rpk_static.as_slice()),
    ];
    let mut written = Vec::with_capacity(files.len());
    for (name, der) in files {
        let path = outdir.join(name);
        fs::write(&path, der::pem::encode_string("CERTIFICATE", LineEnding::LF, der)?)?;
        written.push(path);
    }
    Ok(written)
}
