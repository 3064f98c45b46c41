//! The main job until the full rig exists: an emulated factory, an HSM and a PED run
//! all three channel kinds end to end in one process, and the transcript is printed.
//!
//! `cargo run --release -p ped-proto --example demo`
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use getrandom::SysRng;
use ped_proto::cert::ChainCache;
use ped_proto::factory::Factory;
use ped_proto::frame::{Frame, FrameType};
use ped_proto::handshake::hsm;
use ped_proto::handshake::ped::AwaitingHello;
use ped_proto::handshake::{ChannelKind, HsmEphemeral, HsmHello, PedKeyShare, SUPPORTED_VERSIONS};
use ped_proto::orange::{ORANGE_SEED_LEN, RpkCredential, RpkEntry};
use ped_proto::quorum::KeysetId;
use ped_proto::record::{ChannelSession, Opened};
use ped_proto::secrets::{OneTimePassword, PasswordDigits};
use rand_core::{Rng, UnwrapErr};

const SERIAL: &str = "154438865";
const PED_ID: &[u8] = b"PED2-0000417";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = UnwrapErr(SysRng);
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    println!("== Emulated factory: root → MIC → HOC for HSM {SERIAL}");
    let factory = Factory::manufacture(&mut rng, SERIAL, now)?;
    let identity = factory.hsm_identity(&mut rng, SERIAL, now)?;
    let root = factory.root.certificate_der().to_vec();
    let mut cache = ChainCache::default();

    println!("\n== Local PED-USB: C(1e,1s); DEK, DMK and CWK per direction");
    let (hsm, hello) = hsm::start_local(&identity, SUPPORTED_VERSIONS, &mut rng)?;
    show("HSM → PED", &hello, ChannelKind::Local);
    let (ped, share) = AwaitingHello::new(PED_ID, SUPPORTED_VERSIONS)
        .receive_hello(frame(&hello)?, &root, now, &mut cache)?
        .respond_local(&mut rng)?;
    show("PED → HSM", &share, ChannelKind::Local);
    let (hsm_session, finished) = hsm.receive_key_share(frame(&share)?)?;
    show("HSM → PED", &finished, ChannelKind::Local);
    converse(hsm_session, ped.receive_finished(frame(&finished)?)?)?;

    println!("\n== Remote PED before RPV initialisation: C(1e,1s) with a one-time password");
    let digits = PasswordDigits::generate(&mut rng);
    let typed = std::str::from_utf8(digits.expose())?.to_owned();
    println!("HSM console shows the password; the key holder types it on the PED keypad.");
    let mut password = OneTimePassword::new(digits);
    let (hsm, hello) = hsm::start_password(&identity, SUPPORTED_VERSIONS, &password, &mut rng)?;
    show("HSM → PED", &hello, ChannelKind::RemotePassword);
    let ped = AwaitingHello::new(PED_ID, SUPPORTED_VERSIONS).receive_hello(frame(&hello)?, &root, now, &mut cache)?;
    let typed = PasswordDigits::parse(&typed).ok_or("password is eight digits")?;
    let (ped, share) = ped.respond_password(&typed, &mut rng)?;
    show("PED → HSM", &share, ChannelKind::RemotePassword);
    let (hsm_session, finished) = hsm.receive_key_share(frame(&share)?, &mut password)?;
    show("HSM → PED", &finished, ChannelKind::RemotePassword);
    println!("one-time password spent: {}", password.is_burnt());
    converse(hsm_session, ped.receive_finished(frame(&finished)?)?)?;

    println!("\n== Remote PED after RPV initialisation: C(2e,2s) with the RPV from the orange key");
    // `ped vector init`: a random orange seed and keyset identity. The HSM keeps the
    // RPV and the RPK public key (and certifies the key under its HOC); the orange keys
    // carry only the seed's splits, from which the PED derives RPV and RPK scalar.
    let mut seed = [0u8; ORANGE_SEED_LEN];
    rng.fill_bytes(&mut seed);
    let keyset_id = KeysetId::generate(&mut rng);
    let rpk_entry = RpkEntry::from_seed(keyset_id, &seed)?;
    let rpk_cert = factory.certify_rpk(&mut rng, SERIAL, &rpk_entry.public_key, now)?;
    println!(
        "HSM holds orange keyset {} (RPK certificate {} bytes DER, kept)",
        hex(keyset_id.as_bytes()),
        rpk_cert.len()
    );
    let orange_key = RpkCredential::from_seed(keyset_id, &seed)?;
    let rpks = [rpk_entry];
    let (hsm, hello) = hsm::start_rpv(&identity, SUPPORTED_VERSIONS, &rpks, &mut rng)?;
    show("HSM → PED", &hello, ChannelKind::RemoteRpv);
    let ped = AwaitingHello::new(PED_ID, SUPPORTED_VERSIONS).receive_hello(frame(&hello)?, &root, now, &mut cache)?;
    println!("PED: the hello lists the orange keyset read: {}", ped.accepts_orange(&orange_key.keyset_id));
    let (ped, share) = ped.respond_rpv(&orange_key, &mut rng)?;
    show("PED → HSM", &share, ChannelKind::RemoteRpv);
    let (hsm_session, finished, _) = hsm.receive_key_share(frame(&share)?, &rpks)?;
    show("HSM → PED", &finished, ChannelKind::RemoteRpv);
    converse(hsm_session, ped.receive_finished(frame(&finished)?)?)?;

    println!("\nAll three channels established, carried records and CSPs both ways, and closed.");
    Ok(())
}

fn frame(bytes: &[u8]) -> Result<Frame<'_>, ped_proto::DecodeError> {
    Frame::decode_exact(bytes)
}

/// Prints one handshake frame: its type, size and the fields a reader checks by eye.
fn show(direction: &str, bytes: &[u8], kind: ChannelKind) {
    let Ok(f) = Frame::decode_exact(bytes) else { return };
    println!("{direction} {:?} ({} bytes)", f.frame_type, bytes.len());
    match f.frame_type {
        FrameType::HsmHello => {
            if let Ok(h) = HsmHello::decode(f.body) {
                println!(
                    "    kind {:?}, versions {:?}, IDV {}",
                    h.kind,
                    h.versions,
                    String::from_utf8_lossy(&h.hsm_id)
                );
                match &h.ephemeral {
                    HsmEphemeral::Nonce(n) => println!("    NonceV    {}", hex(n)),
                    HsmEphemeral::Key(k) => println!("    EphemPubV {}…", hex(&k.to_uncompressed()[..24])),
                }
                for id in &h.orange_keysets {
                    println!("    orange keyset {}", hex(id.as_bytes()));
                }
                let sizes: Vec<usize> = h.chain.iter().map(Vec::len).collect();
                println!("    chain: HSM static cert, HOC, MIC ({sizes:?} bytes DER)");
            }
        }
        FrameType::PedKeyShare => {
            if let Ok(s) = PedKeyShare::decode(f.body, kind) {
                println!("    version {}, IDU {}", s.version, String::from_utf8_lossy(&s.ped_id));
                println!("    EphemPubU {}…", hex(&s.ephemeral.to_uncompressed()[..24]));
                if let Some(id) = &s.orange_keyset {
                    println!("    orange keyset {}", hex(id.as_bytes()));
                }
                if let Some(tag) = &s.tag {
                    println!("    TagU (KC_2_U) {}…", hex(&tag[..24]));
                }
            }
        }
        _ => println!("    TagV {}…", hex(&f.body[..f.body.len().min(24)])),
    }
}

/// Runs a short conversation over an established channel.
fn converse(mut hsm: ChannelSession, mut ped: ChannelSession) -> Result<(), Box<dyn std::error::Error>> {
    let request = hsm.seal(b"read keyset: SO, blue, quorum 2")?;
    println!("HSM → PED Record ({} bytes): {}…", request.len(), hex(&request[..24]));
    let Opened::Data(text) = ped.open(Frame::decode_exact(&request)?)? else { return Err("expected data".into()) };
    println!("    PED reads: {}", String::from_utf8_lossy(&text));
    let split = ped.wrap_csp(b"split 1 of 2, never seen outside the PED or the HSM")?;
    let answer = ped.seal(&split)?;
    println!("PED → HSM Record ({} bytes) carrying a CSP wrapped under CWK_PED→HSM", answer.len());
    let Opened::Data(wrapped) = hsm.open(Frame::decode_exact(&answer)?)? else { return Err("expected data".into()) };
    let csp = hsm.unwrap_csp(&wrapped)?;
    println!("    HSM unwraps a {}-byte CSP", csp.len());
    let close = hsm.seal_close()?;
    ped.open(Frame::decode_exact(&close)?)?;
    println!("HSM → PED close record; channel closed: {}", ped.is_closed());
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
