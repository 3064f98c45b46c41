//! Puts memory.x where cortex-m-rt's link.x finds it: the link-search path of a build
//! script reaches the link of every image that depends on this crate. Each image
//! passes `-Tlink.x` itself (a link argument does not reach dependents).
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("memory.x beside Cargo.toml");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
}
