//! Admin → 7 Software Update through the PED core: the key holder's YES/NO, the host's
//! update frames and the flash, with `update` doing the image work.

mod common;

use common::*;
use p521::ecdsa::signature::Signer;
use p521::ecdsa::{Signature, SigningKey};
use p521::elliptic_curve::sec1::ToSec1Point;
use ped_firmware::PedConfig;
use ped_firmware::io::Button;
use ped_firmware::update::boot;
use ped_firmware::update::image::{FirmwareVersion, Header, VendorKey};
use ped_firmware::update::slots::{MemorySlots, Slot};
use ped_proto::device::{DeviceMessage, UpdateState};
use ped_proto::frame::Frame;

fn vendor() -> (SigningKey, VendorKey) {
    let mut scalar = [0u8; 66];
    for (i, b) in scalar[1..].iter_mut().enumerate() {
        *b = 7u8.wrapping_mul(31).wrapping_add(i as u8);
    }
    let signing = SigningKey::from_slice(&scalar).unwrap();
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

fn rig_with_flash() -> (Rig, SigningKey, VendorKey) {
    let (signing, public) = vendor();
    let mut config = PedConfig::new("PED-0001", "2.9.0-1", TestHsm::new("HSM-1").root());
    config.vendor_key = Some(public);
    config.running_slot = Some(Slot::A);
    let mut rig = Rig::with_config(config);
    let mut flash = MemorySlots::new(64 * 1024);
    let old = image(&signing, "2.9.0-1", &[1; 3000]);
    flash.slot_mut(Slot::A)[..old.len()].copy_from_slice(&old);
    rig.flash = Some(flash);
    rig.digits("47");
    (rig, signing, public)
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
    let booted = boot(rig.flash.as_mut().unwrap(), &public).unwrap();
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
    let booted = boot(rig.flash.as_mut().unwrap(), &public).unwrap();
    assert_eq!(booted.slot, Slot::A);
}

#[test]
fn no_at_save_keeps_the_image_in_use() {
    let (mut rig, signing, public) = rig_with_flash();
    rig.press(Button::Yes);
    upload(&mut rig, &image(&signing, "2.9.1-0", &[3; 2000]));
    rig.press(Button::No);
    assert_eq!(statuses(&mut rig)[0].0, UpdateState::Refused);
    assert_eq!(rig.lines()[0], "Admin mode...");
    assert_eq!(boot(rig.flash.as_mut().unwrap(), &public).unwrap().slot, Slot::A);
}
