//! The HSM's end of the handshake (party V, the static key holder).

use alloc::vec::Vec;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::expect_frame;
use super::messages::{ChannelKind, HsmEphemeral, HsmFinished, HsmHello, NONCE_LEN, PedKeyShare};
use super::schedule::{self, Transcript};
use crate::ecdh::{EcdhKeyPair, FIELD_LEN};
use crate::error::Error;
use crate::frame::{self, Frame, FrameType};
use crate::mac;
use crate::orange::RpkEntry;
use crate::quorum::KeysetId;
use crate::record::{ChannelSession, Role};
use crate::secrets::OneTimePassword;

/// What the HSM presents in every handshake: its identifier (serial number), its
/// static P-521 key (made at start-up) and that key's certificate chain, leaf first,
/// up to but not including the root.
#[derive(Debug)]
pub struct HsmIdentity {
    /// IDV: the HSM's serial number, ASCII.
    pub id: Vec<u8>,
    /// The static ECDH key certified by the HOC.
    pub static_key: EcdhKeyPair,
    /// `[HSM static cert, HOC, MIC]`, DER.
    pub chain: Vec<Vec<u8>>,
}

/// Opens a Local PED-USB channel: C(1e,1s).
pub fn start_local<R: CryptoRng + ?Sized>(
    identity: &HsmIdentity,
    versions: &[u16],
    rng: &mut R,
) -> Result<(AwaitingLocalKeyShare, Vec<u8>), Error> {
    let (pending, frame) = Pending::start(identity, versions, ChannelKind::Local, &[], rng)?;
    Ok((AwaitingLocalKeyShare(pending), frame))
}

/// Opens a remote channel authenticated by a one-time password (before RPV
/// initialisation): C(1e,1s) with the password in the derivation. Refused at once if
/// the password is burnt.
pub fn start_password<R: CryptoRng + ?Sized>(
    identity: &HsmIdentity,
    versions: &[u16],
    password: &OneTimePassword,
    rng: &mut R,
) -> Result<(AwaitingPasswordProof, Vec<u8>), Error> {
    if password.is_burnt() {
        return Err(Error::PasswordBurnt);
    }
    let (pending, frame) = Pending::start(identity, versions, ChannelKind::RemotePassword, &[], rng)?;
    Ok((AwaitingPasswordProof(pending), frame))
}

/// Opens a remote channel authenticated by an RPV: C(2e,2s) with bilateral
/// confirmation. The hello lists the orange keysets of `rpks` (1 to
/// [`MAX_ORANGE_KEYSETS`](super::messages::MAX_ORANGE_KEYSETS)).
pub fn start_rpv<R: CryptoRng + ?Sized>(
    identity: &HsmIdentity,
    versions: &[u16],
    rpks: &[RpkEntry],
    rng: &mut R,
) -> Result<(AwaitingRpvKeyShare, Vec<u8>), Error> {
    let keysets: Vec<KeysetId> = rpks.iter().map(|e| e.keyset_id).collect();
    let (pending, frame) = Pending::start(identity, versions, ChannelKind::RemoteRpv, &keysets, rng)?;
    Ok((AwaitingRpvKeyShare(pending), frame))
}

/// Local channel: awaits the PED's ephemeral key.
#[derive(Debug)]
pub struct AwaitingLocalKeyShare(Pending);

impl AwaitingLocalKeyShare {
    /// Takes the PED's key share; returns the session and the HsmFinished frame.
    pub fn receive_key_share(self, frame: Frame<'_>) -> Result<(ChannelSession, Vec<u8>), Error> {
        let share = self.0.decode_share(frame)?;
        let z = self.0.static_key.diffie_hellman(&share.ephemeral);
        self.0.finish(&share, z.as_bytes(), &[])
    }
}

/// Password channel: awaits the PED's key share and its proof of the password.
#[derive(Debug)]
pub struct AwaitingPasswordProof(Pending);

impl AwaitingPasswordProof {
    /// Checks the PED's tag before sending anything keyed by the password. A wrong tag
    /// counts against `password` (three burn it); a right one spends it.
    pub fn receive_key_share(
        self,
        frame: Frame<'_>,
        password: &mut OneTimePassword,
    ) -> Result<(ChannelSession, Vec<u8>), Error> {
        if password.is_burnt() {
            return Err(Error::PasswordBurnt);
        }
        let share = self.0.decode_share(frame)?;
        let z = self.0.static_key.diffie_hellman(&share.ephemeral);
        match self.0.finish(&share, z.as_bytes(), password.digits().expose()) {
            Err(Error::KeyConfirmationFailed) => match password.record_failure() {
                0 => Err(Error::PasswordBurnt),
                remaining => Err(Error::PasswordRejected { remaining }),
            },
            Err(e) => Err(e),
            Ok(done) => {
                password.spend();
                Ok(done)
            }
        }
    }
}

/// RPV channel: awaits the PED's key share, the orange keyset it names and its tag.
#[derive(Debug)]
pub struct AwaitingRpvKeyShare(Pending);

impl AwaitingRpvKeyShare {
    /// Finds the RPV of the orange keyset the PED names, checks the PED's tag and
    /// returns the session, the HsmFinished frame and the index of the RPV used.
    ///
    /// A keyset not among `rpks` is [`Error::UnknownRpk`] (not the key holders'
    /// fault: not a failed login); a tag that does not verify is
    /// [`Error::KeyConfirmationFailed`]: a wrong orange PIN, a wrong orange key of a
    /// listed keyset, or a forger, which the HSM counts.
    pub fn receive_key_share(
        self,
        frame: Frame<'_>,
        rpks: &[RpkEntry],
    ) -> Result<(ChannelSession, Vec<u8>, usize), Error> {
        let share = self.0.decode_share(frame)?;
        let presented = share.orange_keyset.ok_or(Error::UnexpectedMessage)?;
        let (index, entry) =
            rpks.iter().enumerate().find(|(_, e)| e.keyset_id == presented).ok_or(Error::UnknownRpk)?;
        let ephemeral = self.0.ephemeral.as_ref().ok_or(Error::UnexpectedMessage)?;
        let mut z = Zeroizing::new([0u8; 2 * FIELD_LEN]);
        z[..FIELD_LEN].copy_from_slice(ephemeral.diffie_hellman(&share.ephemeral).as_bytes());
        z[FIELD_LEN..].copy_from_slice(self.0.static_key.diffie_hellman(&entry.public_key).as_bytes());
        let (session, finished) = self.0.finish(&share, z.as_slice(), entry.rpv.expose())?;
        Ok((session, finished, index))
    }
}

/// What every HSM state keeps between the hello and the key share.
struct Pending {
    hello: HsmHello,
    hello_hash: [u8; 64],
    static_key: EcdhKeyPair,
    ephemeral: Option<EcdhKeyPair>,
}

impl core::fmt::Debug for Pending {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pending").field("kind", &self.hello.kind).finish_non_exhaustive()
    }
}

impl Pending {
    fn start<R: CryptoRng + ?Sized>(
        identity: &HsmIdentity,
        versions: &[u16],
        kind: ChannelKind,
        orange_keysets: &[KeysetId],
        rng: &mut R,
    ) -> Result<(Self, Vec<u8>), Error> {
        let (ephemeral, contribution) = if kind.is_full_unified() {
            let pair = EcdhKeyPair::generate(rng);
            let public = *pair.public();
            (Some(pair), HsmEphemeral::Key(public))
        } else {
            let mut nonce = [0u8; NONCE_LEN];
            rng.fill_bytes(&mut nonce);
            (None, HsmEphemeral::Nonce(nonce))
        };
        let hello = HsmHello {
            kind,
            versions: versions.to_vec(),
            hsm_id: identity.id.clone(),
            ephemeral: contribution,
            orange_keysets: orange_keysets.to_vec(),
            chain: identity.chain.clone(),
        };
        let body = hello.encode()?;
        let pending = Pending {
            hello_hash: schedule::hello_hash(&body),
            hello,
            static_key: identity.static_key.clone(),
            ephemeral,
        };
        Ok((pending, frame::encode(FrameType::HsmHello, &body)))
    }

    fn decode_share(&self, frame: Frame<'_>) -> Result<PedKeyShare, Error> {
        let share = PedKeyShare::decode(expect_frame(frame, FrameType::PedKeyShare)?, self.hello.kind)?;
        // The PED must pick a version the HSM offered; the offer itself is bound into
        // the derivation through the hello hash, so it cannot be altered in transit.
        if !self.hello.versions.contains(&share.version) {
            return Err(Error::NoCommonVersion);
        }
        Ok(share)
    }

    /// Derives the keys, checks the PED's tag where the kind has one, and builds the
    /// HSM's tag and session.
    fn finish(&self, share: &PedKeyShare, z: &[u8], secret: &[u8]) -> Result<(ChannelSession, Vec<u8>), Error> {
        let hsm_ephemeral = self.hello.ephemeral.ephemeral_data();
        let ped_ephemeral = share.ephemeral.to_uncompressed();
        let transcript = Transcript {
            kind: self.hello.kind,
            version: share.version,
            hello_hash: self.hello_hash,
            ped_id: &share.ped_id,
            hsm_id: &self.hello.hsm_id,
            ped_ephemeral: &ped_ephemeral,
            hsm_ephemeral: &hsm_ephemeral,
        };
        let keys = schedule::derive(z, &schedule::fixed_info(&transcript, secret))?;
        if let Some(tag) = &share.tag {
            let expected = schedule::ped_tag(&keys.mac_key, &transcript);
            if !mac::tags_equal(&expected, tag) {
                return Err(Error::KeyConfirmationFailed);
            }
        }
        let finished = HsmFinished { tag: schedule::hsm_tag(&keys.mac_key, &transcript) };
        let session = ChannelSession::new(self.hello.kind, Role::Hsm, keys.hsm_to_ped.clone(), keys.ped_to_hsm.clone());
        Ok((session, frame::encode(FrameType::HsmFinished, &finished.encode())))
    }
}
