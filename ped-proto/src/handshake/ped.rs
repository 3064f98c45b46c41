//! The PED's end of the handshake (party U).

use alloc::vec::Vec;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::expect_frame;
use super::messages::{ChannelKind, HsmEphemeral, HsmFinished, HsmHello, PedKeyShare};
use super::schedule::{self, KeyBlock, Transcript};
use crate::cert::ChainCache;
use crate::ecdh::{EcdhKeyPair, EcdhPublicKey, FIELD_LEN, PUBLIC_KEY_LEN};
use crate::error::{CertificateError, Error};
use crate::frame::{self, Frame, FrameType};
use crate::mac::{self, TAG_LEN};
use crate::orange::RpkCredential;
use crate::quorum::KeysetId;
use crate::record::{ChannelSession, Role};
use crate::secrets::PasswordDigits;

/// The PED before the HSM has spoken.
#[derive(Debug)]
pub struct AwaitingHello {
    ped_id: Vec<u8>,
    versions: Vec<u16>,
}

impl AwaitingHello {
    /// A PED with identifier `ped_id` (its serial number) speaking `versions`.
    pub fn new(ped_id: &[u8], versions: &[u16]) -> Self {
        AwaitingHello { ped_id: ped_id.to_vec(), versions: versions.to_vec() }
    }

    /// Takes the HsmHello: picks the best common version and verifies the HSM's chain
    /// against the trusted root at time `now` (through `cache`, which skips the
    /// signatures of a chain already verified byte for byte). The leaf must be
    /// certified for [`LeafRole::HsmStatic`]: an RPK certificate, which any orange
    /// key's holder has, is refused with [`CertificateError::KeyUsage`]. The HSM's
    /// identifier in the hello must be the serial number its certificate carries
    /// ([`CertificateError::SerialMismatch`] otherwise), so that the serial the PED
    /// shows and files its RPK cache under is the certified one.
    pub fn receive_hello(
        self,
        frame: Frame<'_>,
        trusted_root: &[u8],
        now: u64,
        cache: &mut ChainCache,
    ) -> Result<HelloReceived, Error> {
        let body = expect_frame(frame, FrameType::HsmHello)?;
        let hello = HsmHello::decode(body)?;
        let version =
            self.versions.iter().copied().filter(|v| hello.versions.contains(v)).max().ok_or(Error::NoCommonVersion)?;
        let chain: Vec<&[u8]> = hello.chain.iter().map(Vec::as_slice).collect();
        let verified = cache.verify_hsm_chain(&chain, trusted_root, now)?;
        if verified.hsm_serial().map(str::as_bytes) != Some(hello.hsm_id.as_slice()) {
            return Err(Error::Certificate(CertificateError::SerialMismatch));
        }
        let hsm_static = *verified.leaf_key();
        Ok(HelloReceived { ped_id: self.ped_id, version, hello_hash: schedule::hello_hash(body), hello, hsm_static })
    }
}

/// The hello is accepted; the PED now needs what its kind asks of the key holder
/// (nothing, the password typed on the keypad, or the orange key).
#[derive(Debug)]
pub struct HelloReceived {
    ped_id: Vec<u8>,
    version: u16,
    hello_hash: [u8; 64],
    hello: HsmHello,
    hsm_static: EcdhPublicKey,
}

impl HelloReceived {
    /// The channel the HSM opens.
    pub fn kind(&self) -> ChannelKind {
        self.hello.kind
    }

    /// The HSM's serial number, as its certificate states it (checked against the hello).
    pub fn hsm_id(&self) -> &[u8] {
        &self.hello.hsm_id
    }

    /// The orange keysets whose RPV the HSM holds (C(2e,2s) hellos only).
    pub fn orange_keysets(&self) -> Vec<KeysetId> {
        self.hello.orange_keysets.clone()
    }

    /// Whether the HSM holds the RPV of orange keyset `id` (C(2e,2s) hellos only).
    pub fn accepts_orange(&self, id: &KeysetId) -> bool {
        self.hello.orange_keysets.contains(id)
    }

    /// The protocol version chosen.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Local PED-USB: answers with an ephemeral key drawn from `rng` now.
    pub fn respond_local<R: CryptoRng + ?Sized>(self, rng: &mut R) -> Result<(AwaitingFinished, Vec<u8>), Error> {
        self.require(ChannelKind::Local)?;
        self.respond_local_with(EcdhKeyPair::generate(rng))
    }

    /// [`respond_local`](Self::respond_local) with an ephemeral key drawn beforehand
    /// (a PED draws its next one while it idles: key generation costs as much as an
    /// ECDH and stays off the handshake's critical path). The key must be fresh and is
    /// consumed: it serves this one handshake only.
    pub fn respond_local_with(self, ephemeral: EcdhKeyPair) -> Result<(AwaitingFinished, Vec<u8>), Error> {
        self.require(ChannelKind::Local)?;
        let z = ephemeral.diffie_hellman(&self.hsm_static);
        self.respond(ephemeral, z.as_bytes(), &[], None)
    }

    /// Remote before RPV initialisation: answers with an ephemeral key and a tag that
    /// proves knowledge of the password typed on the keypad.
    pub fn respond_password<R: CryptoRng + ?Sized>(
        self,
        password: &PasswordDigits,
        rng: &mut R,
    ) -> Result<(AwaitingFinished, Vec<u8>), Error> {
        self.require(ChannelKind::RemotePassword)?;
        self.respond_password_with(password, EcdhKeyPair::generate(rng))
    }

    /// [`respond_password`](Self::respond_password) with an ephemeral key drawn
    /// beforehand (see [`respond_local_with`](Self::respond_local_with)).
    pub fn respond_password_with(
        self,
        password: &PasswordDigits,
        ephemeral: EcdhKeyPair,
    ) -> Result<(AwaitingFinished, Vec<u8>), Error> {
        self.require(ChannelKind::RemotePassword)?;
        let z = ephemeral.diffie_hellman(&self.hsm_static);
        self.respond(ephemeral, z.as_bytes(), password.expose(), None)
    }

    /// Remote after RPV initialisation: answers with an ephemeral key, the orange
    /// keyset's identity and a tag keyed by Z = Ze ‖ Zs and the RPV. A keyset the hello
    /// does not list is refused ([`Error::UnknownRpk`]) before anything is sent, so
    /// that an orange key for another HSM costs its holder no failed login.
    pub fn respond_rpv<R: CryptoRng + ?Sized>(
        self,
        rpk: &RpkCredential,
        rng: &mut R,
    ) -> Result<(AwaitingFinished, Vec<u8>), Error> {
        // Refused before anything is drawn from `rng`.
        self.check_rpv(rpk)?;
        self.respond_rpv_with(rpk, EcdhKeyPair::generate(rng))
    }

    /// [`respond_rpv`](Self::respond_rpv) with an ephemeral key drawn beforehand (see
    /// [`respond_local_with`](Self::respond_local_with)).
    pub fn respond_rpv_with(
        self,
        rpk: &RpkCredential,
        ephemeral: EcdhKeyPair,
    ) -> Result<(AwaitingFinished, Vec<u8>), Error> {
        let hsm_ephemeral = self.check_rpv(rpk)?;
        let mut z = Zeroizing::new([0u8; 2 * FIELD_LEN]);
        z[..FIELD_LEN].copy_from_slice(ephemeral.diffie_hellman(hsm_ephemeral).as_bytes());
        z[FIELD_LEN..].copy_from_slice(rpk.static_key.diffie_hellman(&self.hsm_static).as_bytes());
        self.respond(ephemeral, z.as_slice(), rpk.rpv.expose(), Some(rpk.keyset_id))
    }

    /// A C(2e,2s) hello that lists `rpk`'s keyset: the HSM's ephemeral key.
    fn check_rpv(&self, rpk: &RpkCredential) -> Result<&EcdhPublicKey, Error> {
        self.require(ChannelKind::RemoteRpv)?;
        let HsmEphemeral::Key(hsm_ephemeral) = &self.hello.ephemeral else {
            return Err(Error::UnexpectedMessage);
        };
        if !self.accepts_orange(&rpk.keyset_id) {
            return Err(Error::UnknownRpk);
        }
        Ok(hsm_ephemeral)
    }

    fn require(&self, kind: ChannelKind) -> Result<(), Error> {
        if self.hello.kind == kind { Ok(()) } else { Err(Error::ChannelKindRefused) }
    }

    fn respond(
        self,
        ephemeral: EcdhKeyPair,
        z: &[u8],
        secret: &[u8],
        orange_keyset: Option<KeysetId>,
    ) -> Result<(AwaitingFinished, Vec<u8>), Error> {
        let kind = self.hello.kind;
        let ped_ephemeral = ephemeral.public().to_uncompressed();
        let hsm_ephemeral = self.hello.ephemeral.ephemeral_data();
        let transcript = self.transcript(&ped_ephemeral, &hsm_ephemeral);
        let keys = schedule::derive(z, &schedule::fixed_info(&transcript, secret))?;
        let tag = kind.ped_confirms().then(|| schedule::ped_tag(&keys.mac_key, &transcript));
        let expected_hsm_tag = schedule::hsm_tag(&keys.mac_key, &transcript);
        let share = PedKeyShare {
            version: self.version,
            ped_id: self.ped_id.clone(),
            ephemeral: *ephemeral.public(),
            orange_keyset,
            tag,
        };
        let frame = frame::encode(FrameType::PedKeyShare, &share.encode(kind)?);
        Ok((AwaitingFinished { kind, expected_hsm_tag, keys }, frame))
    }

    fn transcript<'a>(&'a self, ped_ephemeral: &'a [u8; PUBLIC_KEY_LEN], hsm_ephemeral: &'a [u8]) -> Transcript<'a> {
        Transcript {
            kind: self.hello.kind,
            version: self.version,
            hello_hash: self.hello_hash,
            ped_id: &self.ped_id,
            hsm_id: &self.hello.hsm_id,
            ped_ephemeral,
            hsm_ephemeral,
        }
    }
}

/// The PED has answered and awaits the HSM's key confirmation.
pub struct AwaitingFinished {
    kind: ChannelKind,
    expected_hsm_tag: [u8; TAG_LEN],
    keys: KeyBlock,
}

impl core::fmt::Debug for AwaitingFinished {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AwaitingFinished").field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl AwaitingFinished {
    /// Checks the HSM's tag; the channel is established only if it verifies.
    pub fn receive_finished(self, frame: Frame<'_>) -> Result<ChannelSession, Error> {
        let finished = HsmFinished::decode(expect_frame(frame, FrameType::HsmFinished)?)?;
        if !mac::tags_equal(&self.expected_hsm_tag, &finished.tag) {
            return Err(Error::KeyConfirmationFailed);
        }
        Ok(ChannelSession::new(self.kind, Role::Ped, self.keys.ped_to_hsm.clone(), self.keys.hsm_to_ped.clone()))
    }
}
