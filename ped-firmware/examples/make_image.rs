//! Builds and checks signed PED firmware images (docs/firmware.md, "Firmware images
//! and updates"), as the vendor's release tooling would:
//!
//! ```text
//! # a vendor signing key (PKCS#8 PEM, mode 0600) and its public key (SEC1 hex, for the PED's config)
//! cargo run -p ped-firmware --example make_image -- keygen --out vendor.pem
//! # an image of PAYLOAD, version 2.9.1-0, signed with that key
//! cargo run -p ped-firmware --example make_image -- --version 2.9.1-0 --key vendor.pem --out image.bin PAYLOAD
//! # the PED's checks, on the host
//! cargo run -p ped-firmware --example make_image -- verify --pubkey vendor.pem.pub image.bin
//! # the public key of an existing signing key
//! cargo run -p ped-firmware --example make_image -- pubkey --key vendor.pem
//! ```
//!
//! A key made by OpenSSL works too: `openssl genpkey -algorithm EC -pkeyopt
//! ec_paramgen_curve:P-521 -out vendor.pem` (PKCS#8), or `openssl ecparam -name
//! secp521r1 -genkey -noout -out vendor.pem` (SEC1); `verify --pubkey` also takes the
//! PEM public key of `openssl pkey -in vendor.pem -pubout`.

use std::error::Error;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use getrandom::SysRng;
use p521::ecdsa::signature::Signer;
use p521::ecdsa::{Signature, SigningKey};
use p521::elliptic_curve::Generate;
use p521::elliptic_curve::sec1::ToSec1Point;
use p521::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, LineEnding};
use p521::{PublicKey, SecretKey};
use ped_firmware::update::image::{self, FirmwareVersion, Header, VendorKey};

#[derive(Debug, Parser)]
#[command(about = "Build and check signed PED firmware images", args_conflicts_with_subcommands = true)]
#[command(subcommand_negates_reqs = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    build: Build,
}

/// Without a subcommand: build an image.
#[derive(Debug, Args)]
struct Build {
    /// Firmware version carried in the header, e.g. 2.9.1-0 (1-31 printable ASCII, no space).
    #[arg(long, required = true)]
    version: Option<String>,
    /// Anti-rollback level: a PED that has run this image refuses any image below it
    /// (docs/firmware.md, "Anti-rollback"). Raise it only for a fix that older images
    /// must not undo.
    #[arg(long, default_value_t = 0)]
    security_version: u16,
    /// The vendor signing key (PKCS#8 or SEC1 PEM).
    #[arg(long, required = true)]
    key: Option<PathBuf>,
    /// Where to write the image (written whole or not at all).
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// The firmware payload.
    #[arg(required = true)]
    payload: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a vendor signing key: OUT (PKCS#8 PEM, owner-only) and OUT.pub (SEC1 hex).
    Keygen {
        /// Where to write the private key; refuses to overwrite.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key (SEC1 hex, the PED's vendor-key setting) of a signing key.
    Pubkey {
        /// The vendor signing key.
        #[arg(long)]
        key: PathBuf,
    },
    /// Apply the PED's checks to an image; prints its version or the PED's failure.
    Verify {
        /// The vendor public key: SEC1 hex, or a PEM public key.
        #[arg(long)]
        pubkey: PathBuf,
        /// The image.
        image: PathBuf,
    },
}

#[allow(clippy::print_stdout, reason = "a command-line tool reports on its terminal")]
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Keygen { out }) => keygen(&out).map(|public| println!("{public}")),
        Some(Command::Pubkey { key }) => read_signing_key(&key).map(|key| println!("{}", public_hex(&key))),
        Some(Command::Verify { pubkey, image }) => verify(&pubkey, &image).map(|report| println!("{report}")),
        None => build(&cli.build).map(|report| println!("{report}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("make_image: {e}");
            ExitCode::FAILURE
        }
    }
}

fn build(args: &Build) -> Result<String, Box<dyn Error>> {
    // clap enforces all four when there is no subcommand.
    let (Some(version), Some(key), Some(out), Some(payload)) = (&args.version, &args.key, &args.out, &args.payload)
    else {
        return Err("--version, --key, --out and PAYLOAD are required".into());
    };
    let version = FirmwareVersion::new(version).ok_or("the version must be 1-31 printable ASCII, without spaces")?;
    let key = read_signing_key(key)?;
    let payload = fs::read(payload).map_err(|e| format!("{}: {e}", payload.display()))?;
    let image = sign_image(&key, version, args.security_version, &payload)?;
    // The image must pass the PED's own checks before it leaves the vendor.
    image::verify(&image, &vendor_key(&key)?)?;
    write_atomically(out, &image)?;
    Ok(format!(
        "{}: version {version}, security version {}, {} bytes",
        out.display(),
        args.security_version,
        image.len()
    ))
}

/// `header ‖ payload ‖ signature`, the signature over the header.
fn sign_image(
    key: &SigningKey,
    version: FirmwareVersion,
    security_version: u16,
    payload: &[u8],
) -> Result<Vec<u8>, Box<dyn Error>> {
    let header = Header::for_payload(version, payload)
        .ok_or("the payload must be 1 byte to 4 GiB")?
        .with_security_version(security_version)
        .encode();
    let signature: Signature = key.sign(&header);
    let mut image = Vec::with_capacity(header.len() + payload.len() + image::SIGNATURE_LEN);
    image.extend_from_slice(&header);
    image.extend_from_slice(payload);
    image.extend_from_slice(&signature.to_bytes());
    Ok(image)
}

fn keygen(out: &Path) -> Result<String, Box<dyn Error>> {
    let secret = SecretKey::try_generate_from_rng(&mut SysRng).map_err(|e| format!("OS random source: {e}"))?;
    let pem = secret.to_pkcs8_pem(LineEnding::LF)?;
    let public = public_hex(&SigningKey::from(&secret));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).map_err(|e| format!("{}: {e}", out.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    write_atomically(&pub_path(out), format!("{public}\n").as_bytes())?;
    Ok(public)
}

fn verify(pubkey: &Path, image_path: &Path) -> Result<String, Box<dyn Error>> {
    let text = fs::read_to_string(pubkey).map_err(|e| format!("{}: {e}", pubkey.display()))?;
    let key = parse_public_key(&text)?;
    let image = fs::read(image_path).map_err(|e| format!("{}: {e}", image_path.display()))?;
    match image::verify(&image, &key) {
        Ok(header) => Ok(format!(
            "OK: version {}, security version {}, payload {} bytes",
            header.version(),
            header.security_version(),
            header.payload_len()
        )),
        Err(e) => Err(format!("Failure (VERIFY) ({}): {e}", e.verify_number()).into()),
    }
}

fn read_signing_key(path: &Path) -> Result<SigningKey, Box<dyn Error>> {
    let pem = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let secret = SecretKey::from_pkcs8_pem(&pem)
        .or_else(|_| SecretKey::from_sec1_pem(&pem))
        .map_err(|_| format!("{}: not a P-521 private key in PKCS#8 or SEC1 PEM", path.display()))?;
    Ok(SigningKey::from(&secret))
}

/// A SEC1 hex line, or a PEM `PUBLIC KEY`.
fn parse_public_key(text: &str) -> Result<VendorKey, Box<dyn Error>> {
    let text = text.trim();
    let sec1 = if text.starts_with("-----BEGIN") {
        let key = PublicKey::from_public_key_pem(text).map_err(|_| "not a P-521 PEM public key")?;
        key.as_affine().to_sec1_point(false).as_bytes().to_vec()
    } else {
        hex::decode(text).map_err(|_| "the public key is neither SEC1 hex nor PEM")?
    };
    Ok(VendorKey::from_sec1(&sec1)?)
}

fn vendor_key(key: &SigningKey) -> Result<VendorKey, Box<dyn Error>> {
    Ok(VendorKey::from_sec1(key.verifying_key().as_affine().to_sec1_point(false).as_bytes())?)
}

fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().as_affine().to_sec1_point(false).as_bytes())
}

fn pub_path(key: &Path) -> PathBuf {
    let mut name = key.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Writes a sibling temporary file, syncs it and renames it over `path`, so a crash
/// leaves the old file or the new one, whole (DESIGN.md rule 7).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Box<dyn Error>> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let result = (|| -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("{}: {e}", path.display()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keygen, build and verify through the files the tool writes, and the PED's
    /// verifier accepts the result.
    #[test]
    fn keygen_build_verify() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("vendor.pem");
        let public = keygen(&key).unwrap();
        assert!(keygen(&key).is_err(), "keygen must not overwrite a key");
        #[cfg(unix)]
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&key).unwrap().permissions()) & 0o777, 0o600);
        assert_eq!(fs::read_to_string(pub_path(&key)).unwrap().trim(), public);
        assert_eq!(public_hex(&read_signing_key(&key).unwrap()), public);

        let payload = dir.path().join("payload");
        fs::write(&payload, b"firmware payload").unwrap();
        let out = dir.path().join("image.bin");
        let build_args = Build {
            version: Some("2.9.1-0".into()),
            security_version: 3,
            key: Some(key.clone()),
            out: Some(out.clone()),
            payload: Some(payload),
        };
        build(&build_args).unwrap();
        assert_eq!(verify(&pub_path(&key), &out).unwrap(), "OK: version 2.9.1-0, security version 3, payload 16 bytes");

        let mut bytes = fs::read(&out).unwrap();
        bytes[image::HEADER_LEN] ^= 1;
        fs::write(&out, &bytes).unwrap();
        let err = verify(&pub_path(&key), &out).unwrap_err().to_string();
        assert_eq!(err, "Failure (VERIFY) (8): image payload corrupted");
    }
}
