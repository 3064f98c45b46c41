//! The simulator as a child process, and the host's end of its emulated USB endpoint.
#![allow(dead_code, unreachable_pub)] // Each test binary uses its own part.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ped_proto::usb::{StreamDecoder, frame_records};

/// Long enough for a slow CI machine; a hang still ends the test.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running ped-sim, killed if the test ends before it does.
pub struct Sim {
    child: Option<Child>,
}

impl Sim {
    pub fn spawn(args: &[&str]) -> Sim {
        let child = Command::new(env!("CARGO_BIN_EXE_ped-sim"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ped-sim starts");
        Sim { child: Some(child) }
    }

    /// Waits for the process to end by itself.
    pub fn wait(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("ped-sim did not stop by itself");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Connects to a Unix socket the simulator is about to create.
pub fn connect(path: &Path) -> UnixStream {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match UnixStream::connect(path) {
            Ok(stream) => {
                stream.set_read_timeout(Some(PATIENCE)).unwrap();
                return stream;
            }
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
}

/// The host's end of the emulated USB endpoint: whole frames in and out.
pub struct UsbHost {
    stream: UnixStream,
    decoder: StreamDecoder,
}

impl UsbHost {
    pub fn plug(path: &Path) -> UsbHost {
        UsbHost { stream: connect(path), decoder: StreamDecoder::new() }
    }

    pub fn send(&mut self, frame: &[u8]) {
        self.stream.write_all(&frame_records(frame)).unwrap();
    }

    /// The next frame from the PED; `None` once it unplugged.
    pub fn recv(&mut self) -> Option<Vec<u8>> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(frame) = self.decoder.next_frame().unwrap() {
                return Some(frame);
            }
            match self.stream.read(&mut buf).expect("the PED answers in time") {
                0 => return None,
                n => self.decoder.feed(&buf[..n]),
            }
        }
    }
}

/// A control-socket client: one command line, one JSON reply.
pub struct Control {
    stream: UnixStream,
    replies: BufReader<UnixStream>,
}

impl Control {
    pub fn connect(path: &Path) -> Control {
        let stream = connect(path);
        Control { replies: BufReader::new(stream.try_clone().unwrap()), stream }
    }

    pub fn run(&mut self, line: &str) -> serde_json::Value {
        writeln!(self.stream, "{line}").unwrap();
        let mut reply = String::new();
        self.replies.read_line(&mut reply).unwrap();
        serde_json::from_str(&reply).unwrap()
    }
}

/// The screens a `--json` file holds, each as its eight lines.
pub fn screens(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            value["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()).collect()
        })
        .collect()
}

/// `lines` padded to the eight lines of a screen.
pub fn eight(lines: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out.resize(8, String::new());
    out
}

pub fn path_arg(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

pub fn socket_arg(path: &Path) -> String {
    format!("socket:{}", path.display())
}
