//! HMAC-SHA-512 and SP 800-56A Rev.3 §5.9 key confirmation.

use alloc::vec::Vec;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;
use subtle::ConstantTimeEq;

/// Length of an untruncated HMAC-SHA-512 tag.
pub const TAG_LEN: usize = 64;

/// HMAC-SHA-512 over the concatenation of `parts`.
pub fn hmac_sha512(key: &[u8], parts: &[&[u8]]) -> [u8; TAG_LEN] {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Compares a received tag with the expected one in constant time. A received tag of
/// another length never matches.
pub fn tags_equal(expected: &[u8], received: &[u8]) -> bool {
    expected.len() == received.len() && bool::from(expected.ct_eq(received))
}

/// The message string of a key-confirmation MacData (§5.9.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KcMessage {
    /// Unilateral, provided by party U.
    Kc1U,
    /// Unilateral, provided by party V.
    Kc1V,
    /// Bilateral, party U's tag.
    Kc2U,
    /// Bilateral, party V's tag.
    Kc2V,
}

impl KcMessage {
    /// The six ASCII bytes that open MacData.
    pub const fn as_bytes(self) -> &'static [u8; 6] {
        match self {
            KcMessage::Kc1U => b"KC_1_U",
            KcMessage::Kc1V => b"KC_1_V",
            KcMessage::Kc2U => b"KC_2_U",
            KcMessage::Kc2V => b"KC_2_V",
        }
    }
}

/// The parties' contributions to MacData, seen from the key-confirmation provider.
#[derive(Clone, Copy, Debug)]
pub struct KcParties<'a> {
    /// The provider's identifier.
    pub provider_id: &'a [u8],
    /// The recipient's identifier.
    pub recipient_id: &'a [u8],
    /// The provider's ephemeral data (public key or nonce), empty if none.
    pub provider_ephemeral: &'a [u8],
    /// The recipient's ephemeral data (public key or nonce), empty if none.
    pub recipient_ephemeral: &'a [u8],
}

/// `MacData = message ‖ ID_P ‖ ID_R ‖ EphemData_P ‖ EphemData_R` (§5.9.1.1).
pub fn kc_mac_data(message: KcMessage, parties: &KcParties<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        6 + parties.provider_id.len()
            + parties.recipient_id.len()
            + parties.provider_ephemeral.len()
            + parties.recipient_ephemeral.len(),
    );
    out.extend_from_slice(message.as_bytes());
    out.extend_from_slice(parties.provider_id);
    out.extend_from_slice(parties.recipient_id);
    out.extend_from_slice(parties.provider_ephemeral);
    out.extend_from_slice(parties.recipient_ephemeral);
    out
}

/// The full-length key-confirmation tag `HMAC-SHA-512(MacKey, MacData)`.
pub fn kc_tag(mac_key: &[u8], message: KcMessage, parties: &KcParties<'_>) -> [u8; TAG_LEN] {
    hmac_sha512(mac_key, &[&kc_mac_data(message, parties)])
}
