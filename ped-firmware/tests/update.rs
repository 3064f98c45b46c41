//! Firmware images and the A/B update (docs/firmware.md, "Firmware images and
//! updates"): the image format, each refusal and its VERIFY number, power cuts at
//! every flash operation, property tests and the update screens.

use p521::ecdsa::signature::Signer;
use p521::ecdsa::{Signature, SigningKey};
use p521::elliptic_curve::sec1::ToSec1Point;
use ped_firmware::update::image::{self, FirmwareVersion, Header, ImageError, VendorKey};
use ped_firmware::update::slots::{MemorySlots, Slot};
use ped_firmware::update::{BootedImage, UpdateError, Updater, boot};
use ped_proto::device::UpdateState;

/// Slot size of the test flash: room for the test images, small enough to be quick.
const CAPACITY: usize = 16 * 1024;
const CHUNK: usize = 1000;

struct Vendor {
    signing: SigningKey,
    public: VendorKey,
}

impl Vendor {
    fn new(seed: u8) -> Self {
        // A scalar whose top byte is zero is below the group order, so any seed works.
        let mut scalar = [0u8; 66];
        scalar[1..].iter_mut().enumerate().for_each(|(i, b)| *b = seed.wrapping_mul(31).wrapping_add(i as u8));
        let signing = SigningKey::from_slice(&scalar).expect("valid scalar");
        let point = signing.verifying_key().as_affine().to_sec1_point(false);
        let public = VendorKey::from_sec1(point.as_bytes()).expect("valid point");
        Vendor { signing, public }
    }

    fn image(&self, version: &str, payload: &[u8]) -> Vec<u8> {
        let header = Header::for_payload(FirmwareVersion::new(version).expect("version"), payload).expect("payload");
        let header = header.encode();
        let signature: Signature = self.signing.sign(&header);
        let mut image = header.to_vec();
        image.extend_from_slice(payload);
        image.extend_from_slice(&signature.to_bytes());
        image
    }
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)).collect()
}

/// Uploads and saves `image` as the core would; returns the first error.
fn install(slots: &mut MemorySlots, running: Option<Slot>, image: &[u8], key: &VendorKey) -> Result<(), UpdateError> {
    let mut updater = Updater::new(running);
    updater.begin(image.len() as u32, slots)?;
    for (i, chunk) in image.chunks(CHUNK).enumerate() {
        updater.chunk((i * CHUNK) as u32, chunk, slots)?;
    }
    let verified = updater.finish(slots, key)?;
    updater.save(verified, slots)
}

fn booted_version(booted: &BootedImage) -> &str {
    booted.version.as_str()
}

#[test]
fn good_image_round_trip() {
    let vendor = Vendor::new(1);
    let mut slots = MemorySlots::new(CAPACITY);
    let old = vendor.image("2.9.0-1", &payload(3000, 1));
    install(&mut slots, None, &old, &vendor.public).unwrap();
    let booted = boot(&mut slots, &vendor.public).unwrap();
    assert_eq!((booted.slot, booted_version(&booted), booted.fell_back), (Slot::A, "2.9.0-1", false));

    let new = vendor.image("2.9.1-0", &payload(5000, 2));
    install(&mut slots, Some(booted.slot), &new, &vendor.public).unwrap();
    let booted = boot(&mut slots, &vendor.public).unwrap();
    assert_eq!((booted.slot, booted_version(&booted), booted.fell_back), (Slot::B, "2.9.1-0", false));
    assert_eq!(image::verify(&new, &vendor.public).unwrap().version().as_str(), "2.9.1-0");
}

#[test]
fn wrong_vendor_key_is_verify_7_and_old_image_still_boots() {
    let vendor = Vendor::new(1);
    let other = Vendor::new(2);
    let mut slots = MemorySlots::new(CAPACITY);
    install(&mut slots, None, &vendor.image("2.9.0-1", &payload(3000, 1)), &vendor.public).unwrap();
    let err = install(&mut slots, Some(Slot::A), &other.image("6.6.6-6", &payload(3000, 9)), &vendor.public);
    let err = err.unwrap_err();
    assert_eq!(err, UpdateError::Image(ImageError::BadSignature));
    assert_eq!(err.verify_number(), Some(7));
    assert_eq!(err.state(), UpdateState::VerifyFailed);
    assert_eq!(err.screen().text_lines(), ["Failure (VERIFY) (7)", "Press Enter"]);
    assert_eq!(booted_version(&boot(&mut slots, &vendor.public).unwrap()), "2.9.0-1");
}
