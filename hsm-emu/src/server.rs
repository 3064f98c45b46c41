//! `hsm-emu serve`: the HSM as a process. A control socket takes one lunacm-style
//! command per connection (a JSON array of words) and streams back the lines
//! lunacm would print, ending with `Command Result : …`.
//!
//! One lock guards the HSM and its PED link: a command that needs the PED holds it
//! for the whole PED interaction, so a `ped connect` arriving meanwhile is refused
//! rather than queued (a local PED operation in progress blocks a remote connect).
//! While a remote link is up every command uses it and the local PED is ignored. The
//! remote link's end is noticed as it happens (pedclient's Closed, read by the link's own
//! thread): the next command that looks (`ped show`, `ped connect`) finds it over, and why.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, TryLockError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use getrandom::SysRng;
use ped_proto::ErrorCode;
use ped_proto::command::{HsmCommand, PedReply};
use ped_proto::frame::{self, Frame, FrameType};
use ped_proto::record::{ChannelSession, Opened};
use ped_proto::secrets::{OneTimePassword, PasswordDigits};
use rand_core::UnwrapErr;

use crate::channel::{Auth, Handshake};
use crate::error::{Code, HsmCode, HsmError};
use crate::hsm::{HSM_SO_MAX_FAILURES, Hsm, Operation, Request, RoleName, Step};
use crate::link::{Link, Remote};
use crate::state::Store;

/// Default pedserver port.
pub const DEFAULT_PED_PORT: u16 = 1503;

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The state directory.
    pub state: PathBuf,
    /// The serial given at manufacture (ignored once manufactured).
    pub serial: String,
    /// The control socket.
    pub control: PathBuf,
    /// The local PED's emulated USB endpoint, if one is plugged in.
    pub local_ped: Option<PathBuf>,
    /// pedclient's HSM link socket.
    pub pedclient: Option<PathBuf>,
    /// The PED-key action timeout (the PED's own is 200 s); the HSM waits this long,
    /// plus [`ServeConfig::link_timeout`], for each PED reply.
    pub key_timeout: Duration,
    /// How long pedclient may take to report Connected, and the margin on PED replies.
    pub link_timeout: Duration,
    /// A fixed clock at start, Unix seconds (tests with certificates for an instant).
    pub unix_time: Option<u64>,
    /// The state directory of an HSM of the factory a new HSM is made in; `None`: a
    /// factory of its own.
    pub manufacturer: Option<PathBuf>,
}

struct Connected {
    link: Link,
    auth: Auth,
    session: Option<ChannelSession>,
    /// A remote link: the address asked for (an empty host: none) and what pedclient reached.
    remote: Option<(String, u16, Remote)>,
}

struct Shared {
    hsm: Hsm,
    store: Store,
    ped: Option<Connected>,
    /// How the last remote link ended, for `ped show`; cleared by the next `ped connect`.
    last_end: Option<LinkEnd>,
}

/// How a remote link ended.
enum LinkEnd {
    /// `ped disconnect`.
    Disconnected,
    /// `hsm factoryreset`.
    FactoryReset,
    /// pedclient closed it, or it failed under a command.
    Failed(HsmError),
}

impl Shared {
    /// Drops a remote link that pedclient has ended meanwhile, keeping why.
    fn reap(&mut self) {
        if let Some(e) = self.ped.as_ref().filter(|p| p.remote.is_some()).and_then(|p| p.link.ended()) {
            self.ped = None;
            self.last_end = Some(LinkEnd::Failed(e));
        }
    }
}

/// Whether the PED ended the channel since the last command: a key holder who leaves
/// Local PED-USB or Remote PED mode ("Exiting now will invalidate the RPK") makes the PED
/// send its sealed close and drop the channel. The HSM then opens a new channel for the
/// next command (in Remote PED mode the orange key is asked for again) instead of
/// failing it on the old one. The PED sends nothing else between commands, so whatever
/// waits means the two ends no longer share the channel; all of it is read and dropped.
fn closed_by_ped(link: &mut Link) -> Result<bool, HsmError> {
    let mut closed = false;
    while link.pending()?.is_some() {
        closed = true;
    }
    Ok(closed)
}

/// A PED command issued after the remote link ended: CKR_PED_UNPLUGGED, as lunacm
/// reports it, with the way the link ended.
fn ended_before(end: &HsmError) -> HsmError {
    if end.code == Code::Ped(ErrorCode::CkrPedUnplugged) {
        return end.clone();
    }
    HsmError {
        code: Code::Ped(ErrorCode::CkrPedUnplugged),
        detail: format!("the Remote PED link had ended ({}: {})", end.code.name(), end.detail),
    }
}

/// The running HSM.
pub struct Server {
    config: ServeConfig,
    shared: Mutex<Shared>,
    start: std::time::Instant,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("control", &self.config.control).finish_non_exhaustive()
    }
}

type Out<'a> = &'a mut dyn FnMut(&str);

impl Server {
    /// Loads (or manufactures) the HSM.
    pub fn new(config: ServeConfig) -> Result<Self, HsmError> {
        let store = Store::open(&config.state).map_err(|e| HsmError::hsm(HsmCode::GeneralError, e.to_string()))?;
        let now = config.unix_time.unwrap_or_else(wall_clock);
        let manufacturer = config
            .manufacturer
            .as_ref()
            .map(Store::open)
            .transpose()
            .map_err(|e| HsmError::hsm(HsmCode::GeneralError, e.to_string()))?;
        let hsm = Hsm::start_from(&store, &config.serial, manufacturer.as_ref(), &mut UnwrapErr(SysRng), now)?;
        let shared = Shared { hsm, store, ped: None, last_end: None };
        Ok(Server { config, shared: Mutex::new(shared), start: std::time::Instant::now() })
    }

    /// Serves the control socket until the process ends.
    pub fn run(self) -> std::io::Result<()> {
        let _ = std::fs::remove_file(&self.config.control);
        let listener = UnixListener::bind(&self.config.control)?;
        let server = Arc::new(self);
        for stream in listener.incoming() {
            let stream = stream?;
            let server = Arc::clone(&server);
            thread::spawn(move || server.serve_one(stream));
        }
        Ok(())
    }

    fn serve_one(&self, stream: UnixStream) {
        let mut line = String::new();
        let Ok(writer) = stream.try_clone() else { return };
        if BufReader::new(stream).read_line(&mut line).is_err() {
            return;
        }
        let mut writer = writer;
        let mut out = |text: &str| {
            let _ = writeln!(writer, "{text}");
        };
        let result = match serde_json::from_str::<Vec<String>>(&line) {
            Ok(words) => self.execute(&words, &mut out),
            Err(_) => Err(HsmError::hsm(HsmCode::ArgumentsBad, "the control socket takes a JSON array of words")),
        };
        match result {
            Ok(()) => out("Command Result : No Error"),
            Err(e) => {
                out(&e.detail);
                out(&e.result_line());
            }
        }
    }

    /// Runs one lunacm command, printing through `out`.
    pub fn execute(&self, words: &[String], out: Out<'_>) -> Result<(), HsmError> {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let bad = |what: &str| HsmError::hsm(HsmCode::ArgumentsBad, what.to_owned());
        match words.as_slice() {
            ["ped", "connect", rest @ ..] => self.connect(rest, out),
            ["ped", "disconnect"] => {
                let mut shared = self.lock_now()?;
                match shared.ped.take() {
                    Some(ped) => {
                        // A link pedclient already ended keeps that reason.
                        let end = ped.link.ended().map_or(LinkEnd::Disconnected, LinkEnd::Failed);
                        if ped.remote.is_some() {
                            shared.last_end = Some(end);
                        }
                        ped.link.disconnect();
                        Ok(())
                    }
                    // A link that already ended: the HSM goes back to its local PED.
                    None if matches!(shared.last_end, Some(LinkEnd::Failed(_))) => {
                        shared.last_end = Some(LinkEnd::Disconnected);
                        Ok(())
                    }
                    None => Err(bad("no Remote PED is connected")),
                }
            }
            ["ped", "set", rest @ ..] => {
                let opts = Options::parse(rest, &[])?;
                let port = opts.port()?;
                if opts.get("ip").is_none() && port.is_none() {
                    return Err(bad("ped set takes -ip and/or -port"));
                }
                let mut shared = self.lock()?;
                shared.hsm.set_ped_default(opts.get("ip").map(str::to_owned), port);
                persist(&mut shared)
            }
            ["ped", "show"] => {
                let mut shared = self.lock_now()?;
                shared.reap();
                self.show(&shared, out);
                Ok(())
            }
            ["ped", "vector", "init"] | ["ped", "vector"] => self.run_request(Request::VectorInit, out),
            ["hsm", "init", rest @ ..] => {
                let label = Options::parse(rest, &[])?.get("label").ok_or_else(|| bad("hsm init needs -label"))?.into();
                self.run_request(Request::HsmInit { label }, out)
            }
            ["hsm", "factoryreset", rest @ ..] => {
                confirmed(rest, "hsm factoryreset", "the HSM's roles, partition, label, counters and RPV")?;
                let mut shared = self.lock_now()?;
                shared.hsm.factory_reset();
                // The channel was opened for the HSM as it was; the HSM goes back to its
                // local PED, and a Remote PED needs `ped connect -password` again.
                let ped = shared.ped.take();
                if shared.last_end.is_some() || ped.as_ref().is_some_and(|p| p.remote.is_some()) {
                    shared.last_end = Some(LinkEnd::FactoryReset);
                }
                if let Some(ped) = ped {
                    ped.link.disconnect();
                }
                persist(&mut shared)?;
                out("The HSM is reset to its factory state; run `hsm init` (and `ped vector init` for a Remote PED).");
                Ok(())
            }
            ["hsm", "changepolicy", rest @ ..] => {
                let opts = Options::parse(rest, &["force"])?;
                if let Some((name, _)) = opts.0.iter().find(|(n, _)| !["policy", "value", "force"].contains(n)) {
                    return Err(bad(&format!("hsm changepolicy takes -policy, -value and -force, not -{name}")));
                }
                let number = |name: &str| {
                    opts.get(name)
                        .ok_or_else(|| bad("hsm changepolicy needs -policy P -value V"))?
                        .parse::<u32>()
                        .map_err(|_| bad(&format!("-{name} takes a number")))
                };
                let (policy, value) = (number("policy")?, number("value")?);
                let mut shared = self.lock_now()?;
                let erased = shared.hsm.change_policy(policy, value, opts.get("force").is_some())?;
                persist(&mut shared)?;
                out(&format!("HSM policy {policy} (Enable SO reset of partition PIN) is {value}."));
                if erased {
                    out(
                        "The partition and its contents were erased; the HSM SO makes a new one with `partition create`.",
                    );
                }
                Ok(())
            }
            ["partition", "create"] => {
                let mut shared = self.lock_now()?;
                shared.hsm.create_partition()?;
                persist(&mut shared)
            }
            ["partition", "delete", rest @ ..] => {
                confirmed(rest, "partition delete", "the partition and its roles")?;
                let mut shared = self.lock_now()?;
                shared.hsm.delete_partition()?;
                persist(&mut shared)
            }
            ["partition", "init", rest @ ..] => {
                let opts = Options::parse(rest, &[])?;
                let label = opts.get("label").ok_or_else(|| bad("partition init needs -label"))?.into();
                self.run_request(Request::PartitionInit { label }, out)
            }
            ["role", verb @ ("login" | "init" | "changepw" | "resetpw"), rest @ ..] => {
                let opts = Options::parse(rest, &[])?;
                let name = opts.get("name").ok_or_else(|| bad("the role command needs -name so|po|co|cu|au"))?;
                let role = RoleName::parse(name).ok_or_else(|| bad("-name is one of so, po, co, cu, au"))?;
                let request = match *verb {
                    "login" => Request::Login(role),
                    "init" => Request::RoleInit(role),
                    "resetpw" => Request::ResetPw(role),
                    _ => Request::ChangePw(role),
                };
                self.run_request(request, out)
            }
            _ => Err(bad("commands: ped connect|disconnect|set|show|vector init, \
                 hsm init|factoryreset|changepolicy, partition create|delete|init, \
                 role login|init|changepw|resetpw")),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Shared>, HsmError> {
        self.shared.lock().map_err(|_| HsmError::hsm(HsmCode::GeneralError, "the HSM state lock is poisoned"))
    }

    /// The lock without waiting: a PED operation in progress makes this command refuse.
    fn lock_now(&self) -> Result<std::sync::MutexGuard<'_, Shared>, HsmError> {
        match self.shared.try_lock() {
            Ok(guard) => Ok(guard),
            Err(TryLockError::WouldBlock) => Err(HsmError::hsm(
                HsmCode::OperationActive,
                "a PED operation is in progress; wait for it to finish and retry",
            )),
            Err(TryLockError::Poisoned(_)) => {
                Err(HsmError::hsm(HsmCode::GeneralError, "the HSM state lock is poisoned"))
            }
        }
    }

    fn connect(&self, args: &[&str], out: Out<'_>) -> Result<(), HsmError> {
        let opts = Options::parse(args, &["password"])?;
        // lunacm's `-slot` picks one of several HSMs in a server; this HSM is slot 0.
        if let Some(slot) = opts.get("slot").filter(|s| s.parse::<u32>() != Ok(0)) {
            return Err(HsmError::hsm(
                HsmCode::ArgumentsBad,
                format!("there is no slot {slot}: this HSM is slot 0 (ped connect -slot 0, or no -slot)"),
            ));
        }
        let mut shared = self.lock_now()?;
        shared.reap();
        if shared.ped.as_ref().is_some_and(|p| p.remote.is_some()) {
            return Err(HsmError::hsm(
                HsmCode::OperationActive,
                "a Remote PED is already connected; `ped disconnect` first",
            ));
        }
        let pedclient = self.config.pedclient.clone().ok_or_else(|| {
            HsmError::hsm(HsmCode::NotAllowed, "this HSM has no pedclient link (serve --pedclient socket:PATH)")
        })?;
        let host = opts.get("ip").map(str::to_owned).or_else(|| shared.hsm.state().ped_ip.clone()).unwrap_or_default();
        let port = opts.port()?.or(shared.hsm.state().ped_port).unwrap_or(DEFAULT_PED_PORT);
        let password = match opts.get("password") {
            None => None,
            Some("") => Some(PasswordDigits::generate(&mut UnwrapErr(SysRng))),
            Some(digits) => Some(PasswordDigits::parse(digits).ok_or_else(|| {
                HsmError::hsm(HsmCode::ArgumentsBad, "-password takes exactly 8 digits (or none, to generate them)")
            })?),
        };
        let shown = password.as_ref().map(|d| String::from_utf8_lossy(d.expose()).into_owned());
        let auth = Auth::remote(&shared.hsm, password.map(OneTimePassword::new))?;
        let serial = shared.hsm.serial().to_owned();
        let (link, remote) = Link::pedclient(&pedclient, &serial, &host, port, self.config.link_timeout)?;
        // A local channel is dropped: while remote is connected, local is ignored.
        shared.ped = Some(Connected { link, auth, session: None, remote: Some((host, port, remote)) });
        shared.last_end = None;
        if let Some(shown) = shown {
            out(&format!("Please attend to the PED and enter following password: {shown}"));
        }
        Ok(())
    }

    fn show(&self, shared: &Shared, out: Out<'_>) {
        let state = shared.hsm.state();
        out(&format!("HSM serial: {}", shared.hsm.serial()));
        out(&format!("HSM label: {}", state.label.as_deref().unwrap_or("(zeroised)")));
        out(&format!("RPV initialized: {}", if shared.hsm.has_rpv() { "Yes" } else { "No" }));
        match shared.ped.as_ref().and_then(|p| p.remote.as_ref()) {
            Some((_, _, Remote { firmware, pedserver, ped_initiated: true })) => {
                out(&format!("Remote PED: connected (PED-initiated from {pedserver}), PED firmware {firmware}"));
            }
            // A bare `ped connect` asked for no address (a PED ID mapping): the one
            // pedclient reached.
            Some((host, _, Remote { firmware, pedserver, .. })) if host.is_empty() => {
                out(&format!("Remote PED: connected to {pedserver}, PED firmware {firmware}"));
            }
            Some((host, port, Remote { firmware, .. })) => {
                // An IPv6 address in brackets, as pedclient reports one, so the port stands apart.
                let host = if host.contains(':') { format!("[{host}]") } else { host.clone() };
                out(&format!("Remote PED: connected to {host}:{port}, PED firmware {firmware}"));
            }
            None => {
                match &shared.last_end {
                    Some(LinkEnd::Disconnected) => out("Remote PED: not connected (ended by ped disconnect)"),
                    Some(LinkEnd::FactoryReset) => out("Remote PED: not connected (ended by hsm factoryreset)"),
                    Some(LinkEnd::Failed(e)) => out(&format!(
                        "Remote PED: not connected (the link ended: {}; 0x{:08x} {})",
                        e.detail,
                        e.code.value(),
                        e.code.name()
                    )),
                    None => {}
                }
                out(&format!(
                    "Local PED-USB: {}",
                    if self.config.local_ped.is_some() { "configured" } else { "not configured" }
                ))
            }
        }
        out(&format!(
            "Default Remote PED: {}:{}",
            state.ped_ip.as_deref().unwrap_or("(none)"),
            state.ped_port.unwrap_or(DEFAULT_PED_PORT)
        ));
        out(&format!("HSM SO failed logins: {}", state.so_failures));
        out(&format!("Up time: {} (secs)", self.start.elapsed().as_secs()));
    }

    fn run_request(&self, request: Request, out: Out<'_>) -> Result<(), HsmError> {
        let mut guard = self.lock()?;
        let shared = &mut *guard;
        out("Please attend to the PED.");
        // lunacm warns before every HSM SO login, even one that then finds no PED (seed
        // 3636-3645); a zeroised HSM has no SO to zeroise and refuses the login instead.
        if matches!(request, Request::Login(RoleName::So)) && !shared.hsm.is_zeroised() {
            out(&so_login_caution(shared.hsm.state().so_failures));
        }
        let result = self
            .with_channel(shared, |server, shared, session, link| server.drive(shared, request.clone(), session, link));
        if result.is_err() {
            shared.hsm.abort();
        } else if let Some(ped) = shared.ped.as_mut()
            && ped.auth.after(&request, &shared.hsm)
        {
            // The PED takes a new hello on an open channel as the HSM starting over; the
            // password channel's keys go with this session and carry nothing more.
            ped.session = None;
        }
        persist(shared)?;
        result
    }

    /// Runs `f` over an established channel, plugging into the local PED or finishing
    /// the remote handshake first. A link that fails is dropped.
    fn with_channel(
        &self,
        shared: &mut Shared,
        f: impl FnOnce(&Self, &mut Hsm, &mut ChannelSession, &mut Link) -> Result<(), HsmError>,
    ) -> Result<(), HsmError> {
        // After a remote link ended, PED commands fail as the seed shows (CKR_PED_UNPLUGGED:
        // "reconnect Remote PED before issuing commands") until `ped connect` opens a new
        // link or `ped disconnect` hands the HSM back to its local PED: a key holder
        // standing at the remote PED must not find the command waiting on a local one.
        if shared.ped.is_none()
            && let Some(LinkEnd::Failed(e)) = &shared.last_end
        {
            return Err(ended_before(e));
        }
        if shared.ped.is_none() {
            let path = self.config.local_ped.as_ref().ok_or_else(|| HsmError::ped(ErrorCode::CkrPedUnplugged))?;
            shared.ped = Some(Connected { link: Link::usb(path)?, auth: Auth::Local, session: None, remote: None });
        }
        let Some(ped) = shared.ped.as_mut() else { return Err(HsmError::ped(ErrorCode::CkrPedUnplugged)) };
        // A remote link pedclient ended between commands fails this one with its reason,
        // as a Closed mid-command does; the local PED is not silently used instead.
        let ended = ped.link.ended();
        let mut result = ended.as_ref().map_or(Ok(()), |e| Err(ended_before(e)));
        if result.is_ok() && ped.session.is_some() {
            match closed_by_ped(&mut ped.link) {
                Ok(true) => ped.session = None,
                Ok(false) => {}
                Err(e) => result = Err(e),
            }
        }
        if result.is_ok() && ped.session.is_none() {
            result = self.handshake(&mut shared.hsm, ped).map(|s| ped.session = Some(s));
        }
        if result.is_ok()
            && let Some(session) = ped.session.as_mut()
        {
            result = f(self, &mut shared.hsm, session, &mut ped.link);
        }
        if let Err(e) = &result
            && (link_failure(e) || shared.ped.as_ref().is_some_and(|p| p.link.ended().is_some()))
            && let Some(ped) = shared.ped.take()
            && ped.remote.is_some()
        {
            // `ped show` tells how the link itself ended, not how this command saw it.
            shared.last_end = Some(LinkEnd::Failed(ended.unwrap_or_else(|| e.clone())));
        }
        result
    }

    fn handshake(&self, hsm: &mut Hsm, ped: &mut Connected) -> Result<ChannelSession, HsmError> {
        let (pending, hello) = Handshake::start(hsm, &ped.auth, &mut UnwrapErr(SysRng))?;
        ped.link.send(&hello)?;
        let share = ped.link.recv(self.reply_timeout())?;
        match pending.finish(&share, hsm, &mut ped.auth) {
            Ok((session, finished)) => {
                ped.link.send(&finished)?;
                Ok(session)
            }
            Err(e) => {
                let _ = ped.link.send(&frame::handshake_failed());
                Err(e)
            }
        }
    }

    fn drive(
        &self,
        hsm: &mut Hsm,
        request: Request,
        session: &mut ChannelSession,
        link: &mut Link,
    ) -> Result<(), HsmError> {
        let (mut op, first) = hsm.begin(request, session.kind())?;
        self.exchange(hsm, &mut op, &first, session, link).map_err(|mut e| {
            if let Some((role, n)) = op.writing() {
                // The PED writes each key as its holder presents it: some of the N may
                // already carry the new keyset, which the HSM never took into force.
                e.detail = format!(
                    "{}\nThe PED was writing the {n} {} keys of a new keyset: any written before this failure \
                     hold a keyset this HSM never put in force and open nothing. Nothing changed on the HSM; \
                     run the command again and overwrite those keys.",
                    e.detail,
                    format!("{:?}", role.colour()).to_lowercase(),
                );
            }
            e
        })
    }

    /// Sends `first` and carries the operation to its end, command by reply.
    fn exchange(
        &self,
        hsm: &mut Hsm,
        op: &mut Operation,
        first: &HsmCommand,
        session: &mut ChannelSession,
        link: &mut Link,
    ) -> Result<(), HsmError> {
        link.send(&session.seal(&first.encode()?)?)?;
        loop {
            let frame = link.recv(self.reply_timeout())?;
            let frame = Frame::decode_exact(&frame).map_err(ped_proto::Error::from)?;
            if frame.frame_type == FrameType::HandshakeFailed {
                // The PED sends it for a record it refused (altered, replayed, out of
                // order, or with no channel at its end) and drops its channel.
                return Err(HsmError {
                    code: Code::Ped(ErrorCode::PedIntegrityError),
                    detail: "the PED refused a record of this channel (it failed the PED's integrity or sequence \
                             check) and closed the channel; run ped connect and the command again"
                        .into(),
                });
            }
            let payload = match session.open(frame)? {
                Opened::Data(payload) => payload,
                Opened::Closed => return Err(HsmError::ped(ErrorCode::CkrPedUnplugged)),
            };
            let reply = PedReply::decode(&payload)?;
            let now = self.config.unix_time.map_or_else(wall_clock, |t| t + self.start.elapsed().as_secs());
            match hsm.on_reply(op, reply, session, &mut UnwrapErr(SysRng), now)? {
                Step::Send(command) => link.send(&session.seal(&command.encode()?)?)?,
                Step::Wait(_) => {}
                Step::Done => return Ok(()),
            }
        }
    }

    fn reply_timeout(&self) -> Duration {
        self.config.key_timeout + self.config.link_timeout
    }
}

/// lunacm asks before it destroys anything ("Type 'proceed' to continue"); a command
/// sent over the control socket cannot be asked, so `-force` is its answer, as it is
/// lunacm's way to skip the question.
fn confirmed(args: &[&str], command: &str, what: &str) -> Result<(), HsmError> {
    let opts = Options::parse(args, &["force"])?;
    if opts.0.iter().any(|(name, _)| *name != "force") {
        return Err(HsmError::hsm(HsmCode::ArgumentsBad, format!("{command} takes -force only")));
    }
    if opts.get("force").is_none() {
        return Err(HsmError::hsm(
            HsmCode::ArgumentsBad,
            format!("{command} destroys {what}; nothing was changed. Run `{command} -force` to go ahead."),
        ));
    }
    Ok(())
}

/// lunacm's warning before an HSM SO login, with the attempts left before the HSM
/// zeroises itself, in the seed's words and line breaks (3641-3643).
fn so_login_caution(failures: u32) -> String {
    let left = HSM_SO_MAX_FAILURES.saturating_sub(failures);
    format!(
        "Caution: You have only {left} so login attempts left. If you fail {left}\n\
         more consecutive login attempts (i.e. with no successful\n\
         logins in between) the HSM will be ZEROIZED!!!"
    )
}

/// Whether an error leaves the link unusable (the transport or the channel broke). A
/// refused handshake (wrong password, wrong orange key) keeps the link: the next
/// command sends a new hello.
fn link_failure(e: &HsmError) -> bool {
    matches!(
        e.code,
        Code::Ped(
            ErrorCode::CkrPedUnplugged
                | ErrorCode::RcOperationTimedOut
                | ErrorCode::RcSocketError
                | ErrorCode::PedIntegrityError
                | ErrorCode::PedProtocolError
                | ErrorCode::PedSessionLimit
                | ErrorCode::PedPasswordBurnt
                | ErrorCode::PedVersionMismatch
        )
    )
}

fn persist(shared: &mut Shared) -> Result<(), HsmError> {
    if shared.hsm.take_dirty() {
        shared.store.save_state(shared.hsm.state()).map_err(|e| HsmError::hsm(HsmCode::GeneralError, e.to_string()))?;
    }
    Ok(())
}

fn wall_clock() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// lunacm's `-name value` options; `flags_with_optional_value` may stand alone.
struct Options<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Options<'a> {
    fn parse(args: &[&'a str], flags_with_optional_value: &[&str]) -> Result<Self, HsmError> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let name = args[i]
                .strip_prefix('-')
                .map(|n| n.trim_start_matches('-'))
                .ok_or_else(|| HsmError::hsm(HsmCode::ArgumentsBad, format!("unexpected `{}`", args[i])))?;
            match args.get(i + 1) {
                Some(value) if !value.starts_with('-') => {
                    out.push((name, *value));
                    i += 2;
                }
                _ if flags_with_optional_value.contains(&name) => {
                    out.push((name, ""));
                    i += 1;
                }
                _ => return Err(HsmError::hsm(HsmCode::ArgumentsBad, format!("-{name} needs a value"))),
            }
        }
        Ok(Options(out))
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn port(&self) -> Result<Option<u16>, HsmError> {
        self.get("port")
            .map(|p| p.parse().map_err(|_| HsmError::hsm(HsmCode::ArgumentsBad, "-port takes a number 1-65535")))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::so_login_caution;

    #[test]
    fn the_so_caution_counts_down_the_attempts_left() {
        assert_eq!(
            so_login_caution(0),
            "Caution: You have only 3 so login attempts left. If you fail 3\n\
             more consecutive login attempts (i.e. with no successful\n\
             logins in between) the HSM will be ZEROIZED!!!"
        );
        assert!(so_login_caution(2).starts_with("Caution: You have only 1 so login attempts left. If you fail 1\n"));
        assert!(so_login_caution(7).starts_with("Caution: You have only 0 so login"), "never negative");
    }
}
