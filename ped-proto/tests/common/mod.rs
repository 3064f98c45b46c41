//! Helpers shared by the integration tests. Include with `mod common;`.

use std::path::{Path, PathBuf};

/// The third-party test vectors (NIST ACVP, aws-lc, Wycheproof; see `SOURCES.md` there).
///
/// They are not committed: the repository is cloned beside `shared/`, so they sit at
/// `../../shared/vectors` from this crate. `PED_VECTORS_DIR` overrides the location.
/// A missing directory fails the test: a vector test that quietly passes without its
/// vectors proves nothing.
pub(crate) fn vectors_dir() -> PathBuf {
    let dir = match std::env::var_os("PED_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"),
    };
    assert!(
        dir.is_dir(),
        "test vectors not found at {}: clone the repository beside `shared/`, or set PED_VECTORS_DIR to the \
         directory that holds acvp/ and wycheproof/",
        dir.display()
    );
    dir
}
