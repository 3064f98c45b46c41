//! Reproduces the worked examples of docs/protocol.md §16.
//!
//! Each example drives the real HSM and PED state machines with a scripted RNG, then
//! recomputes every value independently from the document's rules (FixedInfo layout,
//! one-step KDF, key split, MacData, record format) using only the primitives, and
//! checks that both agree and that the document shows exactly these values.
//! `PED_BLESS=1` rewrites the document's section after a deliberate change.

use std::convert::Infallible;
use std::fmt::Write as _;

use ped_proto::cert::ChainCache;
use ped_proto::command::{Activity, HsmCommand, PedReply, Prompt, Role, ShapeChoice, WrappedSplit};
use ped_proto::factory::Factory;
use ped_proto::frame::{self, Frame};
use ped_proto::handshake::SUPPORTED_VERSIONS;
use ped_proto::handshake::hsm;
use ped_proto::handshake::ped::AwaitingHello;
use ped_proto::internal::ecdh::EcdhKeyPair;
use ped_proto::internal::kdf::{self, AuxFunction};
use ped_proto::internal::mac::{self, KcMessage, KcParties};
use ped_proto::internal::{ctr, kwp};
use ped_proto::orange::{self, RpkCredential, RpkEntry};
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_proto::pin::{Pin, PinSalt, apply_pin_mask};
use ped_proto::quorum::{KeysetId, Quorum, Split, Verifier, reassemble, split_secret};
use ped_proto::record::{ChannelSession, Opened};
use ped_proto::secrets::{OneTimePassword, PasswordDigits};
use rand_chacha::ChaCha20Rng;
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use sha2::{Digest, Sha512};

const NOW: u64 = 1_790_000_000;
const SERIAL: &str = "154438865";
const PED_ID: &[u8] = b"PED2-0000417";
const PAYLOAD: &[u8] = b"read keyset: SO, blue, quorum 2";
const CSP: &[u8] = b"an example PED-key split, 48 bytes long........";
const BEGIN: &str = "<!-- worked-examples:begin -->\n";
const END: &str = "<!-- worked-examples:end -->";

/// Returns the scripted bytes, in order, to whoever draws next.
struct ScriptedRng(Vec<u8>);

impl TryRng for ScriptedRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        assert!(self.0.len() >= dst.len(), "script ran out of bytes");
        dst.copy_from_slice(&self.0[..dst.len()]);
        self.0.drain(..dst.len());
        Ok(())
    }
}
impl TryCryptoRng for ScriptedRng {}

/// A fixed private scalar: 00 ‖ 5a ‖ SHA-512(label), below the group order.
fn scalar(label: &str) -> Vec<u8> {
    let mut d = vec![0x00, 0x5a];
    d.extend_from_slice(&Sha512::digest(label.as_bytes()));
    d
}

fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

/// Markdown of one value: short values inline, long ones wrapped at 64 hex digits.
fn line(out: &mut String, name: &str, value: &[u8]) {
    let h = hex(value);
    if h.len() <= 64 {
        writeln!(out, "    {name:<18} {h}").unwrap();
    } else {
        writeln!(out, "    {name:<18} ({} bytes)", value.len()).unwrap();
        for chunk in h.as_bytes().chunks(64) {
            writeln!(out, "        {}", std::str::from_utf8(chunk).unwrap()).unwrap();
        }
    }
}

fn len16(v: &[u8]) -> Vec<u8> {
    let mut out = (v.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(v);
    out
}

struct Fixture {
    factory: Factory,
    hsm_static: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

fn fixture() -> Fixture {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5045_4432);
    let factory = Factory::manufacture(&mut rng, SERIAL, NOW).unwrap();
    let identity = factory.hsm_identity(&mut rng, SERIAL, NOW).unwrap();
    Fixture { hsm_static: identity.static_key.private_bytes().to_vec(), chain: identity.chain, factory }
}

/// The orange keyset of §16.3: a 1-of-1 keyset whose key has a PIN.
struct Orange {
    keyset_id: KeysetId,
    seed: Vec<u8>,
    pin: Pin,
    salt: PinSalt,
    key: Vec<u8>,
}

fn orange_keyset() -> Orange {
    let keyset_id = KeysetId::from_bytes(*b"orange-keyset-01");
    let seed: Vec<u8> = (0u8..32).map(|i| 0x0f ^ i.wrapping_mul(29)).collect();
    let pin = Pin::parse("13579").unwrap();
    let salt = PinSalt::from_bytes([0x0a; 16]);
    let info = ped_proto::quorum::SplitInfo::new(keyset_id, 1, Quorum::new(1, 1).unwrap()).unwrap();
    let masked = apply_pin_mask(&seed, Some(&pin), &salt, &info).unwrap();
    let payload =
        PedKeyPayload { colour: KeyColour::Orange, split: info, pin_protected: true, salt, masked_split: masked };
    Orange { keyset_id, seed, pin, salt, key: payload.encode().unwrap().to_vec() }
}

/// Everything the document's rules compute for one handshake.
struct Derived {
    z: Vec<u8>,
    fixed_info: Vec<u8>,
    dkm: Vec<u8>,
    tag_u: Option<[u8; 64]>,
    tag_v: [u8; 64],
}

#[allow(clippy::too_many_arguments)]
fn derive_by_the_document(
    kind: u8,
    z: Vec<u8>,
    hello_body: &[u8],
    ephem_u: &[u8],
    ephem_v: &[u8],
    secret: &[u8],
) -> Derived {
    let l = 320;
    let name: &[u8] = match kind {
        1 => b"PED C(1e,1s) LOCAL DEK DMK CWK",
        2 => b"PED C(1e,1s) PASSWORD DEK DMK CWK",
        _ => b"PED C(2e,2s) RPV DEK DMK CWK",
    };
    let mut fixed_info = len16(name);
    fixed_info.extend(len16(PED_ID));
    fixed_info.extend_from_slice(ephem_u);
    fixed_info.extend(len16(SERIAL.as_bytes()));
    fixed_info.extend_from_slice(ephem_v);
    fixed_info.extend_from_slice(&((l * 8) as u32).to_be_bytes());
    fixed_info.extend_from_slice(&2u16.to_be_bytes());
    fixed_info.extend_from_slice(&Sha512::digest(hello_body));
    if !secret.is_empty() {
        fixed_info.extend(len16(secret));
    }
    let mut dkm = vec![0u8; l];
    kdf::one_step(AuxFunction::Sha512, &z, &fixed_info, &mut dkm).unwrap();
    let mac_key = &dkm[..64];
    let u = KcParties {
        provider_id: PED_ID,
        recipient_id: SERIAL.as_bytes(),
        provider_ephemeral: ephem_u,
        recipient_ephemeral: ephem_v,
    };
    let v = KcParties {
        provider_id: SERIAL.as_bytes(),
        recipient_id: PED_ID,
        provider_ephemeral: ephem_v,
        recipient_ephemeral: ephem_u,
    };
    let tag_u = (kind != 1).then(|| mac::kc_tag(mac_key, KcMessage::Kc2U, &u));
    let tag_v = mac::kc_tag(mac_key, if kind == 1 { KcMessage::Kc1V } else { KcMessage::Kc2V }, &v);
    Derived { z, fixed_info, dkm, tag_u, tag_v }
}

/// The first HSM→PED record and CSP wrapping, by the document's rules (the same for
/// every kind).
fn first_record_by_the_document(dkm: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut content = vec![0x01];
    content.extend_from_slice(PAYLOAD);
    let h2p = &dkm[64 + 128..];
    let (dek, dmk, cwk) = (&h2p[..32], &h2p[32..96], &h2p[96..128]);
    let mut ct = content.clone();
    ctr::aes256_ctr_apply(dek.try_into().unwrap(), &[0u8; 16], &mut ct);
    let mut record = frame::encode(frame::FrameType::Record, &[0u8; 0]);
    record[4..8].copy_from_slice(&((ct.len() + 64) as u32).to_be_bytes());
    let tag = mac::hmac_sha512(dmk, &[&0u64.to_be_bytes(), &record[..8], &ct]);
    record.extend_from_slice(&ct);
    record.extend_from_slice(&tag);
    (record, kwp::wrap(cwk, CSP).unwrap())
}

fn f(bytes: &[u8]) -> Frame<'_> {
    Frame::decode_exact(bytes).unwrap()
}

/// Runs one example through the state machines and the document's rules; returns its
/// markdown and the two ends' sessions, in step, for examples that go on from there.
fn example(fx: &Fixture, kind: u8) -> (String, ChannelSession, ChannelSession) {
    let identity = hsm::HsmIdentity {
        id: SERIAL.as_bytes().to_vec(),
        static_key: EcdhKeyPair::from_private_bytes(&fx.hsm_static).unwrap(),
        chain: fx.chain.clone(),
    };
    let root = fx.factory.root.certificate_der();
    let nonce_v: Vec<u8> = (0u8..32).collect();
    let hsm_ephem = scalar("HSM ephemeral");
    let ped_ephem = scalar("PED ephemeral");
    let password = "20261128";
    let orange = orange_keyset();
    // The PED's side: unmask the orange key with its PIN, derive RPV and RPK (§13.2).
    let payload = PedKeyPayload::decode(&orange.key).unwrap();
    let seed = apply_pin_mask(&payload.masked_split, Some(&orange.pin), &payload.salt, &payload.split).unwrap();
    assert_eq!(&seed[..], &orange.seed[..], "the orange key unmasks to the seed");
    let rpk = RpkCredential::from_seed(orange.keyset_id, &seed).unwrap();
    let rpk_entry = RpkEntry::from_seed(orange.keyset_id, &orange.seed).unwrap();
    let rpv = rpk.rpv.clone();
    let rpv_by_the_document = Sha512::new().chain_update(orange::RPV_LABEL).chain_update(&orange.seed).finalize();
    assert_eq!(rpv.expose()[..], rpv_by_the_document[..32], "RPV = SHA-512(label ‖ seed)[0..32]");
    let rpk_static = rpk.static_key.private_bytes().to_vec();
    let mut hsm_rng = ScriptedRng(if kind == 3 { hsm_ephem.clone() } else { nonce_v.clone() });
    let mut ped_rng = ScriptedRng(ped_ephem.clone());
    let mut cache = ChainCache::default();

    let ped = AwaitingHello::new(PED_ID, SUPPORTED_VERSIONS);
    let (mut hsm_session, mut ped_session, hello, share, finished): (ChannelSession, ChannelSession, _, _, _) =
        match kind {
            1 => {
                let (hsm, hello) = hsm::start_local(&identity, SUPPORTED_VERSIONS, &mut hsm_rng).unwrap();
                let ped = ped.receive_hello(f(&hello), root, NOW, &mut cache).unwrap();
                let (ped, share) = ped.respond_local(&mut ped_rng).unwrap();
                let (hs, finished) = hsm.receive_key_share(f(&share)).unwrap();
                (hs, ped.receive_finished(f(&finished)).unwrap(), hello, share, finished)
            }
            2 => {
                let mut otp = OneTimePassword::new(PasswordDigits::parse(password).unwrap());
                let (hsm, hello) = hsm::start_password(&identity, SUPPORTED_VERSIONS, &otp, &mut hsm_rng).unwrap();
                let ped = ped.receive_hello(f(&hello), root, NOW, &mut cache).unwrap();
                let (ped, share) =
                    ped.respond_password(&PasswordDigits::parse(password).unwrap(), &mut ped_rng).unwrap();
                let (hs, finished) = hsm.receive_key_share(f(&share), &mut otp).unwrap();
                (hs, ped.receive_finished(f(&finished)).unwrap(), hello, share, finished)
            }
            _ => {
                let entries = [rpk_entry];
                let (hsm, hello) = hsm::start_rpv(&identity, SUPPORTED_VERSIONS, &entries, &mut hsm_rng).unwrap();
                let ped = ped.receive_hello(f(&hello), root, NOW, &mut cache).unwrap();
                let (ped, share) = ped.respond_rpv(&rpk, &mut ped_rng).unwrap();
                let (hs, finished, _) = hsm.receive_key_share(f(&share), &entries).unwrap();
                (hs, ped.receive_finished(f(&finished)).unwrap(), hello, share, finished)
            }
        };
    assert!(hsm_rng.0.is_empty() && ped_rng.0.is_empty(), "every scripted byte is drawn");

    // The document's rules, from the primitives alone.
    let ped_pair = EcdhKeyPair::from_private_bytes(&ped_ephem).unwrap();
    let ephem_u = ped_pair.public().to_uncompressed().to_vec();
    let (ephem_v, z, secret): (Vec<u8>, Vec<u8>, Vec<u8>) = match kind {
        1 | 2 => {
            let z = ped_pair.diffie_hellman(identity.static_key.public()).as_bytes().to_vec();
            (nonce_v.clone(), z, if kind == 2 { password.as_bytes().to_vec() } else { vec![] })
        }
        _ => {
            let hsm_pair = EcdhKeyPair::from_private_bytes(&hsm_ephem).unwrap();
            let mut z = ped_pair.diffie_hellman(hsm_pair.public()).as_bytes().to_vec();
            z.extend_from_slice(rpk.static_key.diffie_hellman(identity.static_key.public()).as_bytes());
            (hsm_pair.public().to_uncompressed().to_vec(), z, rpv.expose().to_vec())
        }
    };
    let hello_body = &hello[frame::HEADER_LEN..];
    let d = derive_by_the_document(kind, z, hello_body, &ephem_u, &ephem_v, &secret);
    if let Some(tag_u) = d.tag_u {
        assert_eq!(&share[share.len() - 64..], &tag_u, "PedKeyShare carries KC_2_U");
    }
    assert_eq!(&finished[frame::HEADER_LEN..], &d.tag_v, "HsmFinished carries the HSM's tag");
    let (record, wrapped) = first_record_by_the_document(&d.dkm);
    assert_eq!(hsm_session.seal(PAYLOAD).unwrap(), record, "first HSM→PED record");
    assert_eq!(ped_session.open(f(&record)).unwrap(), Opened::Data(PAYLOAD.to_vec().into()));
    assert_eq!(hsm_session.wrap_csp(CSP).unwrap(), wrapped, "CSP wrapped under CWK_HSM→PED");
    let ped_view = ped_session.unwrap_csp(&wrapped).unwrap();
    assert_eq!(&ped_view[..], CSP);

    let title = match kind {
        1 => "### 16.1 Local PED-USB: C(1e,1s)",
        2 => "### 16.2 Remote PED before RPV initialisation: C(1e,1s) with the one-time password",
        _ => "### 16.3 Remote PED after RPV initialisation: C(2e,2s) with the RPV",
    };
    let mut out = format!("{title}\n\nInputs:\n\n");
    line(&mut out, "IDV", SERIAL.as_bytes());
    line(&mut out, "IDU", PED_ID);
    line(&mut out, "dStaticV", &fx.hsm_static);
    line(&mut out, "dEphemU", &ped_ephem);
    match kind {
        1 | 2 => line(&mut out, "NonceV", &nonce_v),
        _ => {
            line(&mut out, "dEphemV", &hsm_ephem);
            line(&mut out, "orange key", &orange.key);
            writeln!(out, "    {:<18} 13579", "orange PIN").unwrap();
            line(&mut out, "orange salt", orange.salt.as_bytes());
            line(&mut out, "orange keyset", orange.keyset_id.as_bytes());
            line(&mut out, "orange seed", &orange.seed);
            line(&mut out, "RPV", rpv.expose());
            line(&mut out, "dStaticU (RPK)", &rpk_static);
        }
    }
    if kind == 2 {
        line(&mut out, "password", password.as_bytes());
    }
    out.push_str("\nMessages (whole frames):\n\n");
    line(&mut out, "HsmHello", &hello);
    line(&mut out, "PedKeyShare", &share);
    line(&mut out, "HsmFinished", &finished);
    out.push_str("\nKey schedule:\n\n");
    line(&mut out, "EphemPubU", &ephem_u);
    line(&mut out, "EphemDataV", &ephem_v);
    line(&mut out, "Z", &d.z);
    line(&mut out, "FixedInfo", &d.fixed_info);
    line(&mut out, "DKM", &d.dkm);
    line(&mut out, "MacKey", &d.dkm[..64]);
    if let Some(tag_u) = d.tag_u {
        line(&mut out, "TagU (KC_2_U)", &tag_u);
    }
    line(&mut out, if kind == 1 { "TagV (KC_1_V)" } else { "TagV (KC_2_V)" }, &d.tag_v);
    out.push_str("\nFirst HSM→PED record, payload \"read keyset: SO, blue, quorum 2\", and a wrapped CSP:\n\n");
    line(&mut out, "Record", &record);
    line(&mut out, "CSP", CSP);
    line(&mut out, "wrapped CSP", &wrapped);
    out.push('\n');
    (out, hsm_session, ped_session)
}

fn render() -> String {
    let fx = fixture();
    let mut out = String::from("The HSM's chain (the same in all three examples), DER, and the trusted root:\n\n");
    line(&mut out, "HSM static cert", &fx.chain[0]);
    line(&mut out, "HOC", &fx.chain[1]);
    line(&mut out, "MIC", &fx.chain[2]);
    line(&mut out, "root", fx.factory.root.certificate_der());
    writeln!(out, "\nCertificates are checked at Unix time {NOW}.\n").unwrap();
    for kind in 1..=2 {
        out.push_str(&example(&fx, kind).0);
    }
    let (remote, hsm, ped) = example(&fx, 3);
    out.push_str(&remote);
    out.push_str(&keyset_example(hsm, ped));
    out
}

#[test]
fn worked_examples_match_the_document() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md");
    let doc = std::fs::read_to_string(&path).expect("docs/protocol.md is readable");
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = doc.find(END).expect("end marker");
    let rendered = render();
    if std::env::var_os("PED_BLESS").is_some() {
        std::fs::write(&path, format!("{}{}{}", &doc[..start], rendered, &doc[end..])).unwrap();
        return;
    }
    assert!(doc[start..end] == rendered, "docs/protocol.md §16 differs from the code; rerun with PED_BLESS=1");
}

/// Opens a record that must hold data.
fn open_data(session: &mut ChannelSession, record: &[u8]) -> Vec<u8> {
    match session.open(f(record)).unwrap() {
        Opened::Data(data) => data.to_vec(),
        Opened::Closed => panic!("expected data"),
    }
}

/// §16.4: over the channel of §16.3, the HSM creates a 2-of-3 HSM SO keyset (the PED
/// playing its part by the rules of §11-§14) and then logs in with splits 3 and 1.
fn keyset_example(mut hsm: ChannelSession, mut ped: ChannelSession) -> String {
    let mut out = String::from(
        "### 16.4 A 2-of-3 keyset creation and a quorum login\n\n\
         Over the channel of §16.3 (its first HSM→PED record already sent, so the next\n\
         HSM→PED sequence number is 1 and the next PED→HSM one 0), the HSM creates the HSM SO\n\
         keyset: the key holders choose 2 of 3 on the PED, give keys 1 and 3 PINs and key 2\n\
         none, and make no duplicate set. Then the SO logs in with keys 3 and 1.\n\n\
         Inputs:\n\n",
    );
    let secret: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(7) ^ 0x5c).collect();
    let keyset_id = KeysetId::from_bytes(*b"keyset-id-0001\x00\x01");
    let coefficients: Vec<u8> = (0u8..32).map(|i| 0xc0 | i).collect();
    let salts: Vec<PinSalt> = (1u8..=3).map(|i| PinSalt::from_bytes([i; 16])).collect();
    let pins = [Some(Pin::parse("1234").unwrap()), None, Some(Pin::parse("98765").unwrap())];
    line(&mut out, "secret", &secret);
    line(&mut out, "keyset id", keyset_id.as_bytes());
    line(&mut out, "coefficients", &coefficients);
    line(&mut out, "salt 1, 2, 3", &salts.iter().flat_map(|s| *s.as_bytes()).collect::<Vec<u8>>());
    writeln!(out, "    {:<18} key 1: 1234, key 2: none, key 3: 98765", "PINs").unwrap();
    out.push_str("\nCreation:\n\n");
    let prompt = |activity| Prompt { slot: "SLOT".into(), role: Role::HsmSo, activity };

    let create =
        HsmCommand::CreateKeyset { prompt: prompt(Activity::Setting), offer_reuse: true, shape: ShapeChoice::OnPed };
    let record = hsm.seal(&create.encode().unwrap()).unwrap();
    line(&mut out, "CreateKeyset", &record);
    assert_eq!(HsmCommand::decode(&open_data(&mut ped, &record)).unwrap(), create);

    let quorum = Quorum::new(2, 3).unwrap();
    let record = ped.seal(&PedReply::Shape(quorum).encode().unwrap()).unwrap();
    line(&mut out, "Shape", &record);
    assert_eq!(PedReply::decode(&open_data(&mut hsm, &record)).unwrap(), PedReply::Shape(quorum));

    let splits = split_secret(&secret, quorum, keyset_id, &mut ScriptedRng(coefficients)).unwrap();
    let verifier = Verifier::of(&keyset_id, &secret);
    let wrapped: Vec<WrappedSplit> = splits
        .iter()
        .map(|s| WrappedSplit { info: *s.info(), wrapped: hsm.wrap_csp(s.expose_value()).unwrap() })
        .collect();
    let write =
        HsmCommand::WriteSplits { prompt: prompt(Activity::Setting), splits: wrapped.clone(), offer_duplicates: true };
    let record = hsm.seal(&write.encode().unwrap()).unwrap();
    for s in &splits {
        line(&mut out, &format!("split {}", s.index()), s.expose_value());
    }
    line(&mut out, "WriteSplits", &record);
    let HsmCommand::WriteSplits { splits: received, .. } = HsmCommand::decode(&open_data(&mut ped, &record)).unwrap()
    else {
        panic!("expected WriteSplits")
    };
    let mut keys = Vec::new();
    for (i, w) in received.iter().enumerate() {
        let value = ped.unwrap_csp(&w.wrapped).unwrap();
        let masked = apply_pin_mask(&value, pins[i].as_ref(), &salts[i], &w.info).unwrap();
        let payload = PedKeyPayload {
            colour: KeyColour::Blue,
            split: w.info,
            pin_protected: pins[i].is_some(),
            salt: salts[i],
            masked_split: masked,
        };
        let bytes = payload.encode().unwrap();
        line(&mut out, &format!("key {} content", i + 1), &bytes);
        keys.push(bytes);
    }
    let written = PedReply::Written { keys: 3, duplicate_sets: 0 };
    let record = ped.seal(&written.encode().unwrap()).unwrap();
    line(&mut out, "Written", &record);
    assert_eq!(PedReply::decode(&open_data(&mut hsm, &record)).unwrap(), written);
    line(&mut out, "HSM verifier", verifier.as_bytes());

    out.push_str("\nLogin with keys 3 then 1:\n\n");
    let read = HsmCommand::ReadKeyset { prompt: prompt(Activity::Login) };
    let record = hsm.seal(&read.encode().unwrap()).unwrap();
    line(&mut out, "ReadKeyset", &record);
    assert_eq!(HsmCommand::decode(&open_data(&mut ped, &record)).unwrap(), read);
    let presented: Vec<WrappedSplit> = [2usize, 0]
        .iter()
        .map(|&i| {
            let payload = PedKeyPayload::decode(&keys[i]).unwrap();
            let value = apply_pin_mask(&payload.masked_split, pins[i].as_ref(), &payload.salt, &payload.split).unwrap();
            WrappedSplit { info: payload.split, wrapped: ped.wrap_csp(&value).unwrap() }
        })
        .collect();
    let record = ped.seal(&PedReply::Splits(presented).encode().unwrap()).unwrap();
    line(&mut out, "Splits", &record);
    let PedReply::Splits(received) = PedReply::decode(&open_data(&mut hsm, &record)).unwrap() else {
        panic!("expected Splits")
    };
    let unwrapped: Vec<Split> =
        received.iter().map(|w| Split::new(w.info, hsm.unwrap_csp(&w.wrapped).unwrap()).unwrap()).collect();
    let reassembled = reassemble(&unwrapped).unwrap();
    assert_eq!(&reassembled[..], &secret[..]);
    assert!(verifier.check(&keyset_id, &reassembled));
    out.push_str("\nThe HSM unwraps both splits, reassembles the secret above and the verifier matches.\n\n");
    out
}
