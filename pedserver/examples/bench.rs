//! Relay benchmark: `cargo run --release -p pedserver --example bench`.
//!
//! A fake PED on the emulated endpoint (TCP, loopback) echoes every frame. The same
//! exchanges run once straight to the PED's socket and once through a pedserver
//! process: the difference is what the relay adds. Prints round-trip p50/p99 of a
//! 100-byte record, the throughput of a 3 MB image in 16 KB records, and idle RSS.
#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ped_wire::frame::{self, FrameType, HEADER_LEN};
use ped_wire::relay::{RELAY_VERSION, RelayMessage, RelayRole};
use ped_wire::usb::{StreamDecoder, frame_records};

const IMAGE: usize = 3 * 1024 * 1024;
const CHUNK: usize = 16 * 1024;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The fake PED: one connection at a time, echoes frames, answers nothing else.
fn fake_ped() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || echo(stream));
        }
    });
    port
}

fn echo(mut s: TcpStream) {
    s.set_nodelay(true).unwrap();
    let (mut decoder, mut buf) = (StreamDecoder::new(), vec![0u8; 65536]);
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        decoder.feed(&buf[..n]);
        let mut out = Vec::new();
        while let Ok(Some(f)) = decoder.next_frame() {
            if f[3] != FrameType::DeviceInfoRequest.to_byte() {
                out.extend(frame_records(&f));
            }
        }
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

/// One side of a measurement: frames out, frames back.
trait Link {
    fn send(&mut self, frame: &[u8]);
    fn recv(&mut self) -> Vec<u8>;
}

/// Straight to the PED's socket, in packet records.
struct Direct(TcpStream, StreamDecoder);

impl Link for Direct {
    fn send(&mut self, frame: &[u8]) {
        self.0.write_all(&frame_records(frame)).unwrap();
    }
    fn recv(&mut self) -> Vec<u8> {
        let mut buf = [0u8; 65536];
        loop {
            if let Some(f) = self.1.next_frame().unwrap() {
                return f;
            }
            let n = self.0.read(&mut buf).unwrap();
            assert!(n > 0, "PED closed");
            self.1.feed(&buf[..n]);
        }
    }
}

/// Through pedserver, as pedclient would.
struct Relayed(TcpStream, Vec<u8>);

impl Link for Relayed {
    fn send(&mut self, frame: &[u8]) {
        self.0.write_all(frame).unwrap();
    }
    fn recv(&mut self) -> Vec<u8> {
        let mut buf = [0u8; 65536];
        loop {
            if self.1.len() >= HEADER_LEN {
                let len = u32::from_be_bytes(self.1[4..8].try_into().unwrap()) as usize + HEADER_LEN;
                if self.1.len() >= len {
                    let rest = self.1.split_off(len);
                    return std::mem::replace(&mut self.1, rest);
                }
            }
            let n = self.0.read(&mut buf).unwrap();
            assert!(n > 0, "server closed");
            self.1.extend_from_slice(&buf[..n]);
        }
    }
}

fn latencies(link: &mut dyn Link, n: usize) -> (Duration, Duration) {
    let record = frame::encode(FrameType::Record, &[0x5a; 100]);
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            link.send(&record);
            assert_eq!(link.recv(), record);
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[n / 2], times[n * 99 / 100])
}

fn throughput(link: &mut dyn Link) -> f64 {
    let record = frame::encode(FrameType::Record, &[0xa5; CHUNK]);
    let count = IMAGE / CHUNK;
    let t = Instant::now();
    // A window of 4 records in flight, as a streaming uploader would keep.
    let window = 4;
    for i in 0..count + window {
        if i < count {
            link.send(&record);
        }
        if i >= window {
            assert_eq!(link.recv().len(), record.len());
        }
    }
    IMAGE as f64 / t.elapsed().as_secs_f64()
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let ped = fake_ped();
    let (port, admin) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|p| p.parent()).unwrap().join("pedserver");
    let server = Server(
        Command::new(&bin)
            .args(["-mode", "start", "--foreground", "-eserverport", "0", "-logwarning", "0", "-loginfo", "0"])
            .args(["-port", &port.to_string(), "-admin", &admin.to_string()])
            .args(["-device", &format!("tcp:127.0.0.1:{ped}")])
            .arg("-configfile")
            .arg(dir.path().join("c.toml"))
            .arg("-logfilename")
            .arg(dir.path().join("l.log"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e} (build it first: cargo build --release -p pedserver)", bin.display())),
    );
    let relayed = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(700));
    let idle_rss = rss_kb(server.0.id());
    relayed.set_nodelay(true).unwrap();
    let mut relayed = Relayed(relayed, Vec::new());
    let hello = RelayMessage::Hello { version: RELAY_VERSION, role: RelayRole::Client, software: "bench".into() };
    relayed.send(&hello.encode().unwrap());
    relayed.recv();
    let direct = TcpStream::connect(("127.0.0.1", ped)).unwrap();
    direct.set_nodelay(true).unwrap();
    let mut direct = Direct(direct, StreamDecoder::new());

    let n = 5000;
    latencies(&mut direct, 200);
    latencies(&mut relayed, 200);
    let (d50, d99) = latencies(&mut direct, n);
    let (r50, r99) = latencies(&mut relayed, n);
    let direct_bps = throughput(&mut direct);
    let relayed_bps = throughput(&mut relayed);
    println!("round trip of a 100-byte record ({n} runs), loopback:");
    println!("  direct to the PED socket: p50 {d50:?}  p99 {d99:?}");
    println!("  through pedserver:        p50 {r50:?}  p99 {r99:?}");
    println!(
        "  added per frame (half the round-trip difference): p50 {:?}  p99 {:?}",
        r50.saturating_sub(d50) / 2,
        r99.saturating_sub(d99) / 2
    );
    println!("3 MB image in {} KB records (echoed):", CHUNK / 1024);
    println!("  direct:  {:.1} MB/s", direct_bps / 1e6);
    println!(
        "  relayed: {:.1} MB/s  ({:.2}x direct, {:.0}x the seed's 9.75 KB/s)",
        relayed_bps / 1e6,
        relayed_bps / direct_bps,
        relayed_bps / 9750.0
    );
    println!("idle RSS of pedserver: {} KB", idle_rss);
}
