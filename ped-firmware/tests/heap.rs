//! The heap high-water mark of a 16-of-16 keyset creation, measured with a counting
//! global allocator (`cap`, which wraps `System`; the workspace forbids unsafe code, so
//! this binary cannot implement `GlobalAlloc` itself). The figure is an upper bound for
//! the PED: it also counts what the test-side HSM and key store hold meanwhile.

mod common;

use std::alloc::System;

use cap::Cap;
use common::*;
use ped_firmware::io::Button;
use ped_proto::command::{Activity, HsmCommand, PedReply, Role, ShapeChoice};
use ped_proto::quorum::{KeysetId, Quorum};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// The goal of issue 5.
const BUDGET: usize = 64 * 1024;

#[test]
fn a_16_of_16_creation_stays_within_64_kib_of_heap() {
    let mut hsm = TestHsm::new("HSM-180001");
    let root = hsm.root();
    let setup_peak = ALLOCATOR.max_allocated();
    let before = ALLOCATOR.allocated();

    let mut rig = Rig::new(root);
    hsm.connect_local(&mut rig);
    let setting = prompt(Role::HsmSo, Activity::Setting);
    hsm.send(
        &mut rig,
        &HsmCommand::CreateKeyset { prompt: setting.clone(), offer_reuse: true, shape: ShapeChoice::OnPed },
    );
    rig.press(Button::No);
    rig.digits("16");
    rig.enter();
    rig.digits("16");
    rig.enter();
    let q = Quorum::new(16, 16).unwrap();
    assert_eq!(hsm.replies(&mut rig), [PedReply::Shape(q)]);
    let splits = hsm.wrap_splits(&[0xa5; 128], q, KeysetId::from_bytes([1; 16]));
    hsm.send(&mut rig, &HsmCommand::WriteSplits { prompt: setting, splits, offer_duplicates: true });
    for _ in 0..16 {
        let key = rig.add_key(None);
        rig.insert(key);
        rig.enter();
        rig.press(Button::Yes);
        rig.digits("123456789012345678901234567890123456789012345678");
        rig.enter();
        rig.digits("123456789012345678901234567890123456789012345678");
        rig.enter();
        // The rig keeps every screen drawn; the PED does not.
        rig.drawn.clear();
    }
    rig.press(Button::No);
    assert_eq!(hsm.replies(&mut rig), [PedReply::Written { keys: 16, duplicate_sets: 0 }]);

    let peak = ALLOCATOR.max_allocated();
    let window_peak = peak.saturating_sub(before);
    let retained = ALLOCATOR.allocated().saturating_sub(before);
    eprintln!(
        "heap: peak during the creation {window_peak} B above the {before} B live before it \
         (setup peak {setup_peak} B); {retained} B live after it, key store and HSM included"
    );
    assert!(peak > setup_peak, "the window's peak must be measured, not the setup's");
    assert!(window_peak <= BUDGET, "{window_peak} B > {BUDGET} B");
}
