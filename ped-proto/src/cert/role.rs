//! What a key-agreement leaf is for. The HOC certifies two kinds of static ECDH key
//! that are otherwise alike: the HSM's own, and the RPK static key it writes onto the
//! orange key. Were the two certificates interchangeable, whoever holds an orange key
//! (the RPK private key and its certificate) could present that certificate in an
//! HsmHello and pass for the HSM. Each leaf therefore names its one role in its
//! extendedKeyUsage extension (RFC 5280 §4.2.1.12), and each verifier asks for a role.

/// The key purpose of the HSM's static ECDH key, as a UUID: its OID is
/// `2.25.125867660181788637105590279927392609305`.
///
/// Both purposes live under the UUID arc `2.25` (ITU-T X.667 §6.3, ISO/IEC 9834-8):
/// the arc below it is the integer value of a UUID, here two random (version 4) UUIDs
/// generated once for this project. Anyone may name an object so without registering
/// it, and a random 122-bit value collides with no one else's.
pub const HSM_STATIC_KEY_PURPOSE_UUID: u128 = 0x5eb13ac5_95bc_416b_8f64_41a0a66ba419;

/// The key purpose of an RPK static ECDH key (the one written onto an orange key at RPV
/// initialisation), as a UUID: its OID is
/// `2.25.278392019325399512036190755181243680228`. See
/// [`HSM_STATIC_KEY_PURPOSE_UUID`] for the arc.
pub const RPK_STATIC_KEY_PURPOSE_UUID: u128 = 0xd1705a45_f102_4962_9b7e_ee97a22845e4;

/// The role of a key-agreement leaf certificate in the PED channel. A leaf carries
/// exactly one role, and a certificate issued for one is refused in the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeafRole {
    /// The HSM's static ECDH key (party V), presented in every HsmHello.
    HsmStatic,
    /// An RPK static ECDH key (party U's static key in C(2e,2s)), read from an orange
    /// key.
    RpkStatic,
}

impl LeafRole {
    /// Both roles.
    pub const ALL: [LeafRole; 2] = [LeafRole::HsmStatic, LeafRole::RpkStatic];

    /// The UUID under `2.25` whose OID names this role's key purpose.
    pub const fn purpose_uuid(self) -> u128 {
        match self {
            LeafRole::HsmStatic => HSM_STATIC_KEY_PURPOSE_UUID,
            LeafRole::RpkStatic => RPK_STATIC_KEY_PURPOSE_UUID,
        }
    }

    /// The DER contents (without tag and length) of this role's key-purpose OID, the
    /// bytes a leaf's extendedKeyUsage must hold.
    pub fn purpose_oid(self) -> &'static [u8] {
        let oid = match self {
            LeafRole::HsmStatic => &HSM_STATIC_KEY_PURPOSE,
            LeafRole::RpkStatic => &RPK_STATIC_KEY_PURPOSE,
        };
        &oid.ber[..oid.len]
    }

    /// The role whose purpose OID has exactly the DER contents `oid`, if any.
    pub(super) fn from_purpose_oid(oid: &[u8]) -> Option<LeafRole> {
        LeafRole::ALL.into_iter().find(|role| role.purpose_oid() == oid)
    }

    /// A byte that stands for the role where it must enter a hash (the chain cache's
    /// key), so that a verdict for one role never answers a question about the other.
    pub(super) const fn tag(self) -> u8 {
        match self {
            LeafRole::HsmStatic => 1,
            LeafRole::RpkStatic => 2,
        }
    }
}

/// The longest DER contents of a `2.25.<uuid>` OID: one octet for `2.25`, then up to
/// ⌈128 / 7⌉ = 19 base-128 digits.
const MAX_UUID_OID_LEN: usize = 20;

/// The DER contents of an OID, built at compile time. `const-oid`, which `der` uses,
/// limits arcs to 32 bits, so it cannot hold a UUID arc; these bytes are written and
/// compared as they are instead.
struct UuidOid {
    ber: [u8; MAX_UUID_OID_LEN],
    len: usize,
}

static HSM_STATIC_KEY_PURPOSE: UuidOid = uuid_oid(HSM_STATIC_KEY_PURPOSE_UUID);
static RPK_STATIC_KEY_PURPOSE: UuidOid = uuid_oid(RPK_STATIC_KEY_PURPOSE_UUID);

/// X.690 §8.19: the first two arcs share one octet (2 × 40 + 25 = 105), then the UUID
/// in base 128, most significant digit first, with the high bit set on every octet but
/// the last.
const fn uuid_oid(uuid: u128) -> UuidOid {
    let mut digits = 1;
    while digits < MAX_UUID_OID_LEN - 1 && uuid >> (7 * digits) != 0 {
        digits += 1;
    }
    let mut ber = [0u8; MAX_UUID_OID_LEN];
    ber[0] = 2 * 40 + 25;
    let mut i = 0;
    while i < digits {
        let more = if i + 1 < digits { 0x80 } else { 0 };
        ber[1 + i] = ((uuid >> (7 * (digits - 1 - i))) & 0x7f) as u8 | more;
        i += 1;
    }
    UuidOid { ber, len: 1 + digits }
}
