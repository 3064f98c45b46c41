//! The PED as one deterministic state machine: [`Ped::handle`] takes an [`Event`] and
//! returns the [`Effect`]s for the hardware to carry out; [`Ped::poll_timeout`] says when
//! it next needs an [`Event::Tick`]. Nothing here blocks, reads a clock or draws
//! randomness of its own. The PED owns its firmware flash (`F`), as embassy-boot's
//! `BootLoader` owns its partitions.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use ped_proto::EcdhKeyPair;
use ped_proto::cert::ChainCache;
use ped_proto::command::{HsmCommand, PedFailure, PedReply};
use ped_proto::device::{DeviceMessage, PedInfo, PedMode, SessionEndReason, UpdateState};
use ped_proto::frame::{self, Frame, FrameType};
use ped_proto::handshake::ped::{AwaitingHello, HelloReceived};
use ped_proto::handshake::{ChannelKind, SUPPORTED_VERSIONS};
use ped_proto::orange::RpkCredential;
use ped_proto::pedkey::KeyColour;
use ped_proto::quorum::{self, Split};
use ped_proto::record::Opened;
use ped_proto::secrets::PasswordDigits;
use rand_core::CryptoRng;

use crate::admin::{Admin, AdminStep};
#[cfg(feature = "legacy-7-4")]
use crate::channel::CurrentHsms;
use crate::channel::{Channel, RpkCache};
use crate::config::PedConfig;
use crate::flows::copy::Copier;
use crate::flows::create::{Create, Created};
use crate::flows::login::Gather;
use crate::flows::password::Password;
use crate::flows::reader::Reader;
use crate::flows::write::Writer;
use crate::flows::{Ctx, Flow};
use crate::hal::{InsertedKey, KeyContent, KeyPortError};
use crate::io::{Button, Effect, Event};
use crate::log::ActionLog;
use crate::screen::Screen;
use crate::screens::{self, Header};
use crate::software_update::SoftwareUpdate;
use crate::update::slots::{ImageSlots, NoFlash};

#[cfg(feature = "legacy-7-4")]
mod legacy;

/// What the PED is doing in the foreground: the screen and what the keys mean.
#[derive(Debug)]
enum Ui {
    /// The mode's home screen: Select Mode, or a mode's waiting screen.
    Home,
    /// "Exiting now will invalidate the RPK. Confirm? YES/NO"
    ExitWarning,
    /// "COMPUTE SESSION KEY. Enter PED Password." for a RemotePassword hello (which
    /// waits in [`Channel::Hello`]).
    Password(Password),
    /// The orange key(s) for a RemoteRpv hello (which waits in [`Channel::Hello`]); the
    /// splits stay in the PED, the one secret it reassembles (the orange seed).
    Orange { reader: Reader, splits: Vec<Split> },
    /// ReadKeyset.
    Login(Gather),
    /// CreateKeyset, stages 1-2.
    Create(Create),
    /// WriteSplits, stages 3-4.
    Write(Writer),
    /// DuplicateKeyset.
    Copy(Copier),
    /// Admin mode.
    Admin(Admin),
    /// Admin mode → 7 Software Update.
    Update(SoftwareUpdate),
}

impl Ui {
    /// Whether an HSM command is being served (answered at its end, or on failure).
    fn serves_command(&self) -> bool {
        matches!(self, Ui::Login(_) | Ui::Create(_) | Ui::Write(_) | Ui::Copy(_))
    }

    /// Whether a handshake waits for the key holder.
    fn in_handshake(&self) -> bool {
        matches!(self, Ui::Password(_) | Ui::Orange { .. })
    }

    fn header(&self) -> Option<&Header> {
        match self {
            Ui::Password(p) => Some(p.header()),
            Ui::Orange { reader, .. } => Some(reader.header()),
            Ui::Login(g) => Some(g.header()),
            Ui::Create(c) => Some(c.header()),
            Ui::Write(w) => Some(w.header()),
            Ui::Copy(c) => Some(c.header()),
            _ => None,
        }
    }
}

/// An input for the foreground flow.
enum Input {
    Button(Button),
    KeyRead(Result<Option<KeyContent>, KeyPortError>),
    KeyWritten(Result<(), KeyPortError>),
}

/// What a flow's step means for the core.
enum Outcome {
    Continue,
    /// An HSM command is done: send this answer and go home.
    Answer(PedReply),
    /// An HSM command failed: tell the HSM and go home.
    Failed(PedFailure),
    /// The one-time password was typed.
    Password,
    /// The orange quorum is complete.
    OrangeComplete,
    /// `<` at the Admin menu.
    LeaveAdmin,
    /// 7 at the Admin menu.
    SoftwareUpdate,
}

/// The PIN Entry Device, with its firmware flash `F` (the two image slots that
/// Software Update writes); [`NoFlash`] for a PED built with [`Ped::new`], whose
/// Software Update refuses every image.
#[derive(Debug)]
pub struct Ped<F: ImageSlots = NoFlash> {
    config: PedConfig,
    mode: PedMode,
    ui: Ui,
    /// A notice or the log, over the foreground screen until the next key press.
    overlay: Option<Screen>,
    channel: Channel,
    rpks: RpkCache,
    /// HSMs seen with a certified (7.7+) hello: never spoken to on the legacy channel.
    #[cfg(feature = "legacy-7-4")]
    current_hsms: CurrentHsms,
    chains: ChainCache,
    /// The ephemeral key of the next handshake, drawn on an idle [`Event::Tick`] so
    /// that the key generation (as costly as an ECDH) is off the handshake's critical
    /// path. Taken by exactly one handshake; drawn at the hello if none is ready.
    next_ephemeral: Option<EcdhKeyPair>,
    log: ActionLog,
    now_ms: u64,
    unix_seconds: u64,
    /// When the key holder's time for the current PED-key action runs out.
    deadline: Option<u64>,
    inserted: Option<InsertedKey>,
    drawn: Screen,
    /// The update flash, if the PED has one.
    flash: Option<F>,
}

impl Ped {
    /// A PED at power-on, showing Select Mode, without update flash.
    pub fn new(config: PedConfig) -> Self {
        Ped::with_flash(config, None)
    }

    /// [`Ped::new`] with `chains` as its chain cache and `ephemeral` drawn for its first
    /// handshake: the fuzz targets start one PED per input without the chain
    /// verification and the key generation that every input would otherwise repeat.
    #[cfg(fuzzing)]
    pub fn warmed_up(config: PedConfig, chains: ChainCache, ephemeral: EcdhKeyPair) -> Self {
        Ped { chains, next_ephemeral: Some(ephemeral), ..Ped::new(config) }
    }
}

impl<F: ImageSlots> Ped<F> {
    /// A PED at power-on, showing Select Mode, that owns the two image slots of
    /// `flash` (the boot loader, `update::boot`, has already chosen and verified the
    /// running image in them); `None`: it has no update flash and Software Update
    /// refuses every image.
    pub fn with_flash(config: PedConfig, flash: Option<F>) -> Self {
        let drawn = screens::select_mode(&config.firmware_version);
        Ped {
            config,
            mode: PedMode::SelectMode,
            ui: Ui::Home,
            overlay: None,
            channel: Channel::Idle,
            rpks: RpkCache::default(),
            #[cfg(feature = "legacy-7-4")]
            current_hsms: CurrentHsms::default(),
            chains: ChainCache::default(),
            next_ephemeral: None,
            log: ActionLog::default(),
            now_ms: 0,
            unix_seconds: 0,
            deadline: None,
            inserted: None,
            drawn,
            flash,
        }
    }

    /// The update flash, if the PED has one.
    pub fn flash(&self) -> Option<&F> {
        self.flash.as_ref()
    }

    /// The update flash, to inspect or to fault (a test's power cut).
    pub fn flash_mut(&mut self) -> Option<&mut F> {
        self.flash.as_mut()
    }

    /// The screen drawn last.
    pub fn screen(&self) -> &Screen {
        &self.drawn
    }

    /// The current mode.
    pub fn mode(&self) -> PedMode {
        self.mode
    }

    /// What the PED reports to a host's InfoRequest.
    pub fn info(&self) -> PedInfo {
        PedInfo {
            firmware_version: self.config.firmware_version.clone(),
            serial: self.config.serial.clone(),
            mode: self.mode,
            protocol_versions: SUPPORTED_VERSIONS.to_vec(),
            rpk_serials: self.rpks.serials(),
        }
    }

    /// Whether the next handshake's ephemeral key is drawn already.
    pub fn ephemeral_ready(&self) -> bool {
        self.next_ephemeral.is_some()
    }

    /// Draws the next handshake's ephemeral key if none is ready and the PED idles
    /// (no operation waits for a key holder, no software update runs): on every
    /// [`Event::Tick`], so after power-on and after each handshake the next tick draws
    /// one. This is the only draw a tick makes.
    fn prepare_ephemeral<R: CryptoRng>(&mut self, rng: &mut R) {
        if self.wants_ephemeral() {
            self.next_ephemeral = Some(EcdhKeyPair::generate(rng));
        }
    }

    /// The ephemeral key for the handshake under way: the one drawn while idle, or a
    /// fresh one now. Either way it leaves the PED: no key serves two handshakes.
    fn take_ephemeral<R: CryptoRng>(&mut self, rng: &mut R) -> EcdhKeyPair {
        self.next_ephemeral.take().unwrap_or_else(|| EcdhKeyPair::generate(rng))
    }

    /// Whether an operation waits for a key holder (the PED-key action timeout runs).
    pub fn busy(&self) -> bool {
        self.ui.serves_command() || self.ui.in_handshake()
    }

    /// When the core next needs an [`Event::Tick`], on the clock of the ticks
    /// (`monotonic_ms`): the PED-key action's deadline, or the last tick's time (due
    /// now) while the PED idles without the next handshake's ephemeral key; `None`
    /// while no tick is needed. A driver sleeps until then or until an input, and
    /// gives a Tick with the current time whenever it wakes, before the input: the
    /// deadlines an event starts count from the last tick's time.
    pub fn poll_timeout(&self) -> Option<u64> {
        let ephemeral = self.wants_ephemeral().then_some(self.now_ms);
        match (self.deadline, ephemeral) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether an idle tick would draw the next handshake's ephemeral key.
    fn wants_ephemeral(&self) -> bool {
        self.next_ephemeral.is_none() && !self.busy() && !matches!(self.ui, Ui::Update(_))
    }

    /// Takes one event; returns what the hardware must do, in order. The screen is
    /// redrawn (one [`Effect::Draw`], last) only when it changed.
    #[must_use = "the effects are the PED's output: draw them, send them, carry out the key-port operations"]
    pub fn handle<R: CryptoRng>(&mut self, event: Event, rng: &mut R) -> Vec<Effect> {
        let mut out = Vec::new();
        match event {
            Event::PowerOn => self.power_on(),
            Event::Pressed(button) => self.pressed(button, rng, &mut out),
            Event::ClearHeld => self.clear_held(&mut out),
            Event::KeyInserted(key) => {
                self.inserted = Some(key);
                self.touch();
            }
            Event::KeyRemoved => {
                self.inserted = None;
                self.touch();
            }
            Event::HostFrame(bytes) => self.host_frame(&bytes, rng, &mut out),
            Event::HostDisconnected => self.abandon_channel("Host link lost."),
            Event::Tick { monotonic_ms, unix_seconds } => {
                self.now_ms = monotonic_ms;
                self.unix_seconds = unix_seconds;
                if self.deadline.is_some_and(|d| monotonic_ms >= d) {
                    self.log.push("Timed out");
                    self.end_operation(Some(PedFailure::Timeout), "Operation timed out.", &mut out);
                }
                self.prepare_ephemeral(rng);
            }
            Event::KeyRead(result) => self.drive(Input::KeyRead(result), rng, &mut out),
            Event::KeyWritten(result) => self.drive(Input::KeyWritten(result), rng, &mut out),
        }
        self.redraw(&mut out);
        out
    }

    fn redraw(&mut self, out: &mut Vec<Effect>) {
        let screen = self.overlay.clone().unwrap_or_else(|| self.render());
        if screen != self.drawn {
            self.drawn = screen.clone();
            out.push(Effect::Draw(screen));
        }
    }

    fn render(&self) -> Screen {
        match &self.ui {
            Ui::Home => self.home_screen(),
            Ui::ExitWarning => screens::exit_warning(),
            Ui::Password(p) => p.screen(),
            Ui::Orange { reader, .. } => reader.screen(),
            Ui::Login(g) => g.screen(),
            Ui::Create(c) => c.screen(),
            Ui::Write(w) => w.screen(),
            Ui::Copy(c) => c.screen(),
            Ui::Admin(a) => a.screen(),
            Ui::Update(u) => u.screen(),
        }
    }

    fn home_screen(&self) -> Screen {
        match self.mode {
            PedMode::Remote => screens::remote_idle(self.channel.hsm()),
            PedMode::LocalUsb => screens::local_idle(self.channel.hsm()),
            _ => screens::select_mode(&self.config.firmware_version),
        }
    }

    fn power_on(&mut self) {
        self.channel = Channel::Idle;
        self.deadline = None;
        self.mode = PedMode::SelectMode;
        self.ui = Ui::Home;
        self.overlay = None;
        // Draw even an unchanged screen: the display was dark.
        self.drawn = Screen::default();
    }

    /// A key holder acted: the PED-key action timeout starts again.
    fn touch(&mut self) {
        if self.deadline.is_some() {
            self.deadline = Some(self.now_ms.saturating_add(self.config.key_timeout_ms));
        }
    }

    fn enter_mode(&mut self, mode: PedMode) {
        self.mode = mode;
        self.log.clear();
        self.log.push(match mode {
            PedMode::Remote => "Mode: Remote PED",
            PedMode::LocalUsb => "Mode: Local PED-USB",
            PedMode::Admin => "Mode: Admin",
            _ => "Select Mode",
        });
        self.ui = if mode == PedMode::Admin { Ui::Admin(Admin::new()) } else { Ui::Home };
    }

    fn pressed<R: CryptoRng>(&mut self, button: Button, rng: &mut R, out: &mut Vec<Effect>) {
        self.touch();
        if self.overlay.take().is_some() {
            return;
        }
        let keypad_test = matches!(&self.ui, Ui::Admin(a) if a.captures_keys());
        if button == Button::Log && !keypad_test {
            self.overlay = Some(screens::log(&self.log.entries()));
            return;
        }
        if let Ui::Update(update) = &mut self.ui {
            let (leave, status) = update.on_button(button, dyn_flash(&mut self.flash));
            self.send_device(status, out);
            if leave {
                self.ui = Ui::Admin(Admin::new());
                self.deadline = None;
            }
            return;
        }
        match (&self.ui, button) {
            (Ui::Home, _) => self.home_key(button),
            (Ui::ExitWarning, Button::Yes) => self.leave_mode(out),
            (Ui::ExitWarning, Button::No) => self.ui = Ui::Home,
            _ => self.drive(Input::Button(button), rng, out),
        }
    }

    fn home_key(&mut self, button: Button) {
        match (self.mode, button) {
            (PedMode::SelectMode, Button::Digit(1)) => self.overlay = Some(screens::scp_refused()),
            (PedMode::SelectMode, Button::Digit(4)) => self.enter_mode(PedMode::Admin),
            (PedMode::SelectMode, Button::Digit(7)) => self.enter_mode(PedMode::Remote),
            (PedMode::SelectMode, Button::Digit(0)) => self.enter_mode(PedMode::LocalUsb),
            (PedMode::Remote | PedMode::LocalUsb, Button::Back) => self.ui = Ui::ExitWarning,
            _ => {}
        }
    }

    /// "Exiting now will invalidate the RPK" answered Yes.
    fn leave_mode(&mut self, out: &mut Vec<Effect>) {
        if let Channel::Open { session, .. } = &mut self.channel
            && let Ok(close) = session.seal_close()
        {
            out.push(Effect::SendFrame(close));
        }
        self.channel = Channel::Idle;
        self.rpks.clear();
        self.enter_mode(PedMode::SelectMode);
    }

    /// Clear held five seconds: resets the operation in progress; nothing otherwise.
    fn clear_held(&mut self, out: &mut Vec<Effect>) {
        if self.busy() || self.admin_waiting() || matches!(self.ui, Ui::Update(_)) {
            self.log.push("Reset by Clear");
            self.end_operation(Some(PedFailure::Cancelled), "Operation reset.", out);
        }
    }

    /// Feeds the foreground flow and acts on what it says.
    fn drive<R: CryptoRng>(&mut self, input: Input, rng: &mut R, out: &mut Vec<Effect>) {
        let Ped { ui, config, channel, log, inserted, .. } = self;
        let mut ctx = Ctx {
            rng,
            config,
            inserted: *inserted,
            session: channel.session(),
            effects: out,
            log,
            notice: None,
            replies: Vec::new(),
        };
        let outcome = step(ui, input, &mut ctx);
        let (notice, replies) = (ctx.notice, ctx.replies);
        if notice.is_some() {
            self.overlay = notice;
        }
        if self.ui.serves_command() {
            for reply in replies {
                self.reply(&reply, out);
            }
        }
        match outcome {
            Outcome::Continue => {}
            Outcome::Answer(reply) => {
                self.deadline = None;
                self.ui = Ui::Home;
                self.reply(&reply, out);
            }
            Outcome::Failed(failure) => {
                self.log.push("Operation failed");
                self.end_operation(Some(failure), failure_text(failure), out);
            }
            Outcome::Password => self.password_entered(rng, out),
            Outcome::OrangeComplete => self.orange_complete(rng, out),
            Outcome::LeaveAdmin => self.enter_mode(PedMode::SelectMode),
            Outcome::SoftwareUpdate => {
                self.log.push("Software update");
                self.ui = Ui::Update(SoftwareUpdate::new(self.config.running_slot));
                // Software Update waits for the key holder as Admin mode's tools do.
                self.start_deadline();
            }
        }
        if let Ui::Admin(_) = self.ui {
            // Admin mode's tools wait for a key holder as an HSM's prompts do.
            match (self.admin_waiting(), self.deadline) {
                (true, None) => self.start_deadline(),
                (true, Some(_)) => {}
                (false, _) => self.deadline = None,
            }
        }
    }

    /// Whether an Admin-mode tool (not a menu) waits for the key holder.
    fn admin_waiting(&self) -> bool {
        matches!(&self.ui, Ui::Admin(admin) if admin.waiting())
    }

    /// Ends the foreground operation: an HSM command gets `failure`, a handshake that
    /// waited for the key holder is refused; the screen says `reason`.
    fn end_operation(&mut self, failure: Option<PedFailure>, reason: &str, out: &mut Vec<Effect>) {
        if let Ui::Update(update) = &mut self.ui {
            let status = update.abandon(reason);
            self.send_device(status, out);
            self.ui = Ui::Admin(Admin::new());
            self.deadline = None;
            self.overlay = Some(screens::operation_ended("Software update", reason));
            return;
        }
        if let Ui::Admin(admin) = &mut self.ui {
            // Admin mode's tools answer no HSM: the key holder is back at their menu.
            if let Some(title) = admin.reset() {
                self.deadline = None;
                self.overlay = Some(screens::operation_ended(title, reason));
            }
            return;
        }
        let title = self.ui.header().map_or_else(|| String::from("PED"), |h| h.slot.clone());
        if self.ui.serves_command() {
            if let Some(failure) = failure {
                self.reply(&PedReply::Failed(failure), out);
            }
        } else if self.ui.in_handshake() {
            out.push(Effect::SendFrame(frame::handshake_failed()));
            self.channel = Channel::Idle;
        } else {
            return;
        }
        self.ui = Ui::Home;
        self.deadline = None;
        self.overlay = Some(screens::operation_ended(&title, reason));
    }

    /// Seals an answer to the HSM. A session that cannot seal is over.
    fn reply(&mut self, reply: &PedReply, out: &mut Vec<Effect>) {
        let Channel::Open { session, .. } = &mut self.channel else { return };
        match reply.encode().and_then(|payload| session.seal(&payload)) {
            Ok(record) => out.push(Effect::SendFrame(record)),
            Err(_) => self.channel_lost("Connection lost."),
        }
    }

    /// The channel broke (bad record, host gone): no answer can reach the HSM.
    fn channel_lost(&mut self, reason: &str) {
        self.channel = Channel::Idle;
        self.log.push("Channel closed");
        if self.busy() {
            self.ui = Ui::Home;
            self.deadline = None;
        }
        self.overlay = Some(screens::operation_ended("Connection", reason));
    }

    /// Drops the channel and any operation on it, saying `reason`, if there was one.
    fn abandon_channel(&mut self, reason: &str) {
        if self.busy() || !matches!(self.channel, Channel::Idle) {
            self.channel_lost(reason);
        }
    }

    fn host_frame<R: CryptoRng>(&mut self, bytes: &[u8], rng: &mut R, out: &mut Vec<Effect>) {
        let Ok(frame) = Frame::decode_exact(bytes) else {
            self.log.push("Bad host frame");
            out.push(Effect::SendFrame(frame::handshake_failed()));
            return;
        };
        match frame.frame_type {
            t if t.is_device_control() => self.device_control(frame, out),
            #[cfg(feature = "legacy-7-4")]
            FrameType::HsmHello if ped_proto::legacy::is_legacy_hello(frame.body) => self.legacy_hello(frame, rng, out),
            #[cfg(feature = "legacy-7-4")]
            FrameType::HsmFinished | FrameType::HandshakeFailed if self.channel.in_legacy_exchange() => {
                self.legacy_exchange(frame, rng, out)
            }
            FrameType::HsmHello => self.hello(frame, rng, out),
            FrameType::HsmFinished | FrameType::HandshakeFailed => self.finished(frame, out),
            FrameType::Record => self.record(frame, out),
            _ => {
                self.log.push("Bad host frame");
                out.push(Effect::SendFrame(frame::handshake_failed()));
            }
        }
    }

    fn device_control(&mut self, frame: Frame<'_>, out: &mut Vec<Effect>) {
        let answer = match DeviceMessage::decode(frame) {
            Ok(DeviceMessage::InfoRequest) => DeviceMessage::Info(self.info()),
            Ok(DeviceMessage::SessionEnded { reason }) => return self.session_ended(reason),
            Ok(
                message @ (DeviceMessage::UpdateBegin { .. }
                | DeviceMessage::UpdateChunk { .. }
                | DeviceMessage::UpdateEnd),
            ) => {
                if matches!(self.ui, Ui::Update(_)) {
                    // The host's frames keep an upload alive as the key holder's presses do.
                    self.touch();
                }
                let status = match (&mut self.ui, &self.config.vendor_key) {
                    (Ui::Update(update), Some(key)) => update.on_message(message, dyn_flash(&mut self.flash), key),
                    _ => Some(DeviceMessage::UpdateStatus {
                        state: UpdateState::Refused,
                        detail: "Not in Admin mode, Software Update".into(),
                    }),
                };
                return self.send_device(status, out);
            }
            // Messages the PED sends, never takes, and undecodable bodies.
            Ok(_) | Err(_) => {
                self.log.push("Bad host frame");
                out.push(Effect::SendFrame(frame::handshake_failed()));
                return;
            }
        };
        if let Ok(bytes) = answer.encode() {
            out.push(Effect::SendFrame(bytes));
        }
    }

    /// The host's session with the HSM is over (protocol §15.1): the USB link stays up,
    /// so only the host can say so. The channel and any operation on it go, unanswered,
    /// as nobody is left to hear; with nothing in progress the mode's waiting screen is
    /// back at once, and an operation cut short says why until a key is pressed.
    fn session_ended(&mut self, reason: SessionEndReason) {
        let was_busy = self.busy();
        if !was_busy && matches!(self.channel, Channel::Idle) {
            return;
        }
        let (entry, text) = match reason {
            SessionEndReason::HsmDisconnected => ("HSM disconnected", "HSM disconnected."),
            SessionEndReason::IdleTimeout => ("Idle timeout", "Idle timeout."),
            SessionEndReason::LinkLost => ("Link lost", "Connection lost."),
            SessionEndReason::HostEnded => ("Server disconnected", "Server disconnected."),
        };
        self.log.push(entry);
        self.channel = Channel::Idle;
        if was_busy {
            self.ui = Ui::Home;
            self.deadline = None;
            self.overlay = Some(screens::operation_ended("Connection", text));
        }
    }

    fn send_device(&mut self, message: Option<DeviceMessage>, out: &mut Vec<Effect>) {
        if let Some(Ok(bytes)) = message.map(|m| m.encode()) {
            out.push(Effect::SendFrame(bytes));
        }
    }

    fn hello<R: CryptoRng>(&mut self, frame: Frame<'_>, rng: &mut R, out: &mut Vec<Effect>) {
        // A new hello replaces whatever channel there was, quietly: the HSM started over.
        self.channel = Channel::Idle;
        if self.busy() {
            self.ui = Ui::Home;
            self.deadline = None;
        }
        let refuse = |ped: &mut Self, out: &mut Vec<Effect>, reason: &str| {
            ped.log.push("HSM refused");
            out.push(Effect::SendFrame(frame::handshake_failed()));
            ped.overlay = Some(screens::operation_ended("Connection", reason));
        };
        let accepted = AwaitingHello::new(self.config.serial.as_bytes(), SUPPORTED_VERSIONS).receive_hello(
            frame,
            &self.config.trusted_root,
            self.unix_seconds,
            &mut self.chains,
        );
        let hello = match accepted {
            Ok(hello) => hello,
            Err(_) => return refuse(self, out, "HSM not trusted."),
        };
        let wanted = if hello.kind() == ChannelKind::Local { PedMode::LocalUsb } else { PedMode::Remote };
        match (self.mode, &self.ui) {
            // Seed 3525: the first command from the HSM selects the mode.
            (PedMode::SelectMode, Ui::Home) => self.enter_mode(wanted),
            (mode, _) if mode == wanted => self.ui = Ui::Home,
            _ => return refuse(self, out, "Wrong PED mode."),
        }
        let hsm = hsm_label(&hello);
        #[cfg(feature = "legacy-7-4")]
        self.current_hsms.remember(&hsm);
        self.log.push("HSM connecting");
        match hello.kind() {
            ChannelKind::Local => match hello.respond_local_with(self.take_ephemeral(rng)) {
                Ok((state, share)) => {
                    out.push(Effect::SendFrame(share));
                    self.channel = Channel::Finishing { state: Box::new(state), hsm, rpk: None, cached: false };
                }
                Err(_) => refuse(self, out, "Handshake failed."),
            },
            ChannelKind::RemotePassword => {
                self.ui = Ui::Password(Password::new(&hsm));
                self.channel = Channel::Hello { hello: Box::new(hello), hsm };
                self.start_deadline();
            }
            ChannelKind::RemoteRpv => {
                // A cached RPK serves only while the HSM still lists its keyset: after a
                // rotation the holders present the new orange key.
                if self.rpks.get(&hsm).is_some_and(|rpk| hello.accepts_orange(&rpk.keyset_id)) {
                    let ephemeral = self.take_ephemeral(rng);
                    let Some(rpk) = self.rpks.get(&hsm) else { return };
                    match hello.respond_rpv_with(rpk, ephemeral) {
                        Ok((state, share)) => {
                            out.push(Effect::SendFrame(share));
                            self.channel = Channel::Finishing { state: Box::new(state), hsm, rpk: None, cached: true };
                        }
                        Err(_) => {
                            self.rpks.remove(&hsm);
                            refuse(self, out, "RPK refused.");
                        }
                    }
                    return;
                }
                // Seed 4146: the orange key is asked under "COMPUTE SESSION KEY.".
                let header = Header::session_key(&hsm.chars().take(16).collect::<String>());
                let reader = Reader::of_keysets(header.clone(), header, KeyColour::Orange, hello.orange_keysets());
                self.ui = Ui::Orange { reader, splits: Vec::new() };
                self.channel = Channel::Hello { hello: Box::new(hello), hsm };
                self.start_deadline();
            }
        }
    }

    fn start_deadline(&mut self) {
        self.deadline = Some(self.now_ms.saturating_add(self.config.key_timeout_ms));
    }

    fn password_entered<R: CryptoRng>(&mut self, rng: &mut R, out: &mut Vec<Effect>) {
        let Ui::Password(typed) = core::mem::replace(&mut self.ui, Ui::Home) else { return };
        self.deadline = None;
        let Some((hello, hsm)) = self.channel.take_hello() else { return };
        // Enter with no password ends the session (seed 3930: at `ped disconnect`).
        let answer = PasswordDigits::parse(typed.as_str())
            .map(|password| hello.respond_password_with(&password, self.take_ephemeral(rng)));
        match answer {
            Some(Ok((state, share))) => {
                out.push(Effect::SendFrame(share));
                self.channel = Channel::Finishing { state: Box::new(state), hsm, rpk: None, cached: false };
            }
            _ => {
                out.push(Effect::SendFrame(frame::handshake_failed()));
                self.overlay = Some(screens::operation_ended("Connection", "No password."));
            }
        }
    }

    fn orange_complete<R: CryptoRng>(&mut self, rng: &mut R, out: &mut Vec<Effect>) {
        let Ui::Orange { splits, .. } = core::mem::replace(&mut self.ui, Ui::Home) else { return };
        self.deadline = None;
        let credential = splits.first().map(|s| *s.info().keyset_id()).and_then(|keyset| {
            quorum::reassemble(&splits).ok().and_then(|seed| RpkCredential::from_seed(keyset, &seed).ok())
        });
        #[cfg(feature = "legacy-7-4")]
        if let Some((hello, hsm)) = self.channel.take_legacy_hello() {
            return self.legacy_orange(*hello, hsm, credential, rng, out);
        }
        let Some((hello, hsm)) = self.channel.take_hello() else { return };
        let Some(rpk) = credential else {
            out.push(Effect::SendFrame(frame::handshake_failed()));
            self.overlay = Some(screens::operation_ended("Connection", "RPK unreadable."));
            return;
        };
        match hello.respond_rpv_with(&rpk, self.take_ephemeral(rng)) {
            Ok((state, share)) => {
                out.push(Effect::SendFrame(share));
                self.channel = Channel::Finishing { state: Box::new(state), hsm, rpk: Some(rpk), cached: false };
            }
            Err(_) => {
                out.push(Effect::SendFrame(frame::handshake_failed()));
                self.overlay = Some(screens::operation_ended("Connection", "RPK refused."));
            }
        }
    }

    fn finished(&mut self, frame: Frame<'_>, out: &mut Vec<Effect>) {
        let (state, hsm, rpk, cached) = match core::mem::take(&mut self.channel) {
            Channel::Finishing { state, hsm, rpk, cached } => (state, hsm, rpk, cached),
            other => {
                // A hello that waits for the key holder still waits; an open channel is
                // gone (the HSM started over).
                if matches!(other, Channel::Hello { .. }) {
                    self.channel = other;
                }
                if frame.frame_type == FrameType::HandshakeFailed {
                    // The HSM gave up (a wrong password, an unknown RPK): stop waiting.
                    self.log.push("HSM refused");
                    self.end_operation(None, "HSM refused.", out);
                } else {
                    out.push(Effect::SendFrame(frame::handshake_failed()));
                }
                return;
            }
        };
        let peer_failed = frame.frame_type == FrameType::HandshakeFailed;
        match state.receive_finished(frame) {
            Ok(session) => {
                self.log.push("HSM connected");
                if let Some(rpk) = rpk {
                    self.rpks.insert(hsm.clone(), rpk);
                }
                self.channel = Channel::Open { session, hsm };
            }
            Err(_) => {
                if cached {
                    self.rpks.remove(&hsm);
                }
                if !peer_failed {
                    out.push(Effect::SendFrame(frame::handshake_failed()));
                }
                self.log.push("HSM refused");
                self.overlay = Some(screens::operation_ended("Connection", "HSM refused."));
            }
        }
    }

    fn record(&mut self, frame: Frame<'_>, out: &mut Vec<Effect>) {
        let Channel::Open { session, .. } = &mut self.channel else {
            out.push(Effect::SendFrame(frame::handshake_failed()));
            return;
        };
        match session.open(frame) {
            Ok(Opened::Data(payload)) => match HsmCommand::decode(&payload) {
                Ok(command) => self.command(command, out),
                Err(_) => {
                    self.log.push("Bad HSM command");
                    self.reply(&PedReply::Failed(PedFailure::Busy), out);
                }
            },
            Ok(Opened::Closed) => {
                self.channel_lost("HSM disconnected.");
            }
            Err(_) => {
                out.push(Effect::SendFrame(frame::handshake_failed()));
                self.channel_lost("Connection lost.");
            }
        }
    }

    fn command(&mut self, command: HsmCommand, out: &mut Vec<Effect>) {
        if command == HsmCommand::Cancel {
            if self.ui.serves_command() {
                self.log.push("Cancelled by HSM");
                self.end_operation(Some(PedFailure::Cancelled), "Cancelled by HSM.", out);
            }
            return;
        }
        if self.ui.serves_command() || !matches!(self.ui, Ui::Home | Ui::ExitWarning) {
            self.reply(&PedReply::Failed(PedFailure::Busy), out);
            return;
        }
        let title = if self.mode == PedMode::Remote { "Remote PED mode" } else { "Local PED-USB mode" };
        out.push(Effect::Draw(screens::token_found(title)));
        self.drawn = screens::token_found(title);
        self.overlay = None;
        match command {
            HsmCommand::ReadKeyset { prompt } => {
                self.log.push(&screens::activity_line(prompt.role, prompt.activity));
                self.ui = Ui::Login(Gather::login(&prompt));
            }
            HsmCommand::CreateKeyset { prompt, offer_reuse, shape } => {
                self.log.push(&screens::activity_line(prompt.role, prompt.activity));
                match Create::start(&prompt, offer_reuse, shape) {
                    Ok(create) => self.ui = Ui::Create(create),
                    Err(created) => {
                        self.ui = Ui::Home;
                        return self.reply(&answer_created(created), out);
                    }
                }
            }
            HsmCommand::WriteSplits { prompt, splits, offer_duplicates } => {
                self.log.push(&screens::activity_line(prompt.role, prompt.activity));
                self.ui = Ui::Write(Writer::new(&prompt, splits, offer_duplicates));
            }
            HsmCommand::DuplicateKeyset { prompt } => {
                self.log.push("Duplicate keyset");
                self.ui = Ui::Copy(Copier::new(Header::of(&prompt), Some(prompt.role.colour())));
            }
            HsmCommand::Cancel => {}
        }
        self.start_deadline();
    }
}

/// One step of the foreground flow.
fn step(ui: &mut Ui, input: Input, ctx: &mut Ctx<'_>) -> Outcome {
    match (ui, input) {
        (Ui::Password(password), Input::Button(button)) => {
            if let Flow::Done(()) = password.on_button(button, ctx) {
                return Outcome::Password;
            }
        }
        (Ui::Orange { reader, splits, .. }, input) => {
            let flow = match input {
                Input::Button(b) => reader.on_button(b, ctx),
                Input::KeyRead(r) => reader.on_key_read(r, ctx),
                Input::KeyWritten(_) => Flow::Continue,
            };
            match flow {
                Flow::Continue => {}
                Flow::Failed(f) => return Outcome::Failed(f),
                Flow::Done(accepted) => {
                    let complete = accepted.complete;
                    if let Ok(split) = Split::new(accepted.info, accepted.value) {
                        splits.push(split);
                    }
                    if complete {
                        return Outcome::OrangeComplete;
                    }
                }
            }
        }
        (Ui::Login(gather), input) => {
            let flow = match input {
                Input::Button(b) => gather.on_button(b, ctx),
                Input::KeyRead(r) => gather.on_key_read(r, ctx),
                Input::KeyWritten(_) => Flow::Continue,
            };
            return outcome(flow, PedReply::Splits);
        }
        (Ui::Create(create), input) => {
            let flow = match input {
                Input::Button(b) => create.on_button(b, ctx),
                Input::KeyRead(r) => create.on_key_read(r, ctx),
                Input::KeyWritten(r) => create.on_key_written(r, ctx),
            };
            return outcome(flow, answer_created);
        }
        (Ui::Write(writer), input) => {
            let flow = match input {
                Input::Button(b) => writer.on_button(b, ctx),
                Input::KeyRead(r) => {
                    writer.on_key_read(r, ctx);
                    Flow::Continue
                }
                Input::KeyWritten(r) => writer.on_key_written(r, ctx),
            };
            return outcome(flow, |w| PedReply::Written { keys: w.keys, duplicate_sets: w.duplicate_sets });
        }
        (Ui::Copy(copier), input) => {
            let flow = match input {
                Input::Button(b) => copier.on_button(b, ctx),
                Input::KeyRead(r) => copier.on_key_read(r, ctx),
                Input::KeyWritten(r) => copier.on_key_written(r, ctx),
            };
            return outcome(flow, |keys| PedReply::Duplicated { keys });
        }
        (Ui::Admin(admin), input) => match input {
            Input::Button(b) => match admin.on_button(b, ctx) {
                AdminStep::Exit => return Outcome::LeaveAdmin,
                AdminStep::SoftwareUpdate => return Outcome::SoftwareUpdate,
                AdminStep::Stay => {}
            },
            Input::KeyRead(r) => admin.on_key_read(r, ctx),
            Input::KeyWritten(r) => admin.on_key_written(r, ctx),
        },
        _ => {}
    }
    Outcome::Continue
}

fn outcome<T>(flow: Flow<T>, answer: impl FnOnce(T) -> PedReply) -> Outcome {
    match flow {
        Flow::Continue => Outcome::Continue,
        Flow::Done(value) => Outcome::Answer(answer(value)),
        Flow::Failed(failure) => Outcome::Failed(failure),
    }
}

fn answer_created(created: Created) -> PedReply {
    match created {
        Created::Reused(splits) => PedReply::Reused(splits),
        Created::Shape(q) => PedReply::Shape(q),
    }
}

/// The flash as Software Update takes it (one copy of its code for every `F`).
fn dyn_flash<F: ImageSlots>(flash: &mut Option<F>) -> Option<&mut dyn ImageSlots> {
    flash.as_mut().map(|f| f as &mut dyn ImageSlots)
}

/// The HSM's serial number: its certificate's, which the hello's must equal (checked
/// by the handshake), printable ASCII.
fn hsm_label(hello: &HelloReceived) -> String {
    hello.hsm_id().iter().map(|&b| char::from(b)).collect()
}

fn failure_text(failure: PedFailure) -> &'static str {
    match failure {
        PedFailure::Timeout => "Operation timed out.",
        PedFailure::Cancelled => "Operation cancelled.",
        PedFailure::KeyMissing => "No PED Key.",
        PedFailure::KeyBlank => "PED Key is blank.",
        PedFailure::KeyWriteFailed => "Key write failed.",
        PedFailure::BadKeyContent => "PED Key damaged.",
        PedFailure::Busy => "PED error.",
        PedFailure::OldKeyFormat => "This PED Key is from\nan older format:\nre-create it.",
    }
}
