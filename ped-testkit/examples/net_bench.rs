//! How long the in-memory net takes for the whole remote ceremony (RPV init, `ped
//! connect`, 3-of-5 `hsm init`, SO login, disconnect), on this machine's clock: run it
//! with `cargo run --release -p ped-testkit --example net_bench`.
#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::time::Instant;

use ped_testkit::ceremony;
use ped_testkit::{Net, Settings};

fn main() {
    let runs = 20;
    let mut times = Vec::with_capacity(runs);
    for seed in 0..runs as u64 {
        let started = Instant::now();
        let mut net = Net::new(Settings { seed, ..Settings::default() });
        let keys = ceremony::run(&mut net);
        ceremony::so_login(&mut net, &keys.blue_quorum()).ok();
        net.cli(&["ped", "disconnect"]).ok();
        times.push(started.elapsed());
    }
    times.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!(
        "net_remote_ceremony runs={runs} min_ms={:.1} median_ms={:.1} max_ms={:.1}",
        ms(times[0]),
        ms(times[runs / 2]),
        ms(times[runs - 1])
    );
}
