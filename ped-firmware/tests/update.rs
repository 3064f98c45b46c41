//! Firmware images and the A/B update (docs/firmware.md, "Firmware images and
//! updates"): the round trip, each refusal with its VERIFY number, boot fallback,
//! power cuts at every flash operation of upload and save, property tests of the
//! image decoder and of chunk sequences, and the update screens.

use p521::ecdsa::signature::Signer;
use p521::ecdsa::{Signature, SigningKey};
use p521::elliptic_curve::sec1::ToSec1Point;
use ped_firmware::update::image::{
    self, FirmwareVersion, HEADER_LEN, Header, ImageError, MIN_IMAGE_LEN, SIGNATURE_LEN, VendorKey,
};
use ped_firmware::update::slots::{
    BootRecord, FlashError, ImageSlots, MemorySlots, PowerCut, RECORD_LEN, RecordCopy, Slot,
};
use ped_firmware::update::{BootError, SlotFault, UpdateError, Updater, boot, screens};
use ped_proto::device::{DeviceMessage, MAX_CHUNK_LEN, UpdateState};
use proptest::prelude::*;

/// Slot size of the test flash: room for the test images, small enough to be quick.
const CAPACITY: usize = 64 * 1024;
const CHUNK: usize = 1000;
const OLD: &str = "2.9.0-1";
const NEW: &str = "2.9.1-0";

struct Vendor {
    signing: SigningKey,
    public: VendorKey,
}

impl Vendor {
    fn new(seed: u8) -> Self {
        // A scalar whose top byte is zero is below the group order, so any seed works.
        let mut scalar = [0u8; 66];
        for (i, b) in scalar[1..].iter_mut().enumerate() {
            *b = seed.wrapping_mul(31).wrapping_add(i as u8);
        }
        let signing = SigningKey::from_slice(&scalar).expect("valid scalar");
        let point = signing.verifying_key().as_affine().to_sec1_point(false);
        let public = VendorKey::from_sec1(point.as_bytes()).expect("valid point");
        Vendor { signing, public }
    }

    fn image(&self, version: &str, payload: &[u8]) -> Vec<u8> {
        let header = Header::for_payload(FirmwareVersion::new(version).expect("version"), payload).expect("payload");
        let header = header.encode();
        self.sealed(&header, payload)
    }

    /// `header ‖ payload ‖ signature over header`, whatever the header says.
    fn sealed(&self, header: &[u8; HEADER_LEN], payload: &[u8]) -> Vec<u8> {
        let signature: Signature = self.signing.sign(header);
        let mut image = header.to_vec();
        image.extend_from_slice(payload);
        image.extend_from_slice(&signature.to_bytes());
        image
    }
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)).collect()
}

/// Uploads `image` in chunks of [`CHUNK`] and saves it, as the core does on the host's
/// frames and the key holder's YES.
fn install(slots: &mut MemorySlots, running: Option<Slot>, image: &[u8], key: &VendorKey) -> Result<(), UpdateError> {
    let mut updater = Updater::new(running);
    updater.begin(image.len() as u32, slots)?;
    for (i, chunk) in image.chunks(CHUNK).enumerate() {
        updater.chunk((i * CHUNK) as u32, chunk, slots)?;
    }
    let verified = updater.finish(slots, key)?;
    updater.save(verified, slots)
}

fn booted_version(slots: &mut MemorySlots, key: &VendorKey) -> String {
    boot(slots, key).expect("a valid image boots").version.as_str().to_owned()
}

/// Flash as the factory leaves it: `image` in slot A and no boot record.
fn factory(image: &[u8]) -> MemorySlots {
    let mut slots = MemorySlots::new(CAPACITY);
    slots.slot_mut(Slot::A)[..image.len()].copy_from_slice(image);
    slots
}

/// A PED running OLD, the factory's image, from slot A.
fn ped_with_old(vendor: &Vendor) -> MemorySlots {
    factory(&vendor.image(OLD, &payload(3000, 1)))
}

#[test]
fn good_image_round_trip_alternates_slots() {
    let vendor = Vendor::new(1);
    let mut slots = ped_with_old(&vendor);
    let booted = boot(&mut slots, &vendor.public).unwrap();
    assert_eq!((booted.slot, booted.version.as_str(), booted.fell_back), (Slot::A, OLD, false));

    let new = vendor.image(NEW, &payload(5000, 2));
    let mut updater = Updater::new(Some(booted.slot));
    assert_eq!(updater.target(), Slot::B);
    updater.begin(new.len() as u32, &mut slots).unwrap();
    for (i, chunk) in new.chunks(CHUNK).enumerate() {
        updater.chunk((i * CHUNK) as u32, chunk, &mut slots).unwrap();
    }
    let verified = updater.finish(&mut slots, &vendor.public).unwrap();
    assert_eq!((verified.slot(), verified.version().as_str(), verified.image_len()), (Slot::B, NEW, new.len()));
    // Verified but not saved: the old image still boots.
    assert_eq!(booted_version(&mut slots, &vendor.public), OLD);
    updater.save(verified, &mut slots).unwrap();
    let booted = boot(&mut slots, &vendor.public).unwrap();
    assert_eq!((booted.slot, booted.version.as_str(), booted.fell_back), (Slot::B, NEW, false));

    // And back to slot A with the next one.
    install(&mut slots, Some(Slot::B), &vendor.image("2.9.2-0", &payload(700, 3)), &vendor.public).unwrap();
    let booted = boot(&mut slots, &vendor.public).unwrap();
    assert_eq!((booted.slot, booted.version.as_str()), (Slot::A, "2.9.2-0"));
    assert_eq!(image::verify(&new, &vendor.public).unwrap().version().as_str(), NEW);
}

#[test]
fn one_chunk_of_the_protocol_maximum_is_accepted() {
    let vendor = Vendor::new(1);
    let mut slots = ped_with_old(&vendor);
    let new = vendor.image(NEW, &payload(MAX_CHUNK_LEN, 4));
    let mut updater = Updater::new(Some(Slot::A));
    updater.begin(new.len() as u32, &mut slots).unwrap();
    updater.chunk(0, &new[..MAX_CHUNK_LEN], &mut slots).unwrap();
    updater.chunk(MAX_CHUNK_LEN as u32, &new[MAX_CHUNK_LEN..], &mut slots).unwrap();
    let verified = updater.finish(&mut slots, &vendor.public).unwrap();
    updater.save(verified, &mut slots).unwrap();
    assert_eq!(booted_version(&mut slots, &vendor.public), NEW);
}

/// Uploads `image` (announced as `image.len()` bytes) and expects VERIFY `number`
/// with `error`; then checks that OLD still boots and that a good image installs
/// after the refusal.
fn refused(vendor: &Vendor, image: &[u8], error: UpdateError, number: u8) {
    let mut slots = ped_with_old(vendor);
    let got = install(&mut slots, Some(Slot::A), image, &vendor.public).unwrap_err();
    assert_eq!(got, error);
    assert_eq!(got.verify_number(), Some(number));
    assert_eq!(got.state(), UpdateState::VerifyFailed);
    assert_eq!(got.screen().text_lines(), [format!("Failure (VERIFY) ({number})").as_str(), "Press Enter"]);
    let DeviceMessage::UpdateStatus { state, detail } = got.status() else { panic!("not a status") };
    assert_eq!(state, UpdateState::VerifyFailed);
    assert!(detail.starts_with(&format!("Failure (VERIFY) ({number}): ")), "{detail}");
    got.status().encode().expect("the status frame encodes");

    assert_eq!(booted_version(&mut slots, &vendor.public), OLD);
    install(&mut slots, Some(Slot::A), &vendor.image(NEW, &payload(2000, 5)), &vendor.public).unwrap();
    assert_eq!(booted_version(&mut slots, &vendor.public), NEW);
}

#[test]
fn wrong_signature_is_verify_7() {
    let vendor = Vendor::new(1);
    let mut image = vendor.image(NEW, &payload(3000, 2));
    let last = image.len() - 1;
    image[last] ^= 0x01;
    refused(&vendor, &image, UpdateError::Image(ImageError::BadSignature), 7);
}

#[test]
fn wrong_vendor_key_is_verify_7() {
    let vendor = Vendor::new(1);
    let other = Vendor::new(2);
    refused(&vendor, &other.image(NEW, &payload(3000, 2)), UpdateError::Image(ImageError::BadSignature), 7);
}

#[test]
fn changed_header_is_verify_7() {
    let vendor = Vendor::new(1);
    let mut image = vendor.image(NEW, &payload(3000, 2));
    // "2.9.1-0" becomes "2.9.9-0": still a well-formed version, so only the signature
    // can tell.
    image[17 + 4] = b'9';
    refused(&vendor, &image, UpdateError::Image(ImageError::BadSignature), 7);
}

#[test]
fn truncated_image_is_verify_6() {
    let vendor = Vendor::new(1);
    let image = vendor.image(NEW, &payload(3000, 2));
    let cut = &image[..image.len() - 10];
    let error = UpdateError::Image(ImageError::LengthMismatch { expected: image.len(), actual: cut.len() });
    refused(&vendor, cut, error, 6);
}

#[test]
fn extra_bytes_are_verify_6() {
    let vendor = Vendor::new(1);
    let image = vendor.image(NEW, &payload(3000, 2));
    let mut long = image.clone();
    long.extend_from_slice(b"appended");
    let error = UpdateError::Image(ImageError::LengthMismatch { expected: image.len(), actual: long.len() });
    refused(&vendor, &long, error, 6);
}

#[test]
fn corrupted_payload_byte_is_verify_8() {
    let vendor = Vendor::new(1);
    let mut image = vendor.image(NEW, &payload(3000, 2));
    image[HEADER_LEN + 1234] ^= 0x40;
    refused(&vendor, &image, UpdateError::Image(ImageError::PayloadCorrupted), 8);
}

#[test]
fn not_an_image_is_verify_4() {
    let vendor = Vendor::new(1);
    let mut image = vendor.image(NEW, &payload(3000, 2));
    image[..8].copy_from_slice(b"MZ\x90\x00\x03\x00\x00\x00");
    refused(&vendor, &image, UpdateError::Image(ImageError::BadMagic), 4);
}

#[test]
fn unknown_format_and_malformed_header_are_verify_5() {
    let vendor = Vendor::new(1);
    let body = payload(3000, 2);
    let good = Header::for_payload(FirmwareVersion::new(NEW).unwrap(), &body).unwrap().encode();
    // Signed by the vendor, so the refusal is the decoder's, not the signature's.
    let mut header = good;
    header[9] = 2;
    refused(&vendor, &vendor.sealed(&header, &body), UpdateError::Image(ImageError::UnsupportedFormat(2)), 5);
    let mut header = good;
    header[47] = b'x';
    let error = UpdateError::Image(ImageError::MalformedHeader("firmware version padding"));
    refused(&vendor, &vendor.sealed(&header, &body), error, 5);
    let mut header = good;
    header[16] = 0;
    let error = UpdateError::Image(ImageError::MalformedHeader("firmware version"));
    refused(&vendor, &vendor.sealed(&header, &body), error, 5);
}

#[test]
fn announced_length_out_of_range_is_verify_1() {
    let vendor = Vendor::new(1);
    let mut slots = ped_with_old(&vendor);
    let mut updater = Updater::new(Some(Slot::A));
    for len in [0, 1, MIN_IMAGE_LEN - 1, CAPACITY + 1, u32::MAX as usize] {
        let err = updater.begin(len as u32, &mut slots).unwrap_err();
        assert_eq!(err, UpdateError::LengthOutOfRange { image_len: len, max: CAPACITY });
        assert_eq!(err.verify_number(), Some(1));
    }
    // Nothing was erased for a refused length.
    assert_eq!(booted_version(&mut slots, &vendor.public), OLD);
    assert!(!boot(&mut slots, &vendor.public).unwrap().fell_back);
}

#[test]
fn early_end_is_verify_3() {
    let vendor = Vendor::new(1);
    let mut slots = ped_with_old(&vendor);
    let image = vendor.image(NEW, &payload(3000, 2));
    let mut updater = Updater::new(Some(Slot::A));
    updater.begin(image.len() as u32, &mut slots).unwrap();
    updater.chunk(0, &image[..2000], &mut slots).unwrap();
    let err = updater.finish(&mut slots, &vendor.public).unwrap_err();
    assert_eq!(err, UpdateError::Incomplete { received: 2000, image_len: image.len() });
    assert_eq!(err.verify_number(), Some(3));
    assert_eq!(booted_version(&mut slots, &vendor.public), OLD);
}

#[test]
fn chunks_out_of_order_overlapping_or_oversized_are_verify_2() {
    let vendor = Vendor::new(1);
    let image = vendor.image(NEW, &payload(3000, 2));
    let len = image.len();
    // (the chunks sent before the bad one, the bad chunk's offset and length)
    let cases: [(usize, u32, usize); 6] = [
        (0, 1000, 1000),           // a gap: the first chunk skipped
        (2, 1000, 1000),           // a resend of the chunk before
        (1, 1500, 100),            // overlapping
        (1, 1000, 0),              // empty
        (0, 0, MAX_CHUNK_LEN + 1), // larger than a chunk may be (the image is larger still below)
        (3, 3000, len - 3000 + 1), // past the announced end
    ];
    for (sent, offset, bad_len) in cases {
        let mut slots = ped_with_old(&vendor);
        let mut updater = Updater::new(Some(Slot::A));
        let big = vendor.image(NEW, &payload(2 * MAX_CHUNK_LEN, 2));
        let image = if bad_len > MAX_CHUNK_LEN { &big } else { &image };
        updater.begin(image.len() as u32, &mut slots).unwrap();
        for i in 0..sent {
            updater.chunk((i * CHUNK) as u32, &image[i * CHUNK..(i + 1) * CHUNK], &mut slots).unwrap();
        }
        // The content does not matter: where the chunk goes and its size refuse it.
        let err = updater.chunk(offset, &vec![0xa5; bad_len], &mut slots).unwrap_err();
        assert_eq!(
            err,
            UpdateError::OutOfSequence { expected: sent * CHUNK, offset },
            "case {sent} {offset} {bad_len}"
        );
        assert_eq!(err.verify_number(), Some(2));
        // The session is over: the next chunk, right or not, and the end are refused.
        let next = &image[sent * CHUNK..sent * CHUNK + 10];
        assert_eq!(updater.chunk((sent * CHUNK) as u32, next, &mut slots), Err(UpdateError::NotUploading));
        assert_eq!(updater.finish(&mut slots, &vendor.public), Err(UpdateError::NotUploading));
        assert_eq!(booted_version(&mut slots, &vendor.public), OLD);
    }
}

#[test]
fn no_session_no_chunk_and_no_save() {
    let vendor = Vendor::new(1);
    let mut slots = ped_with_old(&vendor);
    let image = vendor.image(NEW, &payload(3000, 2));
    let mut updater = Updater::new(Some(Slot::A));
    assert_eq!(updater.chunk(0, &image[..100], &mut slots), Err(UpdateError::NotUploading));
    assert_eq!(UpdateError::NotUploading.verify_number(), Some(2));

    // A verified image is saved only while it is this session's: a new begin (which
    // erases the slot it is in) takes that away.
    updater.begin(image.len() as u32, &mut slots).unwrap();
    for (i, chunk) in image.chunks(CHUNK).enumerate() {
        updater.chunk((i * CHUNK) as u32, chunk, &mut slots).unwrap();
    }
    let verified = updater.finish(&mut slots, &vendor.public).unwrap();
    updater.begin(image.len() as u32, &mut slots).unwrap();
    let err = updater.save(verified, &mut slots).unwrap_err();
    assert_eq!(err, UpdateError::NothingToSave);
    assert_eq!((err.verify_number(), err.state()), (None, UpdateState::SaveFailed));
    assert_eq!(err.screen().text_lines(), ["Software update", "Failure (SAVE)", "Press Enter"]);
    assert_eq!(booted_version(&mut slots, &vendor.public), OLD);
}

#[test]
fn boot_falls_back_when_the_recorded_slot_rots() {
    let vendor = Vendor::new(1);
    let mut slots = ped_with_old(&vendor);
    install(&mut slots, Some(Slot::A), &vendor.image(NEW, &payload(3000, 2)), &vendor.public).unwrap();
    slots.slot_mut(Slot::B)[HEADER_LEN + 5] ^= 0x01;
    let booted = boot(&mut slots, &vendor.public).unwrap();
    assert_eq!((booted.slot, booted.version.as_str(), booted.fell_back), (Slot::A, OLD, true));

    // The next update goes to the rotten slot, never over the running one.
    assert_eq!(Updater::new(Some(booted.slot)).target(), Slot::B);
    install(&mut slots, Some(booted.slot), &vendor.image("2.9.2-0", &payload(900, 3)), &vendor.public).unwrap();
    assert_eq!(booted_version(&mut slots, &vendor.public), "2.9.2-0");
}

#[test]
fn no_valid_image_is_a_boot_error_naming_both_slots() {
    let vendor = Vendor::new(1);
    let mut blank = MemorySlots::new(CAPACITY);
    let err = boot(&mut blank, &vendor.public).unwrap_err();
    // Without a record only the factory's slot A may boot; B is not even read.
    assert_eq!(err, BootError { a: SlotFault::Rejected(ImageError::BadMagic), b: SlotFault::NotSaved });
    assert_eq!(
        err.to_string(),
        "no valid firmware image (slot A: not a PED firmware image; slot B: no boot record names it)"
    );
    assert_eq!(err.screen().text_lines(), ["BOOT FAILURE", "No valid image", "Return the PED", "for service"]);

    let mut slots = ped_with_old(&vendor);
    install(&mut slots, Some(Slot::A), &vendor.image(NEW, &payload(3000, 2)), &vendor.public).unwrap();
    slots.slot_mut(Slot::A)[HEADER_LEN] ^= 0x01;
    slots.slot_mut(Slot::B)[HEADER_LEN + SIGNATURE_LEN] ^= 0x01;
    let err = boot(&mut slots, &vendor.public).unwrap_err();
    let corrupted = SlotFault::Rejected(ImageError::PayloadCorrupted);
    assert_eq!(err, BootError { a: corrupted, b: corrupted });
    assert!(err.to_string().starts_with("no valid firmware image (slot A: image payload corrupted;"), "{err}");
}

#[test]
fn torn_or_erased_boot_records_only_change_the_first_choice() {
    let vendor = Vendor::new(1);
    let mut slots = ped_with_old(&vendor);
    install(&mut slots, Some(Slot::A), &vendor.image(NEW, &payload(3000, 2)), &vendor.public).unwrap();
    // The first update's begin recorded the factory image (sequence 1, slot A, first
    // copy); its save wrote 2 (slot B) to the second.
    let mut buf = [0u8; RECORD_LEN];
    slots.read_record(RecordCopy::Second, &mut buf).unwrap();
    assert_eq!(BootRecord::decode(&buf), Some(BootRecord { slot: Slot::B, sequence: 2, minimum: 0 }));
    let mut torn = buf;
    torn[RECORD_LEN - 1] ^= 0x01;
    slots.write_record(RecordCopy::Second, &torn).unwrap();
    assert_eq!(BootRecord::decode(&torn), None);
    assert_eq!(booted_version(&mut slots, &vendor.public), OLD);
    slots.write_record(RecordCopy::First, &[0xff; RECORD_LEN]).unwrap();
    // No record at all: slot A first, which holds OLD.
    assert!(!boot(&mut slots, &vendor.public).unwrap().fell_back);
    assert_eq!(booted_version(&mut slots, &vendor.public), OLD);
}

#[test]
fn boot_record_encoding_is_exact() {
    let record = BootRecord { slot: Slot::B, sequence: 0x0102_0304_0506_0708, minimum: 0x0a0b };
    let bytes = record.encode();
    assert_eq!(&bytes[..16], b"PEDB\x01\x01\x0a\x0b\x01\x02\x03\x04\x05\x06\x07\x08");
    assert_eq!(BootRecord::decode(&bytes), Some(record));
    for i in 0..RECORD_LEN {
        let mut changed = bytes;
        changed[i] ^= 0x80;
        assert_eq!(BootRecord::decode(&changed), None, "byte {i}");
    }
}

#[test]
fn header_encoding_is_exact() {
    let body = b"firmware";
    let header = Header::for_payload(FirmwareVersion::new("2.9.0-1").unwrap(), body).unwrap();
    let bytes = header.encode();
    assert_eq!(&bytes[..17], b"PEDFWIMG\x00\x01\x00\x00\x00\x00\x00\x08\x07");
    assert_eq!(&bytes[17..24], b"2.9.0-1");
    assert!(bytes[24..48].iter().all(|&b| b == 0));
    assert_eq!(&bytes[48..], header.payload_digest());
    assert_eq!(Header::decode(&bytes), Ok(header));
    assert_eq!(header.image_len(), HEADER_LEN + body.len() + SIGNATURE_LEN);
    for bad in ["", " 2.9", "2.9\n", "2.9.0-1é", "12345678901234567890123456789012"] {
        assert_eq!(FirmwareVersion::new(bad), None, "{bad:?}");
    }
    assert!(FirmwareVersion::new("1234567890123456789012345678901").is_some());
    assert_eq!(Header::for_payload(FirmwareVersion::new("1").unwrap(), b""), None);
}

#[test]
fn in_memory_verify_checks_the_same_way() {
    let vendor = Vendor::new(1);
    let image = vendor.image(NEW, &payload(3000, 2));
    assert_eq!(image::verify(&image, &vendor.public).unwrap().payload_len(), 3000);
    assert_eq!(
        image::verify(&image[..MIN_IMAGE_LEN - 1], &vendor.public),
        Err(ImageError::LengthMismatch { expected: MIN_IMAGE_LEN, actual: MIN_IMAGE_LEN - 1 })
    );
    assert_eq!(image::verify(&image, &Vendor::new(2).public), Err(ImageError::BadSignature));
    assert!(VendorKey::from_sec1(&[0x04; 133]).is_err());
}

/// Every way of reaching power-on during an update: the update (upload, then save of
/// NEW over OLD) cut at each of its flash operations, with each of a few amounts of
/// that operation done. After power returns, boot must find OLD or NEW, NEW exactly
/// when the boot-record write completed. Run from both slots, since which record copy
/// a save overwrites depends on the history.
#[test]
fn power_cut_at_every_flash_operation_of_upload_and_save_boots_old_or_new() {
    let vendor = Vendor::new(1);
    let new = vendor.image(NEW, &payload(3000, 2));
    // OLD in slot A from the factory, no record yet: the update's begin records it.
    let in_a = ped_with_old(&vendor);
    // OLD in slot B, from a first update (copy 2, sequence 2) of a factory image in A
    // (copy 1, sequence 1), which the update's begin takes away.
    let mut in_b = factory(&vendor.image("2.8.0-0", &payload(1500, 7)));
    install(&mut in_b, Some(Slot::A), &vendor.image(OLD, &payload(3000, 1)), &vendor.public).unwrap();

    let mut cases = 0;
    for (base, running) in [(in_a, Slot::A), (in_b, Slot::B)] {
        assert_eq!(boot(&mut base.clone(), &vendor.public).unwrap().slot, running);
        // A clean run counts the operations; the save ends with: read both record
        // copies, write one, read it back.
        let mut clean = base.clone();
        let first_op = clean.operations();
        install(&mut clean, Some(running), &new, &vendor.public).unwrap();
        let end_op = clean.operations();
        let record_write = end_op - 2;
        for op in first_op..end_op {
            for bytes_done in [0, 1, RECORD_LEN / 2, RECORD_LEN - 1, CHUNK / 2, CHUNK - 1, usize::MAX] {
                let at = format!("running {running:?}, cut at op {op} after {bytes_done} bytes");
                let mut slots = base.clone();
                slots.cut_power(PowerCut { operation: op, bytes_done });
                let result = install(&mut slots, Some(running), &new, &vendor.public);
                // The cut landed where intended (the core never sees this: it lost power too).
                let lost = if op >= record_write - 2 {
                    UpdateError::SaveFlash(FlashError::PowerLost)
                } else {
                    UpdateError::UploadFlash(FlashError::PowerLost)
                };
                assert_eq!(result, Err(lost), "{at}");
                assert!(!slots.is_powered());
                slots.power_on();
                let booted = boot(&mut slots, &vendor.public).expect("a valid image boots after any cut");
                let record_complete = op > record_write || (op == record_write && bytes_done >= RECORD_LEN);
                let expected = if record_complete { NEW } else { OLD };
                assert_eq!(booted.version.as_str(), expected, "{at}");
                assert!(!booted.fell_back, "{at}");
                if !record_complete {
                    // NEW was not saved: it is no fallback either.
                    let mut rotten = slots.clone();
                    rotten.slot_mut(booted.slot)[HEADER_LEN] ^= 0x01;
                    let fallback = boot(&mut rotten, &vendor.public).map(|b| b.version.to_string());
                    assert!(fallback.as_deref() != Ok(NEW), "{at}: {fallback:?}");
                }
                cases += 1;

                // And the PED recovers: the update done again, without a cut, installs NEW.
                install(&mut slots, Some(booted.slot), &new, &vendor.public).unwrap();
                assert_eq!(booted_version(&mut slots, &vendor.public), NEW, "{at}");
            }
        }
    }
    assert!(cases > 100, "{cases}");
}

#[test]
fn power_cut_during_boot_then_boot_again() {
    let vendor = Vendor::new(1);
    let mut slots = ped_with_old(&vendor);
    install(&mut slots, Some(Slot::A), &vendor.image(NEW, &payload(3000, 2)), &vendor.public).unwrap();
    let start = slots.operations();
    for op in start..start + 8 {
        slots.cut_power(PowerCut { operation: op, bytes_done: usize::MAX });
        // Boot only reads; whatever it says mid-cut, the flash is unchanged.
        let _ = boot(&mut slots, &vendor.public);
        slots.power_on();
        assert_eq!(booted_version(&mut slots, &vendor.public), NEW);
    }
}

#[test]
fn update_screens_are_the_seeds() {
    // Seed lines 4482, 4487-4490, 4502-4509, 4516-4519, 4550-4553, 4524-4525.
    assert_eq!(screens::upload_prompt().text_lines(), ["Software update", "Upload Image? YES/NO"]);
    assert_eq!(screens::uploading().text_lines(), ["USB Mode", "Software update", "Uploading image"]);
    let save = screens::save_prompt();
    assert_eq!(
        save.text_lines(),
        [
            "USB Mode",
            "Software update",
            "** WARNING **",
            "A power failure",
            "during save is",
            "unsupported!",
            "Save Image? YES/NO"
        ]
    );
    // The wrapped warning reads as the seed's one line.
    assert_eq!(save.text_lines()[3..6].join(" "), "A power failure during save is unsupported!");
    assert_eq!(screens::success().text_lines(), ["Software update", "Success", "Press ENTER"]);
    assert_eq!(screens::verify_failure(7).text_lines(), ["Failure (VERIFY) (7)", "Press Enter"]);
    assert_eq!(screens::booting("1.1.0-1").text_lines(), ["BOOT V.1.1.0-1", "loading PED..."]);
    for screen in [
        screens::upload_prompt(),
        screens::uploading(),
        save,
        screens::success(),
        screens::verify_failure(9),
        screens::save_failure(),
        screens::no_valid_image(),
    ] {
        // Screen::new cuts long lines silently; none may need cutting.
        assert!(screen.text_lines().iter().all(|l| l.len() <= 20 && !l.is_empty()), "{screen}");
    }
}

fn strategy_image() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        // Mostly well-formed: a valid image with random bytes overwritten.
        (proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4), 1usize..400).prop_map(|(edits, len)| {
            let mut image = Vendor::new(1).image(NEW, &payload(len, 3));
            let n = image.len();
            for (i, b) in edits {
                image[i % n] = b;
            }
            image
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// The decoder is total: any bytes give a header or an error, never a panic.
    #[test]
    fn header_decode_is_total(bytes in proptest::collection::vec(any::<u8>(), HEADER_LEN)) {
        let bytes: [u8; HEADER_LEN] = bytes.try_into().unwrap();
        if let Ok(header) = Header::decode(&bytes) {
            // One header, one encoding.
            prop_assert_eq!(header.encode(), bytes);
        }
    }

    /// Verification is total, and accepts only the vendor's image byte for byte.
    #[test]
    fn verify_is_total_and_exact(image in strategy_image()) {
        let vendor = Vendor::new(1);
        if image::verify(&image, &vendor.public).is_ok() {
            let len = image.len() - MIN_IMAGE_LEN + 1;
            prop_assert_eq!(image, vendor.image(NEW, &payload(len, 3)));
        }
    }

    #[test]
    fn header_round_trips(version in "[!-~]{1,31}", body in proptest::collection::vec(any::<u8>(), 1..200)) {
        let header = Header::for_payload(FirmwareVersion::new(&version).unwrap(), &body).unwrap();
        prop_assert_eq!(Header::decode(&header.encode()), Ok(header));
        prop_assert_eq!(header.version().to_string(), version);
    }

    /// Random chunk sequences: a chunk is accepted exactly when it continues the image
    /// without gap or overlap; the first refusal ends the session; the image boots
    /// only if every byte arrived in order, and otherwise the old one still does.
    #[test]
    fn random_chunk_sequences(steps in proptest::collection::vec((0u32..3600, 0usize..1500), 1..12)) {
        let vendor = Vendor::new(1);
        let mut slots = ped_with_old(&vendor);
        let image = vendor.image(NEW, &payload(3000, 2));
        let mut updater = Updater::new(Some(Slot::A));
        updater.begin(image.len() as u32, &mut slots).unwrap();
        let mut received = 0usize;
        let mut open = true;
        for (offset, len) in steps {
            // Half the steps continue the upload, so whole uploads happen too.
            let offset = if len % 2 == 0 { received as u32 } else { offset };
            let start = (offset as usize).min(image.len());
            let data = &image[start..(start + len).min(image.len())];
            let result = updater.chunk(offset, data, &mut slots);
            let fits = open && offset as usize == received && !data.is_empty();
            prop_assert_eq!(result.is_ok(), fits, "offset {} len {} received {}", offset, data.len(), received);
            if fits {
                received += data.len();
            } else {
                open = false;
            }
        }
        let done = open && received == image.len();
        let verified = updater.finish(&mut slots, &vendor.public);
        prop_assert_eq!(verified.is_ok(), done);
        if let Ok(verified) = verified {
            updater.save(verified, &mut slots).unwrap();
        }
        prop_assert_eq!(booted_version(&mut slots, &vendor.public), if done { NEW } else { OLD });
    }

    /// Power cut again and again, at random points of successive update attempts,
    /// each attempt bringing a new version: every boot finds the version that ran
    /// before the attempt or the one the attempt brought, and never nothing.
    #[test]
    fn repeated_power_cuts(cuts in proptest::collection::vec((0u64..24, any::<usize>()), 1..8)) {
        let vendor = Vendor::new(1);
        let mut slots = ped_with_old(&vendor);
        let mut running = boot(&mut slots, &vendor.public).unwrap();
        for (attempt, (op, bytes_done)) in cuts.into_iter().enumerate() {
            let version = format!("3.0.{attempt}");
            let image = vendor.image(&version, &payload(2500 + attempt, attempt as u8));
            let before = running.version.to_string();
            slots.cut_power(PowerCut { operation: slots.operations() + op, bytes_done: bytes_done % (2 * CHUNK) });
            let saved = install(&mut slots, Some(running.slot), &image, &vendor.public).is_ok();
            slots.power_on();
            running = boot(&mut slots, &vendor.public).expect("a valid image boots");
            let now = running.version.to_string();
            prop_assert!(now == before || now == version, "before {}, attempt {}, now {}", before, version, now);
            if saved {
                prop_assert_eq!(now, version);
            }
        }
    }
}

/// The simulator's flash in files keeps the same rules across "reboots" (reopening
/// the directory): the saved image boots, a torn record or a rotten slot falls back.
#[test]
fn file_slots_survive_a_restart() {
    use ped_firmware::update::file::FileSlots;

    let vendor = Vendor::new(1);
    let dir = tempfile::tempdir().unwrap();
    let mut slots = FileSlots::open(dir.path(), CAPACITY).unwrap();
    assert!(boot(&mut slots, &vendor.public).is_err(), "a fresh directory is blank flash");
    // A PED that booted nothing uploads to slot B: an unnamed slot A would pass for the
    // factory's image.
    let mut updater = Updater::new(None);
    assert_eq!(updater.target(), Slot::B);
    let old = vendor.image(OLD, &payload(3000, 1));
    updater.begin(old.len() as u32, &mut slots).unwrap();
    for (i, chunk) in old.chunks(CHUNK).enumerate() {
        updater.chunk((i * CHUNK) as u32, chunk, &mut slots).unwrap();
    }
    let verified = updater.finish(&mut slots, &vendor.public).unwrap();
    updater.save(verified, &mut slots).unwrap();

    let mut slots = FileSlots::open(dir.path(), CAPACITY).unwrap();
    let running = boot(&mut slots, &vendor.public).unwrap();
    assert_eq!((running.slot, running.version.as_str()), (Slot::B, OLD));
    let new = vendor.image(NEW, &payload(5000, 2));
    let mut updater = Updater::new(Some(running.slot));
    updater.begin(new.len() as u32, &mut slots).unwrap();
    updater.chunk(0, &new, &mut slots).unwrap();
    let verified = updater.finish(&mut slots, &vendor.public).unwrap();
    updater.save(verified, &mut slots).unwrap();

    let mut slots = FileSlots::open(dir.path(), CAPACITY).unwrap();
    assert_eq!(boot(&mut slots, &vendor.public).unwrap().version.as_str(), NEW);
    assert_eq!(slots.read(Slot::B, CAPACITY - 4, &mut [0; 4]), Ok(()));
    assert_eq!(slots.read(Slot::B, CAPACITY - 4, &mut [0; 5]), Err(FlashError::OutOfBounds));

    // A crash mid-way through the record write (the second copy holds the new record).
    let record = dir.path().join("record-2.bin");
    let bytes = std::fs::read(&record).unwrap();
    std::fs::write(&record, &bytes[..10]).unwrap();
    let mut slots = FileSlots::open(dir.path(), CAPACITY).unwrap();
    assert_eq!(boot(&mut slots, &vendor.public).unwrap().version.as_str(), OLD);
    std::fs::write(&record, &bytes).unwrap();

    // A rotten new slot: boot falls back to the old one.
    let slot_a = dir.path().join("slot-a.bin");
    let mut bytes = std::fs::read(&slot_a).unwrap();
    bytes[HEADER_LEN + 100] ^= 0x01;
    std::fs::write(&slot_a, &bytes).unwrap();
    let booted = boot(&mut FileSlots::open(dir.path(), CAPACITY).unwrap(), &vendor.public).unwrap();
    assert_eq!((booted.version.as_str(), booted.fell_back), (OLD, true));
}
