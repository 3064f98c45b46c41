//! The PED core fed any sequence of host frames and key presses: no panic, and every
//! frame it sends is a well-formed frame. Genuine hellos of each channel kind (verified
//! against the fixture's root) can be picked, two at most per input, so the fuzzer
//! reaches the states behind the handshake. Every PED starts warm (the fixture's chain
//! verified, its first ephemeral key drawn), so the first hello costs it no chain
//! verification and the first tick no key generation; later ones draw their own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_firmware::config::PedConfig;
use ped_firmware::io::{Button, Effect, Event};
use ped_proto::frame::Frame;
use ped_proto_fuzz::{KINDS, NOW, fixture};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Genuine hellos an input may pick; further picks are skipped.
const MAX_HELLOS: usize = 2;

const BUTTONS: [Button; 6] = [Button::Clear, Button::Back, Button::Log, Button::Yes, Button::No, Button::Enter];

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    let mut ped = fx.warm_ped(PedConfig::new("PED-FUZZ", "2.9.0-1", fx.root.clone()));
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut events = vec![Event::PowerOn, Event::Tick { monotonic_ms: 0, unix_seconds: NOW }];
    let mut rest = data;
    let mut hellos = 0;
    // Each step: a selector byte, then (for raw frames) a u16 length and the bytes.
    while let Some((&selector, tail)) = rest.split_first() {
        rest = tail;
        let event = match selector % 4 {
            // Two genuine hellos reach every state a new hello can meet (a handshake or a
            // channel under way); each costs the PED a key generation and, for Local
            // PED-USB, an ECDH, which made long inputs of hellos the fuzzer's whole time.
            0 if hellos < MAX_HELLOS => {
                hellos += 1;
                Event::HostFrame(fx.transcript(KINDS[usize::from(selector / 4) % 3]).hello.clone())
            }
            0 => continue,
            1 => {
                let Some((len, tail)) = rest.split_first_chunk::<2>() else { break };
                let len = usize::from(u16::from_be_bytes(*len)).min(tail.len());
                let (frame, tail) = tail.split_at(len);
                rest = tail;
                Event::HostFrame(frame.to_vec())
            }
            2 if selector / 4 < 10 => Event::Pressed(Button::Digit(selector / 4)),
            2 => Event::Pressed(BUTTONS[usize::from(selector / 4) % BUTTONS.len()]),
            _ => Event::Tick { monotonic_ms: u64::from(selector) * 1000, unix_seconds: NOW },
        };
        events.push(event);
    }
    for event in events {
        for effect in ped.handle(event, &mut rng) {
            if let Effect::SendFrame(bytes) = effect {
                assert!(Frame::decode_exact(&bytes).is_ok(), "the PED sent a malformed frame");
            }
        }
    }
});
