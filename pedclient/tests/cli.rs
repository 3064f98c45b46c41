//! The command line as a process: the mapping modes and show (text and JSON), start,
//! stop and a double start, testid's failure, and usage errors.

mod common;

use common::{PedClient, free_port, text};

#[test]
fn mappings_are_made_assigned_released_deleted_and_shown() {
    let c = PedClient::new();
    let o = c.run("setid", &["-id", "1234", "-id_ip", "myhostname", "-id_port", "3456"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("PED ID 1234 maps to myhostname:3456."), "{}", text(&o));
    // The seed's bare `mode` and double-dash spellings.
    let o = c.raw(&["mode", "assignid", "--id", "1234", "-id_serialnumber", "123456789"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = c.run("assignid", &["-id", "1234", "-id_serialnumber", "987"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is assigned to HSM 123456789; release it first"), "{}", text(&o));
    let o = c.run("deleteid", &["-id", "1234"]);
    assert_eq!(o.status.code(), Some(1), "an assigned mapping is released first");

    // show: not running (exit 1) but the mappings are there, in text and JSON.
    let o = c.run("show", &[]);
    assert_eq!(o.status.code(), Some(1));
    let shown = text(&o);
    assert!(shown.contains("Client Information:         Not Running"), "{shown}");
    assert!(shown.contains("1234") && shown.contains("myhostname:3456") && shown.contains("123456789"), "{shown}");
    let json = c.show();
    assert_eq!(json["running"], false);
    assert_eq!(json["mappings"][0]["id"], 1234);
    assert_eq!(json["mappings"][0]["hsm-serial"], "123456789");

    // Persisted in the configuration file.
    let file = std::fs::read_to_string(c.config()).unwrap();
    assert!(file.contains("[[ped-id]]") && file.contains("host = \"myhostname\""), "{file}");

    let o = c.run("releaseid", &["-id", "1234"]);
    assert!(o.status.success() && text(&o).contains("released from HSM 123456789"), "{}", text(&o));
    assert!(c.show()["mappings"][0].get("hsm-serial").is_none());
    let o = c.run("deleteid", &["-id", "1234"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(c.show()["mappings"].as_array().unwrap().len(), 0);
    let o = c.run("releaseid", &["-id", "1234"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is not mapped"), "{}", text(&o));
}

#[test]
fn testid_without_a_pedserver_fails_with_a_reason() {
    let c = PedClient::new();
    let port = free_port().to_string();
    assert!(c.run("setid", &["-id", "7", "-id_ip", "127.0.0.1", "-id_port", &port]).status.success());
    let o = c.run("testid", &["-id", "7", "-socketreadtimeout", "2"]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o);
    assert!(out.contains("cannot") || out.contains("failed"), "{out}");
    assert!(out.contains("RC_SOCKET_ERROR"), "{out}");
    let o = c.run("testid", &["-id", "8"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("PED ID 8 is not mapped"), "{}", text(&o));
}

#[test]
fn config_set_and_show() {
    let c = PedClient::new();
    let o = c.run("config", &["-set", "-idletimeout", "60", "-ignoreidletimeout"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = c.run("config", &["-show"]);
    let out = text(&o);
    assert!(out.contains("idle-timeout = 60") && out.contains("ignore-idle-timeout = true"), "{out}");
    let o = c.run("config", &["-show", "-json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["idle-timeout"], 60);
}

#[test]
fn start_show_double_start_and_stop() {
    let c = PedClient::new().start(&["-winservice"]);
    let json = c.show();
    assert_eq!(json["running"], true, "{json}");
    assert_eq!(json["daemon"]["admin_port"], c.admin);
    assert_eq!(json["daemon"]["idle_timeout"], 1800);
    let o = c.run("show", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("HSM Links:") && text(&o).contains("Show command passed."), "{}", text(&o));
    let o = c.run("start", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("already running"), "{}", text(&o));
    assert!(c.hsm_link().exists());
    let o = c.run("stop", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!c.hsm_link().exists(), "the socket is removed at stop");
    let o = c.run("stop", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("not running"), "{}", text(&o));
    assert!(c.log().contains("stop requested on the admin port"), "{}", c.log());
}

#[test]
fn usage_errors_exit_2_with_usage() {
    let c = PedClient::new();
    let o = c.run("setid", &["-id", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("Usage:"), "{}", text(&o));
    let o = c.run("start", &["-bogus", "1"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_reader_that_went_away_ends_the_command_quietly() {
    // `pedclient -mode show | head -0`: the pipe's read end is closed before the first
    // line is written.
    let c = PedClient::new();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let config = c.config();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pedclient"))
        .args(["-mode", "show", "-configfile", config.to_str().unwrap()])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(o.status.code(), Some(ped_daemon::broken_pipe::STATUS));
}

#[test]
fn the_admin_port_reports_what_show_json_says_of_the_daemon() {
    let c = PedClient::new().start(&["-idletimeout", "0.5"]);
    let (report, shown) = (c.status(), c.show());
    assert_eq!(report["pid"], shown["daemon"]["pid"]);
    assert_eq!(report["idle_timeout"], 0.5);
    assert_eq!(shown["running"], true);
}
