//! Firmware anti-rollback (issue 16 item 5; docs/firmware.md, "Anti-rollback") on
//! flash in RAM: an image below the PED's minimum security version is refused with
//! "Failure (ROLLBACK)", the minimum rises only when `confirm` runs after the new image
//! booted, boot never runs an image below it, and a power cut at any write of an
//! update or a confirmation neither lowers it nor leaves the PED without an image.

use p521::ecdsa::signature::Signer;
use p521::ecdsa::{Signature, SigningKey};
use p521::elliptic_curve::sec1::ToSec1Point;
use ped_firmware::update::image::{FirmwareVersion, HEADER_LEN, Header, VendorKey};
use ped_firmware::update::slots::{BootRecord, ImageSlots, MemorySlots, PowerCut, RECORD_LEN, RecordCopy, Slot};
use ped_firmware::update::{BootError, BootedImage, SlotFault, UpdateError, Updater, boot, confirm, screens};
use ped_proto::device::{DeviceMessage, UpdateState};

const CAPACITY: usize = 64 * 1024;
const CHUNK: usize = 1000;

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

/// A signed image of firmware `version` at security version `security`.
fn image(version: &str, security: u16) -> Vec<u8> {
    let payload: Vec<u8> = (0..2000).map(|i| (i as u8).wrapping_mul(security as u8 + 3)).collect();
    let header = Header::for_payload(FirmwareVersion::new(version).unwrap(), &payload)
        .unwrap()
        .with_security_version(security)
        .encode();
    let signature: Signature = vendor().0.sign(&header);
    [&header[..], &payload, &signature.to_bytes()].concat()
}

/// Uploads and verifies `image` from a PED running `running`; `Ok` holds the updater
/// and the image awaiting its save.
fn upload(
    slots: &mut MemorySlots,
    running: Option<Slot>,
    image: &[u8],
) -> Result<(Updater, ped_firmware::update::VerifiedImage), UpdateError> {
    let mut updater = Updater::new(running);
    updater.begin(image.len() as u32, slots)?;
    for (i, chunk) in image.chunks(CHUNK).enumerate() {
        updater.chunk((i * CHUNK) as u32, chunk, slots)?;
    }
    let verified = updater.finish(slots, &vendor().1)?;
    Ok((updater, verified))
}

fn install(slots: &mut MemorySlots, running: Option<Slot>, image: &[u8]) -> Result<(), UpdateError> {
    let (mut updater, verified) = upload(slots, running, image)?;
    updater.save(verified, slots)
}

/// Power-on: what the boot loader chooses, then the running firmware's confirmation.
fn power_on(slots: &mut MemorySlots) -> BootedImage {
    slots.power_on();
    let booted = boot(slots, &vendor().1).expect("an image boots");
    confirm(slots, &booted).unwrap();
    booted
}

/// The PED's minimum as the boot loader reads it: the highest of the valid copies.
fn minimum(slots: &mut MemorySlots) -> u16 {
    records(slots).iter().flatten().map(|r| r.minimum).max().unwrap_or(0)
}

fn records(slots: &mut MemorySlots) -> [Option<BootRecord>; 2] {
    RecordCopy::BOTH.map(|copy| {
        let mut buf = [0u8; RECORD_LEN];
        slots.read_record(copy, &mut buf).unwrap();
        BootRecord::decode(&buf)
    })
}

/// The factory's flash: `image` in slot A, no record.
fn factory(image: &[u8]) -> MemorySlots {
    let mut slots = MemorySlots::new(CAPACITY);
    slots.slot_mut(Slot::A)[..image.len()].copy_from_slice(image);
    slots
}

/// A PED that has run 2.9.0-1 at security version 2 (and so records minimum 2).
fn ped_at_minimum_2() -> MemorySlots {
    let mut slots = factory(&image("2.9.0-1", 2));
    let booted = power_on(&mut slots);
    assert_eq!((booted.slot, booted.security_version), (Slot::A, 2));
    assert_eq!(minimum(&mut slots), 2, "the factory image's first start records its level");
    slots
}

fn version(booted: &BootedImage) -> &str {
    booted.version.as_str()
}

#[test]
fn an_image_below_the_minimum_is_refused_and_the_running_one_still_boots() {
    let mut slots = ped_at_minimum_2();
    let err = upload(&mut slots, Some(Slot::A), &image("2.8.0-0", 1)).unwrap_err();
    assert_eq!(err, UpdateError::Rollback { image: 1, minimum: 2 });
    assert_eq!(err.verify_number(), None);
    assert_eq!(err.state(), UpdateState::Rollback);
    assert_eq!(
        err.screen().text_lines(),
        ["Failure (ROLLBACK)", "Image older than", "this PED accepts", "Press Enter"]
    );
    assert_eq!(
        err.status(),
        DeviceMessage::UpdateStatus {
            state: UpdateState::Rollback,
            detail: "Failure (ROLLBACK): security version 1 < minimum 2".into()
        }
    );
    assert!(screens::rollback_failure().text_lines().iter().all(|l| l.len() <= 20));
    let booted = power_on(&mut slots);
    assert_eq!((booted.slot, version(&booted), booted.fell_back), (Slot::A, "2.9.0-1", false));
    assert_eq!(minimum(&mut slots), 2);

    // The same level is no rollback: a key holder may step back to another release of it.
    install(&mut slots, Some(Slot::A), &image("2.9.0-0", 2)).unwrap();
    assert_eq!(version(&power_on(&mut slots)), "2.9.0-0");
}

/// Images signed before anti-rollback carry security version 0 and a PED that never ran
/// a higher one records minimum 0: they install and boot as before, and nothing is
/// written at start-up.
#[test]
fn level_0_images_write_nothing_at_start_up_and_install_as_before() {
    let mut slots = factory(&image("2.9.0-1", 0));
    let booted = boot(&mut slots, &vendor().1).unwrap();
    let before = slots.operations();
    confirm(&mut slots, &booted).unwrap();
    assert_eq!(slots.operations() - before, 2, "confirm reads both copies and writes nothing");
    assert_eq!(records(&mut slots), [None, None]);
    install(&mut slots, Some(booted.slot), &image("2.8.0-0", 0)).unwrap();
    assert_eq!(version(&power_on(&mut slots)), "2.8.0-0");
}

/// The minimum rises only once the new image has booted and confirmed; until then the
/// image saved before is its fallback, and afterwards it is none (it is below).
#[test]
fn the_minimum_rises_only_after_the_new_image_booted_and_confirmed() {
    let mut slots = ped_at_minimum_2();
    install(&mut slots, Some(Slot::A), &image("3.0.0-0", 3)).unwrap();
    assert_eq!(minimum(&mut slots), 2, "saving does not raise it");
    let booted = boot(&mut slots, &vendor().1).unwrap();
    assert_eq!((booted.slot, booted.security_version), (Slot::B, 3));
    assert_eq!(minimum(&mut slots), 2, "booting does not raise it");

    // Not yet confirmed: if 3.0.0-0 rots now, 2.9.0-1 is still a fallback.
    let mut rotten = slots.clone();
    rotten.slot_mut(Slot::B)[HEADER_LEN] ^= 1;
    let fallback = boot(&mut rotten, &vendor().1).unwrap();
    assert_eq!((version(&fallback), fallback.fell_back), ("2.9.0-1", true));

    confirm(&mut slots, &booted).unwrap();
    assert_eq!(minimum(&mut slots), 3);
    assert_eq!(
        records(&mut slots).map(|r| r.map(|r| (r.slot, r.minimum))),
        [Some((Slot::B, 3)), Some((Slot::B, 3))],
        "both copies name the running image at the new minimum"
    );
    // Confirmed: 2.9.0-1 is below the minimum and no longer a fallback.
    slots.slot_mut(Slot::B)[HEADER_LEN] ^= 1;
    let err = boot(&mut slots, &vendor().1).unwrap_err();
    assert_eq!(err.b, SlotFault::Rejected(ped_firmware::update::image::ImageError::PayloadCorrupted));
    assert_eq!(err.a, SlotFault::NotSaved);
    slots.slot_mut(Slot::B)[HEADER_LEN] ^= 1;

    // And 2.9.0-1 does not install again.
    assert_eq!(
        upload(&mut slots, Some(Slot::B), &image("2.9.0-1", 2)).unwrap_err(),
        UpdateError::Rollback { image: 2, minimum: 3 }
    );
    assert_eq!(version(&power_on(&mut slots)), "3.0.0-0");
}

/// Records written by hand (as a flash programmer, or older firmware, could): the
/// newest names a rotten image, the other one an image below the minimum. Boot refuses
/// the fallback rather than run it.
#[test]
fn the_fallback_never_boots_below_the_minimum() {
    for older_minimum in [0, 3] {
        let mut slots = factory(&image("2.9.0-1", 2));
        let new = image("3.0.0-0", 3);
        slots.slot_mut(Slot::B)[..new.len()].copy_from_slice(&new);
        slots.slot_mut(Slot::B)[HEADER_LEN] ^= 1;
        let write = |slots: &mut MemorySlots, copy, slot, sequence, minimum| {
            slots.write_record(copy, &BootRecord { slot, sequence, minimum }.encode()).unwrap();
        };
        write(&mut slots, RecordCopy::First, Slot::A, 1, older_minimum);
        write(&mut slots, RecordCopy::Second, Slot::B, 2, 3);
        let err = boot(&mut slots, &vendor().1).unwrap_err();
        assert_eq!(err.a, SlotFault::BelowMinimum { image: 2, minimum: 3 }, "older copy's minimum {older_minimum}");
        assert_eq!(err.a.to_string(), "security version 2 is below the minimum 3");
        assert_eq!(err.screen(), BootError { a: err.a, b: err.b }.screen());
    }
}

/// After a fallback boot the newest record names the rotten image; the next update's
/// begin renames that copy to the running image and keeps the minimum in it.
#[test]
fn an_update_after_a_fallback_keeps_the_minimum() {
    let mut slots = ped_at_minimum_2();
    install(&mut slots, Some(Slot::A), &image("2.9.1-0", 2)).unwrap();
    slots.slot_mut(Slot::B)[HEADER_LEN] ^= 1;
    let booted = power_on(&mut slots);
    assert_eq!((booted.slot, booted.fell_back), (Slot::A, true));
    let (mut updater, verified) = upload(&mut slots, Some(Slot::A), &image("2.9.2-0", 2)).unwrap();
    assert_eq!(records(&mut slots).map(|r| r.map(|r| (r.slot, r.minimum))), [Some((Slot::A, 2)), Some((Slot::A, 2))]);
    updater.save(verified, &mut slots).unwrap();
    assert_eq!(minimum(&mut slots), 2);
    assert_eq!(version(&power_on(&mut slots)), "2.9.2-0");
    assert_eq!(
        upload(&mut slots, Some(Slot::B), &image("2.0.0-0", 1)).unwrap_err(),
        UpdateError::Rollback { image: 1, minimum: 2 }
    );
}

/// Every instant of an update to a higher level and of the first start after it: the
/// upload, the save, the boot and the confirmation, cut at each flash operation with
/// 0, 1, half or all of it done. After power returns (and the start-up's own
/// confirmation) the PED runs the old image or the new one, the minimum is never below
/// where it was nor above the image that runs, and an image below it is refused.
#[test]
fn power_cut_at_every_write_of_an_update_and_its_confirmation_never_lowers_the_minimum() {
    let old = image("2.9.0-1", 2);
    let new = image("3.0.0-0", 3);
    // Running from slot A (the factory's) and from slot B (after one update).
    let in_a = ped_at_minimum_2();
    let mut in_b = factory(&image("2.8.0-0", 1));
    power_on(&mut in_b);
    install(&mut in_b, Some(Slot::A), &old).unwrap();
    assert_eq!(version(&power_on(&mut in_b)), "2.9.0-1");
    let mut cases = 0;
    for (base, running) in [(in_a, Slot::A), (in_b, Slot::B)] {
        assert_eq!(minimum(&mut base.clone()), 2);
        let whole = |slots: &mut MemorySlots| -> Result<BootedImage, String> {
            install(slots, Some(running), &new).map_err(|e| e.to_string())?;
            let booted = boot(slots, &vendor().1).map_err(|e| e.to_string())?;
            confirm(slots, &booted).map_err(|e| e.to_string())?;
            Ok(booted)
        };
        let mut clean = base.clone();
        let first_op = clean.operations();
        assert_eq!(version(&whole(&mut clean).unwrap()), "3.0.0-0");
        let end_op = clean.operations();
        assert_eq!(minimum(&mut clean), 3);
        for op in first_op..end_op {
            for bytes_done in [0, 1, RECORD_LEN / 2, usize::MAX] {
                let at = format!("running {running:?}, cut at op {op} after {bytes_done} bytes");
                let mut slots = base.clone();
                slots.cut_power(PowerCut { operation: op, bytes_done });
                assert!(whole(&mut slots).is_err(), "{at}");
                let booted = power_on(&mut slots);
                let level = booted.security_version;
                assert!(["2.9.0-1", "3.0.0-0"].contains(&version(&booted)), "{at}: {booted:?}");
                assert_eq!(minimum(&mut slots), level, "{at}: confirmed at the running image's level");
                assert!(level >= 2, "{at}: the minimum never falls");
                let refused = upload(&mut slots, Some(booted.slot), &image("2.8.0-0", 1)).unwrap_err();
                assert_eq!(refused, UpdateError::Rollback { image: 1, minimum: level }, "{at}");
                cases += 1;
            }
        }
    }
    assert!(cases > 50, "{cases}");
}

/// The confirmation's own writes, cut at each: the minimum read by the boot loader
/// stays 2 until a write completes, then is 3, and the new image boots every time.
#[test]
fn power_cut_during_the_confirmation_boots_the_new_image_at_the_old_or_new_minimum() {
    let mut base = ped_at_minimum_2();
    install(&mut base, Some(Slot::A), &image("3.0.0-0", 3)).unwrap();
    let booted = boot(&mut base, &vendor().1).unwrap();
    let start = base.operations();
    let mut clean = base.clone();
    confirm(&mut clean, &booted).unwrap();
    let end = clean.operations();
    assert_eq!(end - start, 2 + 2, "both copies read, then each written");
    for op in start..end {
        for bytes_done in [0, RECORD_LEN / 2, RECORD_LEN - 1, usize::MAX] {
            let mut slots = base.clone();
            slots.cut_power(PowerCut { operation: op, bytes_done });
            assert!(confirm(&mut slots, &booted).is_err());
            slots.power_on();
            let again = boot(&mut slots, &vendor().1).unwrap();
            assert_eq!((version(&again), again.fell_back), ("3.0.0-0", false), "op {op}, {bytes_done}");
            let completed = op > start + 2 || (op == start + 2 && bytes_done >= RECORD_LEN);
            assert_eq!(minimum(&mut slots), if completed { 3 } else { 2 }, "op {op}, {bytes_done}");
            confirm(&mut slots, &again).unwrap();
            assert_eq!(minimum(&mut slots), 3);
        }
    }
}
