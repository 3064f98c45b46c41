//! Links with cortex-m-rt's link.x (the memory map comes from ped-mcu-rt).
fn main() {
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rerun-if-changed=build.rs");
}
