//! `hsm-emu serve` and its CLI as processes, against a ped-sim process over Local
//! PED-USB; the key holders are scripted through ped-sim's control socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ikey_emu::{KeySerial, KeyStore, NewKey};
use ped_proto::ErrorCode;
use ped_proto::frame::{Frame, FrameType};
use ped_proto::hsm_link::HsmLinkMessage;

const PATIENCE: Duration = Duration::from_secs(60);

/// A workspace binary beside this test's own: target/<profile>/deps/<test> →
/// target/<profile>/<name>. `cargo test --workspace` builds ped-sim.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(path.exists(), "{} is not built; run `cargo build --workspace` first", path.display());
    path
}

/// A child process killed when the test ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + PATIENCE;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        thread::sleep(Duration::from_millis(20));
    }
}

/// ped-sim's control socket: one line, one JSON reply.
struct Control {
    stream: UnixStream,
    replies: BufReader<UnixStream>,
}

impl Control {
    fn connect(path: &Path) -> Control {
        wait_for(path);
        let stream = UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        Control { replies: BufReader::new(stream.try_clone().unwrap()), stream }
    }

    fn run(&mut self, line: &str) {
        writeln!(self.stream, "{line}").unwrap();
        let mut reply = String::new();
        self.replies.read_line(&mut reply).unwrap();
        let value: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(value["ok"], true, "`{line}`: {reply}");
    }

    fn script(&mut self, lines: &[&str]) {
        for line in lines {
            self.run(line);
        }
    }
}

struct Rig {
    dir: tempfile::TempDir,
    _hsm: Proc,
    sim: Option<Proc>,
}

impl Rig {
    fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let hsm = Command::new(binary("hsm-emu"))
            .args(["serve", "--state"])
            .arg(d.join("hsm"))
            .arg("--control")
            .arg(format!("socket:{}", d.join("hsm.sock").display()))
            .arg("--local-ped")
            .arg(format!("socket:{}", d.join("ped.sock").display()))
            .arg("--pedclient")
            .arg(format!("socket:{}", d.join("pedclient.sock").display()))
            .args(["--key-timeout", "30", "--link-timeout", "10"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let hsm = Proc(hsm);
        wait_for(&d.join("hsm.sock"));
        let store = KeyStore::open(d.join("keys")).unwrap();
        for serial in [1001, 1002] {
            store.create(NewKey { serial: Some(KeySerial(serial)), ..NewKey::default() }).unwrap();
        }
        let sim = Command::new(binary("ped-sim"))
            .arg("--trusted-root")
            .arg(d.join("hsm/root.der"))
            .arg("--keys")
            .arg(d.join("keys"))
            .arg("--usb")
            .arg(format!("socket:{}", d.join("ped.sock").display()))
            .arg("--control")
            .arg(format!("socket:{}", d.join("pedctl.sock").display()))
            .args(["--headless", "--json"])
            .arg(d.join("screens.jsonl"))
            .args(["--pin-iterations", "16"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let sim = Proc(sim);
        wait_for(&d.join("ped.sock"));
        Rig { dir, _hsm: hsm, sim: Some(sim) }
    }

    /// Starts a CLI command; its output is collected by the returned thread.
    fn cli(&self, words: &[&str]) -> thread::JoinHandle<Output> {
        let mut command = Command::new(binary("hsm-emu"));
        command.arg("--control").arg(format!("socket:{}", self.dir.path().join("hsm.sock").display())).args(words);
        thread::spawn(move || command.output().unwrap())
    }

    fn ped(&self) -> Control {
        Control::connect(&self.dir.path().join("pedctl.sock"))
    }
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn hsm_init_and_login_over_local_ped_usb_then_unplugged() {
    let rig = Rig::start();
    let mut ped = rig.ped();

    let init = rig.cli(&["hsm", "init", "-label", "lab"]);
    for colour in ["(BLUE)", "(RED)"] {
        ped.script(&[
            "wait-screen \"reuse an existing\" 60",
            "press no",
            "type 1",
            "press enter",
            "type 1",
            "press enter",
            &format!("wait-screen \"{colour}\" 30"),
            if colour == "(BLUE)" { "insert 0000001001" } else { "insert 0000001002" },
            "press enter",
            "wait-screen Overwrite",
            "press yes",
            "wait-screen \"Enter new PED PIN\"",
            "type 4321",
            "press enter",
            "type 4321",
            "press enter",
            "wait-screen duplicating",
            "press no",
        ]);
    }
    let out = init.join().unwrap();
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(printed.starts_with("Please attend to the PED.\n"), "{printed}");
    assert!(printed.ends_with("Command Result : No Error\n"), "{printed}");

    let login = rig.cli(&["role", "login", "-name", "so"]);
    ped.script(&[
        "wait-screen \"SO LOGIN...\" 60",
        "insert 0000001001",
        "press enter",
        "wait-screen \"Enter PED PIN\"",
        "type 4321",
        "press enter",
    ]);
    let out = login.join().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out),
        format!("Please attend to the PED.\n{}Command Result : No Error\n", caution(3)),
        "no failures yet: 3 left"
    );

    let show = rig.cli(&["ped", "show"]).join().unwrap();
    assert!(text(&show).contains("HSM label: lab"), "{}", text(&show));

    // Wrong PINs: each counted once the quorum (1 of 1) is in; the caution before each
    // login counts down.
    for failures in 1..=2 {
        let login = rig.cli(&["role", "login", "-name", "so"]);
        ped.script(&[
            "wait-screen \"SO LOGIN...\" 60",
            "remove",
            "insert 0000001001",
            "press enter",
            "wait-screen \"Enter PED PIN\"",
            "type 4322",
            "press enter",
        ]);
        let out = login.join().unwrap();
        assert!(!out.status.success());
        let printed = text(&out);
        let before = format!("Please attend to the PED.\n{}", caution(4 - failures));
        assert!(printed.starts_with(&before), "{printed}");
        assert!(printed.ends_with("Command Result : 0x000000a0 (CKR_PIN_INCORRECT)\n"), "{printed}");
        let state = std::fs::read_to_string(rig.dir.path().join("hsm/hsm.json")).unwrap();
        assert!(state.contains(&format!("\"so_failures\": {failures}")), "{state}");
    }
    let state = std::fs::read_to_string(rig.dir.path().join("hsm/hsm.json")).unwrap();

    // The PED unplugged: the command fails with CKR_PED_UNPLUGGED, state unchanged.
    let mut rig = rig;
    drop(ped);
    drop(rig.sim.take());
    let out = rig.cli(&["role", "login", "-name", "so"]).join().unwrap();
    // The seed's own example (3636-3653), with two failures behind it: 1 left.
    let printed = text(&out);
    assert!(
        printed
            .starts_with(&format!("Please attend to the PED.\n{}Error in execution: CKR_PED_UNPLUGGED.\n", caution(1))),
        "{printed}"
    );
    assert!(printed.ends_with("Command Result : 0x8000002e (CKR_PED_UNPLUGGED)\n"), "{printed}");
    assert_eq!(std::fs::read_to_string(rig.dir.path().join("hsm/hsm.json")).unwrap(), state);
}

/// lunacm's three caution lines before an HSM SO login with `left` attempts left.
fn caution(left: u32) -> String {
    format!(
        "Caution: You have only {left} so login attempts left. If you fail {left}\n\
         more consecutive login attempts (i.e. with no successful\n\
         logins in between) the HSM will be ZEROIZED!!!\n"
    )
}

#[test]
fn bad_commands_and_a_connect_without_rpv_say_what_to_do() {
    let rig = Rig::start();
    let out = rig.cli(&["role", "login", "-name", "xx"]).join().unwrap();
    assert!(text(&out).contains("CKR_ARGUMENTS_BAD"), "{}", text(&out));
    let out = rig.cli(&["ped", "connect", "-ip", "127.0.0.1", "-port", "1503"]).join().unwrap();
    assert!(text(&out).contains("the RPV is not initialised"), "{}", text(&out));
    // lunacm's `-slot`: this HSM is slot 0; another slot is named in the refusal.
    let out = rig.cli(&["ped", "connect", "-slot", "3", "-ip", "127.0.0.1"]).join().unwrap();
    assert!(text(&out).contains("there is no slot 3"), "{}", text(&out));
    assert!(text(&out).ends_with("Command Result : 0x00000007 (CKR_ARGUMENTS_BAD)\n"), "{}", text(&out));
    let out = rig.cli(&["ped", "connect", "-slot", "0", "-ip", "127.0.0.1"]).join().unwrap();
    assert!(text(&out).contains("the RPV is not initialised"), "slot 0 is this HSM: {}", text(&out));
    let out = rig.cli(&["role", "login", "-name", "so"]).join().unwrap();
    assert!(text(&out).contains("CKR_USER_PIN_NOT_INITIALIZED"), "{}", text(&out));
    assert!(!text(&out).contains("Caution"), "a zeroised HSM has no SO to warn about: {}", text(&out));
    let out = rig.cli(&["ped", "set", "-ip", "10.0.0.1", "-port", "1600"]).join().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = rig.cli(&["ped", "show"]).join().unwrap();
    assert!(text(&out).contains("Default Remote PED: 10.0.0.1:1600"), "{}", text(&out));
}

/// Reads one whole frame from a pedclient-side stream.
fn read_frame(stream: &mut UnixStream) -> Vec<u8> {
    use std::io::Read;
    // Header and body read exactly, so nothing after the frame is lost; the HSM's audit
    // records (frame 2c, for pedclient's log) are passed over.
    loop {
        let mut frame = vec![0u8; ped_proto::frame::HEADER_LEN];
        stream.read_exact(&mut frame).expect("the HSM keeps the link open");
        let len = u32::from_be_bytes(frame[4..8].try_into().unwrap()) as usize;
        frame.resize(frame.len() + len, 0);
        stream.read_exact(&mut frame[ped_proto::frame::HEADER_LEN..]).expect("a whole frame");
        if Frame::decode_exact(&frame).unwrap().frame_type != FrameType::LinkAudit {
            return frame;
        }
    }
}

#[test]
fn remote_link_through_a_fake_pedclient_connected_then_closed_mid_command() {
    let rig = Rig::start();
    let listener = std::os::unix::net::UnixListener::bind(rig.dir.path().join("pedclient.sock")).unwrap();
    let fake = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let connect = read_frame(&mut stream);
        let message = HsmLinkMessage::decode(Frame::decode_exact(&connect).unwrap()).unwrap();
        assert_eq!(
            message,
            HsmLinkMessage::Connect { hsm_serial: "150001".into(), host: "127.0.0.1".into(), port: 1600 }
        );
        let connected = HsmLinkMessage::Connected {
            firmware_version: "2.9.0-1".into(),
            pedserver: "127.0.0.1:1600".into(),
            ped_initiated: false,
        };
        stream.write_all(&connected.encode().unwrap()).unwrap();
        // The channel's hello arrives over the same connection; then the link drops.
        let hello = read_frame(&mut stream);
        assert_eq!(Frame::decode_exact(&hello).unwrap().frame_type, FrameType::HsmHello);
        stream.write_all(&HsmLinkMessage::closed(ErrorCode::CkrPedUnplugged).encode().unwrap()).unwrap();
        // A second connection: pedclient cannot reach the server.
        let (mut stream, _) = listener.accept().unwrap();
        read_frame(&mut stream);
        stream.write_all(&HsmLinkMessage::closed(ErrorCode::RcSocketError).encode().unwrap()).unwrap();
    });

    let out =
        rig.cli(&["ped", "connect", "-ip", "127.0.0.1", "-port", "1600", "-password", "18246843"]).join().unwrap();
    assert_eq!(
        text(&out),
        "Please attend to the PED and enter following password: 18246843\nCommand Result : No Error\n"
    );
    let out = rig.cli(&["ped", "connect", "-ip", "127.0.0.1", "-port", "1600"]).join().unwrap();
    assert!(text(&out).contains("CKR_OPERATION_ACTIVE"), "a second connect is refused: {}", text(&out));
    let show = rig.cli(&["ped", "show"]).join().unwrap();
    assert!(text(&show).contains("Remote PED: connected to 127.0.0.1:1600, PED firmware 2.9.0-1"), "{}", text(&show));

    let out = rig.cli(&["ped", "vector", "init"]).join().unwrap();
    assert!(text(&out).ends_with("Command Result : 0x8000002e (CKR_PED_UNPLUGGED)\n"), "{}", text(&out));
    let state = std::fs::read_to_string(rig.dir.path().join("hsm/hsm.json")).unwrap_or_default();
    assert!(!state.contains("\"rpv\": {"), "no RPV was made: {state}");

    let out = rig.cli(&["ped", "connect", "-ip", "127.0.0.1", "-port", "1600", "-password"]).join().unwrap();
    assert!(text(&out).ends_with("Command Result : 0xc0000500 (RC_SOCKET_ERROR)\n"), "{}", text(&out));
    fake.join().unwrap();
}

/// Issue 14 item 11: while a PED command waits at the PED, another is refused at once
/// (it used to queue, and ran later for a CLI long gone); killing the waiting
/// command's CLI cancels it at the PED, which then serves the next command.
#[test]
fn one_command_at_a_time_and_a_killed_cli_cancels_its_command_at_the_ped() {
    let rig = Rig::start();
    let mut ped = rig.ped();
    let socket = format!("socket:{}", rig.dir.path().join("hsm.sock").display());
    let spawn = |words: &[&str]| {
        Proc(
            Command::new(binary("hsm-emu"))
                .arg("--control")
                .arg(&socket)
                .args(words)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    let mut first = spawn(&["ped", "vector", "init"]);
    ped.run("wait-screen \"reuse an existing\" 60");

    let asked = Instant::now();
    let second = rig.cli(&["ped", "vector", "init"]).join().unwrap();
    assert!(asked.elapsed() < Duration::from_secs(10), "refused at once, not queued");
    assert_eq!(second.status.code(), Some(1));
    assert!(text(&second).ends_with("Command Result : 0x00000090 (CKR_OPERATION_ACTIVE)\n"), "{}", text(&second));

    first.0.kill().unwrap();
    first.0.wait().unwrap();
    ped.run("wait-screen \"Cancelled by HSM\" 30");
    // Once `ped show` is answered, the HSM has nothing else to do: no other command came.
    let show = rig.cli(&["ped", "show"]).join().unwrap();
    assert!(show.status.success(), "{}", text(&show));
    let screens = std::fs::read_to_string(rig.dir.path().join("screens.jsonl")).unwrap();
    assert_eq!(screens.matches("reuse an existing").count(), 1, "only the first command reached the PED");

    // The PED serves the next command.
    let _third = spawn(&["ped", "vector", "init"]);
    ped.run("wait-screen \"reuse an existing\" 60");
}

/// Issue 14 item 13: `-password -` reads the digits from standard input, so they never
/// show in the process list.
#[test]
fn a_one_time_password_may_be_read_from_standard_input() {
    let rig = Rig::start();
    let listener = std::os::unix::net::UnixListener::bind(rig.dir.path().join("pedclient.sock")).unwrap();
    let fake = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        read_frame(&mut stream);
        let connected = HsmLinkMessage::Connected {
            firmware_version: "2.9.0-1".into(),
            pedserver: "127.0.0.1:1600".into(),
            ped_initiated: false,
        };
        stream.write_all(&connected.encode().unwrap()).unwrap();
        stream
    });
    let mut cli = Command::new(binary("hsm-emu"))
        .arg("--control")
        .arg(format!("socket:{}", rig.dir.path().join("hsm.sock").display()))
        .args(["ped", "connect", "-ip", "127.0.0.1", "-port", "1600", "-password", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    cli.stdin.take().unwrap().write_all(b"18246843\n").unwrap();
    let out = cli.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out),
        "Please attend to the PED and enter following password: 18246843\nCommand Result : No Error\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "Enter the one-time password (8 digits): ");
    drop(fake.join().unwrap());
}
