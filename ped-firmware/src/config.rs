//! What a PED is configured with at start-up.

use alloc::string::String;
use alloc::vec::Vec;
use core::num::NonZeroU32;

use ped_proto::pin::PIN_ITERATIONS;

use crate::update::image::VendorKey;
use crate::update::slots::Slot;

/// The PED-key action timeout of the seed (line 4694): 200 seconds.
pub const DEFAULT_KEY_TIMEOUT_MS: u64 = 200_000;

/// The PED's identity, trust anchor and timeouts.
#[derive(Clone, Debug)]
pub struct PedConfig {
    /// The PED's serial number: its party identifier in the handshake (printable
    /// ASCII, 1..=32 bytes) and the serial it reports in Info.
    pub serial: String,
    /// The firmware version shown as "PED V.x.y.z" and reported in Info.
    pub firmware_version: String,
    /// The DER certificate of the manufacturer's root that every HSM chain must end in.
    pub trusted_root: Vec<u8>,
    /// How long the PED waits for a key holder's action during an HSM command, in
    /// milliseconds, before it answers the HSM with a timeout.
    pub key_timeout_ms: u64,
    /// The PBKDF2 iteration count of the PIN binding. Always [`PIN_ITERATIONS`] on a
    /// real PED (keys written with another count do not read elsewhere); tests lower
    /// it to stay fast.
    pub pin_iterations: NonZeroU32,
    /// The vendor's image-signing key; without it, Software Update is not offered.
    pub vendor_key: Option<VendorKey>,
    /// The slot the boot loader ran this firmware from (`update::boot`); uploads go to
    /// the other one.
    pub running_slot: Option<Slot>,
}

impl PedConfig {
    /// A PED with the seed's defaults.
    pub fn new(serial: &str, firmware_version: &str, trusted_root: Vec<u8>) -> Self {
        PedConfig {
            serial: serial.into(),
            firmware_version: firmware_version.into(),
            trusted_root,
            key_timeout_ms: DEFAULT_KEY_TIMEOUT_MS,
            pin_iterations: PIN_ITERATIONS,
            vendor_key: None,
            running_slot: None,
        }
    }
}
