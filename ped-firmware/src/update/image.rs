//! The firmware image format (docs/firmware.md, "Firmware images and updates").
//!
//! ```text
//! offset  len  field
//!      0    8  magic                "PEDFWIMG"
//!      8    2  format version       u16 big-endian, 1
//!     10    2  security version     u16 big-endian: the anti-rollback level (docs/firmware.md, "Anti-rollback")
//!     12    4  payload length L     u32 big-endian, at least 1
//!     16    1  version length n     1..=31
//!     17   31  firmware version     n graphic ASCII bytes (0x21..=0x7e), then 31 - n zero bytes
//!     48   64  SHA-512 of the payload
//!    112    L  payload
//!  112+L  132  signature            ECDSA P-521 over SHA-512(bytes 0..112), r ‖ s, 66 bytes each
//! ```
//!
//! The signature covers the 112-byte header, which commits to the payload through its
//! length and SHA-512. That is as strong as signing header ‖ payload (a forger would
//! need a SHA-512 collision) and lets the PED verify an image of several MiB with a
//! fixed, small buffer: the signature is checked over bytes already in RAM and the
//! payload is hashed as it is streamed out of flash.

use core::fmt;

use ped_proto::cert::verify_ecdsa_p521_sha512_p1363;
use ped_proto::{EcdhPublicKey, PUBLIC_KEY_LEN};
use sha2::{Digest, Sha512};

/// The first eight bytes of every image.
pub const MAGIC: [u8; 8] = *b"PEDFWIMG";
/// The only image format this firmware reads.
pub const FORMAT_VERSION: u16 = 1;
/// Length of the header, the part the signature covers.
pub const HEADER_LEN: usize = 112;
/// Length of the signature trailer: r ‖ s, 66 big-endian bytes each.
pub const SIGNATURE_LEN: usize = 132;
/// Length of the payload digest (SHA-512).
pub const DIGEST_LEN: usize = 64;
/// Most bytes of a firmware version string.
pub const MAX_VERSION_LEN: usize = 31;
/// The shortest well-formed image: a header, one payload byte and the signature.
pub const MIN_IMAGE_LEN: usize = HEADER_LEN + 1 + SIGNATURE_LEN;

const VERSION_OFFSET: usize = 17;
const DIGEST_OFFSET: usize = VERSION_OFFSET + MAX_VERSION_LEN;
/// Bytes of flash read per step while hashing: on the stack, so verification needs no
/// heap however large the image.
const READ_BLOCK: usize = 1024;

/// A firmware version as the PED shows it ("PED V.2.9.0-1"): 1 to 31 graphic ASCII
/// characters. No space or control character, so it prints the same on the display,
/// in a log line and on the host.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirmwareVersion {
    len: u8,
    bytes: [u8; MAX_VERSION_LEN],
}

impl FirmwareVersion {
    /// `None` unless `version` is 1 to 31 characters in 0x21..=0x7e.
    pub fn new(version: &str) -> Option<Self> {
        let raw = version.as_bytes();
        if raw.is_empty() || raw.len() > MAX_VERSION_LEN || !raw.iter().all(u8::is_ascii_graphic) {
            return None;
        }
        let mut bytes = [0u8; MAX_VERSION_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        // The length is at most 31, checked above.
        Some(FirmwareVersion { len: raw.len() as u8, bytes })
    }

    /// The version text.
    pub fn as_str(&self) -> &str {
        // Only graphic ASCII is ever stored, so this cannot fail; the fallback keeps the
        // accessor total without a panic path.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FirmwareVersion({:?})", self.as_str())
    }
}

/// The vendor's image-signing public key, a PED configuration value. Validated once,
/// when configured: on the P-521 curve and not the identity.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VendorKey([u8; PUBLIC_KEY_LEN]);

impl VendorKey {
    /// Decodes a SEC1 point, compressed or uncompressed.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, InvalidVendorKey> {
        EcdhPublicKey::from_sec1(bytes).map(|key| VendorKey(key.to_uncompressed())).map_err(|_| InvalidVendorKey)
    }

    /// The uncompressed SEC1 encoding, `04 ‖ X ‖ Y`.
    pub fn to_uncompressed(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0
    }
}

impl fmt::Debug for VendorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Public, but 133 bytes of hex help no one reading a log; the prefix identifies it.
        write!(f, "VendorKey({:02x}{:02x}{:02x}{:02x}…)", self.0[1], self.0[2], self.0[3], self.0[4])
    }
}

/// The configured vendor key is not a P-521 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidVendorKey;

impl fmt::Display for InvalidVendorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the vendor key is not a P-521 public key; configure the vendor's SEC1 public key")
    }
}

impl core::error::Error for InvalidVendorKey {}

/// The decoded header of an image. Decoding alone proves nothing: only [`verify`] (or
/// the updater, which verifies the same way) says an image is the vendor's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    version: FirmwareVersion,
    security_version: u16,
    payload_len: u32,
    payload_digest: [u8; DIGEST_LEN],
}

impl Header {
    /// The header for `payload`, for the tool that builds images, at security version
    /// 0 (see [`with_security_version`](Self::with_security_version)). `None` if the
    /// payload is empty or longer than `u32::MAX` bytes.
    pub fn for_payload(version: FirmwareVersion, payload: &[u8]) -> Option<Self> {
        let payload_len = u32::try_from(payload.len()).ok().filter(|&n| n > 0)?;
        let mut payload_digest = [0u8; DIGEST_LEN];
        payload_digest.copy_from_slice(&Sha512::digest(payload));
        Some(Header { version, security_version: 0, payload_len, payload_digest })
    }

    /// The same header at security version `security_version`: a PED that has run
    /// this image refuses any image below it.
    pub fn with_security_version(self, security_version: u16) -> Self {
        Header { security_version, ..self }
    }

    /// Decodes a header. Every field is checked, padding included, so that one header
    /// has exactly one encoding.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Self, ImageError> {
        if bytes[..8] != MAGIC {
            return Err(ImageError::BadMagic);
        }
        let format = u16::from_be_bytes([bytes[8], bytes[9]]);
        if format != FORMAT_VERSION {
            return Err(ImageError::UnsupportedFormat(format));
        }
        let security_version = u16::from_be_bytes([bytes[10], bytes[11]]);
        let payload_len = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        if payload_len == 0 {
            return Err(ImageError::MalformedHeader("payload length"));
        }
        let n = usize::from(bytes[16]);
        let field = &bytes[VERSION_OFFSET..DIGEST_OFFSET];
        let version = field
            .get(..n)
            .and_then(|text| core::str::from_utf8(text).ok())
            .and_then(FirmwareVersion::new)
            .ok_or(ImageError::MalformedHeader("firmware version"))?;
        if field[n..].iter().any(|&b| b != 0) {
            return Err(ImageError::MalformedHeader("firmware version padding"));
        }
        let mut payload_digest = [0u8; DIGEST_LEN];
        payload_digest.copy_from_slice(&bytes[DIGEST_OFFSET..HEADER_LEN]);
        Ok(Header { version, security_version, payload_len, payload_digest })
    }

    /// The 112 bytes the vendor signs.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8..10].copy_from_slice(&FORMAT_VERSION.to_be_bytes());
        out[10..12].copy_from_slice(&self.security_version.to_be_bytes());
        out[12..16].copy_from_slice(&self.payload_len.to_be_bytes());
        out[16] = self.version.len;
        out[VERSION_OFFSET..DIGEST_OFFSET].copy_from_slice(&self.version.bytes);
        out[DIGEST_OFFSET..].copy_from_slice(&self.payload_digest);
        out
    }

    /// The firmware version the image carries.
    pub fn version(&self) -> FirmwareVersion {
        self.version
    }

    /// Its anti-rollback level: a PED refuses the image if it is below the minimum
    /// recorded in its boot record, and records it as the minimum once the image has
    /// booted and confirmed itself ([`crate::update::confirm`]).
    pub fn security_version(&self) -> u16 {
        self.security_version
    }

    /// Length of the payload.
    pub fn payload_len(&self) -> u32 {
        self.payload_len
    }

    /// SHA-512 of the payload.
    pub fn payload_digest(&self) -> &[u8; DIGEST_LEN] {
        &self.payload_digest
    }

    /// Length of the whole image this header describes: header, payload, signature.
    pub fn image_len(&self) -> usize {
        // u32 payload plus 244 fits a usize on every target this firmware builds for
        // (32-bit and up); saturating keeps a 16-bit build total rather than wrong.
        HEADER_LEN.saturating_add(self.payload_len as usize).saturating_add(SIGNATURE_LEN)
    }
}

/// Why an image is not accepted. Each cause has a stable number, shown on the PED as
/// "Failure (VERIFY) (n)"; [`crate::update::UpdateError`] adds the upload causes.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// Not a PED firmware image (wrong magic). VERIFY 4.
    BadMagic,
    /// An image format this firmware does not read. VERIFY 5.
    UnsupportedFormat(u16),
    /// A header field out of range; names the field. VERIFY 5.
    MalformedHeader(&'static str),
    /// The image is shorter or longer than its header says (truncated, or bytes
    /// appended). VERIFY 6.
    LengthMismatch {
        /// The length the header implies, header and signature included.
        expected: usize,
        /// The length received.
        actual: usize,
    },
    /// The header is not signed by the configured vendor key: a wrong file, another
    /// vendor's image, or a changed header. VERIFY 7.
    BadSignature,
    /// The payload is not the one the signed header names (corrupted in transit or in
    /// flash). VERIFY 8.
    PayloadCorrupted,
}

impl ImageError {
    /// The number the PED shows in "Failure (VERIFY) (n)".
    pub fn verify_number(&self) -> u8 {
        match self {
            ImageError::BadMagic => 4,
            ImageError::UnsupportedFormat(_) | ImageError::MalformedHeader(_) => 5,
            ImageError::LengthMismatch { .. } => 6,
            ImageError::BadSignature => 7,
            ImageError::PayloadCorrupted => 8,
        }
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::BadMagic => f.write_str("not a PED firmware image"),
            ImageError::UnsupportedFormat(v) => write!(f, "image format {v} is not supported"),
            ImageError::MalformedHeader(field) => write!(f, "image header: bad {field}"),
            ImageError::LengthMismatch { expected, actual } => {
                write!(f, "image is {actual} bytes, header says {expected}")
            }
            ImageError::BadSignature => f.write_str("image not signed by the vendor key"),
            ImageError::PayloadCorrupted => f.write_str("image payload corrupted"),
        }
    }
}

impl core::error::Error for ImageError {}

/// Verifies a whole image held in memory (the image tool, tests) against the vendor
/// key, with exactly the checks and in the order the PED applies to a slot.
pub fn verify(image: &[u8], key: &VendorKey) -> Result<Header, ImageError> {
    let read = |offset: usize, buf: &mut [u8]| -> Result<(), core::convert::Infallible> {
        // `verify_stored` reads only inside 0..image.len(); copying from a `get` keeps
        // this total anyway.
        if let Some(src) = offset.checked_add(buf.len()).and_then(|end| image.get(offset..end)) {
            buf.copy_from_slice(src);
        }
        Ok(())
    };
    verify_stored(StoredLen::Known(image.len()), key, read).map_err(|rejected| match rejected {
        Rejected::Image(e) => e,
        Rejected::Read(never) => match never {},
    })
}

/// How long the stored image is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StoredLen {
    /// The uploader announced this length.
    Known(usize),
    /// Only the header knows (at boot); it may claim at most this much.
    FromHeader {
        /// The slot's capacity.
        max: usize,
    },
}

/// Why a stored image was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejected<E> {
    /// The image is not the vendor's.
    Image(ImageError),
    /// The storage could not be read.
    Read(E),
}

/// The one verification routine, over any storage: `read(offset, buf)` fills `buf`
/// from the image at `offset`. Checks, in order: length at least [`MIN_IMAGE_LEN`],
/// header fields, length against the header, signature over the header, payload hash.
/// Memory used is a fixed few hundred bytes of stack whatever the image length.
pub(crate) fn verify_stored<E>(
    len: StoredLen,
    key: &VendorKey,
    mut read: impl FnMut(usize, &mut [u8]) -> Result<(), E>,
) -> Result<Header, Rejected<E>> {
    if let StoredLen::Known(actual) = len
        && actual < MIN_IMAGE_LEN
    {
        return Err(Rejected::Image(ImageError::LengthMismatch { expected: MIN_IMAGE_LEN, actual }));
    }
    let mut header_bytes = [0u8; HEADER_LEN];
    read(0, &mut header_bytes).map_err(Rejected::Read)?;
    let header = Header::decode(&header_bytes).map_err(Rejected::Image)?;
    let expected = header.image_len();
    let actual = match len {
        StoredLen::Known(actual) => actual,
        // At boot the stored length is whatever the header says, if the slot holds it.
        StoredLen::FromHeader { max } => expected.min(max),
    };
    if expected != actual {
        return Err(Rejected::Image(ImageError::LengthMismatch { expected, actual }));
    }
    let mut signature = [0u8; SIGNATURE_LEN];
    read(expected - SIGNATURE_LEN, &mut signature).map_err(Rejected::Read)?;
    if !verify_ecdsa_p521_sha512_p1363(&key.0, &header_bytes, &signature) {
        return Err(Rejected::Image(ImageError::BadSignature));
    }
    let mut hasher = Sha512::new();
    let mut block = [0u8; READ_BLOCK];
    let payload_end = expected - SIGNATURE_LEN;
    let mut offset = HEADER_LEN;
    while offset < payload_end {
        let n = READ_BLOCK.min(payload_end - offset);
        read(offset, &mut block[..n]).map_err(Rejected::Read)?;
        hasher.update(&block[..n]);
        offset += n;
    }
    if hasher.finalize().as_slice() != header.payload_digest.as_slice() {
        return Err(Rejected::Image(ImageError::PayloadCorrupted));
    }
    Ok(header)
}
