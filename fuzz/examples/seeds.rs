//! Writes the seed corpus to `fuzz/seeds/<target>/` (replacing what is there), or with
//! `--check` only compares and exits 1 if a committed seed is missing, stale or extra:
//! after a change of a wire format, run it again and commit its output.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::{fs, io};

fn main() -> io::Result<ExitCode> {
    let check = std::env::args().any(|a| a == "--check");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let all = ped_proto_fuzz::seeds::all();
    let targets = all.len();
    let mut stale = Vec::new();
    for (target, seeds) in all {
        let dir = root.join(target);
        let wanted: BTreeMap<String, Vec<u8>> = seeds.into_iter().collect();
        let present: BTreeMap<String, Vec<u8>> = match fs::read_dir(&dir) {
            Ok(entries) => entries
                .map(|e| {
                    let e = e?;
                    Ok((e.file_name().to_string_lossy().into_owned(), fs::read(e.path())?))
                })
                .collect::<io::Result<_>>()?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        if present == wanted {
            continue;
        }
        stale.push(target);
        if !check {
            if dir.exists() {
                fs::remove_dir_all(&dir)?;
            }
            fs::create_dir_all(&dir)?;
            for (name, bytes) in &wanted {
                fs::write(dir.join(name), bytes)?;
            }
        }
    }
    if stale.is_empty() {
        println!("seeds: all {targets} targets current");
        return Ok(ExitCode::SUCCESS);
    }
    if check {
        eprintln!(
            "seeds: stale for {}; run `cargo run --manifest-path fuzz/Cargo.toml --example seeds`",
            stale.join(", ")
        );
        return Ok(ExitCode::FAILURE);
    }
    println!("seeds: wrote {}", stale.join(", "));
    Ok(ExitCode::SUCCESS)
}
