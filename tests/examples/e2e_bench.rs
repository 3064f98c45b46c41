//! End-to-end figures of issue 8's performance section, on the whole rig (every
//! component a real process on loopback):
//!
//! ```text
//! cargo run --release -p tests --example e2e_bench
//! ```
//!
//! It builds the rig's binaries first (as `ped-rig` does), starts the rig and prints
//! one line per figure, `<name> <value>`, the unit in the name (`_ns`, `_ms`) or none
//! for a ratio.
//!
//! # 1. The C(2e,2s) connect over the remote path
//!
//! hsm-emu → pedclient → TCP → pedserver → remote ped-sim, directly: the rig's
//! recorders and chaos proxy are out of the path (`Settings::taps`), as in a
//! deployment. `ped connect` only opens the link (pedclient dials
//! pedserver, which reports the PED's firmware): the C(2e,2s) handshake is run by the
//! HSM at the first PED command of the connection. So each of the [`ROUNDS`] rounds:
//!
//! - `ped connect` (timed: `ped_connect_cli`);
//! - `role login -name so` until the PED shows `SO LOGIN...` (timed:
//!   `first_prompt_after_connect`): the CLI process, the handshake, the first command
//!   record and its screen;
//! - the 16 blue keys presented (not timed), then the same `role login -name so` on the
//!   channel now open, until its prompt (timed: `prompt_on_open_channel`): the same
//!   minus the handshake; the keys presented again (not timed); `ped disconnect`.
//!
//! `c2e2s_handshake_e2e` is the median of the per-round differences of the two prompt
//! times: the handshake as seen end to end, with its three messages crossing every
//! process hop (the HSM link, pedclient, TCP, pedserver, the PED's USB) and
//! both ends' work (HSM: 1 key generation + 2 ECDH; the PED, its RPK cached and the
//! HSM's chain cached by the warm-up: 1 key generation + 2 ECDH, and whatever else its
//! side does). No key holder acts inside any timed window: the PED caches the RPK (the
//! orange key is read once, in part 2, which is the warm-up), so the handshake needs
//! nobody. ped-sim's 100 ms tick plays no part either: frames and control commands are
//! handled as they arrive, the tick only advances its clock.
//!
//! The primitive costs are measured in this process, in the same run, as
//! `ped-proto`'s `bench` example measures them (median of many iterations of
//! `EcdhKeyPair::generate` and `diffie_hellman`): `c2e2s_primitives_sum` = 2 keygen + 4
//! ECDH. `c2e2s_e2e_ratio` = handshake end to end / that sum; `connect_e2e_ratio` adds
//! the `ped connect` CLI time (link set-up, no cryptography) to the numerator.
//!
//! # 2. A 16-of-16 keyset creation
//!
//! `hsm init -label rig` over the remote PED right after the first `ped connect`:
//! the orange key for the RPV login (a cold PED: the first C(2e,2s), with the HSM's
//! chain verified), then the blue (HSM SO) keyset 16 of 16 and the red (domain) keyset
//! 1 of 1, no PINs (so PBKDF2 is out of it). `keyset_16of16_total` is the CLI's wall
//! time. The key holder is the scripted one: its actions (insert, Enter, YES, NO,
//! digits) are control-socket commands that return once the PED core has handled them;
//! their summed duration is `keyset_16of16_holder_actions` (it includes the PED's own
//! handling of each action, e.g. writing the key file). `keyset_16of16_protocol` =
//! total − that sum: the HSM's and the PED's protocol work and the frames crossing
//! every hop, i.e. what `wait-screen` waited for. The orange-key read and the red 1-of-1
//! set are in both figures (they are part of `hsm init`).

#![allow(clippy::print_stdout, reason = "a benchmark reports on its terminal")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use ped_proto::EcdhKeyPair;
use ped_testkit::KeyHolder;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tests::ceremony::{self, ORANGE_PIN};
use tests::rig::{Rig, Settings};
use tests::sim::SimHolder;

/// Timed `ped connect` rounds.
const ROUNDS: usize = 20;
/// Iterations of each P-521 primitive.
const PRIMITIVE_ITERATIONS: usize = 200;
/// The keys of the big keyset.
const BIG: u8 = 16;
fn main() {
    if let Err(e) = tests::build_rig_binaries(|_| {}) {
        eprintln!("e2e_bench: FAILED to build the rig's binaries: {e}");
        std::process::exit(1);
    }
    // The system's own path: the rig's recorders and chaos proxy would add hops of
    // their own to every frame.
    let mut rig = Rig::start(&Settings { taps: false, ..Settings::default() });
    let orange = ceremony::local_rpv(&mut rig);
    rig.connect(&[]).ok();
    let mut remote = rig.remote.holder();

    // 2. The 16-of-16 creation (also the warm-up: the PED caches the RPK).
    let blue = rig.keys.blank(usize::from(BIG));
    let red = rig.keys.blank(1);
    let mut timed = Timed { holder: &mut remote, acting: Duration::ZERO };
    let started = Instant::now();
    let init = rig.hsm.start_cli(&["hsm", "init", "-label", "rig"]);
    timed.wait("COMPUTE SESSION KEY.");
    timed.present(&orange, ORANGE_PIN);
    for (colour, keys) in [("(BLUE)", &blue), ("(RED)", &red)] {
        let n = u8::try_from(keys.len()).expect("a small keyset");
        timed.wait("reuse an existing");
        timed.act("press no");
        timed.wait("M value?");
        timed.act(&format!("type {n}"));
        timed.act("press enter");
        timed.act(&format!("type {n}"));
        timed.act("press enter");
        timed.wait(colour);
        for serial in keys {
            timed.act(&format!("insert {serial}"));
            timed.act("press enter");
            timed.act("press yes");
            // No PIN: Enter on the empty PIN, twice.
            timed.act("press enter");
            timed.act("press enter");
        }
        timed.act("press no");
    }
    init.join().expect("the CLI thread").ok();
    let total = started.elapsed();
    let acting = timed.acting;
    remote.remove();
    rig.hsm.cli(&["ped", "disconnect"]).ok();

    // 1. The primitives, then the connect rounds.
    let mut rng = ChaCha20Rng::seed_from_u64(0xe2e);
    let keygen = median_ns(PRIMITIVE_ITERATIONS, || EcdhKeyPair::generate(&mut rng));
    let (a, b) = (EcdhKeyPair::generate(&mut rng), EcdhKeyPair::generate(&mut rng));
    let ecdh = median_ns(PRIMITIVE_ITERATIONS, || a.diffie_hellman(black_box(b.public())));
    let primitives = 2 * keygen + 4 * ecdh;

    let (mut connects, mut first, mut open, mut handshakes, mut whole) = (vec![], vec![], vec![], vec![], vec![]);
    for round in 0..=ROUNDS {
        let t = Instant::now();
        rig.connect(&[]).ok();
        let connect = ns(t.elapsed());
        let first_prompt = login(&rig, &mut remote, &blue);
        let open_prompt = login(&rig, &mut remote, &blue);
        rig.hsm.cli(&["ped", "disconnect"]).ok();
        if round == 0 {
            continue; // the warm-up round: page cache, first process starts
        }
        let handshake = first_prompt.saturating_sub(open_prompt);
        connects.push(connect);
        first.push(first_prompt);
        open.push(open_prompt);
        handshakes.push(handshake);
        whole.push(connect + handshake);
    }

    let handshake = median(&mut handshakes);
    let connect_and_handshake = median(&mut whole);
    println!("p521_keygen_ns {keygen}");
    println!("p521_ecdh_ns {ecdh}");
    println!("c2e2s_primitives_sum_ns {primitives}");
    println!("ped_connect_cli_median_ns {}", median(&mut connects));
    println!("first_prompt_after_connect_median_ns {}", median(&mut first));
    println!("prompt_on_open_channel_median_ns {}", median(&mut open));
    println!("c2e2s_handshake_e2e_median_ns {handshake}");
    println!("c2e2s_e2e_ratio {:.3}", ratio(handshake, primitives));
    println!("connect_plus_handshake_median_ns {connect_and_handshake}");
    println!("connect_e2e_ratio {:.3}", ratio(connect_and_handshake, primitives));
    println!("keyset_16of16_total_ms {:.1}", ms(total));
    println!("keyset_16of16_holder_actions_ms {:.1}", ms(acting));
    println!("keyset_16of16_protocol_ms {:.1}", ms(total.saturating_sub(acting)));
}

/// `role login -name so`: the time from the CLI's start to the PED's prompt; the blue
/// keys are then presented (untimed) and the login must succeed.
fn login(rig: &Rig, holder: &mut SimHolder, blue: &[String]) -> u64 {
    let t = Instant::now();
    let cli = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    holder.wait("SO LOGIN...", 60);
    let prompt = ns(t.elapsed());
    for serial in blue {
        holder.present(serial, "");
    }
    cli.join().expect("the CLI thread").ok();
    holder.remove();
    prompt
}

/// The key holder, its actions timed apart from its waits for the PED.
struct Timed<'a> {
    holder: &'a mut SimHolder,
    acting: Duration,
}

impl Timed<'_> {
    fn act(&mut self, line: &str) {
        let t = Instant::now();
        self.holder.run(line);
        self.acting += t.elapsed();
    }

    fn wait(&mut self, text: &str) {
        self.holder.wait(text, 60);
    }

    fn present(&mut self, serial: &str, pin: &str) {
        self.act(&format!("insert {serial}"));
        self.act("press enter");
        if !pin.is_empty() {
            self.act(&format!("type {pin}"));
            self.act("press enter");
        }
    }
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[allow(clippy::cast_precision_loss, reason = "nanosecond counts far below 2^52")]
fn ratio(a: u64, b: u64) -> f64 {
    a as f64 / b as f64
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// The median of `iterations` timed calls of `op`, after a tenth as many untimed.
fn median_ns<T>(iterations: usize, mut op: impl FnMut() -> T) -> u64 {
    for _ in 0..iterations / 10 {
        black_box(op());
    }
    let mut times: Vec<u64> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            black_box(op());
            ns(t.elapsed())
        })
        .collect();
    median(&mut times)
}
