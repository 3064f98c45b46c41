//! `-mode update`'s I/O (the [`update`](super) machine's driver): reads the image, opens the PED's USB pipe (the same `Pipe` the
//! daemon relays over), drives `update::Upload` and prints what it reports — the seed's
//! LunaPED_Update lines on stdout, the progress on stderr.
#![allow(clippy::print_stdout, reason = "this module is the command line's output")]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use ped_wire::ErrorCode;
use ped_wire::device::{DeviceMessage, PedMode};
use ped_wire::frame::Frame;
use ped_wire::usb::Reassembler;

use super::{Event, ImageLenError, Outcome, Upload, check_image_len, plain_progress};
use crate::config::Config;
use crate::device::Pipe;

/// Why `-mode update` failed; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The image file could not be read.
    #[error("cannot read the image {}: {source}", file.display())]
    Unreadable {
        /// The image.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the size of a PED image.
    #[error("{}: {source}", file.display())]
    NotAnImage {
        /// The file.
        file: PathBuf,
        /// Its length, and the lengths an image has.
        source: ImageLenError,
    },
    /// The update's runtime could not be built.
    #[error("{0}")]
    Runtime(std::io::Error),
    /// The PED's USB pipe could not be opened.
    #[error(
        "cannot open the PED at {spec} ({source}): {code}. Check the cable and that the PED is powered on. If a \
pedserver runs on this computer, it holds the PED: stop it with pedserver -mode stop.",
        code = ErrorCode::CkrPedUnplugged
    )]
    NoPed {
        /// The device.
        spec: String,
        /// Why.
        source: std::io::Error,
    },
    /// The PED did not install the image: what it said, and what to do.
    #[error(transparent)]
    AtThePed(#[from] Outcome),
}

/// Loads `file` into the PED of `config.device`, waiting up to `timeout` for each answer
/// at the PED. The caller has checked that no pedserver daemon holds the PED.
pub(crate) fn run(config: &Config, file: &Path, timeout: Duration) -> Result<ExitCode, UpdateError> {
    let unreadable = |source| UpdateError::Unreadable { file: file.to_path_buf(), source };
    // The length first, so that a wrong (huge) file is refused before it is read.
    let len = std::fs::metadata(file).map_err(unreadable)?.len();
    let not_an_image = |source| UpdateError::NotAnImage { file: file.to_path_buf(), source };
    check_image_len(len).map_err(not_an_image)?;
    let image = std::fs::read(file).map_err(unreadable)?;
    println!("Image {}: {} bytes.", file.display(), image.len());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(UpdateError::Runtime)?;
    let outcome = runtime.block_on(async {
        let spec = &config.device;
        let mut pipe =
            Pipe::open(spec).await.map_err(|source| UpdateError::NoPed { spec: spec.to_string(), source })?;
        let upload = Upload::new(image, timeout, Instant::now()).map_err(not_an_image)?;
        let write_delay = Duration::from_micros(u64::from(config.ped_write_delay));
        let write_timeout = config.common.socket_write_timeout.get();
        Ok::<_, UpdateError>(drive(&mut pipe, upload, write_delay, write_timeout).await)
    })?;
    let line = outcome.result()?;
    println!("{line}");
    println!("Update command passed.");
    Ok(ExitCode::SUCCESS)
}

async fn drive(pipe: &mut Pipe, mut upload: Upload, write_delay: Duration, write_timeout: Duration) -> Outcome {
    let mut reassembler = Reassembler::new();
    let mut progress = Progress::None;
    loop {
        while let Some(event) = upload.poll_event() {
            progress.show(event);
        }
        if let Some(outcome) = upload.outcome() {
            progress.clear();
            return outcome.clone();
        }
        if let Some(message) = upload.poll_transmit(Instant::now()) {
            // Upload only builds messages within the protocol's limits.
            let frame = message.encode().unwrap_or_default();
            let written = tokio::time::timeout(write_timeout, pipe.write_frame(&frame, write_delay)).await;
            if !matches!(written, Ok(Ok(()))) {
                upload.handle_unplugged();
                continue;
            }
            // The PED answers chunks only with a failure: take any answer already here
            // before the next chunk, without waiting for one.
            loop {
                tokio::select! {
                    biased;
                    packet = pipe.read_packet() => take(&mut upload, &mut reassembler, packet),
                    () = std::future::ready(()) => break,
                }
            }
            continue;
        }
        let wake = upload.poll_timeout();
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(wake.unwrap_or_else(Instant::now)));
        tokio::select! {
            packet = pipe.read_packet() => take(&mut upload, &mut reassembler, packet),
            () = sleep, if wake.is_some() => upload.handle_timeout(Instant::now()),
        }
    }
}

/// One packet from the PED: a whole frame goes to the upload when it is device control.
fn take(upload: &mut Upload, reassembler: &mut Reassembler, packet: std::io::Result<Vec<u8>>) {
    let Ok(packet) = packet else { return upload.handle_unplugged() };
    // A malformed transfer is dropped whole; the next one starts afresh (docs/usb.md).
    let Ok(Some(frame)) = reassembler.push(&packet) else { return };
    let message = Frame::decode_exact(&frame).ok().and_then(|f| DeviceMessage::decode(f).ok());
    if let Some(message) = message {
        upload.handle_message(message, Instant::now());
    }
}

/// The progress of the chunks: a bar on a terminal, a few plain lines elsewhere.
enum Progress {
    None,
    Bar(ProgressBar),
    Plain { sent: u32 },
}

impl Progress {
    fn show(&mut self, event: Event) {
        match event {
            Event::Identified(info) => {
                println!("PED {}: firmware {}, in {}.", info.serial, info.firmware_version, mode_name(info.mode));
            }
            Event::UploadPrompt => println!("PED operation is required (to upload image)..."),
            Event::Refusal(detail) => println!("The PED says: {detail}"),
            Event::Accepted => {
                *self =
                    if std::io::stderr().is_terminal() { Progress::Bar(bar()) } else { Progress::Plain { sent: 0 } };
            }
            Event::Progress { sent, total } => match self {
                Progress::Bar(bar) => {
                    bar.set_length(u64::from(total));
                    bar.set_position(u64::from(sent));
                }
                Progress::Plain { sent: before } => {
                    if let Some(percent) = plain_progress(*before, sent, total) {
                        eprintln!(
                            "Uploading image: {percent}% ({sent} of {total} bytes sent, {} remaining)",
                            total - sent
                        );
                    }
                    *before = sent;
                }
                Progress::None => {}
            },
            Event::AllSent { bytes, elapsed } => {
                self.clear();
                println!("(Sent {bytes} bytes in {} microseconds).", elapsed.as_micros());
            }
            Event::SavePrompt => println!("PED operation is required (to save image)..."),
        }
    }

    fn clear(&mut self) {
        if let Progress::Bar(bar) = std::mem::replace(self, Progress::None) {
            bar.finish_and_clear();
        }
    }
}

/// The seed's progress indicator counts the bytes still to go.
fn bar() -> ProgressBar {
    let remaining = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{}", state.len().unwrap_or(0).saturating_sub(state.pos()));
    };
    let style = ProgressStyle::with_template("Uploading image [{bar:32}] {remaining} bytes remaining ({eta} left)")
        .map(|s| s.with_key("remaining", remaining).progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(style)
}

fn mode_name(mode: PedMode) -> &'static str {
    match mode {
        PedMode::SelectMode => "the Select Mode menu",
        PedMode::LocalUsb => "Local PED-USB mode",
        PedMode::Remote => "Remote PED mode",
        PedMode::Admin => "Admin mode",
        PedMode::LocalScp => "Local PED-SCP mode",
    }
}
