//! DESIGN.md rule 2, by construction: the relays (pedserver, pedclient and the code
//! they share, ped-daemon) link the protocol's wire formats through this crate alone,
//! and this crate links nothing at all. So no code path of a relay can derive, hold or
//! use a key of the end-to-end channel. (`.ci/run` also checks the resolved graph:
//! `cargo tree -e normal` of each relay shows no P-521, ECDSA, AES key wrap, PBKDF2 or
//! X.509 crate.)

use std::path::Path;

/// The names in the `[dependencies]` table of a manifest (one `name = …` or
/// `name.workspace = true` per line, as this workspace writes them).
fn dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).expect("the manifest is readable");
    let mut names = Vec::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            let name: String = line.chars().take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_').collect();
            names.push(name);
        }
    }
    names
}

#[test]
fn the_relays_depend_on_the_wire_formats_and_never_on_the_channel_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for relay in ["pedserver", "pedclient", "ped-daemon"] {
        let deps = dependencies(&root.join(relay).join("Cargo.toml"));
        assert!(deps.iter().any(|d| d == "ped-wire"), "{relay} links ped-wire: {deps:?}");
        // sha2 and der in ped-daemon fingerprint the pinned TLS certificates of
        // PED-initiated mode and read their subject (an outer transport); nothing of the
        // channel, and no certificate crate.
        for crypto in [
            "ped-proto",
            "ped-firmware",
            "hsm-emu",
            "p521",
            "ecdsa",
            "aes",
            "aes-kw",
            "ctr",
            "hmac",
            "pbkdf2",
            "x509-cert",
        ] {
            assert!(!deps.iter().any(|d| d == crypto), "{relay} must not link {crypto}: {deps:?}");
        }
    }
}

#[test]
fn the_wire_crate_links_nothing() {
    let deps = dependencies(&Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
    assert!(deps.is_empty(), "ped-wire's [dependencies] must stay empty: {deps:?}");
}
