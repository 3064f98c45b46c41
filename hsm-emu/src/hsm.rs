//! The HSM's logic, sans-IO: roles and their keysets, the failed-login rules, RPV
//! rotation, and each administrator command as a state machine over PED commands.
//!
//! [`Hsm::begin`] turns a [`Request`] into an [`Operation`] and the first
//! [`HsmCommand`]; every [`PedReply`] goes to [`Hsm::on_reply`], which answers with
//! the next command, a wait (a PED notice: never a failure) or the end. Nothing is
//! changed until an operation completes, except the failed-login counters, which
//! change exactly when a full quorum reassembled to a secret the verifier refused.
//! The caller carries the commands over a channel, persists [`Hsm::state`] whenever
//! [`Hsm::take_dirty`] says so, and owns the clock and the RNG.

use std::collections::VecDeque;

use ped_proto::EcdhPublicKey;
use ped_proto::ErrorCode;
use ped_proto::cert::CertificateAuthority;
use ped_proto::command::{Activity, HsmCommand, Notice, PedFailure, PedReply, Prompt, Role, ShapeChoice, WrappedSplit};
use ped_proto::factory::Factory;
use ped_proto::handshake::ChannelKind;
use ped_proto::handshake::hsm::HsmIdentity;
use ped_proto::orange::{ORANGE_SEED_LEN, RpkEntry, RpvRing};
use ped_proto::quorum::{self, KEYSET_ID_LEN, KeysetId, Quorum, Split, VERIFIER_LEN, Verifier};
use ped_proto::record::ChannelSession;
use ped_proto::secrets::{RPV_LEN, Rpv};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::{HsmCode, HsmError};
use crate::state::{AuthorityRecord, HsmState, IdentityRecord, KeysetRecord, PartitionState, RpvRecord, Store};

/// Length of every role secret the HSM generates.
pub const SECRET_LEN: usize = 32;
/// Consecutive failed HSM SO logins that zeroise the HSM.
pub const HSM_SO_MAX_FAILURES: u32 = 3;
/// Consecutive failed Partition SO logins that zeroise the partition.
pub const PARTITION_SO_MAX_FAILURES: u32 = 10;
/// Consecutive failed logins (partition policy 20) that lock CO and CU, counted
/// together, or the Limited Crypto Officer, counted on its own.
pub const USER_MAX_FAILURES: u32 = 10;
/// Consecutive failed RPV logins (this project's rule; the seed has none) after which
/// the HSM erases its RPV: remote PED access then needs `ped vector init` at a local
/// PED, where the orange keyset may be reused.
pub const RPV_MAX_FAILURES: u32 = 10;
/// HSM policy 15, "Enable SO reset of partition PIN": the one HSM policy modelled.
pub const POLICY_SO_RESET_PARTITION_PIN: u32 = 15;

/// A role name as `role … -name` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleName {
    /// HSM SO (`so`).
    So,
    /// Partition SO (`po`).
    Po,
    /// Crypto Officer (`co`).
    Co,
    /// Crypto User (`cu`).
    Cu,
    /// Limited Crypto Officer (`lco`; seed 6643-6693): made and reset by the CO, its own
    /// failed-login counter and lockout.
    Lco,
    /// Auditor (`au`).
    Au,
}

impl RoleName {
    /// Parses `so`, `po`, `co`, `lco`, `cu`, `au`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "so" => Some(RoleName::So),
            "po" => Some(RoleName::Po),
            "co" => Some(RoleName::Co),
            "cu" => Some(RoleName::Cu),
            "lco" => Some(RoleName::Lco),
            "au" => Some(RoleName::Au),
            _ => None,
        }
    }

    /// The role as the seed names it in prose ("log in as Crypto Officer first").
    pub const fn title(self) -> &'static str {
        match self {
            RoleName::So => "HSM SO",
            RoleName::Po => "Partition SO",
            RoleName::Co => "Crypto Officer",
            RoleName::Cu => "Crypto User",
            RoleName::Lco => "Limited Crypto Officer",
            RoleName::Au => "Auditor",
        }
    }

    /// The PED's role for it.
    pub const fn role(self) -> Role {
        match self {
            RoleName::So => Role::HsmSo,
            RoleName::Po => Role::PartitionSo,
            RoleName::Co => Role::CryptoOfficer,
            RoleName::Cu => Role::CryptoUser,
            RoleName::Lco => Role::LimitedCryptoOfficer,
            RoleName::Au => Role::Auditor,
        }
    }
}

/// An administrator command that needs the PED.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `hsm init -label L`: HSM SO (blue) and HSM domain (red) keysets.
    HsmInit {
        /// The HSM label.
        label: String,
    },
    /// `partition init -label L`: Partition SO (blue) and partition domain (red).
    PartitionInit {
        /// The partition label.
        label: String,
    },
    /// `role login -name …`.
    Login(RoleName),
    /// `role init -name co|lco|cu|au`: the CO by the Partition SO, the LCO by the CO,
    /// the CU by the CO or the LCO (seed 6660).
    RoleInit(RoleName),
    /// `role changepw -name …`: the old keyset, then a new one.
    ChangePw(RoleName),
    /// `role resetpw -name co|lco|cu` (seed 5118-5142, 6815-6842): a new keyset for a
    /// role whose keys are lost or locked out, the old one never read; the CO's by the
    /// Partition SO (only with HSM policy 15 on), the LCO's and the CU's by the CO
    /// (whatever policy 15 says, seed 6842).
    ResetPw(RoleName),
    /// `ped vector init`: a new orange keyset (RPV and RPK).
    VectorInit,
}

impl Request {
    /// Whether the command is allowed over a one-time-password channel (only RPV
    /// initialisation is: the channel exists for it).
    pub fn allowed_over_password(&self) -> bool {
        matches!(self, Request::VectorInit)
    }
}

/// What [`Hsm::on_reply`] wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this command to the PED.
    Send(HsmCommand),
    /// The PED reported a notice; keep waiting for its next reply.
    Wait(Notice),
    /// The operation completed.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Task {
    Verify(Role, Activity),
    Create(Role),
}

#[derive(Debug)]
enum Stage {
    Reading(Role),
    Shaping(Role),
    Writing { role: Role, record: KeysetRecord },
}

/// One administrator command in progress.
#[derive(Debug)]
pub struct Operation {
    request: Request,
    stage: Stage,
    tasks: VecDeque<Task>,
    created: Vec<(Role, KeysetRecord)>,
}

impl Operation {
    /// The command this operation carries out.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// While the PED writes a new keyset (WriteSplits sent, Written not yet back): its
    /// role and its number of keys, N.
    pub fn writing(&self) -> Option<(Role, u8)> {
        match &self.stage {
            Stage::Writing { role, record } => Some((*role, record.n)),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Logins {
    so: bool,
    au: bool,
    po: bool,
    co: bool,
    cu: bool,
    lco: bool,
}

impl Logins {
    /// Ends the partition's sessions (Partition SO, CO, CU, LCO): its roles were erased
    /// or replaced.
    fn leave_partition(&mut self) {
        (self.po, self.co, self.cu, self.lco) = (false, false, false, false);
    }
}

/// The emulated HSM.
#[derive(Debug)]
pub struct Hsm {
    serial: String,
    factory: Factory,
    identity: HsmIdentity,
    state: HsmState,
    ring: RpvRing,
    /// The RPK certificates of the RPV in force and of one being written.
    rpk_cert: Option<Vec<u8>>,
    pending_rpk_cert: Option<Vec<u8>>,
    logins: Logins,
    /// The firmware version of an HSM on 7.4.2 or older, which has no LCO.
    firmware_without_lco: Option<String>,
    dirty: bool,
}

impl Hsm {
    /// Loads the HSM from `store`, manufacturing it first (serial `serial`, a fresh
    /// root → MIC → HOC) if the directory holds none. Either way a fresh static key
    /// with a HOC-signed certificate is made, as at every start.
    pub fn start<R: CryptoRng + ?Sized>(store: &Store, serial: &str, rng: &mut R, now: u64) -> Result<Self, HsmError> {
        Self::start_from(store, serial, None, rng, now)
    }

    /// [`Hsm::start`]; a new HSM is manufactured in the factory of the HSM whose state
    /// is `manufacturer` (its root and MIC), when given.
    pub fn start_from<R: CryptoRng + ?Sized>(
        store: &Store,
        serial: &str,
        manufacturer: Option<&Store>,
        rng: &mut R,
        now: u64,
    ) -> Result<Self, HsmError> {
        let general = |e: &dyn std::fmt::Display| HsmError::hsm(HsmCode::GeneralError, e.to_string());
        let authority = |a: &AuthorityRecord| -> Result<CertificateAuthority, HsmError> {
            let key = Zeroizing::new(hex::decode(a.key.as_bytes()).map_err(|e| general(&e))?);
            let cert = hex::decode(&a.cert).map_err(|e| general(&e))?;
            CertificateAuthority::from_parts(&key, &cert).map_err(|e| general(&e))
        };
        let (serial, factory) = match store.load_identity().map_err(|e| general(&e))? {
            Some(record) => {
                let factory = Factory {
                    root: authority(&record.root)?,
                    mic: authority(&record.mic)?,
                    hoc: authority(&record.hoc)?,
                };
                (record.serial, factory)
            }
            None => {
                if serial.is_empty() || serial.len() > 32 || !serial.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(HsmError::hsm(HsmCode::ArgumentsBad, "the serial must be 1-32 printable characters"));
                }
                let factory = match manufacturer {
                    None => Factory::manufacture(rng, serial, now),
                    Some(other) => {
                        let record = other.load_identity().map_err(|e| general(&e))?.ok_or_else(|| {
                            HsmError::hsm(HsmCode::ArgumentsBad, "--manufacturer names a directory with no HSM in it")
                        })?;
                        Factory::manufacture_under(authority(&record.root)?, authority(&record.mic)?, rng, serial, now)
                    }
                }
                .map_err(|e| general(&e))?;
                let record = |a: &CertificateAuthority| AuthorityRecord {
                    cert: hex::encode(a.certificate_der()),
                    key: Zeroizing::new(hex::encode(a.signing_key_bytes().as_slice())),
                };
                let identity = IdentityRecord {
                    serial: serial.to_owned(),
                    manufactured: now,
                    root: record(&factory.root),
                    mic: record(&factory.mic),
                    hoc: record(&factory.hoc),
                };
                store.save_identity(&identity, factory.root.certificate_der()).map_err(|e| general(&e))?;
                (serial.to_owned(), factory)
            }
        };
        let state = store.load_state().map_err(|e| general(&e))?;
        let current = state.rpv.as_ref().map(rpk_entry).transpose()?.flatten();
        let rpk_cert = current.as_ref().and(state.rpv.as_ref()).and_then(|r| hex::decode(&r.cert).ok());
        let identity = factory.hsm_identity(rng, &serial, now).map_err(|e| general(&e))?;
        Ok(Hsm {
            serial,
            factory,
            identity,
            state,
            ring: RpvRing::new(current),
            rpk_cert,
            pending_rpk_cert: None,
            logins: Logins::default(),
            firmware_without_lco: None,
            dirty: false,
        })
    }

    /// The serial number.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// What the HSM presents in every handshake.
    pub fn identity(&self) -> &HsmIdentity {
        &self.identity
    }

    /// The factory root certificate (DER) that PEDs must trust.
    pub fn root_der(&self) -> &[u8] {
        self.factory.root.certificate_der()
    }

    /// The RPVs a C(2e,2s) handshake may use now.
    pub fn rpks(&self) -> &[RpkEntry] {
        self.ring.accepted()
    }

    /// What is persisted.
    pub fn state(&self) -> &HsmState {
        &self.state
    }

    /// Whether the persisted state changed since the last call.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Whether the HSM is zeroised (uninitialised).
    pub fn is_zeroised(&self) -> bool {
        self.state.label.is_none()
    }

    /// Whether an RPV is initialised.
    pub fn has_rpv(&self) -> bool {
        self.ring.current().is_some()
    }

    /// Whether `role` is logged in.
    pub fn is_logged_in(&self, role: RoleName) -> bool {
        match role {
            RoleName::So => self.logins.so,
            RoleName::Au => self.logins.au,
            RoleName::Po => self.logins.po,
            RoleName::Co => self.logins.co,
            RoleName::Cu => self.logins.cu,
            RoleName::Lco => self.logins.lco,
        }
    }

    /// The HSM runs firmware `version`, 7.4.2 or older (`serve --firmware`), which has no
    /// Limited Crypto Officer (seed 6844: "LCO is applicable to Luna HSM Firmware 7.7.0
    /// and newer"): every `-name lco` command is refused.
    pub fn set_firmware_without_lco(&mut self, version: String) {
        self.firmware_without_lco = Some(version);
    }

    /// `ped set -ip -port`: the default Remote PED server.
    pub fn set_ped_default(&mut self, ip: Option<String>, port: Option<u16>) {
        if ip.is_some() {
            self.state.ped_ip = ip;
        }
        if port.is_some() {
            self.state.ped_port = port;
        }
        self.dirty = true;
    }

    /// `hsm factoryreset` (seed 5071, 11636-11644): the HSM goes back to how it left the
    /// factory. Its roles, label, counters, partition and RPV are erased; its factory
    /// identity (serial, root, MIC, HOC) stays, and so do the PED defaults of `ped set`,
    /// which say where the Remote PED server is, not who may use the HSM. No PED is
    /// needed: the lost HSM SO keyset is why it is run.
    pub fn factory_reset(&mut self) {
        let (ped_ip, ped_port) = (self.state.ped_ip.take(), self.state.ped_port.take());
        self.state = HsmState { version: self.state.version, ped_ip, ped_port, ..HsmState::default() };
        self.ring.erase();
        self.rpk_cert = None;
        self.pending_rpk_cert = None;
        self.logins = Logins::default();
        self.dirty = true;
    }

    /// A C(2e,2s) handshake whose PED tag did not verify for an orange keyset this HSM
    /// holds: a wrong orange PIN, a wrong orange key of that keyset, or a forger. The
    /// RPV-login rule (docs/hsm-emu.md): at [`RPV_MAX_FAILURES`] consecutive failures
    /// the RPV is erased. Returns the error to report.
    pub fn count_rpv_failure(&mut self) -> HsmError {
        self.dirty = true;
        self.state.rpv_failures += 1;
        let n = self.state.rpv_failures;
        if n >= RPV_MAX_FAILURES {
            self.ring.erase();
            self.rpk_cert = None;
            self.state.rpv = None;
            self.state.rpv_failures = 0;
            return HsmError::hsm(
                HsmCode::PinIncorrect,
                format!(
                    "{n} consecutive failed RPV logins: the RPV is erased; run `ped vector init` at a local PED \
                     (answer YES to reuse the orange keyset)"
                ),
            );
        }
        HsmError::hsm(
            HsmCode::PinIncorrect,
            format!(
                "the orange key's PIN, or the orange key, is not this HSM's RPV ({n} of {RPV_MAX_FAILURES} \
                 consecutive failures erase the RPV)"
            ),
        )
    }

    /// A C(2e,2s) handshake succeeded: the RPV-login counter starts again.
    pub fn reset_rpv_failures(&mut self) {
        if self.state.rpv_failures != 0 {
            self.state.rpv_failures = 0;
            self.dirty = true;
        }
    }

    /// `partition create`, by the HSM SO (seed 5095, 5113): a new partition, not yet
    /// initialised; its Partition SO runs `partition init`. This HSM has one partition.
    pub fn create_partition(&mut self) -> Result<(), HsmError> {
        self.hsm_so_session()?;
        if self.state.partition.is_some() {
            return Err(HsmError::hsm(
                HsmCode::NotAllowed,
                "this HSM has its one partition already; `partition delete` it first",
            ));
        }
        self.state.partition = Some(PartitionState::default());
        self.dirty = true;
        Ok(())
    }

    /// `partition delete`, by the HSM SO (seed 5095, 5118): the partition and its roles
    /// are erased, and whoever was logged in to it is logged out.
    pub fn delete_partition(&mut self) -> Result<(), HsmError> {
        self.hsm_so_session()?;
        if self.state.partition.take().is_none() {
            return Err(HsmError::hsm(HsmCode::NotInitialized, "there is no partition to delete"));
        }
        self.logins.leave_partition();
        self.dirty = true;
        Ok(())
    }

    /// `hsm changepolicy -policy P -value V`, by the HSM SO. Only HSM policy 15 "Enable
    /// SO reset of partition PIN" is modelled (0 or 1); any other is refused. Turning it
    /// on is destructive (seed 6819-6821): an existing partition and its contents are
    /// erased, so with a partition present it takes `confirmed` (lunacm's question;
    /// `-force` on the control socket) and without it nothing changes. Returns whether
    /// a partition was erased.
    pub fn change_policy(&mut self, policy: u32, value: u32, confirmed: bool) -> Result<bool, HsmError> {
        if policy != POLICY_SO_RESET_PARTITION_PIN {
            return Err(HsmError::hsm(
                HsmCode::ArgumentsBad,
                format!(
                    "HSM policy {policy} is not modelled; this HSM changes only policy 15 \
                     (Enable SO reset of partition PIN)"
                ),
            ));
        }
        let on = match value {
            0 => false,
            1 => true,
            _ => return Err(HsmError::hsm(HsmCode::ArgumentsBad, "HSM policy 15 takes -value 0 or 1")),
        };
        self.hsm_so_session()?;
        if on == self.state.so_reset_partition_pin {
            return Ok(false);
        }
        let destroys = on && self.state.partition.is_some();
        if destroys && !confirmed {
            return Err(HsmError::hsm(
                HsmCode::ArgumentsBad,
                "turning HSM policy 15 on destroys the partition and its contents; nothing was changed. \
                 Run `hsm changepolicy -policy 15 -value 1 -force` to go ahead.",
            ));
        }
        if destroys {
            self.state.partition = None;
            self.logins.leave_partition();
        }
        self.state.so_reset_partition_pin = on;
        self.dirty = true;
        Ok(destroys)
    }

    fn hsm_so_session(&self) -> Result<(), HsmError> {
        if self.is_zeroised() {
            return Err(HsmError::hsm(HsmCode::NotInitialized, "the HSM is not initialised; run `hsm init` first"));
        }
        if !self.logins.so {
            return Err(HsmError::hsm(HsmCode::UserNotLoggedIn, "log in as HSM SO first"));
        }
        Ok(())
    }

    /// Starts `request` over a channel of `kind`; returns the first PED command.
    pub fn begin(&mut self, request: Request, kind: ChannelKind) -> Result<(Operation, HsmCommand), HsmError> {
        if kind == ChannelKind::RemotePassword && !request.allowed_over_password() {
            return Err(HsmError::hsm(
                HsmCode::NotAllowed,
                "a one-time-password connection serves `ped vector init` only; initialise the RPV first",
            ));
        }
        self.check(&request, kind)?;
        let tasks: VecDeque<Task> = match &request {
            Request::HsmInit { .. } => [Task::Create(Role::HsmSo), Task::Create(Role::HsmDomain)].into(),
            Request::PartitionInit { .. } => {
                [Task::Create(Role::PartitionSo), Task::Create(Role::PartitionDomain)].into()
            }
            Request::Login(r) => [Task::Verify(r.role(), Activity::Login)].into(),
            Request::RoleInit(r) => [Task::Create(r.role())].into(),
            Request::ChangePw(r) => [Task::Verify(r.role(), Activity::Reading), Task::Create(r.role())].into(),
            Request::ResetPw(r) => [Task::Create(r.role())].into(),
            Request::VectorInit => [Task::Create(Role::Rpv)].into(),
        };
        let mut op = Operation { request, stage: Stage::Shaping(Role::HsmSo), tasks, created: Vec::new() };
        let first = self.next_task(&mut op).ok_or_else(|| HsmError::ped(ErrorCode::PedError))?;
        Ok((op, first))
    }

    /// Takes the PED's reply to the operation's last command.
    pub fn on_reply<R: CryptoRng + ?Sized>(
        &mut self,
        op: &mut Operation,
        reply: PedReply,
        session: &ChannelSession,
        rng: &mut R,
        now: u64,
    ) -> Result<Step, HsmError> {
        let result = self.step(op, reply, session, rng, now);
        if result.is_err() {
            self.abort();
        }
        result
    }

    /// The channel went away mid-operation: nothing of it is kept, and a rotation in
    /// progress is dropped (the old RPV stays in force).
    pub fn abort(&mut self) {
        self.ring.complete(0, 0);
        self.pending_rpk_cert = None;
    }

    fn step<R: CryptoRng + ?Sized>(
        &mut self,
        op: &mut Operation,
        reply: PedReply,
        session: &ChannelSession,
        rng: &mut R,
        now: u64,
    ) -> Result<Step, HsmError> {
        match reply {
            // Wrong colour, a repeated split, no key: the PED re-prompts; never counted.
            PedReply::Notice(notice) => return Ok(Step::Wait(notice)),
            PedReply::Failed(PedFailure::OldKeyFormat) => {
                return Err(HsmError::ped_with(
                    ErrorCode::CkrDeviceError,
                    "a PED key presented is of an older format, which this PED no longer reads \
                     (protocol.md §13.1); re-create that keyset with new keys (`role init`, `hsm init` or \
                     `ped vector init`), then use them",
                ));
            }
            PedReply::Failed(failure) => return Err(HsmError::ped(failure.code())),
            _ => {}
        }
        match (&op.stage, reply) {
            (Stage::Reading(role), PedReply::Splits(splits)) => {
                let role = *role;
                let secret = unwrap_and_reassemble(&splits, session)?;
                let record = self.record(role).ok_or_else(|| not_initialised(role))?;
                if !verify(&record, secret.as_ref().map(|s| s.as_slice())) {
                    return Err(self.count_failure(role));
                }
                self.reset_failures(role);
            }
            (Stage::Shaping(Role::Rpv), PedReply::Reused(splits)) => {
                let seed = unwrap_and_reassemble(&splits, session)?
                    .ok_or_else(|| HsmError::ped(ErrorCode::PedProtocolError))?;
                let (entry, cert) = self.new_rpv(*splits[0].info.keyset_id(), &seed, rng, now)?;
                // Nothing is written: the reused keyset is in force at once. Its PIN is
                // not checked here (nothing can check it without also offering an
                // offline test): a wrong one makes an RPV that the orange key opens
                // only with that same PIN (docs/hsm-emu.md).
                self.ring.replace(entry);
                self.rpk_cert = Some(cert);
            }
            (Stage::Shaping(role), PedReply::Reused(splits)) => {
                let role = *role;
                let secret = unwrap_and_reassemble(&splits, session)?
                    .ok_or_else(|| HsmError::ped(ErrorCode::PedProtocolError))?;
                let id = *splits[0].info.keyset_id();
                let q = splits[0].info.quorum();
                op.created.push((role, keyset_record(&id, &secret, q)));
            }
            (Stage::Shaping(role), PedReply::Shape(q)) => {
                let role = *role;
                let id = KeysetId::generate(rng);
                let len = if role == Role::Rpv { ORANGE_SEED_LEN } else { SECRET_LEN };
                let mut secret = Zeroizing::new(vec![0u8; len]);
                rng.fill_bytes(&mut secret);
                if role == Role::Rpv {
                    let (entry, cert) = self.new_rpv(id, &secret, rng, now)?;
                    self.ring.begin(entry);
                    self.pending_rpk_cert = Some(cert);
                }
                let splits = quorum::split_secret(&secret, q, id, rng).map_err(ped_proto::Error::from)?;
                let wrapped = splits
                    .iter()
                    .map(|s| Ok(WrappedSplit { info: *s.info(), wrapped: session.wrap_csp(s.expose_value())? }))
                    .collect::<Result<Vec<_>, ped_proto::Error>>()?;
                let record = keyset_record(&id, &secret, q);
                op.stage = Stage::Writing { role, record };
                return Ok(Step::Send(HsmCommand::WriteSplits {
                    prompt: self.prompt(role, Activity::Setting),
                    splits: wrapped,
                    offer_duplicates: true,
                }));
            }
            (Stage::Writing { role, record }, PedReply::Written { keys, .. }) => {
                if keys < record.n {
                    return Err(HsmError::hsm(
                        HsmCode::GeneralError,
                        format!("the PED wrote {keys} of {} keys; run the command again", record.n),
                    ));
                }
                if *role == Role::Rpv {
                    if !self.ring.complete(keys, record.n) {
                        return Err(HsmError::ped(ErrorCode::PedError));
                    }
                    self.rpk_cert = self.pending_rpk_cert.take();
                }
                op.created.push((*role, record.clone()));
            }
            _ => return Err(HsmError::ped(ErrorCode::PedProtocolError)),
        }
        match self.next_task(op) {
            Some(command) => Ok(Step::Send(command)),
            None => {
                self.commit(op);
                Ok(Step::Done)
            }
        }
    }

    fn next_task(&self, op: &mut Operation) -> Option<HsmCommand> {
        let task = op.tasks.pop_front()?;
        Some(match task {
            Task::Verify(role, activity) => {
                op.stage = Stage::Reading(role);
                HsmCommand::ReadKeyset { prompt: self.prompt(role, activity) }
            }
            Task::Create(role) => {
                op.stage = Stage::Shaping(role);
                HsmCommand::CreateKeyset {
                    prompt: self.prompt(role, Activity::Setting),
                    // Every keyset may be reused (seed 3861-3868), the orange one on any
                    // channel: one orange keyset may serve many HSMs (seed 3335-3341).
                    offer_reuse: true,
                    shape: ShapeChoice::OnPed,
                }
            }
        })
    }

    /// The HSM's entry for an orange seed, and the RPK certificate its HOC issues for
    /// the derived RPK public key (seed 3780).
    fn new_rpv<R: CryptoRng + ?Sized>(
        &self,
        keyset_id: KeysetId,
        seed: &[u8],
        rng: &mut R,
        now: u64,
    ) -> Result<(RpkEntry, Vec<u8>), HsmError> {
        let entry = RpkEntry::from_seed(keyset_id, seed).map_err(|_| {
            HsmError::hsm(
                HsmCode::NotAllowed,
                "the keys presented do not hold an orange keyset of the current format; run `ped vector init` \
                 again and answer NO to reuse to write a new orange keyset",
            )
        })?;
        let cert = self
            .factory
            .certify_rpk(rng, &self.serial, &entry.public_key, now)
            .map_err(|e| HsmError::hsm(HsmCode::GeneralError, e.to_string()))?;
        Ok((entry, cert))
    }

    fn prompt(&self, role: Role, activity: Activity) -> Prompt {
        let label = match role {
            Role::PartitionSo
            | Role::PartitionDomain
            | Role::CryptoOfficer
            | Role::CryptoUser
            | Role::LimitedCryptoOfficer => self.state.partition.as_ref().map(|p| p.label.clone()),
            _ => self.state.label.clone(),
        };
        let slot = label
            .filter(|l| valid_label(l))
            .unwrap_or_else(|| self.serial.chars().take(ped_proto::command::MAX_SLOT_LEN).collect());
        Prompt { slot, role, activity }
    }

    fn check(&self, request: &Request, kind: ChannelKind) -> Result<(), HsmError> {
        let login_needed = |what: &str| HsmError::hsm(HsmCode::UserNotLoggedIn, format!("log in as {what} first"));
        let hsm_initialised = || {
            if self.is_zeroised() {
                Err(HsmError::hsm(HsmCode::NotInitialized, "the HSM is not initialised; run `hsm init` first"))
            } else {
                Ok(())
            }
        };
        let partition = || {
            self.state.partition.as_ref().filter(|p| p.so.is_some()).ok_or_else(|| {
                HsmError::hsm(HsmCode::NotInitialized, "the partition is not initialised; run `partition init` first")
            })
        };
        if let (
            Some(version),
            Request::Login(RoleName::Lco)
            | Request::RoleInit(RoleName::Lco)
            | Request::ChangePw(RoleName::Lco)
            | Request::ResetPw(RoleName::Lco),
        ) = (&self.firmware_without_lco, request)
        {
            return Err(HsmError::hsm(
                HsmCode::NotAllowed,
                format!(
                    "this HSM runs firmware {version}, which has no Limited Crypto Officer: the role needs firmware \
                     7.7.0 or newer"
                ),
            ));
        }
        match request {
            Request::HsmInit { label } | Request::PartitionInit { label } if !valid_label(label) => {
                return Err(HsmError::hsm(HsmCode::ArgumentsBad, "a label is 1-16 printable characters"));
            }
            Request::HsmInit { .. } if !self.is_zeroised() && !self.logins.so => return Err(login_needed("HSM SO")),
            Request::HsmInit { .. } => {}
            Request::PartitionInit { .. } => {
                hsm_initialised()?;
                let Some(p) = self.state.partition.as_ref() else {
                    return Err(HsmError::hsm(
                        HsmCode::NotInitialized,
                        "there is no partition; the HSM SO makes one with `partition create`",
                    ));
                };
                // A new (or zeroised) partition is initialised by whoever becomes its SO;
                // an initialised one only by its SO.
                if p.so.is_some() && !self.logins.po {
                    return Err(login_needed("Partition SO"));
                }
            }
            Request::Login(role) => {
                match role {
                    RoleName::So | RoleName::Au => hsm_initialised()?,
                    RoleName::Po => {
                        partition()?;
                    }
                    RoleName::Co | RoleName::Cu => {
                        if partition()?.users_locked {
                            // Seed 6756-6759: policy 15 makes the lockout one the Partition SO lifts.
                            let remedy = if self.state.so_reset_partition_pin {
                                "the Partition SO resets the CO with `role resetpw -name co`"
                            } else {
                                "HSM policy 15 is 0, so the lockout is for good: the Partition SO re-initialises \
                                 the partition (`partition init`, which destroys its contents) and the Crypto Officer"
                            };
                            return Err(HsmError::hsm(
                                HsmCode::PinLocked,
                                format!("CO and CU are locked out by failed logins; {remedy}"),
                            ));
                        }
                    }
                    RoleName::Lco => {
                        if partition()?.lco_locked {
                            return Err(HsmError::hsm(
                                HsmCode::PinLocked,
                                "the Limited Crypto Officer is locked out by failed logins (the CO and CU are not); \
                                 the Crypto Officer resets it with `role resetpw -name lco`",
                            ));
                        }
                    }
                }
                if self.record(role.role()).is_none() {
                    return Err(not_initialised(role.role()));
                }
            }
            Request::RoleInit(role) => match role {
                RoleName::Co if !self.logins.po => return Err(login_needed("Partition SO")),
                RoleName::Lco if !self.logins.co => return Err(login_needed("Crypto Officer")),
                // Seed 6660: the LCO, too, initialises the Crypto User.
                RoleName::Cu if !self.logins.co && !self.logins.lco => {
                    return Err(login_needed("Crypto Officer (or Limited Crypto Officer)"));
                }
                RoleName::Co | RoleName::Lco | RoleName::Cu => {
                    // Seed 6756-6759: a credential already there is replaced only by a
                    // reset (policy 15 for the CO) or by re-initialising the partition; an
                    // init over it would be a way around policy 15 and the lockouts.
                    let p = partition()?;
                    let (there, remedy) = match role {
                        RoleName::Co => (
                            p.co.is_some(),
                            "the Partition SO replaces it with `role resetpw -name co` (HSM policy 15 at 1) or \
                             re-initialises the partition (`partition init`, which destroys its contents)",
                        ),
                        RoleName::Lco => {
                            (p.lco.is_some(), "the Crypto Officer replaces it with `role resetpw -name lco`")
                        }
                        _ => (p.cu.is_some(), "the Crypto Officer replaces it with `role resetpw -name cu`"),
                    };
                    if there {
                        return Err(HsmError::hsm(
                            HsmCode::NotAllowed,
                            format!("the {} is already initialised; {remedy}", role.title()),
                        ));
                    }
                }
                RoleName::Au => hsm_initialised()?,
                RoleName::So | RoleName::Po => {
                    return Err(HsmError::hsm(
                        HsmCode::ArgumentsBad,
                        "the SO roles are made by `hsm init` and `partition init`; `role init` takes co, lco, cu or au",
                    ));
                }
            },
            Request::ChangePw(role) => {
                // A role that is not there says so, rather than asking for a login that
                // cannot happen.
                if self.record(role.role()).is_none() {
                    return Err(not_initialised(role.role()));
                }
                if !self.is_logged_in(*role) {
                    return Err(login_needed(role.title()));
                }
            }
            Request::ResetPw(role) => {
                match role {
                    RoleName::Co => {
                        partition()?;
                        if !self.logins.po {
                            return Err(login_needed("Partition SO"));
                        }
                        if !self.state.so_reset_partition_pin {
                            return Err(HsmError::hsm(
                                HsmCode::NotAllowed,
                                "HSM policy 15 (Enable SO reset of partition PIN) is 0: the Partition SO cannot \
                                 reset the Crypto Officer's credential. The HSM SO turns it on with `hsm \
                                 changepolicy -policy 15 -value 1`, which erases the partition: do it before \
                                 the partition is created.",
                            ));
                        }
                    }
                    // Seed 6842: the CO resets the LCO whatever policy 15 says.
                    RoleName::Lco | RoleName::Cu => {
                        partition()?;
                        if !self.logins.co {
                            return Err(login_needed("Crypto Officer"));
                        }
                    }
                    RoleName::So | RoleName::Po | RoleName::Au => {
                        return Err(HsmError::hsm(
                            HsmCode::ArgumentsBad,
                            "role resetpw takes co (by the Partition SO) or cu (by the Crypto Officer), or lco (also by the \
                             Crypto Officer)",
                        ));
                    }
                }
                if self.record(role.role()).is_none() {
                    return Err(not_initialised(role.role()));
                }
            }
            Request::VectorInit => {
                if kind == ChannelKind::RemotePassword && !self.is_zeroised() {
                    return Err(HsmError::hsm(
                        HsmCode::NotAllowed,
                        "remote RPV initialisation needs a zeroised HSM; use a local PED",
                    ));
                }
                if !self.is_zeroised() && !self.logins.so {
                    return Err(login_needed("HSM SO"));
                }
            }
        }
        Ok(())
    }

    fn record(&self, role: Role) -> Option<KeysetRecord> {
        let p = self.state.partition.as_ref();
        match role {
            Role::HsmSo => self.state.so.clone(),
            Role::HsmDomain => self.state.domain.clone(),
            Role::Auditor => self.state.auditor.clone(),
            Role::PartitionSo => p.and_then(|p| p.so.clone()),
            Role::PartitionDomain => p.and_then(|p| p.domain.clone()),
            Role::CryptoOfficer => p.and_then(|p| p.co.clone()),
            Role::CryptoUser => p.and_then(|p| p.cu.clone()),
            Role::LimitedCryptoOfficer => p.and_then(|p| p.lco.clone()),
            Role::Rpv => None,
        }
    }

    /// A full quorum reassembled to the wrong secret: the one event the rules count.
    fn count_failure(&mut self, role: Role) -> HsmError {
        self.dirty = true;
        let incorrect = |n: u32, max: u32, then: &str| {
            HsmError::hsm(
                HsmCode::PinIncorrect,
                format!("the keys or PINs presented are not this role's ({n} of {max} consecutive failures {then})"),
            )
        };
        match role {
            Role::HsmSo => {
                self.state.so_failures += 1;
                let n = self.state.so_failures;
                if n >= HSM_SO_MAX_FAILURES {
                    self.zeroise();
                    return HsmError::hsm(
                        HsmCode::PinIncorrect,
                        format!("{n} consecutive failed HSM SO logins: the HSM is zeroised; run `hsm init`"),
                    );
                }
                incorrect(n, HSM_SO_MAX_FAILURES, "zeroise the HSM")
            }
            Role::PartitionSo => {
                let Some(p) = self.state.partition.as_mut() else { return not_initialised(role) };
                p.so_failures += 1;
                let n = p.so_failures;
                if n >= PARTITION_SO_MAX_FAILURES {
                    // The partition stays, erased: its next SO initialises it again.
                    self.state.partition = Some(PartitionState::default());
                    self.logins.leave_partition();
                    return HsmError::hsm(
                        HsmCode::PinIncorrect,
                        format!("{n} consecutive failed Partition SO logins: the partition is zeroised"),
                    );
                }
                incorrect(n, PARTITION_SO_MAX_FAILURES, "zeroise the partition")
            }
            Role::CryptoOfficer | Role::CryptoUser => {
                let Some(p) = self.state.partition.as_mut() else { return not_initialised(role) };
                p.user_failures += 1;
                let n = p.user_failures;
                if n >= USER_MAX_FAILURES {
                    p.users_locked = true;
                    self.logins.co = false;
                    self.logins.cu = false;
                    return HsmError::hsm(
                        HsmCode::PinLocked,
                        format!("{n} consecutive failed CO/CU logins: CO and CU are locked out"),
                    );
                }
                incorrect(n, USER_MAX_FAILURES, "lock CO and CU")
            }
            // Seed 6674: its own counter, under the same partition policy 20; its lockout
            // leaves the CO and CU working.
            Role::LimitedCryptoOfficer => {
                let Some(p) = self.state.partition.as_mut() else { return not_initialised(role) };
                p.lco_failures += 1;
                let n = p.lco_failures;
                if n >= USER_MAX_FAILURES {
                    p.lco_locked = true;
                    self.logins.lco = false;
                    return HsmError::hsm(
                        HsmCode::PinLocked,
                        format!(
                            "{n} consecutive failed LCO logins: the Limited Crypto Officer is locked out (the CO \
                             and CU are not); the Crypto Officer resets it with `role resetpw -name lco`"
                        ),
                    );
                }
                incorrect(n, USER_MAX_FAILURES, "lock the LCO")
            }
            _ => {
                self.state.auditor_failures += 1;
                HsmError::hsm(HsmCode::PinIncorrect, "the keys or PINs presented are not this role's")
            }
        }
    }

    fn reset_failures(&mut self, role: Role) {
        let counter = match role {
            Role::HsmSo => Some(&mut self.state.so_failures),
            Role::Auditor => Some(&mut self.state.auditor_failures),
            Role::PartitionSo => self.state.partition.as_mut().map(|p| &mut p.so_failures),
            Role::CryptoOfficer | Role::CryptoUser => self.state.partition.as_mut().map(|p| &mut p.user_failures),
            Role::LimitedCryptoOfficer => self.state.partition.as_mut().map(|p| &mut p.lco_failures),
            _ => None,
        };
        if let Some(c) = counter.filter(|c| **c != 0) {
            *c = 0;
            self.dirty = true;
        }
    }

    fn zeroise(&mut self) {
        let keep = (self.state.rpv.take(), self.state.ped_ip.take(), self.state.ped_port.take());
        self.state = HsmState { version: self.state.version, ..HsmState::default() };
        (self.state.rpv, self.state.ped_ip, self.state.ped_port) = keep;
        self.logins = Logins::default();
        self.dirty = true;
    }

    fn commit(&mut self, op: &mut Operation) {
        self.dirty = true;
        let created = std::mem::take(&mut op.created);
        let find = |role: Role| created.iter().find(|(r, _)| *r == role).map(|(_, rec)| rec.clone());
        match &op.request {
            Request::HsmInit { label } => {
                self.zeroise();
                self.state.label = Some(label.clone());
                self.state.so = find(Role::HsmSo);
                self.state.domain = find(Role::HsmDomain);
            }
            Request::PartitionInit { label } => {
                self.state.partition = Some(PartitionState {
                    label: label.clone(),
                    so: find(Role::PartitionSo),
                    domain: find(Role::PartitionDomain),
                    ..PartitionState::default()
                });
                self.logins.leave_partition();
            }
            Request::Login(role) => match role {
                RoleName::So => self.logins.so = true,
                RoleName::Au => self.logins.au = true,
                RoleName::Po => self.logins.po = true,
                RoleName::Co => self.logins.co = true,
                RoleName::Cu => self.logins.cu = true,
                RoleName::Lco => self.logins.lco = true,
            },
            Request::RoleInit(role) | Request::ChangePw(role) => {
                let record = find(role.role());
                match role {
                    RoleName::So => self.state.so = record,
                    RoleName::Au => self.state.auditor = record,
                    RoleName::Po | RoleName::Co | RoleName::Cu | RoleName::Lco => {
                        if let Some(p) = self.state.partition.as_mut() {
                            match role {
                                RoleName::Po => p.so = record,
                                RoleName::Co => p.co = record,
                                RoleName::Lco => p.lco = record,
                                _ => p.cu = record,
                            }
                        }
                    }
                }
            }
            Request::ResetPw(role) => {
                let record = find(role.role());
                if let Some(p) = self.state.partition.as_mut() {
                    // The seed's "unlock ... and reset" (6758, 6675): the role's counter
                    // and lockout go; a session opened with the lost keys ends with them.
                    match role {
                        RoleName::Lco => {
                            (p.lco, p.lco_failures, p.lco_locked) = (record, 0, false);
                            self.logins.lco = false;
                        }
                        RoleName::Co => {
                            (p.co, p.user_failures, p.users_locked) = (record, 0, false);
                            self.logins.co = false;
                        }
                        _ => {
                            (p.cu, p.user_failures, p.users_locked) = (record, 0, false);
                            self.logins.cu = false;
                        }
                    }
                }
            }
            Request::VectorInit => {
                self.state.rpv = self.ring.current().map(|e| RpvRecord {
                    keyset_id: hex::encode(e.keyset_id.as_bytes()),
                    rpv: Zeroizing::new(hex::encode(e.rpv.expose())),
                    cert: self.rpk_cert.as_deref().map(hex::encode).unwrap_or_default(),
                    public_key: hex::encode(e.public_key.to_uncompressed()),
                });
                self.state.rpv_failures = 0;
            }
        }
    }
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= ped_proto::command::MAX_SLOT_LEN
        && label.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn not_initialised(role: Role) -> HsmError {
    let (who, remedy) = match role {
        Role::HsmSo | Role::HsmDomain => ("HSM", "run `hsm init`"),
        Role::PartitionSo | Role::PartitionDomain => ("partition", "run `partition init`"),
        Role::CryptoOfficer => ("Crypto Officer", "the Partition SO makes it with `role init -name co`"),
        Role::LimitedCryptoOfficer => {
            ("Limited Crypto Officer", "the Crypto Officer makes it with `role init -name lco`")
        }
        Role::CryptoUser => ("Crypto User", "the Crypto Officer makes it with `role init -name cu`"),
        Role::Auditor => ("Auditor", "make it with `role init -name au`"),
        Role::Rpv => ("RPV", "run `ped vector init`"),
    };
    HsmError::hsm(HsmCode::NotInitialized, format!("the {who} is not initialised; {remedy}"))
}

fn keyset_record(id: &KeysetId, secret: &[u8], q: Quorum) -> KeysetRecord {
    KeysetRecord {
        keyset_id: hex::encode(id.as_bytes()),
        verifier: hex::encode(Verifier::of(id, secret).as_bytes()),
        m: q.m(),
        n: q.n(),
    }
}

/// Checks a reassembled secret (`None`: the splits did not reassemble, which is as
/// wrong as a wrong secret) against a role's verifier.
fn verify(record: &KeysetRecord, secret: Option<&[u8]>) -> bool {
    let (Ok(id), Ok(verifier)) = (hex::decode(&record.keyset_id), hex::decode(&record.verifier)) else {
        return false;
    };
    let (Ok(id), Ok(verifier)) = (<[u8; KEYSET_ID_LEN]>::try_from(id), <[u8; VERIFIER_LEN]>::try_from(verifier)) else {
        return false;
    };
    secret.is_some_and(|s| Verifier::from_bytes(verifier).check(&KeysetId::from_bytes(id), s))
}

/// Unwraps each split (a failure there is the channel's, not the key holder's) and
/// reassembles; `Ok(None)` when the splits do not make a secret.
fn unwrap_and_reassemble(
    splits: &[WrappedSplit],
    session: &ChannelSession,
) -> Result<Option<Zeroizing<Vec<u8>>>, HsmError> {
    if splits.is_empty() {
        return Err(HsmError::ped(ErrorCode::PedProtocolError));
    }
    let splits = splits
        .iter()
        .map(|w| Split::new(w.info, session.unwrap_csp(&w.wrapped)?).map_err(ped_proto::Error::from))
        .collect::<Result<Vec<_>, ped_proto::Error>>()?;
    Ok(quorum::reassemble(&splits).ok())
}

/// The entry of a stored RPV; `None` for a record written before PED key format 2
/// (no keyset identity), whose orange keys no PED reads any more.
fn rpk_entry(record: &RpvRecord) -> Result<Option<RpkEntry>, HsmError> {
    if record.keyset_id.is_empty() {
        return Ok(None);
    }
    let corrupt = || HsmError::hsm(HsmCode::GeneralError, "the stored RPV is corrupt");
    let keyset_id = hex::decode(&record.keyset_id).map_err(|_| corrupt())?;
    let keyset_id = KeysetId::from_bytes(keyset_id.try_into().map_err(|_| corrupt())?);
    let rpv = Zeroizing::new(hex::decode(record.rpv.as_bytes()).map_err(|_| corrupt())?);
    let mut bytes = Zeroizing::new([0u8; RPV_LEN]);
    if rpv.len() != RPV_LEN {
        return Err(corrupt());
    }
    bytes.copy_from_slice(&rpv);
    let rpv = Rpv::from_bytes(*bytes);
    let public_key = hex::decode(&record.public_key).map_err(|_| corrupt())?;
    let public_key = EcdhPublicKey::from_uncompressed(&public_key).map_err(|_| corrupt())?;
    Ok(Some(RpkEntry { keyset_id, rpv, public_key }))
}
