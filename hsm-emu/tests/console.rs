//! The HSM's command level, sans-IO, driven in memory: a [`Console`] and the real PED
//! core (ped-firmware's own test rig) passing frames to each other, on a clock the test
//! moves and seeded RNGs, with no socket and no thread. pedclient's part of a remote
//! link (Connect, Connected, Closed, Disconnect) is played by the test; the channel's
//! frames on it go to the same PED.

#[path = "../../ped-firmware/tests/common/mod.rs"]
mod common;
mod steps;

use std::time::Duration;

use common::{NOW, Rig, present};
use hsm_emu::console::{Console, ConsoleConfig, LinkKind, Output};
use hsm_emu::state::Store;
use hsm_emu::{Code, Hsm, HsmCode, HsmError};
use ped_firmware::io::Button;
use ped_proto::ErrorCode;
use ped_proto::frame::{Frame, FrameType};
use ped_proto::hsm_link::HsmLinkMessage;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use steps::{TIMEOUTS, connected, frame_type, one_of_one, type_password, write_single};

/// A console, the PED at the other end of its link, pedclient played by the test.
struct Bench {
    console: Console,
    rig: Rig,
    rng: ChaCha20Rng,
    now: Duration,
    /// The open link.
    link: Option<LinkKind>,
    /// Every link the console asked for, in order.
    opened: Vec<LinkKind>,
    closes: usize,
    /// Every frame the console sent to the PED, in order.
    to_ped: Vec<Vec<u8>>,
    /// Every message it sent to pedclient, in order.
    to_pedclient: Vec<HsmLinkMessage>,
    /// The running (or last) command's lines.
    lines: Vec<String>,
    done: Option<Result<(), HsmError>>,
    dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("hsm")).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let hsm = Hsm::start(&store, "150001", &mut rng, NOW).unwrap();
        let rig = Rig::new(hsm.root_der().to_vec());
        let now = Duration::from_secs(NOW);
        let config = ConsoleConfig { local_ped: true, pedclient: true, timeouts: TIMEOUTS };
        Bench {
            console: Console::new(hsm, Box::new(store), config, now),
            rig,
            rng,
            now,
            link: None,
            opened: Vec::new(),
            closes: 0,
            to_ped: Vec::new(),
            to_pedclient: Vec::new(),
            lines: Vec::new(),
            done: None,
            dir,
        }
    }

    /// Carries out the console's output, passing frames to the PED and the PED's back,
    /// until neither has anything more.
    fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.console.poll_output() {
                moved = true;
                match output {
                    Output::Line(line) => self.lines.push(line),
                    Output::Open(kind) => {
                        self.link = Some(kind);
                        self.opened.push(kind);
                    }
                    Output::Transmit(frame) => match self.link {
                        Some(LinkKind::Pedclient) if is_link_message(&frame) => {
                            self.to_pedclient
                                .push(HsmLinkMessage::decode(Frame::decode_exact(&frame).unwrap()).unwrap());
                        }
                        Some(_) => {
                            self.to_ped.push(frame.clone());
                            self.rig.host(frame);
                        }
                        None => {}
                    },
                    Output::Close => {
                        self.link = None;
                        self.closes += 1;
                    }
                    Output::Done(result) => {
                        assert!(self.done.is_none(), "one Done per command");
                        self.done = Some(result);
                    }
                }
            }
            for frame in self.rig.take_sent() {
                if self.link.is_some() {
                    self.console.handle_frame(self.now, &mut self.rng, &frame);
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Starts a command (refused at once: its error).
    fn start(&mut self, words: &str) -> Result<(), HsmError> {
        let words: Vec<String> = words.split_whitespace().map(str::to_owned).collect();
        self.lines.clear();
        self.done = None;
        self.console.execute(self.now, &mut self.rng, &words)?;
        self.drive();
        Ok(())
    }

    /// Runs a command the PED answers without its key holders; its result.
    fn cli(&mut self, words: &str) -> Result<(), HsmError> {
        self.start(words).expect("not refused");
        self.done.take().unwrap_or_else(|| panic!("`{words}` is still running: {:?}", self.lines))
    }

    /// pedclient sends `message` on the remote link.
    fn pedclient_sends(&mut self, message: &HsmLinkMessage) {
        assert_eq!(self.link, Some(LinkKind::Pedclient));
        self.console.handle_frame(self.now, &mut self.rng, &message.encode().unwrap());
        self.drive();
    }

    fn hellos(&self) -> usize {
        self.to_ped.iter().filter(|f| frame_type(f) == FrameType::HsmHello).count()
    }

    fn state_file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hsm/hsm.json")).unwrap_or_default()
    }

    /// `ped connect -ip 10.0.0.2 [extra]` up to pedclient's Connected.
    fn connect(&mut self, extra: &str) -> Result<(), HsmError> {
        self.start(&format!("ped connect -ip 10.0.0.2 {extra}")).expect("not refused");
        if let Some(done) = self.done.take() {
            return done;
        }
        self.pedclient_sends(&connected());
        self.done.take().expect("ped connect is over")
    }
}

fn is_link_message(frame: &[u8]) -> bool {
    matches!(frame_type(frame), FrameType::LinkConnect | FrameType::LinkDisconnect)
}

/// `hsm init` on the local PED: 1-of-1 blue and red keysets.
fn initialised(b: &mut Bench) {
    let (blue, red) = (b.rig.add_key(None), b.rig.add_key(None));
    b.start("hsm init -label lab").unwrap();
    assert_eq!(b.done, None, "the PED waits for its key holders");
    for key in [blue, red] {
        one_of_one(&mut b.rig);
        b.drive();
        write_single(&mut b.rig, key, "1234");
        b.drive();
    }
    assert_eq!(b.done.take(), Some(Ok(())), "{:?}", b.lines);
}

#[test]
fn a_local_ped_command_opens_the_local_link_and_prints_lunacms_lines() {
    let mut b = Bench::new();
    initialised(&mut b);
    assert_eq!(b.opened, [LinkKind::Local]);
    assert_eq!(b.lines, ["Please attend to the PED.", "Command Result : No Error"]);
    assert!(b.state_file().contains("\"label\": \"lab\""), "saved after the command");

    let blue = 0;
    b.start("role login -name so").unwrap();
    present(&mut b.rig, blue, Some("1234"));
    b.drive();
    assert_eq!(b.done.take(), Some(Ok(())), "{:?}", b.lines);
    assert_eq!(b.lines[0], "Please attend to the PED.");
    assert!(b.lines[1].starts_with("Caution: You have only 3 so login attempts left."), "{:?}", b.lines);
    assert_eq!(b.opened, [LinkKind::Local], "the link stays open across commands");
    assert_eq!(b.hellos(), 1, "and its channel");
}

#[test]
fn ped_set_answers_as_the_seed_shows() {
    let mut b = Bench::new();
    b.cli("ped set -ip 192.124.106.100 -port 1503").unwrap();
    assert_eq!(b.lines, ["Command Result : 0 (Success)"]);
    assert!(b.state_file().contains("192.124.106.100"));
    b.cli("ped show").unwrap();
    assert!(b.lines.contains(&"Default Remote PED: 192.124.106.100:1503".to_owned()), "{:?}", b.lines);
    assert_eq!(b.lines.last().unwrap(), "Command Result : No Error");
}

#[test]
fn a_second_command_while_one_runs_is_refused_at_once_and_never_reaches_the_ped() {
    let mut b = Bench::new();
    b.rig.add_key(None);
    b.start("hsm init -label lab").unwrap();
    assert!(b.console.is_running() && b.done.is_none());
    let (frames, screens) = (b.to_ped.len(), b.rig.lines());
    for words in ["hsm init -label other", "ped vector init", "ped show", "ped set -port 1600", "ped connect"] {
        let e = b.start(words).expect_err(words);
        assert_eq!(e.code, Code::Hsm(HsmCode::OperationActive), "{words}");
        assert!(e.detail.contains("one command runs at a time"), "{}", e.detail);
        assert!(b.lines.is_empty() && b.done.is_none(), "nothing of {words} ran");
    }
    assert_eq!(b.to_ped.len(), frames, "no frame went to the PED");
    assert_eq!(b.rig.lines(), screens, "the PED still shows the first command");
    assert!(b.console.is_running());
}

#[test]
fn an_abandoned_command_is_cancelled_at_the_ped_which_then_serves_the_next() {
    let mut b = Bench::new();
    b.rig.add_key(None);
    b.start("hsm init -label lab").unwrap();
    let asked = |b: &Bench| b.rig.lines().iter().any(|l| l.contains("reuse an existing"));
    assert!(asked(&b), "{:?}", b.rig.lines());
    b.console.abandon(b.now);
    assert_eq!(b.console.poll_timeout(), Some(b.now + TIMEOUTS.link), "a Cancel is answered without key holders");
    b.drive();
    let e = b.done.take().expect("the PED answered the Cancel").unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::CkrCancel));
    assert!(!b.console.is_running());
    assert!(!asked(&b), "the PED left the command: {:?}", b.rig.lines());
    assert!(b.console.hsm().is_zeroised(), "nothing of it was kept");

    initialised(&mut b);
    assert_eq!(b.hellos(), 1, "the same channel served the next command");
    assert_eq!(b.closes, 0);
}

#[test]
fn an_abandoned_ped_connect_gives_its_link_up() {
    let mut b = Bench::new();
    b.start("ped connect -ip 10.0.0.2 -password 18246843").unwrap();
    assert_eq!(b.opened, [LinkKind::Pedclient]);
    b.console.abandon(b.now);
    b.drive();
    assert!(b.done.take().unwrap().is_err());
    assert_eq!((b.link, b.closes), (None, 1));
    b.cli("ped show").unwrap();
    assert!(!b.lines.iter().any(|l| l.starts_with("Remote PED:")), "no remote link to show: {:?}", b.lines);
}

#[test]
fn ped_show_tells_how_a_remote_link_ended_and_ped_commands_then_fail_without_the_local_ped() {
    let mut b = Bench::new();
    b.connect("-password 18246843").unwrap();
    assert_eq!(b.opened, [LinkKind::Pedclient]);
    assert_eq!(
        b.to_pedclient,
        [HsmLinkMessage::Connect { hsm_serial: "150001".into(), host: "10.0.0.2".into(), port: 1503 }]
    );
    assert_eq!(
        b.lines,
        ["Please attend to the PED and enter following password: 18246843", "Command Result : No Error"]
    );
    b.cli("ped show").unwrap();
    assert!(b.lines.contains(&"Remote PED: connected to 10.0.0.2:1503, PED firmware 2.9.0-1".to_owned()));

    // pedclient's idle timeout, between commands.
    let idle = HsmLinkMessage::Closed {
        code: ErrorCode::RcOperationTimedOut.value(),
        message: "remote PED link idle for 1800 s; run ped connect again".into(),
    };
    b.pedclient_sends(&idle);
    assert_eq!((b.link, b.closes), (None, 1));
    b.cli("ped show").unwrap();
    assert!(
        b.lines.contains(
            &"Remote PED: not connected (the link ended: remote PED link idle for 1800 s; run ped connect again; \
              0xc0000303 RC_OPERATION_TIMED_OUT)"
                .to_owned()
        ),
        "{:?}",
        b.lines
    );

    let e = b.cli("role login -name so").unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::CkrPedUnplugged));
    assert!(e.detail.starts_with("the Remote PED link had ended (RC_OPERATION_TIMED_OUT: "), "{}", e.detail);
    assert_eq!(b.opened, [LinkKind::Pedclient], "the local PED is not used instead");
    assert_eq!(b.lines[0], "Please attend to the PED.");
    assert_eq!(b.lines.last().unwrap(), "Command Result : 0x8000002e (CKR_PED_UNPLUGGED)");

    // `ped disconnect` gives the HSM back to its local PED.
    b.cli("ped disconnect").unwrap();
    b.cli("ped show").unwrap();
    assert!(b.lines.contains(&"Remote PED: not connected (ended by ped disconnect)".to_owned()));
    b.start("ped vector init").unwrap();
    assert_eq!(b.opened, [LinkKind::Pedclient, LinkKind::Local]);
}

#[test]
fn factory_reset_drops_the_link_local_or_remote() {
    let mut b = Bench::new();
    initialised(&mut b);
    assert_eq!(b.link, Some(LinkKind::Local));
    b.cli("hsm factoryreset -force").unwrap();
    assert_eq!((b.link, b.closes), (None, 1));
    assert!(!b.state_file().contains("\"label\": \"lab\""), "saved");
    // The next PED command plugs into the local PED again, with a new channel.
    initialised(&mut b);
    assert_eq!(b.opened, [LinkKind::Local, LinkKind::Local]);
    assert_eq!(b.hellos(), 2);

    let mut b = Bench::new();
    b.connect("-password 18246843").unwrap();
    b.cli("hsm factoryreset -force").unwrap();
    assert_eq!(b.to_pedclient.last(), Some(&HsmLinkMessage::Disconnect));
    assert_eq!(b.link, None);
    b.cli("ped show").unwrap();
    assert!(b.lines.contains(&"Remote PED: not connected (ended by hsm factoryreset)".to_owned()), "{:?}", b.lines);
}

#[test]
fn a_remote_connect_closes_the_local_link_and_a_refused_one_keeps_it() {
    let mut b = Bench::new();
    // A zeroised HSM refuses an SO login once the local channel is open.
    let e = b.cli("role login -name so").unwrap_err();
    assert_eq!(e.code, Code::Hsm(HsmCode::NotInitialized));
    assert_eq!(b.link, Some(LinkKind::Local));
    b.connect("-password 18246843").unwrap();
    assert_eq!(b.opened, [LinkKind::Local, LinkKind::Pedclient]);
    assert_eq!(b.closes, 1, "one link at a time");

    let mut b = Bench::new();
    initialised(&mut b);
    let e = b.connect("").unwrap_err();
    assert_eq!(e.code, Code::Hsm(HsmCode::NotInitialized), "no RPV: refused before any link");
    let e = b.connect("-password 18246843").unwrap_err();
    assert_eq!(e.code, Code::Hsm(HsmCode::NotAllowed), "an initialised HSM takes no password");
    assert_eq!((b.link, b.opened.len(), b.closes), (Some(LinkKind::Local), 1, 0), "the local link stays");
}

#[test]
fn a_reply_not_in_time_fails_the_command_at_poll_timeout() {
    let mut b = Bench::new();
    b.rig.add_key(None);
    b.start("hsm init -label lab").unwrap();
    let deadline = b.console.poll_timeout().expect("a reply is awaited");
    assert_eq!(deadline, b.now + TIMEOUTS.key + TIMEOUTS.link);
    b.now = deadline;
    b.console.handle_timeout(b.now);
    b.drive();
    assert_eq!(b.done.take().unwrap().unwrap_err().code, Code::Ped(ErrorCode::RcOperationTimedOut));
    assert_eq!(b.lines.last().unwrap(), "Command Result : 0xc0000303 (RC_OPERATION_TIMED_OUT)");
    assert_eq!((b.link, b.console.poll_timeout()), (None, None));
}

/// Issue 14 item 12: a local PED in another mode gave PED_ERROR_AUTH_FAILED and "check
/// the orange key"; lunacm says CKR_DEVICE_ERROR (seed 3555), and what to do.
#[test]
fn a_local_ped_in_remote_mode_is_a_device_error_that_names_the_mode() {
    let mut b = Bench::new();
    b.rig.digits("7");
    assert!(b.rig.lines().iter().any(|l| l.contains("Remote PED mode")), "{:?}", b.rig.lines());
    let e = b.cli("hsm init -label lab").unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::CkrDeviceError));
    assert!(e.detail.contains("it must be in Local PED-USB mode"), "{}", e.detail);
    assert!(!e.detail.contains("orange"), "{}", e.detail);
    assert_eq!(
        b.lines[b.lines.len() - 3..],
        [
            "Error in execution: CKR_DEVICE_ERROR.".to_owned(),
            e.detail.clone(),
            "Command Result : 0x00000030 (CKR_DEVICE_ERROR)".to_owned()
        ]
    );
    // The key holder does as told; the same link serves the command.
    for _ in 0..4 {
        let lines = b.rig.lines();
        if lines.iter().any(|l| l.contains("Select Mode")) {
            break;
        }
        b.rig.press(if lines.iter().any(|l| l.contains("invalidate")) { Button::Yes } else { Button::Back });
    }
    b.rig.digits("0");
    initialised(&mut b);
    assert_eq!(b.opened, [LinkKind::Local]);
}

/// Issue 14 item 13: the password's tries restarted at each `ped connect`, so a
/// disconnect and a connect between guesses gave any number of them. The same digits
/// get three wrong tries in all; then only new digits open a channel.
#[test]
fn the_same_one_time_password_gets_three_tries_in_all_across_connects() {
    let mut b = Bench::new();
    let mut codes = Vec::new();
    for _ in 0..3 {
        b.connect("-password 18246843").unwrap();
        b.start("ped vector init").unwrap();
        type_password(&mut b.rig, "11111111");
        b.drive();
        codes.push(b.done.take().expect("the handshake is over").unwrap_err().code);
        b.cli("ped disconnect").unwrap();
    }
    let (rejected, burnt) = (Code::Ped(ErrorCode::PedAuthFailed), Code::Ped(ErrorCode::PedPasswordBurnt));
    assert_eq!(codes, [rejected, rejected, burnt]);
    let e = b.connect("-password 18246843").unwrap_err();
    assert_eq!(e.code, burnt);
    assert!(e.detail.contains("run `ped connect -password` to generate a new one"), "{}", e.detail);
    assert_eq!(b.opened.len(), 3, "refused before any link");

    // New digits start afresh; the spent password then opens nothing more.
    b.connect("-password 24681357").unwrap();
    b.start("ped vector init").unwrap();
    type_password(&mut b.rig, "24681357");
    b.drive();
    assert_eq!(b.done, None, "the channel is open: the PED asks for the orange key's M and N");
    b.console.abandon(b.now);
    b.drive();
    b.cli("ped disconnect").unwrap();
    assert_eq!(b.connect("-password 24681357").unwrap_err().code, burnt);
    b.connect("-password").unwrap();
}

/// A command abandoned while the PED waits for its key holder to open the channel (the
/// one-time password here, the orange key on an RPV link): the HSM refuses the
/// handshake, and the PED stops waiting.
#[test]
fn a_command_abandoned_during_the_handshake_stops_the_ped_waiting() {
    let mut b = Bench::new();
    b.connect("-password 18246843").unwrap();
    b.start("ped vector init").unwrap();
    let waiting = |b: &Bench| b.rig.lines().iter().any(|l| l.contains("Enter PED Password"));
    assert!(waiting(&b), "{:?}", b.rig.lines());
    b.console.abandon(b.now);
    b.drive();
    assert_eq!(b.done.take().unwrap().unwrap_err().code, Code::Ped(ErrorCode::CkrCancel));
    assert_eq!(b.to_ped.last().map(|f| frame_type(f)), Some(FrameType::HandshakeFailed));
    assert!(!waiting(&b), "{:?}", b.rig.lines());
    assert_eq!(b.link, Some(LinkKind::Pedclient), "the link stays");

    // The next command opens the channel with the password's tries intact.
    b.start("ped vector init").unwrap();
    type_password(&mut b.rig, "18246843");
    b.drive();
    assert_eq!(b.done, None, "the channel is open: the PED asks for the orange key's M and N");
}
