//! The client's side of a relay session's opening (docs/protocol.md §15): pedclient says
//! Hello, pedserver answers Hello, pedclient asks for the status, pedserver answers with
//! it, and only a PED that is there makes the session ready. One sans-IO state machine,
//! driven by the HSM link ([`crate::hsm_session`]) and by `-mode testid` ([`crate::probe`]),
//! so that both judge pedserver's answers alike: the same version check, the same
//! refusal of a server without a PED, the same code for `Busy`.
//!
//! Relay messages go in (pings are the driver's: they belong to the keepalive); what to
//! send, or how the opening ended, comes out.

use ped_wire::ErrorCode;
use ped_wire::relay::{PedStatus, RELAY_VERSION, RelayMessage, RelayRole};

/// The Hello pedclient opens a session with.
pub fn client_hello() -> RelayMessage {
    RelayMessage::Hello {
        version: RELAY_VERSION,
        role: RelayRole::Client,
        software: format!("pedclient {}", env!("CARGO_PKG_VERSION")),
    }
}

/// What the driver does with pedserver's last message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Send this to pedserver and wait for its next message.
    Send(RelayMessage),
    /// pedserver and its PED are there: relaying may begin.
    Ready(Ready),
    /// The session cannot be opened.
    Refused(Refusal),
}

/// A session that opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ready {
    /// pedserver's software string, when its Hello was part of this opening (not for a
    /// PED-initiated connection, whose hellos were exchanged when it arrived).
    pub software: Option<String>,
    /// Its relay protocol version, likewise.
    pub relay_version: Option<u16>,
    /// Its PED's status.
    pub status: PedStatus,
}

/// Why a session did not open: the code and sentence the HSM is told, and what pedserver
/// is told before the connection is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The stable code.
    pub code: ErrorCode,
    /// What happened and what to do, naming pedserver.
    pub message: String,
    /// The last message to pedserver, if any.
    pub last: Option<RelayMessage>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Awaiting {
    Hello,
    Status { software: Option<String>, version: Option<u16> },
    Nothing,
}

/// One session's opening, from pedclient's side.
#[derive(Clone, Debug)]
pub struct RelayClient {
    awaiting: Awaiting,
    target: String,
}

impl RelayClient {
    /// pedclient dialled pedserver at `target` (named in every sentence): the Hello to send.
    pub fn dialled(target: String) -> (RelayClient, RelayMessage) {
        (RelayClient { awaiting: Awaiting::Hello, target }, client_hello())
    }

    /// A PED-initiated connection from `target` whose hellos were already exchanged:
    /// the status request to send.
    pub fn adopted(target: String) -> (RelayClient, RelayMessage) {
        let awaiting = Awaiting::Status { software: None, version: None };
        (RelayClient { awaiting, target }, RelayMessage::StatusRequest)
    }

    /// pedserver as the sentences name it: its address, and its software once known.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// What the client waits for, for a timeout's sentence.
    pub fn awaiting(&self) -> &'static str {
        match self.awaiting {
            Awaiting::Hello => "the relay hello",
            Awaiting::Status { .. } => "the status request",
            Awaiting::Nothing => "nothing",
        }
    }

    /// Takes pedserver's next message (not a Ping or Pong: the driver answers those).
    pub fn handle(&mut self, message: RelayMessage) -> Answer {
        let target = &self.target;
        let refused = |code: ErrorCode, message: String, last: Option<RelayMessage>| {
            Answer::Refused(Refusal { code, message, last })
        };
        let answer = match (&self.awaiting, message) {
            (Awaiting::Nothing, _) => {
                return refused(ErrorCode::PedError, format!("the session with pedserver at {target} is over"), None);
            }
            (_, RelayMessage::Error { code, message }) => {
                let code = ErrorCode::from_value(code).unwrap_or(ErrorCode::PedError);
                refused(code, format!("pedserver at {target}: {message}"), None)
            }
            (_, RelayMessage::Bye) => refused(
                ErrorCode::CkrPedUnplugged,
                format!("pedserver at {target} ended the connection; run ped connect again"),
                None,
            ),
            (_, RelayMessage::Busy) => refused(
                ErrorCode::CkrDeviceError,
                format!(
                    "the PED at {target} serves another HSM; ped disconnect there (or wait for its idle timeout) and retry"
                ),
                None,
            ),
            (Awaiting::Hello, RelayMessage::Hello { version, role: RelayRole::Server, .. })
                if version != RELAY_VERSION =>
            {
                let code = ErrorCode::PedVersionMismatch;
                let why = format!("pedserver at {target} speaks relay version {version}, pedclient {RELAY_VERSION}");
                refused(code, why, Some(RelayMessage::error(code)))
            }
            (Awaiting::Hello, RelayMessage::Hello { version, role: RelayRole::Server, software }) => {
                self.target = format!("{target} ({software})");
                self.awaiting = Awaiting::Status { software: Some(software), version: Some(version) };
                return Answer::Send(RelayMessage::StatusRequest);
            }
            (Awaiting::Status { .. }, RelayMessage::Status(status)) if !status.ped_connected => refused(
                ErrorCode::CkrPedUnplugged,
                format!("pedserver at {target} has no PED attached; plug it in and retry"),
                Some(RelayMessage::Bye),
            ),
            (Awaiting::Status { software, version }, RelayMessage::Status(status)) => {
                let ready = Ready { software: software.clone(), relay_version: *version, status };
                self.awaiting = Awaiting::Nothing;
                return Answer::Ready(ready);
            }
            (_, other) => {
                let code = ErrorCode::CkrCallbackError;
                let why =
                    format!("pedserver at {target} sent garbage: unexpected relay message {:?}", other.frame_type());
                refused(code, why, Some(RelayMessage::error(code)))
            }
        };
        self.awaiting = Awaiting::Nothing;
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_hello(version: u16) -> RelayMessage {
        RelayMessage::Hello { version, role: RelayRole::Server, software: "pedserver 0.1.0".into() }
    }

    fn status(ped_connected: bool) -> RelayMessage {
        RelayMessage::Status(PedStatus {
            ped_connected,
            firmware_version: "2.9.0".into(),
            protocol_version: 2,
            rpk_count: 0,
            rpk_serials: vec![],
        })
    }

    fn refusal(answer: Answer) -> Refusal {
        match answer {
            Answer::Refused(r) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn hello_then_status_opens_the_session_and_names_the_software() {
        let (mut c, hello) = RelayClient::dialled("127.0.0.1:1503".into());
        assert!(matches!(hello, RelayMessage::Hello { role: RelayRole::Client, .. }));
        assert_eq!(c.awaiting(), "the relay hello");
        assert_eq!(c.handle(server_hello(RELAY_VERSION)), Answer::Send(RelayMessage::StatusRequest));
        assert_eq!(c.target(), "127.0.0.1:1503 (pedserver 0.1.0)");
        let Answer::Ready(ready) = c.handle(status(true)) else { panic!("ready") };
        assert_eq!(ready.software.as_deref(), Some("pedserver 0.1.0"));
        assert_eq!(ready.relay_version, Some(RELAY_VERSION));
        assert!(ready.status.ped_connected);
    }

    #[test]
    fn an_adopted_connection_asks_for_the_status_only() {
        let (mut c, first) = RelayClient::adopted("appliance".into());
        assert_eq!(first, RelayMessage::StatusRequest);
        let Answer::Ready(ready) = c.handle(status(true)) else { panic!("ready") };
        assert_eq!((ready.software, ready.relay_version), (None, None));
    }

    #[test]
    fn every_refusal_has_its_code_and_sentence() {
        let open = || RelayClient::dialled("h:1".into()).0;
        let busy = refusal(open().handle(RelayMessage::Busy));
        assert_eq!(busy.code, ErrorCode::CkrDeviceError);
        assert!(busy.message.contains("serves another HSM"), "{}", busy.message);
        let version = refusal(open().handle(server_hello(RELAY_VERSION + 1)));
        assert_eq!(version.code, ErrorCode::PedVersionMismatch);
        assert_eq!(version.last, Some(RelayMessage::error(ErrorCode::PedVersionMismatch)));
        let mut c = open();
        c.handle(server_hello(RELAY_VERSION));
        let unplugged = refusal(c.handle(status(false)));
        assert_eq!((unplugged.code, unplugged.last), (ErrorCode::CkrPedUnplugged, Some(RelayMessage::Bye)));
        let bye = refusal(open().handle(RelayMessage::Bye));
        assert_eq!(bye.code, ErrorCode::CkrPedUnplugged);
        let error =
            refusal(open().handle(RelayMessage::Error { code: ErrorCode::RcSocketError.value(), message: "x".into() }));
        assert_eq!(error.code, ErrorCode::RcSocketError);
        let garbage = refusal(open().handle(status(true)));
        assert_eq!(garbage.code, ErrorCode::CkrCallbackError, "a status before the hello");
        let mut done = RelayClient::adopted("a".into()).0;
        done.handle(status(true));
        assert_eq!(refusal(done.handle(status(true))).code, ErrorCode::PedError, "nothing after the opening");
    }
}
