//! The key schedule: FixedInfo, the one-step KDF over Z, the split of the derived
//! keying material, and the key-confirmation tags. docs/protocol.md §4 gives every byte.

use alloc::vec::Vec;

use sha2::{Digest, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::ecdh::PUBLIC_KEY_LEN;
use crate::error::Error;
use crate::handshake::messages::ChannelKind;
use crate::kdf::{self, AuxFunction};
use crate::mac::{self, KcMessage, KcParties, TAG_LEN};
use crate::wire::WriteExt;

/// Length of the key-confirmation MacKey (HMAC-SHA-512, a full block of security).
pub(crate) const MAC_KEY_LEN: usize = 64;
/// AES-256 keys: the DEK and the CWK.
pub(crate) const AES_KEY_LEN: usize = 32;
/// The DMK, an HMAC-SHA-512 key.
pub(crate) const DMK_LEN: usize = 64;

/// The public values both ends bind into the derivation and the key confirmation.
#[derive(Debug)]
pub(crate) struct Transcript<'a> {
    pub(crate) kind: ChannelKind,
    pub(crate) version: u16,
    /// SHA-512 of the HsmHello body, which binds the offered versions and the chain.
    pub(crate) hello_hash: [u8; 64],
    pub(crate) ped_id: &'a [u8],
    pub(crate) hsm_id: &'a [u8],
    pub(crate) ped_ephemeral: &'a [u8; PUBLIC_KEY_LEN],
    pub(crate) hsm_ephemeral: &'a [u8],
}

/// SHA-512 of a hello body.
pub(crate) fn hello_hash(body: &[u8]) -> [u8; 64] {
    Sha512::digest(body).into()
}

/// The AlgorithmID of each kind: it names the scheme and the layout of the keys.
pub(crate) const fn algorithm_id(kind: ChannelKind) -> &'static [u8] {
    match kind {
        ChannelKind::Local => b"PED C(1e,1s) LOCAL DEK DMK CWK",
        ChannelKind::RemotePassword => b"PED C(1e,1s) PASSWORD DEK DMK CWK",
        ChannelKind::RemoteRpv => b"PED C(2e,2s) RPV DEK DMK CWK",
    }
}

/// Bytes of derived keying material: the same for every kind. Each direction gets a
/// DEK and a DMK for its records and a separate CWK for CSPs, so no key both protects
/// records and wraps CSPs (domain separation; the seed names CWKs only for the
/// C(1e,1s) kinds, and they keep that role here).
pub(crate) const DKM_LEN: usize = MAC_KEY_LEN + 2 * DIRECTION_LEN;

/// `AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖ SuppPubInfo ‖ SuppPrivInfo` (SP 800-56A §5.8.2.1.1,
/// concatenation format). Party U is the PED, party V the HSM. Variable-length
/// substrings carry a 16-bit length; `secret` (empty, the password or the RPV) is
/// SuppPrivInfo.
pub(crate) fn fixed_info(t: &Transcript<'_>, secret: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(512));
    out.put_bytes_u16(algorithm_id(t.kind));
    out.put_bytes_u16(t.ped_id);
    out.extend_from_slice(t.ped_ephemeral);
    out.put_bytes_u16(t.hsm_id);
    out.extend_from_slice(t.hsm_ephemeral);
    out.put_u32((DKM_LEN * 8) as u32);
    out.put_u16(t.version);
    out.extend_from_slice(&t.hello_hash);
    if !secret.is_empty() {
        out.put_bytes_u16(secret);
    }
    out
}

/// The keys one direction of a channel uses.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct DirectionKeys {
    /// AES-256-CTR data encryption key.
    pub(crate) dek: [u8; AES_KEY_LEN],
    /// HMAC-SHA-512 data MAC key.
    pub(crate) dmk: [u8; DMK_LEN],
    /// AES-256-KWP CSP wrapping key.
    pub(crate) cwk: [u8; AES_KEY_LEN],
}

/// The whole derived block, split.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct KeyBlock {
    pub(crate) mac_key: [u8; MAC_KEY_LEN],
    pub(crate) ped_to_hsm: DirectionKeys,
    pub(crate) hsm_to_ped: DirectionKeys,
}

/// Runs the one-step KDF (H = SHA-512) and splits the result: MacKey first, then the
/// PED→HSM keys, then the HSM→PED keys, each direction as `DEK ‖ DMK ‖ CWK`.
pub(crate) fn derive(z: &[u8], fixed_info: &[u8]) -> Result<KeyBlock, Error> {
    let mut dkm = Zeroizing::new([0u8; DKM_LEN]);
    kdf::one_step(AuxFunction::Sha512, z, fixed_info, dkm.as_mut_slice())?;
    let (mac_key, rest) = dkm.split_at(MAC_KEY_LEN);
    let (ped_to_hsm, hsm_to_ped) = rest.split_at(DIRECTION_LEN);
    let mac_key = mac_key.try_into().expect("length from DKM_LEN");
    let (ped_to_hsm, hsm_to_ped) = (direction_keys(ped_to_hsm), direction_keys(hsm_to_ped));
    Ok(KeyBlock { mac_key, ped_to_hsm, hsm_to_ped })
}

const DIRECTION_LEN: usize = AES_KEY_LEN + DMK_LEN + AES_KEY_LEN;

/// One direction's `DEK ‖ DMK ‖ CWK`.
fn direction_keys(bytes: &[u8]) -> DirectionKeys {
    let (dek, rest) = bytes.split_at(AES_KEY_LEN);
    let (dmk, cwk) = rest.split_at(DMK_LEN);
    DirectionKeys {
        dek: dek.try_into().expect("length from DIRECTION_LEN"),
        dmk: dmk.try_into().expect("length from DIRECTION_LEN"),
        cwk: cwk.try_into().expect("length from DIRECTION_LEN"),
    }
}

/// The PED's tag, `KC_2_U` (remote kinds).
pub(crate) fn ped_tag(mac_key: &[u8], t: &Transcript<'_>) -> [u8; TAG_LEN] {
    mac::kc_tag(
        mac_key,
        KcMessage::Kc2U,
        &KcParties {
            provider_id: t.ped_id,
            recipient_id: t.hsm_id,
            provider_ephemeral: t.ped_ephemeral,
            recipient_ephemeral: t.hsm_ephemeral,
        },
    )
}

/// The HSM's tag: `KC_1_V` for the unilateral local channel, `KC_2_V` for the
/// bilateral remote ones.
pub(crate) fn hsm_tag(mac_key: &[u8], t: &Transcript<'_>) -> [u8; TAG_LEN] {
    let message = if t.kind.ped_confirms() { KcMessage::Kc2V } else { KcMessage::Kc1V };
    mac::kc_tag(
        mac_key,
        message,
        &KcParties {
            provider_id: t.hsm_id,
            recipient_id: t.ped_id,
            provider_ephemeral: t.hsm_ephemeral,
            recipient_ephemeral: t.ped_ephemeral,
        },
    )
}
