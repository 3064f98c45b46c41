//! `ikey-emu ... | head -1`: a reader that goes away ends the command quietly, with the
//! status a shell shows for SIGPIPE, not exit 6 and advice about the key directory.

use std::process::{Command, Stdio};

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_ikey-emu"))
        .arg("--dir")
        .arg(dir.path())
        .args(["create", "--label", "SO"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.status.code(), Some(141));
    let listed =
        Command::new(env!("CARGO_BIN_EXE_ikey-emu")).arg("--dir").arg(dir.path()).arg("list").output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("SO"), "the key was made before the output failed");
}
