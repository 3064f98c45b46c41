//! The remote PED as the firmware image (`mcu/ped-board`) on QEMU's `mps2-an386`: its
//! three UARTs on Unix sockets (docs/board.md), found by the rig as a ped-sim's would be.
//!
//! ```text
//! qemu-system-arm -M mps2-an386 -nographic -monitor none -semihosting-config enable=on,target=native
//!   -chardev socket,id=debug,path=NAME-debug.sock,server=on,wait=off,logfile=NAME-debug.log -serial chardev:debug
//!   -chardev socket,id=usb,path=NAME-usb.sock,server=on,wait=off -serial chardev:usb
//!   -chardev socket,id=periph,path=NAME-board.sock,server=on,wait=off -serial chardev:periph
//!   -kernel target/mcu/thumbv7em-none-eabihf/release/ped-board
//! ```

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Process, path_str, wait_until};

/// Overrides where the image is looked for.
pub const IMAGE_ENV: &str = "PED_BOARD_IMAGE";

/// The PED image: `$PED_BOARD_IMAGE`, or where `mcu/run-ped.sh --build-only` puts it.
pub fn image() -> PathBuf {
    let image = std::env::var_os(IMAGE_ENV).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/mcu/thumbv7em-none-eabihf/release/ped-board")
    });
    assert!(
        image.exists(),
        "the PED firmware image {} is not built: run `mcu/build.sh ped-board` (it installs its \
         toolchain and QEMU on first use), or point {IMAGE_ENV} at an image",
        image.display()
    );
    image
}

/// `qemu-system-arm` on PATH.
pub fn qemu() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("qemu-system-arm"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("qemu-system-arm is not installed: run `mcu/build.sh` (it installs Debian's)"))
}

/// A running board: QEMU and its sockets.
#[derive(Debug)]
pub struct McuPed {
    process: Option<Process>,
    /// The USB link (`socket:` this path for pedserver).
    pub usb: PathBuf,
    /// The peripheral link (`ped-sim --board socket:` this path).
    pub board: PathBuf,
    /// The debug console.
    pub debug: PathBuf,
    /// Everything the debug console printed.
    pub debug_log: PathBuf,
}

impl McuPed {
    /// Boots the image as PED `name`, its sockets in `dir`.
    pub fn start(dir: &Path, name: &str) -> McuPed {
        let (image, qemu) = (image(), qemu());
        let usb = dir.join(format!("{name}-usb.sock"));
        let board = dir.join(format!("{name}-board.sock"));
        let debug = dir.join(format!("{name}-debug.sock"));
        let debug_log = dir.join(format!("{name}-debug.log"));
        let chardev = |id: &str, path: &Path| format!("socket,id={id},path={},server=on,wait=off", path.display());
        let args = [
            "-M".to_owned(),
            "mps2-an386".to_owned(),
            "-nographic".to_owned(),
            "-monitor".to_owned(),
            "none".to_owned(),
            "-semihosting-config".to_owned(),
            "enable=on,target=native".to_owned(),
            "-chardev".to_owned(),
            format!("{},logfile={}", chardev("debug", &debug), debug_log.display()),
            "-serial".to_owned(),
            "chardev:debug".to_owned(),
            "-chardev".to_owned(),
            chardev("usb", &usb),
            "-serial".to_owned(),
            "chardev:usb".to_owned(),
            "-chardev".to_owned(),
            chardev("periph", &board),
            "-serial".to_owned(),
            "chardev:periph".to_owned(),
            "-kernel".to_owned(),
            path_str(&image).to_owned(),
        ];
        let process = Process::spawn(&qemu, &args);
        wait_until("QEMU's sockets for the PED board", || usb.exists() && board.exists() && debug.exists());
        McuPed { process: Some(process), usb, board, debug, debug_log }
    }

    /// The board's `heap_peak_bytes` and `stack_peak_bytes`, asked on its debug console.
    pub fn figures(&self) -> (u64, u64) {
        let stream = UnixStream::connect(&self.debug).expect("the board's debug console");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("a read timeout");
        let mut lines = BufReader::new(stream.try_clone().expect("a second handle"));
        (&stream).write_all(b"s").expect("the debug console takes a command");
        let (mut heap, mut stack) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(10);
        while stack.is_none() && Instant::now() < deadline {
            let mut line = String::new();
            if lines.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let value = |name: &str| line.strip_prefix(name).and_then(|v| v.trim().parse().ok());
            heap = heap.or(value("heap_peak_bytes "));
            stack = stack.or(value("stack_peak_bytes "));
        }
        (heap.expect("heap_peak_bytes on the debug console"), stack.expect("stack_peak_bytes on the debug console"))
    }

    /// Switches the board off.
    pub fn stop(&mut self) {
        if let Some(p) = self.process.take() {
            p.kill();
        }
    }
}
