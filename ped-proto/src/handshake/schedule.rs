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
        ChannelKind::Local => b"PED C(1e,1s) LOCAL CWK",
        ChannelKind::RemotePassword => b"PED C(1e,1s) PASSWORD CWK",
        ChannelKind::RemoteRpv => b"PED C(2e,2s) RPV DEK DMK CWK",
    }
}

/// Bytes of derived keying material each kind needs.
pub(crate) const fn dkm_len(kind: ChannelKind) -> usize {
    match kind {
        ChannelKind::Local | ChannelKind::RemotePassword => MAC_KEY_LEN + 2 * AES_KEY_LEN,
        ChannelKind::RemoteRpv => MAC_KEY_LEN + 2 * (AES_KEY_LEN + DMK_LEN + AES_KEY_LEN),
    }
}

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
    out.put_u32((dkm_len(t.kind) * 8) as u32);
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
    /// AES-256-CTR data encryption key (C(2e,2s) only).
    pub(crate) dek: Option<[u8; AES_KEY_LEN]>,
    /// HMAC-SHA-512 data MAC key (C(2e,2s) only).
    pub(crate) dmk: Option<[u8; DMK_LEN]>,
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
/// PED→HSM keys, then the HSM→PED keys, each direction as `DEK ‖ DMK ‖ CWK` or `CWK`.
pub(crate) fn derive(kind: ChannelKind, z: &[u8], fixed_info: &[u8]) -> Result<KeyBlock, Error> {
    let mut dkm = Zeroizing::new([0u8; dkm_len(ChannelKind::RemoteRpv)]);
    let dkm = &mut dkm[..dkm_len(kind)];
    kdf::one_step(AuxFunction::Sha512, z, fixed_info, dkm)?;
    let mut rest: &[u8] = dkm;
    let mut take = |n: usize| {
        let (head, tail) = rest.split_at(n);
        rest = tail;
        head
    };
    let mut block = KeyBlock {
        mac_key: take(MAC_KEY_LEN).try_into().expect("length from dkm_len"),
        ped_to_hsm: DirectionKeys { dek: None, dmk: None, cwk: [0; AES_KEY_LEN] },
        hsm_to_ped: DirectionKeys { dek: None, dmk: None, cwk: [0; AES_KEY_LEN] },
    };
    for dir in [&mut block.ped_to_hsm, &mut block.hsm_to_ped] {
        if kind.is_full_unified() {
            dir.dek = Some(take(AES_KEY_LEN).try_into().expect("length from dkm_len"));
            dir.dmk = Some(take(DMK_LEN).try_into().expect("length from dkm_len"));
        }
        dir.cwk = take(AES_KEY_LEN).try_into().expect("length from dkm_len");
    }
    Ok(block)
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
