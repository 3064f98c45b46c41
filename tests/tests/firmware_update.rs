//! The PED firmware update of seed lines 4420-4663, end to end: `pedserver -mode update`
//! on the host, a ped-sim PED with a vendor key and flash on disk, and the key holder
//! at Admin → 7 Software Update. Each test asserts what the administrator sees on the
//! host (lines, exit status), what the PED shows, and which firmware the PED boots when
//! it is unplugged and plugged in again.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

use p521::ecdsa::signature::Signer;
use p521::ecdsa::{Signature, SigningKey};
use p521::elliptic_curve::sec1::ToSec1Point;
use ped_firmware::update::file::FileSlots;
use ped_firmware::update::image::{FirmwareVersion, Header, VendorKey};
use ped_firmware::update::slots::{ImageSlots, Slot};
use ped_proto::device::MAX_IMAGE_LEN;
use ped_proto::factory::Factory;
use ped_testkit::KeyHolder;
use rand_core::SeedableRng;
use tests::sim::{PedSim, SimHolder, shown};
use tests::{PedServer, binary, free_port, wait_until};

/// The firmware the PED left the factory with.
const OLD_VERSION: &str = "2.9.0-1";
const NEW_VERSION: &str = "2.9.1-0";
/// Four chunks of at most 16384 bytes, so the progress passes several quarters.
const PAYLOAD_LEN: usize = 60_000;
/// Each wait at the PED, for `-timeout`: the key holder answers at once, so this only
/// bounds a test that has gone wrong.
const TIMEOUT_SECS: &str = "30";

/// A vendor signing key made from `seed` (a test key: never a real vendor's).
fn vendor_key(seed: u8) -> SigningKey {
    let mut scalar = [0u8; 66];
    for (i, b) in scalar[1..].iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8);
    }
    SigningKey::from_slice(&scalar).expect("a valid P-521 scalar")
}

/// The public key as `make_image keygen` writes it for the PED: SEC1 hex.
fn public_hex(key: &SigningKey) -> String {
    let point = key.verifying_key().as_affine().to_sec1_point(false);
    point.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// `header ‖ payload ‖ signature` (docs/firmware.md, "Image format"), as `make_image` builds it,
/// at security version 0.
fn signed_image(key: &SigningKey, version: &str) -> Vec<u8> {
    signed_image_at(key, version, 0)
}

/// [`signed_image`] at security version `security` (docs/firmware.md, "Anti-rollback").
fn signed_image_at(key: &SigningKey, version: &str, security: u16) -> Vec<u8> {
    let payload: Vec<u8> = (0..PAYLOAD_LEN).map(|i| (i % 253) as u8).collect();
    let header = Header::for_payload(FirmwareVersion::new(version).unwrap(), &payload)
        .unwrap()
        .with_security_version(security)
        .encode();
    let signature: Signature = key.sign(&header);
    [&header[..], &payload, &signature.to_bytes()].concat()
}

/// The factory's programming of PED `name`'s flash (ped-sim's `--state` is
/// `DIR/NAME-flash`, the flash its `flash/`): `image` in slot A and no boot record, which
/// is what boot runs on flash without records. A real PED always has an image; the first
/// update then records it as the fallback (docs/firmware.md, "Which images may boot").
fn factory_install(dir: &Path, name: &str, image: &[u8], vendor: &VendorKey) {
    let mut flash = FileSlots::open(&dir.join(format!("{name}-flash")).join("flash"), MAX_IMAGE_LEN as usize).unwrap();
    flash.erase(Slot::A).unwrap();
    flash.write(Slot::A, 0, image).unwrap();
    let booted = ped_firmware::update::boot(&mut flash, vendor).unwrap();
    assert_eq!((booted.slot, booted.version.as_str()), (Slot::A, OLD_VERSION), "the factory image boots");
}

/// A PED that offers Software Update, its vendor key and its directory.
struct Bench {
    dir: tempfile::TempDir,
    sim: PedSim,
    vendor: SigningKey,
    /// The pedserver configuration of this test's update runs (written by none of them).
    admin: String,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let factory = Factory::manufacture(&mut rng, "154438865", now).unwrap();
        let root = dir.path().join("root.der");
        std::fs::write(&root, factory.root.certificate_der()).unwrap();
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        let vendor = vendor_key(7);
        let public = dir.path().join("vendor.pem.pub");
        std::fs::write(&public, public_hex(&vendor) + "\n").unwrap();
        let point = vendor.verifying_key().as_affine().to_sec1_point(false);
        let vendor_public = VendorKey::from_sec1(point.as_bytes()).unwrap();
        factory_install(dir.path(), "PED-0001", &signed_image(&vendor, OLD_VERSION), &vendor_public);
        let sim = PedSim::start_with(dir.path(), "PED-0001", &root, &keys, &["--vendor-key", path_str(&public)]);
        Bench { dir, sim, vendor, admin: free_port().to_string() }
    }

    /// Writes `image` to a file for the update.
    fn image_file(&self, name: &str, image: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, image).unwrap();
        path
    }

    /// The key holder at Admin → 7 Software Update, "Upload Image? YES/NO" on screen.
    fn at_software_update(&self) -> SimHolder {
        let mut holder = self.sim.holder();
        holder.press("4");
        holder.press("7");
        assert_eq!(holder.screen()[..2], ["Software update", "Upload Image? YES/NO"]);
        holder
    }

    /// `pedserver -mode update -file IMAGE -device DEVICE`, with a configuration and an
    /// admin port of its own so that no other test's daemon is taken for this one's.
    fn update(&self, image: &Path, device: &str) -> UpdateRun {
        self.update_waiting(image, device, TIMEOUT_SECS)
    }

    /// [`Bench::update`] waiting at most `timeout` seconds for each answer at the PED.
    fn update_waiting(&self, image: &Path, device: &str, timeout: &str) -> UpdateRun {
        let config = self.dir.path().join("pedserver.toml");
        let args = ["-mode", "update", "-file", path_str(image), "-device", device, "-timeout", timeout];
        let mut child = Command::new(binary("pedserver"))
            .args(args)
            .args(["-configfile", path_str(&config), "-admin", &self.admin])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pedserver runs");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        UpdateRun { child, stdout, lines: Vec::new() }
    }

    /// Unplugs the PED and plugs it in again; returns what its Select Mode screen shows.
    fn restarted_ped_screen(&mut self) -> Vec<String> {
        self.sim.restart();
        self.sim.holder().screen()
    }

    fn screens(&self) -> Vec<Vec<String>> {
        self.sim.screens()
    }
}

/// A running `pedserver -mode update`, read line by line as the key holder acts.
struct UpdateRun {
    child: Child,
    stdout: BufReader<ChildStdout>,
    lines: Vec<String>,
}

impl UpdateRun {
    /// Reads stdout until a line containing `text` (pedserver ends by itself, at the
    /// latest after its -timeout).
    fn wait_line(&mut self, text: &str) {
        while !self.lines.iter().any(|l| l.contains(text)) {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "pedserver ended without printing {text:?}:\n{}", self.lines.join("\n"));
            self.lines.push(line.trim_end().to_owned());
        }
    }

    /// Its exit status, every stdout line, and stderr.
    fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        self.lines.extend(rest.lines().map(str::to_owned));
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let status = self.child.wait().unwrap();
        (status, self.lines, stderr)
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

fn position(lines: &[String], text: &str) -> usize {
    lines.iter().position(|l| l.contains(text)).unwrap_or_else(|| panic!("no line {text:?} in:\n{}", lines.join("\n")))
}

#[test]
fn an_image_is_uploaded_saved_and_boots_after_the_ped_restarts() {
    let mut bench = Bench::new();
    let image = signed_image(&bench.vendor, NEW_VERSION);
    let file = bench.image_file("ped-2.9.1-0.bin", &image);
    let mut holder = bench.at_software_update();

    // The command first, then the person at the PED: pedserver waits for the YES.
    let mut run = bench.update(&file, &bench.sim.device());
    run.wait_line("PED operation is required (to upload image)...");
    holder.press("yes");
    holder.wait("Save Image? YES/NO", 30);
    run.wait_line("PED operation is required (to save image)...");
    holder.press("yes");
    holder.wait("Success", 30);
    holder.press("enter");
    let (status, lines, stderr) = run.finish();
    let all = format!("{}\n{stderr}", lines.join("\n"));
    assert!(status.success(), "{all}");

    let len = image.len();
    assert!(lines[0].starts_with("Ped Server Version "), "{all}");
    assert_eq!(lines[1], "Ped Server launched in update mode.");
    assert_eq!(lines[2], format!("Image {}: {len} bytes.", file.display()));
    assert_eq!(lines[3], format!("PED PED-0001: firmware {OLD_VERSION}, in Admin mode."));
    assert_eq!(lines[4], "PED operation is required (to upload image)...");
    let sent = &lines[position(&lines, "(Sent ")];
    let micros = sent.strip_prefix(&format!("(Sent {len} bytes in ")).and_then(|s| s.strip_suffix(" microseconds)."));
    assert!(micros.is_some_and(|m| m.parse::<u64>().is_ok()), "{sent}");
    let order = [
        position(&lines, "(to upload image)"),
        position(&lines, "(Sent "),
        position(&lines, "(to save image)"),
        position(&lines, "PED: Success."),
        position(&lines, "Update command passed."),
    ];
    assert!(order.is_sorted(), "{all}");
    // stderr is not a terminal here: plain progress lines, one per quarter passed.
    let progress: Vec<&str> = stderr.lines().filter(|l| l.starts_with("Uploading image: ")).collect();
    assert!(progress.len() <= 4, "{stderr}");
    assert_eq!(progress.last(), Some(&&*format!("Uploading image: 100% ({len} of {len} bytes sent, 0 remaining)")));

    let screens = bench.screens();
    for text in ["Uploading image", "** WARNING **", "A power failure", "Save Image? YES/NO", "Success", "Press ENTER"]
    {
        assert!(shown(&screens, text), "the PED never showed {text:?}");
    }

    // Unplugged and plugged in again, the PED boots the new image: its Select Mode
    // screen and its Info (pedserver -mode show) say so.
    let screen = bench.restarted_ped_screen();
    assert_eq!(screen[0], "Select Mode");
    assert!(screen.contains(&format!("PED V.{NEW_VERSION}")), "{screen:?}");
    let server = PedServer::start(&bench.sim.device());
    wait_until("pedserver to read the PED's identity", || server.show()["ped"]["firmware_version"] == NEW_VERSION);
}

#[test]
fn an_image_signed_by_another_key_fails_verify_and_the_old_image_still_boots() {
    let mut bench = Bench::new();
    let file = bench.image_file("other.bin", &signed_image(&vendor_key(99), NEW_VERSION));
    let mut holder = bench.at_software_update();
    holder.press("yes");
    let (status, lines, stderr) = bench.update(&file, &bench.sim.device()).finish();
    let all = format!("{}\n{stderr}", lines.join("\n"));
    assert_eq!(status.code(), Some(1), "{all}");
    assert!(lines.iter().any(|l| l.starts_with("(Sent ")), "the whole image went: {all}");
    assert!(!lines.iter().any(|l| l.contains("(to save image)")), "no save prompt: {all}");
    let error = &lines[position(&lines, "Error: ")];
    assert!(error.starts_with("Error: Failure (VERIFY) (7): image not signed by the vendor key."), "{error}");
    assert!(error.contains("keeps the image it runs"), "{error}");

    // The PED answers the host before it draws: the host may have finished first.
    holder.wait("Failure (VERIFY) (7)", 10);
    let screens = bench.screens();
    assert!(shown(&screens, "Failure (VERIFY) (7)"), "the PED shows the failure");
    assert!(!shown(&screens, "Save Image? YES/NO"), "no chance to save an image that did not verify");
    holder.press("enter");

    let screen = bench.restarted_ped_screen();
    assert!(screen.contains(&format!("PED V.{OLD_VERSION}")), "{screen:?}");
}

#[test]
fn no_at_the_save_prompt_is_refused_and_the_old_image_still_boots() {
    let mut bench = Bench::new();
    let file = bench.image_file("new.bin", &signed_image(&bench.vendor, NEW_VERSION));
    // Started before anyone is at the PED: the PED, at its Select Mode menu, refuses
    // the upload, and the update says so and keeps asking until the key holder is there.
    let mut run = bench.update(&file, &bench.sim.device());
    run.wait_line("The PED says: Not in Admin mode, Software Update");
    let mut holder = bench.at_software_update();
    holder.press("yes");
    run.wait_line("PED operation is required (to save image)...");
    holder.press("no");
    let (status, lines, stderr) = run.finish();
    let all = format!("{}\n{stderr}", lines.join("\n"));
    assert_eq!(status.code(), Some(1), "{all}");
    let error = &lines[position(&lines, "Error: ")];
    assert!(error.starts_with("Error: the update was refused at the PED (Save declined"), "{error}");
    assert!(!lines.iter().any(|l| l.contains("Update command passed.")), "{all}");
    assert_eq!(holder.screen()[0], "Admin mode...", "NO returns to the Admin menu");

    let screen = bench.restarted_ped_screen();
    assert!(screen.contains(&format!("PED V.{OLD_VERSION}")), "{screen:?}");
}

#[test]
fn a_running_pedserver_daemon_refuses_the_update_and_names_the_stop_command() {
    let bench = Bench::new();
    let file = bench.image_file("new.bin", &signed_image(&bench.vendor, NEW_VERSION));
    let _holder = bench.at_software_update();
    let server = PedServer::start(&bench.sim.device());
    wait_until("the daemon to hold the PED", || server.show()["ped"]["connected"] == true);

    let o = server.run("update", &["-file", path_str(&file), "-device", &bench.sim.device()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    let error = stdout.lines().find(|l| l.starts_with("Error: ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(error.contains("Ped Server is running"), "{error}");
    assert!(error.contains("pedserver -mode stop"), "{error}");
    assert!(!stdout.contains("PED operation is required"), "{stdout}");
    assert!(!shown(&bench.screens(), "Uploading image"), "the PED was not touched");
    assert_eq!(server.show()["ped"]["connected"], true, "the daemon still serves the PED");
}

/// A cable between pedserver and the PED that is pulled after `limit` bytes from the
/// host: both ends see the link go, as when a USB cable is unplugged mid-transfer.
fn cable_pulled_after(listen: &Path, ped: &Path, limit: usize) -> std::thread::JoinHandle<usize> {
    let listener = UnixListener::bind(listen).unwrap();
    let ped = ped.to_path_buf();
    std::thread::spawn(move || {
        let (host, _) = listener.accept().unwrap();
        let ped = UnixStream::connect(&ped).unwrap();
        let (mut from_ped, mut to_host) = (ped.try_clone().unwrap(), host.try_clone().unwrap());
        let back = std::thread::spawn(move || std::io::copy(&mut from_ped, &mut to_host));
        let (mut from_host, mut to_ped) = (&host, &ped);
        let mut forwarded = 0;
        let mut buf = [0u8; 4096];
        while forwarded < limit {
            let n = from_host.read(&mut buf).unwrap_or(0).min(limit - forwarded);
            if n == 0 || to_ped.write_all(&buf[..n]).is_err() {
                break;
            }
            forwarded += n;
        }
        let _ = host.shutdown(std::net::Shutdown::Both);
        let _ = ped.shutdown(std::net::Shutdown::Both);
        let _ = back.join();
        forwarded
    })
}

#[test]
fn a_ped_unplugged_mid_transfer_fails_with_ckr_ped_unplugged_and_keeps_its_image() {
    let mut bench = Bench::new();
    let image = signed_image(&bench.vendor, NEW_VERSION);
    let file = bench.image_file("new.bin", &image);
    let mut holder = bench.at_software_update();
    holder.press("yes");
    let cable = bench.dir.path().join("cable.sock");
    // Past the Info, the UpdateBegin and the first chunk, inside the second.
    let pulled = cable_pulled_after(&cable, &bench.sim.usb, 30_000);
    let (status, lines, stderr) = bench.update(&file, &format!("socket:{}", cable.display())).finish();
    let all = format!("{}\n{stderr}", lines.join("\n"));
    assert_eq!(pulled.join().unwrap(), 30_000, "the cable was pulled mid-image");
    assert_eq!(status.code(), Some(1), "{all}");
    let error = &lines[position(&lines, "Error: ")];
    assert!(error.contains("unplugged"), "{error}");
    assert!(error.contains("0x8000002e (CKR_PED_UNPLUGGED)"), "{error}");
    assert!(error.contains("keeps the image it runs"), "{error}");
    assert!(!lines.iter().any(|l| l.contains("(to save image)")), "{all}");
    assert!(shown(&bench.screens(), "Uploading image"), "the upload had begun");
    assert!(!shown(&bench.screens(), "Save Image? YES/NO"));
    drop(holder);

    let screen = bench.restarted_ped_screen();
    assert!(screen.contains(&format!("PED V.{OLD_VERSION}")), "{screen:?}");
}

#[test]
fn nobody_answering_yes_ends_with_rc_operation_timed_out_and_the_ped_untouched() {
    let bench = Bench::new();
    let file = bench.image_file("new.bin", &signed_image(&bench.vendor, NEW_VERSION));
    let _holder = bench.at_software_update();
    let (status, lines, stderr) = bench.update_waiting(&file, &bench.sim.device(), "0.2").finish();
    let all = format!("{}\n{stderr}", lines.join("\n"));
    assert_eq!(status.code(), Some(1), "{all}");
    assert!(lines.iter().any(|l| l == "The PED says: Answer YES to Upload Image? on the PED first"), "{all}");
    let error = &lines[position(&lines, "Error: ")];
    assert!(
        error.starts_with("Error: no answer after waiting 0.2 s for YES to \"Upload Image?\" on the PED"),
        "{error}"
    );
    assert!(error.contains("0xc0000303 (RC_OPERATION_TIMED_OUT)"), "{error}");
    assert!(!shown(&bench.screens(), "Uploading image"));
}

/// Anti-rollback (issue 16 item 5), end to end: an image at security version 2 is
/// installed and the PED restarted, which makes 2 its minimum; the factory's image
/// (security version 0) is then refused with "Failure (ROLLBACK)" on the PED, in
/// pedserver's output and in its exit status, and the PED still boots the new image.
#[test]
fn a_rolled_back_image_is_refused_with_failure_rollback_and_the_new_image_still_boots() {
    let mut bench = Bench::new();
    let file = bench.image_file("level-2.bin", &signed_image_at(&bench.vendor, NEW_VERSION, 2));
    let mut holder = bench.at_software_update();
    let mut run = bench.update(&file, &bench.sim.device());
    run.wait_line("PED operation is required (to upload image)...");
    holder.press("yes");
    run.wait_line("PED operation is required (to save image)...");
    holder.press("yes");
    holder.wait("Success", 30);
    holder.press("enter");
    let (status, lines, stderr) = run.finish();
    assert!(status.success(), "{}\n{stderr}", lines.join("\n"));
    drop(holder);
    let screen = bench.restarted_ped_screen();
    assert!(screen.contains(&format!("PED V.{NEW_VERSION}")), "{screen:?}");

    let old = bench.image_file("factory.bin", &signed_image(&bench.vendor, OLD_VERSION));
    let mut holder = bench.at_software_update();
    holder.press("yes");
    let (status, lines, stderr) = bench.update(&old, &bench.sim.device()).finish();
    let all = format!("{}\n{stderr}", lines.join("\n"));
    assert_eq!(status.code(), Some(1), "{all}");
    assert!(lines.iter().any(|l| l.starts_with("(Sent ")), "the whole image went: {all}");
    assert!(!lines.iter().any(|l| l.contains("(to save image)")), "no save prompt: {all}");
    assert!(!lines.iter().any(|l| l.contains("Update command passed.")), "{all}");
    let error = &lines[position(&lines, "Error: ")];
    assert!(
        error.starts_with(
            "Error: Failure (ROLLBACK): security version 0 < minimum 2. The PED refuses firmware older than the newest it has run"
        ),
        "{error}"
    );
    assert!(error.contains("keeps the image it runs"), "{error}");
    holder.wait("Failure (ROLLBACK)", 10);
    assert!(!shown(&bench.screens(), "Save Image? YES/NO"), "no chance to save an older image");
    holder.press("enter");
    drop(holder);

    let screen = bench.restarted_ped_screen();
    assert!(screen.contains(&format!("PED V.{NEW_VERSION}")), "{screen:?}");
}
