//! The `ikey-emu` command as a process: every subcommand, `--json`, exit codes.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{old_blue_payload, old_orange_payload, orange_payload, split_payload};
use ikey_emu::{KeySerial, KeyStore};
use ped_proto::pedkey::KeyColour;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ikey-emu");

struct Rig {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Rig {
    fn new() -> Rig {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        Rig { _tmp: tmp, dir }
    }

    fn root(&self) -> &Path {
        self._tmp.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN).arg("--dir").arg(&self.dir).args(args).env_remove("IKEY_EMU_DIR").output().unwrap()
    }

    /// Runs and expects exit code `code`; returns stdout.
    fn expect(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "{args:?}\nstdout: {stdout}\nstderr: {stderr}");
        if code != 0 {
            assert!(stderr.trim().len() > 10, "a failure says why: {args:?}");
        }
        stdout.into_owned()
    }

    /// Runs with `--json`, expects success, parses stdout.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.expect(0, &all)).unwrap()
    }

    /// Writes a payload as a PED would (the CLI has no command for it, by design).
    fn write(&self, serial: u64, payload: &[u8]) {
        KeyStore::open(&self.dir).unwrap().write(KeySerial(serial), payload).unwrap();
    }

    /// Runs and expects failure `code` with `words` on stderr.
    fn fails(&self, code: i32, args: &[&str], words: &str) {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(words), "{args:?}: {stderr:?} lacks {words:?}");
    }
}

#[test]
fn create_list_show() {
    let rig = Rig::new();
    let created = rig.json(&["create", "--label", "SO 1", "--serial", "42"]);
    assert_eq!(created["serial"], "0000000042");
    assert_eq!(created["label"], "SO 1");
    assert_eq!(created["blank"], true);
    assert_eq!(created["capacity"], 8192);
    let text = rig.expect(0, &["create", "--capacity", "4096"]);
    assert!(text.starts_with("created key ") && text.contains("4096 bytes"), "{text}");
    rig.expect(0, &["create", "--label", "orange-1", "--serial", "7"]);

    rig.write(42, &split_payload(KeyColour::Blue, 2, 3, 2, true));
    let orange = orange_payload(2, 5, 4);
    rig.write(7, &orange);

    let list = rig.json(&["list"]);
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0]["serial"], "0000000007");
    assert!(list["problems"].as_array().unwrap().is_empty());
    let text = rig.expect(0, &["list"]);
    assert!(text.contains("0000000042  SO 1") && text.contains("blue (SO) split 2 of 2-of-3"), "{text}");

    let show = rig.json(&["show", "SO 1"]);
    assert_eq!(show["content"]["state"], "split");
    assert_eq!(show["content"]["colour"], "blue");
    assert_eq!(show["content"]["secret"], "SO");
    assert_eq!((show["content"]["m"].as_u64(), show["content"]["n"].as_u64()), (Some(2), Some(3)));
    assert_eq!(show["content"]["index"], 2);
    assert_eq!(show["content"]["pin"], true);
    assert_eq!(show["write_count"], 1);
    let show = rig.json(&["show", "7"]);
    assert_eq!(show["content"]["colour"], "orange");
    assert_eq!(show["content"]["secret"], "Remote PED");
    assert!(show["content"].get("rpk_cert_len").is_none(), "{show}");
    assert_eq!(show["used"].as_u64().unwrap() as usize, orange.len());

    let text = rig.expect(0, &["show", "orange-1"]);
    for line in
        ["serial:       0000000007", "type:         Remote PED (ORANGE)", "quorum:       2 of 5", "split index:  4"]
    {
        assert!(text.contains(line), "{text}");
    }
    assert!(!text.contains("RPK cert"), "format 2 carries no RPK certificate: {text}");
    // Never a secret byte: the split values are runs of 0xc3 / 0x9e in these payloads.
    for out in [rig.expect(0, &["show", "42"]), rig.expect(0, &["--json", "show", "7"]), rig.expect(0, &["list"])] {
        let lower = out.to_lowercase();
        assert!(!lower.contains("c3c3c3") && !lower.contains("9e9e9e") && !lower.contains("195, 195"), "{out}");
    }
}

#[test]
fn show_of_an_older_format_key_says_unrecognised_content_and_names_the_format() {
    let rig = Rig::new();
    rig.expect(0, &["create", "--label", "old so", "--serial", "3"]);
    rig.write(3, &old_blue_payload());
    let text = rig.expect(0, &["show", "old so"]);
    let type_line = text.lines().find(|l| l.starts_with("type:")).unwrap();
    assert!(type_line.starts_with("type:         unrecognised content ("), "{text}");
    assert!(type_line.contains("PED key format 1 is older than this PED reads: re-create the key"), "{text}");
    assert!(!text.contains("RPK cert") && !text.contains("quorum:"), "{text}");
    let show = rig.json(&["show", "3"]);
    assert_eq!(show["content"]["state"], "unrecognised", "{show}");
    assert!(show["content"]["reason"].as_str().unwrap().contains("format 1 is older"), "{show}");
    let list = rig.expect(0, &["list"]);
    assert!(list.contains("0000000003  old so") && list.contains("(unrecognised content)"), "{list}");
}

/// Blocked by the ped-proto bug shown by ped-firmware's tests/orange.rs: a format-1
/// orange key, longer than format 2's largest payload, is refused as too long before
/// its format byte is read.
#[test]
fn show_of_an_older_format_orange_key_names_the_format() {
    let rig = Rig::new();
    rig.expect(0, &["create", "--label", "old orange", "--serial", "4"]);
    rig.write(4, &old_orange_payload(1, 1, 1));
    let text = rig.expect(0, &["show", "old orange"]);
    let type_line = text.lines().find(|l| l.starts_with("type:")).unwrap();
    assert!(type_line.starts_with("type:         unrecognised content ("), "{text}");
    assert!(type_line.contains("PED key format 1 is older than this PED reads: re-create the key"), "{text}");
    assert!(!text.contains("RPK cert"), "{text}");
}

#[test]
fn bad_input_is_exit_1_not_found_2_conflict_7() {
    let rig = Rig::new();
    rig.expect(0, &["create", "--serial", "1", "--label", "a"]);
    rig.fails(1, &["create", "--label", "123"], "label");
    rig.fails(1, &["create", "--serial", "abc"], "serial number");
    rig.fails(1, &["create", "--serial", "0"], "serial number");
    rig.fails(1, &["create", "--capacity", "0"], "capacity");
    rig.fails(1, &["create", "--capacity", "65537"], "capacity");
    rig.fails(1, &["frobnicate"], "unrecognized subcommand");
    rig.fails(1, &["list", "--colour"], "unexpected argument");
    rig.fails(1, &["show"], "required");
    rig.fails(1, &["--lock-timeout-ms", "700000", "list"], "lock-timeout-ms");
    rig.fails(2, &["show", "99"], "no key 99");
    rig.fails(2, &["show", "no such label"], "no key no such label");
    rig.fails(7, &["create", "--serial", "1"], "already exists");
    rig.fails(7, &["create", "--label", "a"], "already on key 0000000001");
    assert!(rig.expect(0, &["--help"]).contains("Usage"));
    assert!(rig.expect(0, &["--version"]).contains("ikey-emu"));
}

#[test]
fn insert_status_remove() {
    let rig = Rig::new();
    rig.expect(0, &["create", "--serial", "1", "--label", "blue"]);
    rig.expect(0, &["create", "--serial", "2"]);
    rig.fails(2, &["status", "--port", "ped1"], "no port");
    let inserted = rig.json(&["insert", "blue", "--port", "ped1"]);
    assert_eq!(inserted["port"], "ped1");
    assert_eq!(inserted["serial"], "0000000001");
    assert_eq!(inserted["key"]["label"], "blue");
    let status = rig.json(&["status", "--port", "ped1"]);
    assert_eq!(status["serial"], "0000000001");
    assert_eq!(status["key"]["port"], "ped1");
    assert!(rig.expect(0, &["status", "--port", "ped1"]).contains("port ped1: 0000000001  blue"));
    assert_eq!(rig.json(&["show", "1"])["port"], "ped1");

    rig.fails(7, &["insert", "2", "--port", "ped1"], "already holds key 0000000001");
    rig.fails(7, &["insert", "1", "--port", "ped2"], "is in port ped1");
    rig.fails(2, &["insert", "3", "--port", "ped2"], "no key 3");
    rig.fails(1, &["insert", "2", "--port", "../escape"], "invalid port name");
    rig.expect(0, &["insert", "2", "--port", "ped2"]);
    let all = rig.json(&["status"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["port"], "ped2");
    assert_eq!(all[1]["serial"], "0000000002");

    let removed = rig.json(&["remove", "--port", "ped1"]);
    assert_eq!(removed["removed"], "0000000001");
    assert!(rig.expect(0, &["status", "--port", "ped1"]).contains("port ped1: empty"));
    assert_eq!(rig.json(&["status", "--port", "ped1"])["serial"], Value::Null);
    rig.fails(2, &["remove", "--port", "ped1"], "is empty");
    rig.fails(2, &["remove", "--port", "nope"], "no port");
    assert!(rig.expect(0, &["remove", "--port", "ped2"]).contains("key 0000000002 removed from port ped2"));
}

#[test]
fn wipe_and_faults() {
    let rig = Rig::new();
    rig.expect(0, &["create", "--serial", "5"]);
    rig.write(5, &split_payload(KeyColour::Black, 1, 1, 1, false));
    let wiped = rig.json(&["wipe", "5"]);
    assert_eq!((wiped["blank"].as_bool(), wiped["write_count"].as_u64()), (Some(true), Some(2)));
    assert!(rig.expect(0, &["wipe", "5"]).contains("wiped (write 3)"));
    rig.fails(2, &["wipe", "6"], "no key 6");

    let f = rig.json(&["fault", "5", "--read-error", "--write-error-after", "100", "--write-latency-ms", "36000"]);
    assert_eq!(f["faults"]["read_error"], true);
    assert_eq!(f["faults"]["write_error_after"], 100);
    assert_eq!(f["faults"]["write_latency_ms"], 36000);
    assert_eq!(f["write_count"], 3, "setting faults is not a write");
    let f = rig.json(&["fault", "5", "--write-latency-ms", "6000"]);
    assert_eq!(
        (f["faults"]["read_error"].as_bool(), f["faults"]["write_latency_ms"].as_u64()),
        (Some(false), Some(6000))
    );
    assert!(rig.expect(0, &["show", "5"]).contains("faults:       write latency 6000 ms"));
    let cleared = rig.json(&["fault", "5", "--clear"]);
    assert_eq!(cleared["faults"]["write_latency_ms"], 0);
    assert!(rig.expect(0, &["fault", "5", "--read-error"]).contains("faults: read error"));
    rig.fails(1, &["fault", "5"], "name at least one fault");
    rig.fails(1, &["fault", "5", "--clear", "--read-error"], "cannot be used with");
    rig.fails(1, &["fault", "5", "--write-latency-ms", "600001"], "over the limit");
    rig.fails(1, &["fault", "5", "--write-error-after", "many"], "invalid value");
}

#[test]
fn export_import() {
    let rig = Rig::new();
    let other = Rig::new();
    rig.expect(0, &["create", "--serial", "8", "--label", "red"]);
    rig.write(8, &split_payload(KeyColour::Red, 1, 1, 1, false));
    rig.expect(0, &["fault", "8", "--read-error"]);
    let file = rig.root().join("red.ikey");
    let f = file.to_str().unwrap();
    let exported = rig.json(&["export", "red", f]);
    assert_eq!(exported["serial"], "0000000008");
    rig.fails(7, &["export", "red", f], "already exists");

    let imported = other.json(&["import", f]);
    assert_eq!(imported["content"]["colour"], "red");
    assert_eq!(imported["faults"]["read_error"], false, "faults stay on the old rig");
    other.fails(7, &["import", f], "already exists");
    other.expect(0, &["wipe", "8"]);
    assert!(other.expect(0, &["import", f, "--replace"]).contains("key 0000000008 imported"));
    assert_eq!(other.json(&["show", "8"])["blank"], false);

    other.fails(2, &["import", rig.root().join("missing.ikey").to_str().unwrap()], "no such file");
    let junk = rig.root().join("junk.ikey");
    fs::write(&junk, b"{\"serial\": 8}").unwrap();
    other.fails(3, &["import", junk.to_str().unwrap()], "junk.ikey: not an ikey-emu key file");
}

#[test]
fn damaged_files_are_reported_by_name_and_others_still_work() {
    let rig = Rig::new();
    rig.expect(0, &["create", "--serial", "1", "--label", "ok"]);
    rig.expect(0, &["create", "--serial", "2"]);
    let damaged = rig.dir.join("0000000002.ikey");
    let mut bytes = fs::read(&damaged).unwrap();
    bytes[20] ^= 0x40;
    fs::write(&damaged, bytes).unwrap();
    fs::write(rig.dir.join("README"), b"stray").unwrap();

    rig.fails(3, &["show", "2"], "0000000002.ikey: integrity check failed");
    rig.fails(3, &["wipe", "2"], "0000000002.ikey");
    let list = rig.json(&["list"]);
    assert_eq!(list["keys"].as_array().unwrap().len(), 1);
    let problems = list["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2);
    assert!(problems[0]["file"].as_str().unwrap().ends_with("0000000002.ikey"));
    assert!(problems[1]["file"].as_str().unwrap().ends_with("README"));
    let out = rig.run(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("README"));
    assert_eq!(rig.json(&["show", "ok"])["serial"], "0000000001");
    rig.fails(2, &["show", "nolabel"], "2 files there could not be read");

    // A port state with unknown JSON is named, with the field.
    rig.expect(0, &["insert", "1", "--port", "ped1"]);
    fs::write(rig.dir.join("ports/ped1.port"), b"{\"format\":1,\"key\":null,\"insertions\":1,\"colour\":\"blue\"}")
        .unwrap();
    rig.fails(3, &["status", "--port", "ped1"], "ped1.port: port state unreadable: unknown field `colour`");
    fs::write(rig.dir.join("ports/ped1.port"), b"{\"format\":2,\"key\":null,\"insertions\":1}").unwrap();
    rig.fails(3, &["status", "--port", "ped1"], "format 2");
    let all = rig.json(&["status"]);
    assert!(all[0]["error"].as_str().unwrap().contains("format 2"));
}

#[test]
fn key_directory_defaults_and_io_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &Path)]| {
        let mut cmd = Command::new(BIN);
        cmd.args(["create", "--serial", "3"]).env_remove("IKEY_EMU_DIR").env_remove("XDG_DATA_HOME");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let home = tmp.path().join("home");
    assert!(run(&[("HOME", &home)]).status.success());
    assert!(home.join(".local/share/ped/ikeys/0000000003.ikey").exists());
    let xdg = tmp.path().join("xdg");
    assert!(run(&[("HOME", &home), ("XDG_DATA_HOME", &xdg)]).status.success());
    assert!(xdg.join("ped/ikeys/0000000003.ikey").exists());
    let explicit = tmp.path().join("explicit");
    assert!(run(&[("HOME", &home), ("XDG_DATA_HOME", &xdg), ("IKEY_EMU_DIR", &explicit)]).status.success());
    assert!(explicit.join("0000000003.ikey").exists());

    let nowhere = Command::new(BIN)
        .arg("list")
        .env_remove("IKEY_EMU_DIR")
        .env_remove("XDG_DATA_HOME")
        .env_remove("HOME")
        .output()
        .unwrap();
    assert_eq!(nowhere.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("--dir"));

    // A key directory that cannot be made is an I/O error naming it.
    let file = tmp.path().join("a-file");
    fs::write(&file, b"").unwrap();
    let out = Command::new(BIN).arg("--dir").arg(file.join("keys")).arg("list").output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a-file"));
}
