//! The channel handshakes of both ends (seed lines 3656-3803).
//!
//! Party U of SP 800-56A is the PED, party V the HSM. Three messages, HSM first:
//!
//! ```text
//! HSM                                              PED
//! HsmHello {kind, versions, IDV, NonceV|EphemV, chain} ──>
//!                  <── PedKeyShare {version, IDU, EphemU, [RPK cert], [KC_2_U tag]}
//! HsmFinished {KC_1_V | KC_2_V tag} ──>
//! ```
//!
//! Each end is a chain of states named for what they await; each transition consumes
//! its state, so a state cannot be used twice. On any error the caller sends
//! [`crate::frame::handshake_failed`] and drops the connection.

pub mod hsm;
pub mod messages;
pub mod ped;
pub(crate) mod schedule;

pub use messages::{ChannelKind, HsmEphemeral, HsmFinished, HsmHello, PedKeyShare, SUPPORTED_VERSIONS};

use crate::error::Error;
use crate::frame::{Frame, FrameType};

/// Checks that `frame` is of the type the current state awaits; a HandshakeFailed
/// frame from the peer becomes [`Error::PeerFailed`].
fn expect_frame<'a>(frame: Frame<'a>, wanted: FrameType) -> Result<&'a [u8], Error> {
    match frame.frame_type {
        t if t == wanted => Ok(frame.body),
        FrameType::HandshakeFailed => Err(Error::PeerFailed),
        _ => Err(Error::UnexpectedMessage),
    }
}
