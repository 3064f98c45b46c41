//! Plays the thief of docs/security.md, "Offline PIN guessing": one stolen key file of
//! each colour (1-of-1 and M-of-N, each with a 4-digit PIN) and every byte that crossed
//! the HSM link, the TCP link and the remote PED's USB while those keys were made and
//! used. For every 4-digit PIN (1000-9999) the thief runs each check it has; each check
//! must accept every candidate or none, so the true PIN cannot be told from the others.
//!
//! The checks are all the thief can compute from a candidate: the value it unmasks to
//! (is it a well-formed split, an orange seed that derives a key?), whether that value
//! or, for the orange key, the RPV or the RPK public key it derives, appears anywhere in
//! the capture. The key-confirmation tags cannot be recomputed for any candidate: they
//! are keyed by Ze, which needs an ephemeral private key the capture does not hold. A
//! positive control shows the public-key check finds the PIN at once when the RPK public
//! key is in the capture, as format 1's RPK certificate put it there.

use std::collections::HashSet;

use ped_proto::orange::{ORANGE_SEED_LEN, RpkCredential};
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_proto::pin::{Pin, apply_pin_mask};
use ped_testkit::ceremony::{self, CO_PIN, PO_PIN, Plan};
use ped_testkit::{Net, Settings, Which};

const ORANGE: &str = "4821";
const BLUE: [&str; 3] = ["5930", "6047", "7156"];
const RED: [&str; 1] = ["8265"];
const WHITE: &str = "9374";

/// What the thief derives from one candidate PIN.
struct Candidate {
    pin: String,
    value: Vec<u8>,
    /// Orange keys: the RPV and the RPK public key's x-coordinate the seed gives.
    orange: Option<(Vec<u8>, Vec<u8>)>,
}

/// Every run of bytes of the lengths searched for, in every captured stream: a lookup
/// per candidate instead of a scan of the whole capture.
struct Capture(HashSet<Vec<u8>>);

impl Capture {
    fn of(streams: &[Vec<u8>]) -> Capture {
        let mut runs = HashSet::new();
        for len in [32, 66] {
            for stream in streams {
                runs.extend(stream.windows(len).map(<[u8]>::to_vec));
            }
        }
        Capture(runs)
    }

    fn contains(&self, needle: &[u8]) -> bool {
        assert!(matches!(needle.len(), 32 | 66), "a searched length");
        self.0.contains(needle)
    }
}

/// Every candidate of a stolen key, computed on both cores.
fn candidates(key: &PedKeyPayload) -> Vec<Candidate> {
    let pins: Vec<String> = (1000..=9999).map(|p: u32| p.to_string()).collect();
    let (first, second) = pins.split_at(pins.len() / 2);
    let derive = |pins: &[String]| -> Vec<Candidate> {
        pins.iter()
            .map(|pin| {
                let typed = Pin::parse(pin).expect("4 digits");
                let value = apply_pin_mask(&key.masked_split, Some(&typed), &key.salt, &key.split).expect("unmasks");
                let orange = (key.colour == KeyColour::Orange).then(|| {
                    let rpk = RpkCredential::from_seed(*key.split.keyset_id(), &value).expect("every seed derives");
                    let public = rpk.static_key.public_key().to_uncompressed();
                    (rpk.rpv.expose().to_vec(), public[1..67].to_vec())
                });
                Candidate { pin: pin.clone(), value: value.to_vec(), orange }
            })
            .collect()
    };
    std::thread::scope(|s| {
        let half = s.spawn(|| derive(second));
        let mut all = derive(first);
        all.extend(half.join().expect("the second core's half"));
        all
    })
}

/// Asserts that `check` accepts all candidates or none; returns how many it accepted.
fn all_or_none(name: &str, key: &str, candidates: &[Candidate], check: impl Fn(&Candidate) -> bool) -> usize {
    let accepted = candidates.iter().filter(|c| check(c)).count();
    assert!(
        accepted == 0 || accepted == candidates.len(),
        "{key}: the check '{name}' separates PIN candidates ({accepted} of {} accepted)",
        candidates.len()
    );
    accepted
}

#[test]
fn one_stolen_key_of_each_colour_and_every_captured_link_leave_every_4_digit_pin_equally_plausible() {
    // The production PIN binding count (600), as a thief of a real key faces.
    let mut net = Net::new(Settings { pin_iterations: ped_proto::pin::PIN_ITERATIONS.get(), ..Settings::default() });
    // Orange 1-of-1 at the local PED; `ped connect`; blue 2-of-3 and red 1-of-1 written
    // over the Remote PED (C(2e,2s) with the orange key); an SO login with blue keys 1, 2.
    let orange = ceremony::local_rpv_with(&mut net, ORANGE);
    net.cli(&["ped", "connect"]).ok();
    let (blue, red) = ceremony::hsm_init(
        &mut net,
        Which::Remote,
        Some((&orange, ORANGE)),
        Plan { m: 2, n: 3, pins: &BLUE },
        Plan { m: 1, n: 1, pins: &RED },
    );
    ceremony::so_login(&mut net, &[(&blue[0], BLUE[0]), (&blue[1], BLUE[1])]).ok();
    // The Partition SO (blue 1-of-1), the CO (black 1-of-1), the Auditor (white 1-of-1),
    // each made and logged in over the Remote PED.
    let partition = ceremony::partition(&mut net, Which::Remote, "thief");
    let white = net.blank(1).remove(0);
    ceremony::role_init(&mut net, Which::Remote, "au", &white, WHITE).ok();
    ceremony::role_login(&mut net, Which::Remote, "au", &[(&white, WHITE)]).ok();
    let streams = net.captured();
    assert!(streams.iter().map(Vec::len).sum::<usize>() > 10_000, "the links carried the ceremony");
    let capture = Capture::of(&streams);

    let stolen = [
        ("orange 1-of-1", &orange, ORANGE),
        ("blue 2-of-3", &blue[0], BLUE[0]),
        ("red 1-of-1", &red[0], RED[0]),
        ("blue (Partition SO) 1-of-1", &partition.po, PO_PIN),
        ("black (CO) 1-of-1", &partition.co, CO_PIN),
        ("white 1-of-1", &white, WHITE),
    ];
    for (name, serial, true_pin) in stolen {
        let key = ceremony::content(&net, serial).expect("a written key");
        assert!(key.pin_protected, "{name} has a PIN");
        let candidates = candidates(&key);
        assert_eq!(candidates.len(), 9000);
        assert!(candidates.iter().any(|c| c.pin == true_pin), "the true PIN is among the candidates");
        let expected_len = if key.colour == KeyColour::Orange { ORANGE_SEED_LEN } else { 32 };
        let formed = all_or_none("well-formed value", name, &candidates, |c| c.value.len() == expected_len);
        assert_eq!(formed, candidates.len(), "{name}: every candidate unmasks to a well-formed value");
        all_or_none("value in the capture", name, &candidates, |c| capture.contains(&c.value));
        if key.colour == KeyColour::Orange {
            all_or_none("RPV in the capture", name, &candidates, |c| capture.contains(&c.orange.as_ref().unwrap().0));
            let public = |c: &Candidate| c.orange.as_ref().unwrap().1.clone();
            let found =
                all_or_none("RPK public key in the capture", name, &candidates, |c| capture.contains(&public(c)));
            assert_eq!(found, 0, "no RPK public key crosses any link");
            // Positive control: with the true RPK public key on a link, as format 1 sent
            // it, the same check singles out the true PIN.
            let true_public = public(candidates.iter().find(|c| c.pin == true_pin).unwrap());
            let leaky = Capture::of(&[streams.clone(), vec![true_public]].concat());
            let singled: Vec<&str> =
                candidates.iter().filter(|c| leaky.contains(&public(c))).map(|c| c.pin.as_str()).collect();
            assert_eq!(singled, [true_pin], "the check would catch a leaked RPK public key");
        }
    }
}
