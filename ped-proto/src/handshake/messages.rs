//! The handshake messages: their fields, encoders and total decoders.

use alloc::vec::Vec;

use crate::ecdh::{EcdhPublicKey, PUBLIC_KEY_LEN};
use crate::error::{DecodeError, Error};
use crate::mac::TAG_LEN;
use crate::quorum::KeysetId;
use crate::wire::{Reader, WriteExt};

/// Protocol version 2: the channel of this crate (version 1 carried the RPK
/// certificate in clear and protected the C(1e,1s) kinds' records with their CWK; it is
/// no longer spoken).
pub const PROTOCOL_VERSION_2: u16 = 2;
/// The versions this implementation speaks, best first.
pub const SUPPORTED_VERSIONS: &[u16] = &[PROTOCOL_VERSION_2];
/// Most versions one hello may offer.
pub const MAX_VERSIONS: usize = 8;
/// Longest party identifier (an HSM or PED serial number, printable ASCII).
pub const MAX_ID_LEN: usize = 32;
/// Length of the HSM's nonce in the C(1e,1s) kinds.
pub const NONCE_LEN: usize = 32;
/// Most certificates in the HSM's chain (leaf, HOC, MIC, and one spare level).
pub const MAX_CERTS: usize = 4;
/// Longest DER certificate accepted.
pub const MAX_CERT_LEN: usize = 4096;
/// Most orange keysets one C(2e,2s) hello may list (the RPV in force, one being
/// rotated in, and room).
pub const MAX_ORANGE_KEYSETS: usize = 4;

/// The three channel kinds of the seed (lines 3656-3803).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// Local PED-USB: C(1e,1s).
    Local,
    /// Remote PED before RPV initialisation: C(1e,1s) with the one-time password.
    RemotePassword,
    /// Remote PED after RPV initialisation: C(2e,2s) with the RPV.
    RemoteRpv,
}

impl ChannelKind {
    /// The kind byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            ChannelKind::Local => 0x01,
            ChannelKind::RemotePassword => 0x02,
            ChannelKind::RemoteRpv => 0x03,
        }
    }

    /// The kind for a byte.
    pub const fn from_byte(b: u8) -> Result<Self, DecodeError> {
        match b {
            0x01 => Ok(ChannelKind::Local),
            0x02 => Ok(ChannelKind::RemotePassword),
            0x03 => Ok(ChannelKind::RemoteRpv),
            _ => Err(DecodeError::InvalidValue("channel kind")),
        }
    }

    /// Whether the HSM contributes an ephemeral key (C(2e,2s)) rather than a nonce.
    pub const fn is_full_unified(self) -> bool {
        matches!(self, ChannelKind::RemoteRpv)
    }

    /// Whether the PED sends its key-confirmation tag first.
    pub const fn ped_confirms(self) -> bool {
        !matches!(self, ChannelKind::Local)
    }
}

/// The HSM's ephemeral contribution: a nonce (C(1e,1s)) or a public key (C(2e,2s)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HsmEphemeral {
    /// NonceV of the C(1e,1s) kinds.
    Nonce([u8; NONCE_LEN]),
    /// The HSM's ephemeral public key of C(2e,2s).
    Key(EcdhPublicKey),
}

impl HsmEphemeral {
    /// EphemDataV as it enters FixedInfo and MacData.
    pub fn ephemeral_data(&self) -> Vec<u8> {
        match self {
            HsmEphemeral::Nonce(n) => n.to_vec(),
            HsmEphemeral::Key(k) => k.to_uncompressed().to_vec(),
        }
    }
}

/// HSM → PED, the first message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HsmHello {
    /// Which channel the HSM opens.
    pub kind: ChannelKind,
    /// Versions the HSM speaks, best first (1 to [`MAX_VERSIONS`]).
    pub versions: Vec<u16>,
    /// IDV: the HSM's identifier (its serial number).
    pub hsm_id: Vec<u8>,
    /// NonceV or the HSM's ephemeral key, as the kind requires.
    pub ephemeral: HsmEphemeral,
    /// C(2e,2s) only: the identities of the orange keysets whose RPV the HSM holds
    /// (1 to [`MAX_ORANGE_KEYSETS`]); empty for the other kinds.
    pub orange_keysets: Vec<KeysetId>,
    /// The HSM static-key certificate, then its issuers up to (not including) the root.
    pub chain: Vec<Vec<u8>>,
}

impl HsmHello {
    /// The body bytes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        check_len(self.versions.len(), MAX_VERSIONS, "versions")?;
        check_id(&self.hsm_id, "hsm id")?;
        check_len(self.chain.len(), MAX_CERTS, "certificate chain")?;
        let mut out = Vec::new();
        out.put_u8(self.kind.to_byte());
        out.put_u8(self.versions.len() as u8);
        for v in &self.versions {
            out.put_u16(*v);
        }
        out.put_bytes_u8(&self.hsm_id);
        match (&self.ephemeral, self.kind.is_full_unified()) {
            (HsmEphemeral::Nonce(n), false) if self.orange_keysets.is_empty() => out.extend_from_slice(n),
            (HsmEphemeral::Key(k), true) => {
                out.extend_from_slice(&k.to_uncompressed());
                check_len(self.orange_keysets.len(), MAX_ORANGE_KEYSETS, "orange keysets")?;
                out.put_u8(self.orange_keysets.len() as u8);
                for id in &self.orange_keysets {
                    out.extend_from_slice(id.as_bytes());
                }
            }
            (HsmEphemeral::Nonce(_), false) => return Err(Error::Decode(DecodeError::InvalidValue("orange keysets"))),
            _ => return Err(Error::Decode(DecodeError::InvalidValue("hsm ephemeral"))),
        }
        out.put_u8(self.chain.len() as u8);
        for cert in &self.chain {
            check_len(cert.len(), MAX_CERT_LEN, "certificate")?;
            out.put_bytes_u16(cert);
        }
        Ok(out)
    }

    /// Decodes a body; the ephemeral key, if any, is fully validated.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let kind = ChannelKind::from_byte(r.u8("kind")?)?;
        let n_versions = usize::from(r.u8("version count")?);
        check_len(n_versions, MAX_VERSIONS, "versions")?;
        let mut versions = Vec::with_capacity(n_versions);
        for _ in 0..n_versions {
            versions.push(r.u16("version")?);
        }
        let hsm_id = id(r.bytes_u8("hsm id", MAX_ID_LEN)?, "hsm id")?.to_vec();
        let mut orange_keysets = Vec::new();
        let ephemeral = if kind.is_full_unified() {
            let key = EcdhPublicKey::from_uncompressed(r.take(PUBLIC_KEY_LEN, "hsm ephemeral key")?)?;
            let count = usize::from(r.u8("orange keyset count")?);
            check_len(count, MAX_ORANGE_KEYSETS, "orange keysets")?;
            for _ in 0..count {
                orange_keysets.push(KeysetId::from_bytes(r.array("orange keyset")?));
            }
            HsmEphemeral::Key(key)
        } else {
            HsmEphemeral::Nonce(r.array("nonce")?)
        };
        let n_certs = usize::from(r.u8("certificate count")?);
        check_len(n_certs, MAX_CERTS, "certificate chain")?;
        let mut chain = Vec::with_capacity(n_certs);
        for _ in 0..n_certs {
            chain.push(nonempty(r.bytes_u16("certificate", MAX_CERT_LEN)?, "certificate")?.to_vec());
        }
        r.finish()?;
        Ok(HsmHello { kind, versions, hsm_id, ephemeral, orange_keysets, chain })
    }
}

/// PED → HSM, the second message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PedKeyShare {
    /// The version the PED chose from the hello.
    pub version: u16,
    /// IDU: the PED's identifier (its serial number).
    pub ped_id: Vec<u8>,
    /// The PED's ephemeral public key.
    pub ephemeral: EcdhPublicKey,
    /// C(2e,2s) only: the identity of the orange keyset the PED read, one of those the
    /// hello listed. Random, unrelated to the keyset's secret.
    pub orange_keyset: Option<KeysetId>,
    /// Remote kinds only: the PED's tag (`KC_2_U`), sent first.
    pub tag: Option<[u8; TAG_LEN]>,
}

impl PedKeyShare {
    /// The body bytes. The optional fields must be present exactly as `kind` requires.
    pub fn encode(&self, kind: ChannelKind) -> Result<Vec<u8>, Error> {
        check_id(&self.ped_id, "ped id")?;
        let mut out = Vec::new();
        out.put_u16(self.version);
        out.put_bytes_u8(&self.ped_id);
        out.extend_from_slice(&self.ephemeral.to_uncompressed());
        match (&self.orange_keyset, kind.is_full_unified()) {
            (Some(id), true) => out.extend_from_slice(id.as_bytes()),
            (None, false) => {}
            _ => return Err(Error::Decode(DecodeError::InvalidValue("orange keyset"))),
        }
        match (&self.tag, kind.ped_confirms()) {
            (Some(tag), true) => out.extend_from_slice(tag),
            (None, false) => {}
            _ => return Err(Error::Decode(DecodeError::InvalidValue("ped tag"))),
        }
        Ok(out)
    }

    /// Decodes a body for the channel kind the HSM opened.
    pub fn decode(body: &[u8], kind: ChannelKind) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let version = r.u16("version")?;
        let ped_id = id(r.bytes_u8("ped id", MAX_ID_LEN)?, "ped id")?.to_vec();
        let ephemeral = EcdhPublicKey::from_uncompressed(r.take(PUBLIC_KEY_LEN, "ped ephemeral key")?)?;
        let orange_keyset =
            if kind.is_full_unified() { Some(KeysetId::from_bytes(r.array("orange keyset")?)) } else { None };
        let tag = if kind.ped_confirms() { Some(r.array("ped tag")?) } else { None };
        r.finish()?;
        Ok(PedKeyShare { version, ped_id, ephemeral, orange_keyset, tag })
    }
}

/// HSM → PED, the third message: the HSM's key-confirmation tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HsmFinished {
    /// `KC_1_V` (local) or `KC_2_V` (remote).
    pub tag: [u8; TAG_LEN],
}

impl HsmFinished {
    /// The body bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.tag.to_vec()
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let tag = r.array("hsm tag")?;
        r.finish()?;
        Ok(HsmFinished { tag })
    }
}

fn check_len(len: usize, max: usize, field: &'static str) -> Result<(), Error> {
    if len == 0 {
        Err(Error::Decode(DecodeError::InvalidValue(field)))
    } else if len > max {
        Err(Error::Decode(DecodeError::TooLong { field, max }))
    } else {
        Ok(())
    }
}

/// Party identifiers are serial numbers: printable ASCII, so that they can be shown
/// and logged as they are.
fn check_id(id: &[u8], field: &'static str) -> Result<(), Error> {
    check_len(id.len(), MAX_ID_LEN, field)?;
    if id.iter().all(|b| (0x20..0x7f).contains(b)) { Ok(()) } else { Err(DecodeError::InvalidValue(field).into()) }
}

fn id<'a>(bytes: &'a [u8], field: &'static str) -> Result<&'a [u8], DecodeError> {
    if !bytes.is_empty() && bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        Ok(bytes)
    } else {
        Err(DecodeError::InvalidValue(field))
    }
}

fn nonempty<'a>(bytes: &'a [u8], field: &'static str) -> Result<&'a [u8], DecodeError> {
    if bytes.is_empty() { Err(DecodeError::InvalidValue(field)) } else { Ok(bytes) }
}
