//! The HSM's end of a PED link, sans-IO, driven in memory: a [`Conductor`] and the real
//! PED core (ped-firmware's own test rig) passing frames to each other, on a clock the
//! test moves and seeded RNGs, with no socket and no thread. The remote link's own
//! messages (Connect, Connected, Closed) are pedclient's part, played by the test.

#[path = "../../ped-firmware/tests/common/mod.rs"]
mod common;
mod steps;

use std::time::Duration;

use common::{NOW, Rig, present};
use hsm_emu::channel::Auth;
use hsm_emu::conductor::{Conductor, LinkState, Output, Remote};
use hsm_emu::state::Store;
use hsm_emu::{Code, Hsm, HsmCode, HsmError, Request, RoleName};
use ped_proto::ErrorCode;
use ped_proto::frame::{Frame, FrameType};
use ped_proto::hsm_link::HsmLinkMessage;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use steps::{TIMEOUTS, connected, frame_type, one_of_one, write_single};

/// An HSM, one link's conductor, the PED at its other end, and the clock.
struct Pair {
    hsm: Hsm,
    conductor: Conductor,
    rig: Rig,
    rng: ChaCha20Rng,
    now: Duration,
    /// Every frame the conductor sent, in order.
    sent: Vec<Vec<u8>>,
    lines: Vec<String>,
    closed: bool,
    _dir: tempfile::TempDir,
}

impl Pair {
    fn local() -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("hsm")).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let hsm = Hsm::start(&store, "150001", &mut rng, NOW).unwrap();
        let rig = Rig::new(hsm.root_der().to_vec());
        let conductor = Conductor::local(TIMEOUTS);
        let now = Duration::from_secs(NOW);
        Pair { hsm, conductor, rig, rng, now, sent: Vec::new(), lines: Vec::new(), closed: false, _dir: dir }
    }

    /// Takes the conductor's output, passing its frames to the PED and the PED's back,
    /// until neither has anything more; the command's result if it came.
    fn drive(&mut self) -> Option<Result<(), HsmError>> {
        let mut done = None;
        loop {
            let mut moved = false;
            while let Some(output) = self.conductor.poll_output() {
                match output {
                    Output::Transmit(frame) => {
                        self.sent.push(frame.clone());
                        if !self.closed && !self.conductor.is_remote() {
                            self.rig.host(frame);
                        }
                        moved = true;
                    }
                    Output::Line(line) => self.lines.push(line),
                    Output::Done(result) => {
                        assert!(done.is_none(), "one result per command");
                        done = Some(result);
                    }
                    Output::Close => self.closed = true,
                }
            }
            for frame in self.rig.take_sent() {
                self.conductor.handle_frame(self.now, &mut self.hsm, &mut self.rng, &frame);
                moved = true;
            }
            if !moved {
                return done;
            }
        }
    }

    fn run(&mut self, request: Request) -> Option<Result<(), HsmError>> {
        self.conductor.run(self.now, &mut self.hsm, &mut self.rng, request);
        self.drive()
    }

    fn hellos(&self) -> usize {
        self.sent.iter().filter(|f| frame_type(f) == FrameType::HsmHello).count()
    }
}

/// `hsm init` on a local link: 1-of-1 blue and red keysets; returns the blue key.
fn initialised(p: &mut Pair) -> usize {
    let (blue, red) = (p.rig.add_key(None), p.rig.add_key(None));
    assert_eq!(p.run(Request::HsmInit { label: "lab".into() }), None, "the PED waits for its key holders");
    for key in [blue, red] {
        one_of_one(&mut p.rig);
        assert_eq!(p.drive(), None);
        write_single(&mut p.rig, key, "1234");
        let done = p.drive();
        if key == red {
            done.expect("hsm init is over").unwrap();
        }
    }
    blue
}

#[test]
fn a_local_link_is_up_at_once_and_opens_its_channel_at_the_first_command_only() {
    let mut p = Pair::local();
    assert_eq!(*p.conductor.state(), LinkState::Up);
    assert!(!p.conductor.has_channel() && p.conductor.poll_timeout().is_none());
    let blue = initialised(&mut p);
    assert_eq!(p.hellos(), 1);
    assert!(p.conductor.has_channel() && !p.conductor.is_busy());
    assert_eq!(p.conductor.poll_timeout(), None, "nothing awaited between commands");

    p.run(Request::Login(RoleName::So));
    present(&mut p.rig, blue, Some("1234"));
    p.drive().expect("the login is over").unwrap();
    assert!(p.hsm.is_logged_in(RoleName::So));
    assert_eq!(p.hellos(), 1, "the second command used the same channel");
    assert!(!p.closed);
}

#[test]
fn a_command_refused_by_the_hsm_keeps_the_channel_and_the_link() {
    let mut p = Pair::local();
    // A zeroised HSM has no SO: the handshake completes, then the HSM refuses.
    let e = p.run(Request::Login(RoleName::So)).expect("refused at once").unwrap_err();
    assert_eq!(e.code, Code::Hsm(HsmCode::NotInitialized));
    assert_eq!(*p.conductor.state(), LinkState::Up);
    assert!(p.conductor.has_channel());
    initialised(&mut p);
    assert_eq!(p.hellos(), 1);
}

#[test]
fn a_reply_not_in_time_fails_the_command_and_ends_the_link() {
    let mut p = Pair::local();
    p.rig.add_key(None);
    assert_eq!(p.run(Request::HsmInit { label: "lab".into() }), None);
    let deadline = p.conductor.poll_timeout().expect("a reply is awaited");
    assert_eq!(deadline, p.now + TIMEOUTS.key + TIMEOUTS.link);
    p.conductor.handle_timeout(deadline - Duration::from_millis(1), &mut p.hsm);
    assert_eq!(p.drive(), None, "not yet");
    p.now = deadline;
    p.conductor.handle_timeout(p.now, &mut p.hsm);
    let e = p.drive().expect("the command is over").unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::RcOperationTimedOut));
    assert!(p.closed);
    assert!(matches!(p.conductor.state(), LinkState::Ended(Some(end)) if end.code == e.code));
    assert!(p.hsm.state().so.is_none(), "nothing of the command is kept");
}

#[test]
fn a_link_lost_while_the_ped_writes_a_keyset_says_which_keys_may_hold_it() {
    let mut p = Pair::local();
    p.rig.add_key(None);
    p.run(Request::HsmInit { label: "lab".into() });
    one_of_one(&mut p.rig);
    assert_eq!(p.drive(), None, "WriteSplits is at the PED");
    p.conductor.handle_link_error(p.now, &mut p.hsm, HsmError::ped(ErrorCode::CkrPedUnplugged));
    let e = p.drive().expect("the command is over").unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::CkrPedUnplugged));
    assert!(e.detail.contains("The PED was writing the 1 blue keys of a new keyset"), "{}", e.detail);
    assert!(p.closed && matches!(p.conductor.state(), LinkState::Ended(Some(_))));
    // A local link that ended fails the next command with its own failure.
    let e = p.run(Request::Login(RoleName::So)).unwrap().unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::CkrPedUnplugged));
}

#[test]
fn whatever_the_ped_sends_between_commands_ends_the_channel_and_the_next_command_opens_another() {
    let mut p = Pair::local();
    let blue = initialised(&mut p);
    p.conductor.handle_frame(p.now, &mut p.hsm, &mut p.rng, &ped_proto::frame::handshake_failed());
    assert!(!p.conductor.has_channel());
    assert_eq!(*p.conductor.state(), LinkState::Up, "the link stays");
    p.run(Request::Login(RoleName::So));
    present(&mut p.rig, blue, Some("1234"));
    p.drive().expect("the login is over").unwrap();
    assert_eq!(p.hellos(), 2);
}

#[test]
fn the_same_seeds_give_the_same_transcript() {
    let transcript = || {
        let mut p = Pair::local();
        initialised(&mut p);
        p.sent
    };
    assert_eq!(transcript(), transcript());
}

/// A remote link's conductor, Connect sent.
fn remote(p: &mut Pair, shown: Option<&str>) {
    let auth = match shown {
        Some(d) => Auth::Password(ped_proto::secrets::OneTimePassword::new(
            ped_proto::secrets::PasswordDigits::parse(d).unwrap(),
        )),
        None => Auth::Rpv,
    };
    p.conductor = Conductor::remote(
        p.now,
        "150001",
        "10.0.0.2".into(),
        1503,
        auth,
        shown.map(|d| ped_proto::secrets::PasswordDigits::parse(d).unwrap()),
        TIMEOUTS,
    );
    assert_eq!(p.drive(), None);
    let connect = HsmLinkMessage::decode(Frame::decode_exact(p.sent.last().unwrap()).unwrap()).unwrap();
    assert_eq!(connect, HsmLinkMessage::Connect { hsm_serial: "150001".into(), host: "10.0.0.2".into(), port: 1503 });
    assert_eq!(*p.conductor.state(), LinkState::Connecting);
    assert_eq!(p.conductor.poll_timeout(), Some(p.now + TIMEOUTS.link));
}

fn from_pedclient(p: &mut Pair, message: &HsmLinkMessage) -> Option<Result<(), HsmError>> {
    p.conductor.handle_frame(p.now, &mut p.hsm, &mut p.rng, &message.encode().unwrap());
    p.drive()
}

#[test]
fn a_remote_link_is_up_at_pedclients_connected_and_shows_the_password_then() {
    let mut p = Pair::local();
    remote(&mut p, Some("18246843"));
    assert!(p.lines.is_empty(), "the password is shown once the link is up");
    from_pedclient(&mut p, &connected()).expect("ped connect is over").unwrap();
    assert_eq!(p.lines, ["Please attend to the PED and enter following password: 18246843"]);
    assert_eq!(*p.conductor.state(), LinkState::Up);
    assert_eq!(p.conductor.poll_timeout(), None);
    let (host, port, reached) = p.conductor.remote_peer().unwrap();
    assert_eq!((host, port), ("10.0.0.2", 1503));
    assert_eq!(
        *reached,
        Remote { firmware: "2.9.0-1".into(), pedserver: "10.0.0.2:1503".into(), ped_initiated: false }
    );
}

#[test]
fn a_remote_link_that_pedclient_refuses_or_that_never_comes_up_fails_ped_connect() {
    let mut p = Pair::local();
    remote(&mut p, None);
    let busy = HsmLinkMessage::Closed {
        code: ErrorCode::RcSocketError.value(),
        message: "pedserver serves another HSM".into(),
    };
    let e = from_pedclient(&mut p, &busy).unwrap().unwrap_err();
    assert_eq!((e.code, e.detail.as_str()), (Code::Ped(ErrorCode::RcSocketError), "pedserver serves another HSM"));
    assert!(p.closed && matches!(p.conductor.state(), LinkState::Ended(Some(_))));

    let mut p = Pair::local();
    remote(&mut p, None);
    p.now += TIMEOUTS.link;
    p.conductor.handle_timeout(p.now, &mut p.hsm);
    assert_eq!(p.drive().unwrap().unwrap_err().code, Code::Ped(ErrorCode::RcOperationTimedOut));

    let mut p = Pair::local();
    remote(&mut p, None);
    let e = from_pedclient(&mut p, &HsmLinkMessage::Disconnect).unwrap().unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::PedProtocolError));
}

#[test]
fn a_remote_link_pedclient_closed_fails_the_next_command_with_how_it_ended() {
    let mut p = Pair::local();
    remote(&mut p, None);
    from_pedclient(&mut p, &connected()).unwrap().unwrap();
    let idle = HsmLinkMessage::Closed {
        code: ErrorCode::RcOperationTimedOut.value(),
        message: "remote PED link idle for 1800 s; run ped connect again".into(),
    };
    assert_eq!(from_pedclient(&mut p, &idle), None, "no command was running");
    assert!(p.closed);
    let e = p.run(Request::Login(RoleName::So)).unwrap().unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::CkrPedUnplugged));
    assert_eq!(
        e.detail,
        "the Remote PED link had ended (RC_OPERATION_TIMED_OUT: remote PED link idle for 1800 s; run ped connect again)"
    );
}

#[test]
fn disconnect_sends_pedclient_disconnect_and_ends_the_link() {
    let mut p = Pair::local();
    remote(&mut p, None);
    from_pedclient(&mut p, &connected()).unwrap().unwrap();
    p.conductor.disconnect(p.now, &mut p.hsm);
    assert_eq!(p.drive(), None);
    let last = HsmLinkMessage::decode(Frame::decode_exact(p.sent.last().unwrap()).unwrap()).unwrap();
    assert_eq!(last, HsmLinkMessage::Disconnect);
    assert!(p.closed);
    assert_eq!(*p.conductor.state(), LinkState::Ended(None));
}
