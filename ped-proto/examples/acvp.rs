//! Runs ACVP vector sets through the primitives of the secure channel.
//!
//! ```text
//! cargo run --release -p ped-proto --example acvp -- DIR
//! ```
//!
//! `DIR` holds a NIST ACVP-Server vector set (`prompt.json`, `expectedResults.json`,
//! optionally `internalProjection.json`) or the aws-lc layout (`vectors/*.json`, with
//! `expected/*.json` where aws-lc ships answers). Handled: KDA OneStep Sp800-56Cr1/Cr2
//! (SHA2-512, HMAC-SHA2-512), KAS-KC Sp800-56, KAS-ECC-SSC Sp800-56Ar3 (P-521), AES-KWP,
//! AES-CTR (256-bit keys), HMAC-SHA2-512. Everything else is counted as skipped, with
//! the reason.
//!
//! The last line is `N passed, M failed, K skipped`. The exit status is 0 when nothing
//! failed, 1 when a case failed, 2 when `DIR` cannot be read.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

#[path = "acvp/harness.rs"]
mod harness;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: acvp DIR   (DIR holds prompt.json + expectedResults.json, or vectors/ as in aws-lc)");
        return ExitCode::from(2);
    };
    let report = match harness::run_dir(Path::new(&dir)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("acvp: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = print(&report) {
        eprintln!("acvp: cannot write the report: {e}");
        return ExitCode::from(2);
    }
    if report.tally.failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn print(report: &harness::Report) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for line in &report.lines {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{}", report.tally)?;
    out.flush()
}
