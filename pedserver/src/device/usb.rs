//! A real PED over libusb (rusb, built from source by its `vendored` feature): bulk OUT
//! `01` and bulk IN `81`, 64-byte packets, vendor:product 1209:0001 (docs/usb.md).
//!
//! A missing PED is found by polling `open` (the device task retries with a backoff
//! capped at 2 s) rather than by libusb hotplug callbacks: polling works on
//! every platform libusb supports, including Windows where hotplug does not, and it
//! also finds a PED that was plugged in before the server started (the seed's
//! "not detected if connected while PEDserver is stopped").
//!
//! libusb calls block, so they run on their own thread (reads) and on tokio's blocking
//! pool (writes); the relay above sees the same async packet pipe as for the emulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ped_wire::usb::{ENDPOINT_IN, ENDPOINT_OUT, PACKET_LEN, PRODUCT_ID, VENDOR_ID, packets};
use rusb::{DeviceHandle, GlobalContext};
use tokio::sync::mpsc;

/// A read returns at least this often, so the reader thread notices a closed pipe.
const READ_POLL: Duration = Duration::from_millis(200);
/// A packet write that takes longer means the PED is not servicing its data channel.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// An open PED on USB.
#[derive(Debug)]
pub(crate) struct UsbPipe {
    handle: Arc<DeviceHandle<GlobalContext>>,
    packets: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    stop: Arc<AtomicBool>,
}

fn io(e: rusb::Error) -> std::io::Error {
    let kind = match e {
        rusb::Error::NoDevice | rusb::Error::NotFound => std::io::ErrorKind::NotFound,
        rusb::Error::Access => std::io::ErrorKind::PermissionDenied,
        rusb::Error::Timeout => std::io::ErrorKind::TimedOut,
        _ => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, e)
}

impl UsbPipe {
    /// Opens the first PED on the bus and claims its interface.
    pub(crate) async fn open() -> std::io::Result<UsbPipe> {
        let handle = tokio::task::spawn_blocking(|| {
            let handle = rusb::open_device_with_vid_pid(VENDOR_ID, PRODUCT_ID).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no USB device 1209:0001 (or no permission: see the udev rule)",
                )
            })?;
            // Not every platform has kernel drivers to detach; where it has none, fine.
            let _ = handle.set_auto_detach_kernel_driver(true);
            handle.claim_interface(0).map_err(io)?;
            Ok::<_, std::io::Error>(handle)
        })
        .await
        .map_err(std::io::Error::other)??;
        let handle = Arc::new(handle);
        let (tx, rx) = mpsc::channel(256);
        let stop = Arc::new(AtomicBool::new(false));
        let (reader, stopped) = (Arc::clone(&handle), Arc::clone(&stop));
        std::thread::Builder::new().name("ped-usb-read".into()).spawn(move || {
            let mut buf = [0u8; PACKET_LEN];
            while !stopped.load(Ordering::Relaxed) {
                let packet = match reader.read_bulk(ENDPOINT_IN, &mut buf, READ_POLL) {
                    Ok(n) => Ok(buf[..n].to_vec()),
                    Err(rusb::Error::Timeout) => continue,
                    Err(e) => Err(io(e)),
                };
                let failed = packet.is_err();
                if tx.blocking_send(packet).is_err() || failed {
                    break;
                }
            }
        })?;
        Ok(UsbPipe { handle, packets: rx, stop })
    }

    /// The next packet from bulk IN. Cancel-safe (a channel receive).
    pub(crate) async fn read_packet(&mut self) -> std::io::Result<Vec<u8>> {
        self.packets.recv().await.unwrap_or_else(|| Err(std::io::ErrorKind::BrokenPipe.into()))
    }

    /// One frame as bulk OUT packets, `delay` apart, a zero-length packet ending a frame
    /// whose length is a multiple of 64.
    pub(crate) async fn write_frame(&mut self, frame: &[u8], delay: Duration) -> std::io::Result<()> {
        let handle = Arc::clone(&self.handle);
        let frame = frame.to_vec();
        tokio::task::spawn_blocking(move || {
            for (i, p) in packets(&frame).enumerate() {
                if i > 0 && !delay.is_zero() {
                    // Microsecond precision here, on a blocking thread, as -pedwritelay means.
                    std::thread::sleep(delay);
                }
                handle.write_bulk(ENDPOINT_OUT, p, WRITE_TIMEOUT).map_err(io)?;
            }
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

impl Drop for UsbPipe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
