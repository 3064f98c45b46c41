//! Admin → 7 Software Update through the PED core: the key holder's YES/NO, the host's
//! update frames and the flash, with `update` doing the image work. An image boots
//! only after YES at "Save Image?" (docs/firmware.md, "The A/B rule"), on blank flash
//! as on a PED with a factory image.

mod common;

use common::*;
use p521::ecdsa::signature::Signer;
use p521::ecdsa::{Signature, SigningKey};
use p521::elliptic_curve::sec1::ToSec1Point;
use ped_firmware::PedConfig;
use ped_firmware::io::{Button, Event};
use ped_firmware::update::image::{FirmwareVersion, HEADER_LEN, Header, ImageError, VendorKey};
use ped_firmware::update::slots::{MemorySlots, PowerCut, Slot};
use ped_firmware::update::{BootError, BootedImage, SlotFault, boot};
use ped_proto::device::{DeviceMessage, UpdateState};
use ped_proto::frame::Frame;

/// A test signing key; a scalar whose top byte is zero is below the group order.
fn signing_key(seed: u8) -> SigningKey {
    let mut scalar = [0u8; 66];
    for (i, b) in scalar[1..].iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8);
    }
    SigningKey::from_slice(&scalar).unwrap()
}

fn vendor() -> (SigningKey, VendorKey) {
    let signing = signing_key(7);
    let point = signing.verifying_key().as_affine().to_sec1_point(false);
    let public = VendorKey::from_sec1(point.as_bytes()).unwrap();
    (signing, public)
}

fn image(signing: &SigningKey, version: &str, payload: &[u8]) -> Vec<u8> {
    let header = Header::for_payload(FirmwareVersion::new(version).unwrap(), payload).unwrap().encode();
    let signature: Signature = signing.sign(&header);
    [&header[..], payload, &signature.to_bytes()].concat()
}

fn statuses(rig: &mut Rig) -> Vec<(UpdateState, String)> {
    rig.take_sent()
        .iter()
        .map(|f| match DeviceMessage::decode(Frame::decode_exact(f).unwrap()).unwrap() {
            DeviceMessage::UpdateStatus { state, detail } => (state, detail),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn upload(rig: &mut Rig, image: &[u8]) -> Vec<(UpdateState, String)> {
    rig.host(DeviceMessage::UpdateBegin { image_len: image.len() as u32 }.encode().unwrap());
    for (i, chunk) in image.chunks(1000).enumerate() {
        let offset = (i * 1000) as u32;
        rig.host(DeviceMessage::UpdateChunk { offset, data: chunk.to_vec() }.encode().unwrap());
    }
    rig.host(DeviceMessage::UpdateEnd.encode().unwrap());
    statuses(rig)
}

const CAPACITY: usize = 64 * 1024;

/// A PED at Admin → 7 Software Update, running from `running`, with `flash`.
fn rig_at_update(running: Option<Slot>, flash: MemorySlots) -> (Rig, SigningKey, VendorKey) {
    let (signing, public) = vendor();
    let mut config = PedConfig::new("PED-0001", "2.9.0-1", TestHsm::new("HSM-1").root());
    config.vendor_key = Some(public);
    config.running_slot = running;
    let mut rig = Rig::with_flash(config, Some(flash));
    rig.digits("47");
    (rig, signing, public)
}

/// The factory's flash: 2.9.0-1 in slot A, no boot record; the PED runs it.
fn rig_with_flash() -> (Rig, SigningKey, VendorKey) {
    let mut flash = MemorySlots::new(CAPACITY);
    let old = image(&vendor().0, "2.9.0-1", &[1; 3000]);
    flash.slot_mut(Slot::A)[..old.len()].copy_from_slice(&old);
    rig_at_update(Some(Slot::A), flash)
}

/// A PED whose flash has never held an image (nothing ever saved): it booted nothing.
fn blank_rig() -> (Rig, SigningKey, VendorKey) {
    rig_at_update(None, MemorySlots::new(CAPACITY))
}

/// What the PED boots at its next power-on.
fn power_on(rig: &mut Rig, public: &VendorKey) -> Result<BootedImage, BootError> {
    let flash = rig.flash();
    flash.power_on();
    boot(flash, public)
}

/// What blank flash boots: nothing, and slot B is not even looked at.
fn blank_boot() -> Result<BootedImage, BootError> {
    let (_, public) = vendor();
    let booted = boot(&mut MemorySlots::new(CAPACITY), &public);
    assert_eq!(booted, Err(BootError { a: SlotFault::Rejected(ImageError::BadMagic), b: SlotFault::NotSaved }));
    booted
}

#[test]
fn an_image_is_uploaded_verified_saved_and_boots() {
    let (mut rig, signing, public) = rig_with_flash();
    rig.shows(&["Software update", "Upload Image? YES/NO"]);
    let new = image(&signing, "2.9.1-0", &[2; 5000]);
    assert_eq!(upload(&mut rig, &new)[0].0, UpdateState::Refused, "nothing before YES");
    rig.press(Button::Yes);
    rig.shows(&["USB Mode", "Software update", "Uploading image"]);
    let states: Vec<UpdateState> = upload(&mut rig, &new).into_iter().map(|(s, _)| s).collect();
    assert_eq!(states, [UpdateState::Uploading, UpdateState::AwaitingConfirmation]);
    assert_eq!(rig.lines().last().unwrap(), "Save Image? YES/NO");
    rig.press(Button::Yes);
    assert_eq!(statuses(&mut rig)[0].0, UpdateState::Success);
    rig.shows(&["Software update", "Success", "Press ENTER"]);
    rig.enter();
    assert_eq!(rig.lines()[0], "Admin mode...");
    let booted = boot(rig.flash(), &public).unwrap();
    assert_eq!((booted.slot, booted.version.as_str()), (Slot::B, "2.9.1-0"));
}

#[test]
fn a_tampered_image_is_refused_and_the_old_one_still_boots() {
    let (mut rig, signing, public) = rig_with_flash();
    rig.press(Button::Yes);
    let mut bad = image(&signing, "2.9.1-0", &[2; 5000]);
    bad[200] ^= 1;
    let answers = upload(&mut rig, &bad);
    assert_eq!(answers.last().unwrap().0, UpdateState::VerifyFailed);
    assert!(rig.lines()[0].starts_with("Failure (VERIFY)"), "{:?}", rig.lines());
    rig.enter();
    assert_eq!(rig.lines()[0], "Admin mode...");
    let booted = boot(rig.flash(), &public).unwrap();
    assert_eq!(booted.slot, Slot::A);
}

#[test]
fn no_at_save_keeps_the_factory_image_even_when_it_rots() {
    let (mut rig, signing, public) = rig_with_flash();
    rig.press(Button::Yes);
    upload(&mut rig, &image(&signing, "2.9.1-0", &[3; 2000]));
    rig.press(Button::No);
    assert_eq!(statuses(&mut rig)[0], (UpdateState::Refused, "Save declined; the image in use stays".into()));
    assert_eq!(rig.lines()[0], "Admin mode...");
    let booted = power_on(&mut rig, &public).unwrap();
    assert_eq!((booted.slot, booted.version.as_str(), booted.fell_back), (Slot::A, "2.9.0-1", false));
    // The refused image, whole and signed in slot B, is no fallback for a rotten
    // factory image: the PED asks for service rather than run what was refused.
    rig.flash().slot_mut(Slot::A)[HEADER_LEN] ^= 1;
    assert_eq!(power_on(&mut rig, &public).unwrap_err().b, SlotFault::NotSaved);
}

/// The reported defect: on blank flash an upload went to slot A, which boot tried
/// first without a record, so a refused image booted at the next power-on.
#[test]
fn on_blank_flash_a_refused_image_never_boots_and_a_saved_one_does() {
    let (mut rig, signing, public) = blank_rig();
    rig.press(Button::Yes);
    let states: Vec<UpdateState> =
        upload(&mut rig, &image(&signing, "2.9.1-0", &[4; 5000])).into_iter().map(|(s, _)| s).collect();
    assert_eq!(states, [UpdateState::Uploading, UpdateState::AwaitingConfirmation]);
    rig.press(Button::No);
    assert_eq!(statuses(&mut rig)[0].0, UpdateState::Refused);
    assert_eq!(rig.lines()[0], "Admin mode...");
    assert_eq!(power_on(&mut rig, &public), blank_boot());

    // The same PED, the same image, and YES: it boots.
    rig.digits("7");
    rig.press(Button::Yes);
    upload(&mut rig, &image(&signing, "2.9.1-0", &[4; 5000]));
    rig.press(Button::Yes);
    assert_eq!(statuses(&mut rig)[0].0, UpdateState::Success);
    rig.shows(&["Software update", "Success", "Press ENTER"]);
    let booted = power_on(&mut rig, &public).unwrap();
    assert_eq!((booted.slot, booted.version.as_str()), (Slot::B, "2.9.1-0"));
}

/// A session that ends in "Failure (VERIFY)" after the whole, vendor-signed image
/// reached the slot (a stray chunk after it), or with an image of another vendor:
/// neither boots.
#[test]
fn on_blank_flash_an_image_that_failed_verify_never_boots() {
    let other = signing_key(99);
    for (case, number) in [("stray chunk after the image", 2), ("another vendor's image", 7)] {
        let (mut rig, signing, public) = blank_rig();
        rig.press(Button::Yes);
        let answers = if number == 2 {
            let new = image(&signing, "2.9.1-0", &[5; 3000]);
            rig.host(DeviceMessage::UpdateBegin { image_len: new.len() as u32 }.encode().unwrap());
            rig.host(DeviceMessage::UpdateChunk { offset: 0, data: new.clone() }.encode().unwrap());
            let past_end = DeviceMessage::UpdateChunk { offset: new.len() as u32, data: vec![0] };
            rig.host(past_end.encode().unwrap());
            statuses(&mut rig)
        } else {
            upload(&mut rig, &image(&other, "2.9.1-0", &[5; 3000]))
        };
        assert_eq!(answers.last().unwrap().0, UpdateState::VerifyFailed, "{case}");
        rig.shows(&[format!("Failure (VERIFY) ({number})").as_str(), "Press Enter"]);
        rig.enter();
        assert_eq!(rig.lines()[0], "Admin mode...", "{case}");
        assert_eq!(power_on(&mut rig, &public), blank_boot(), "{case}");
    }
}

/// An upload that stops part-way: the cable pulled after the last chunk but before
/// UpdateEnd (the slot holds the whole signed image, never verified nor saved), and
/// power cut while a chunk is written.
#[test]
fn on_blank_flash_an_upload_cut_midway_never_boots() {
    let (mut rig, signing, public) = blank_rig();
    rig.press(Button::Yes);
    let new = image(&signing, "2.9.1-0", &[6; 5000]);
    rig.host(DeviceMessage::UpdateBegin { image_len: new.len() as u32 }.encode().unwrap());
    for (i, chunk) in new.chunks(1000).enumerate() {
        rig.host(DeviceMessage::UpdateChunk { offset: (i * 1000) as u32, data: chunk.to_vec() }.encode().unwrap());
    }
    assert_eq!(statuses(&mut rig), [(UpdateState::Uploading, "Uploading image".into())]);
    rig.event(Event::HostDisconnected);
    assert_eq!(power_on(&mut rig, &public), blank_boot());

    let (mut rig, signing, public) = blank_rig();
    rig.press(Button::Yes);
    let flash = rig.flash();
    // UpdateBegin reads both record copies and erases the slot; then one write a chunk.
    let third_chunk = flash.operations() + 3 + 2;
    flash.cut_power(PowerCut { operation: third_chunk, bytes_done: 500 });
    let answers = upload(&mut rig, &image(&signing, "2.9.1-0", &[6; 5000]));
    assert!(!rig.flash().is_powered());
    // The chunks after the cut and UpdateEnd are refused: the session had ended.
    assert_eq!(answers[0].0, UpdateState::Uploading);
    assert_eq!(answers[1].0, UpdateState::VerifyFailed);
    assert!(answers[1].1.starts_with("Failure (VERIFY) (9): upload: power lost"), "{answers:?}");
    assert_eq!(power_on(&mut rig, &public), blank_boot());
}

/// An image at security version `security` (docs/firmware.md, "Anti-rollback").
fn image_at(signing: &SigningKey, version: &str, security: u16) -> Vec<u8> {
    let payload = [8; 2000];
    let header = Header::for_payload(FirmwareVersion::new(version).unwrap(), &payload)
        .unwrap()
        .with_security_version(security)
        .encode();
    let signature: Signature = signing.sign(&header);
    [&header[..], &payload, &signature.to_bytes()].concat()
}

#[test]
fn an_image_below_the_minimum_shows_failure_rollback_and_the_old_one_still_boots() {
    let mut flash = MemorySlots::new(CAPACITY);
    let old = image_at(&vendor().0, "2.9.0-1", 2);
    flash.slot_mut(Slot::A)[..old.len()].copy_from_slice(&old);
    // The factory image's first start records its level as the PED's minimum.
    let booted = boot(&mut flash, &vendor().1).unwrap();
    ped_firmware::update::confirm(&mut flash, &booted).unwrap();
    let (mut rig, signing, public) = rig_at_update(Some(Slot::A), flash);
    rig.press(Button::Yes);
    let answers = upload(&mut rig, &image_at(&signing, "2.8.0-0", 1));
    assert_eq!(
        answers.last().unwrap(),
        &(UpdateState::Rollback, "Failure (ROLLBACK): security version 1 < minimum 2".into())
    );
    rig.shows(&["Failure (ROLLBACK)", "Image older than", "this PED accepts", "Press Enter"]);
    assert!(!rig.lines().iter().any(|l| l.contains("Save Image?")));
    rig.enter();
    assert_eq!(rig.lines()[0], "Admin mode...");
    let booted = power_on(&mut rig, &public).unwrap();
    assert_eq!((booted.slot, booted.version.as_str(), booted.fell_back), (Slot::A, "2.9.0-1", false));
}

const ADMIN: &[&str] = &["Admin mode...", "1 PED Key", "5 Backup Devices", "7 Software Update", "9 Self Test"];

/// How a Software Update screen is left.
#[derive(Clone, Copy, Debug)]
enum Leave {
    Back,
    ClearHeld,
    Timeout,
}

/// Software Update's screens, each reached on a factory PED: the upload question, the
/// upload under way, the Save question and the Success screen.
fn at_phase(phase: &str) -> (Rig, VendorKey) {
    let (mut rig, signing, public) = rig_with_flash();
    let new = image(&signing, "2.9.1-0", &[9; 2000]);
    match phase {
        "Upload Image?" => {}
        "Uploading" => {
            rig.press(Button::Yes);
            rig.host(DeviceMessage::UpdateBegin { image_len: new.len() as u32 }.encode().unwrap());
        }
        "Save Image?" => {
            rig.press(Button::Yes);
            upload(&mut rig, &new);
        }
        "Success" => {
            rig.press(Button::Yes);
            upload(&mut rig, &new);
            rig.press(Button::Yes);
        }
        _ => unreachable!("{phase}"),
    }
    statuses(&mut rig);
    (rig, public)
}

/// Every Software Update screen can be left as the PED's other screens are (issue 14
/// item 14; tests/leave_screens.rs): `<` goes back to the Admin menu, Clear held and
/// the 200-second PED-key action timeout end it with their notice. A host waiting for
/// an upload or a save hears that it is over; an image that waited for its save does
/// not boot.
#[test]
fn every_software_update_screen_can_be_left() {
    for phase in ["Upload Image?", "Uploading", "Save Image?", "Success"] {
        for leave in [Leave::Back, Leave::ClearHeld, Leave::Timeout] {
            let at = format!("{phase} / {leave:?}");
            let (mut rig, public) = at_phase(phase);
            let before = rig.lines();
            let notice = match leave {
                Leave::Back => {
                    rig.press(Button::Back);
                    None
                }
                Leave::ClearHeld => {
                    rig.press(Button::Clear);
                    rig.event(Event::ClearHeld);
                    Some("Operation reset.")
                }
                Leave::Timeout => {
                    rig.tick(199_999);
                    assert_eq!(rig.lines(), before, "{at}: still there 1 ms before the timeout");
                    rig.tick(1);
                    Some("Operation timed out.")
                }
            };
            let told = statuses(&mut rig);
            let waiting = matches!(phase, "Uploading" | "Save Image?");
            if waiting {
                assert_eq!(told.len(), 1, "{at}: {told:?}");
                assert_eq!(told[0].0, UpdateState::Refused, "{at}");
                if let Some(text) = notice {
                    assert_eq!(told[0].1, format!("{text} The image in use stays."), "{at}");
                }
            } else {
                assert!(told.is_empty(), "{at}: {told:?}");
            }
            if let Some(text) = notice {
                rig.shows(&["Software update", text, "", "Press ENTER."]);
                rig.enter();
            }
            assert_eq!(rig.lines()[..ADMIN.len()], *ADMIN, "{at}");
            // Back at the menu, no timeout runs.
            rig.tick(400_000);
            assert_eq!(rig.lines()[..ADMIN.len()], *ADMIN, "{at}");
            let booted = power_on(&mut rig, &public).unwrap();
            let expected = if phase == "Success" { "2.9.1-0" } else { "2.9.0-1" };
            assert_eq!(booted.version.as_str(), expected, "{at}");
        }
    }
}

/// The host's frames count as activity: an upload that takes longer than the timeout
/// in all is not cut off while its chunks keep coming.
#[test]
fn an_upload_in_progress_keeps_the_timeout_away() {
    let (mut rig, signing, _) = rig_with_flash();
    rig.press(Button::Yes);
    let new = image(&signing, "2.9.1-0", &[9; 5000]);
    rig.host(DeviceMessage::UpdateBegin { image_len: new.len() as u32 }.encode().unwrap());
    for (i, chunk) in new.chunks(1000).enumerate() {
        rig.tick(150_000);
        rig.host(DeviceMessage::UpdateChunk { offset: (i * 1000) as u32, data: chunk.to_vec() }.encode().unwrap());
    }
    rig.tick(150_000);
    rig.host(DeviceMessage::UpdateEnd.encode().unwrap());
    assert_eq!(statuses(&mut rig).last().unwrap().0, UpdateState::AwaitingConfirmation);
    assert_eq!(rig.lines().last().unwrap(), "Save Image? YES/NO");
}
