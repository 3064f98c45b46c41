//! End-to-end handshakes of all three channel kinds in one process, and every way a
//! handshake or a record can be attacked.

use ped_proto::cert::{self, ChainCache, LeafRole};
use ped_proto::factory::Factory;
use ped_proto::frame::{self, Frame, FrameType, HEADER_LEN};
use ped_proto::handshake::hsm::{self, HsmIdentity};
use ped_proto::handshake::messages::PROTOCOL_VERSION_2;
use ped_proto::handshake::ped::AwaitingHello;
use ped_proto::handshake::{ChannelKind, HsmHello, PedKeyShare, SUPPORTED_VERSIONS};
use ped_proto::internal::ecdh::{EcdhKeyPair, PUBLIC_KEY_LEN};
use ped_proto::internal::mac::TAG_LEN;
use ped_proto::orange::{RpkCredential, RpkEntry};
use ped_proto::quorum::KeysetId;
use ped_proto::record::{ChannelSession, Opened};
use ped_proto::secrets::{OneTimePassword, PasswordDigits};
use ped_proto::{CertificateError, Error, ErrorCode};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

const NOW: u64 = 1_790_000_000;
const SERIAL: &str = "154438865";

struct Rig {
    rng: ChaCha20Rng,
    factory: Factory,
    identity: HsmIdentity,
    rpk_entry: RpkEntry,
    rpk: RpkCredential,
    cache: ChainCache,
}

/// A fresh orange keyset: its identity and its seed, as `ped vector init` makes them.
fn orange_keyset(rng: &mut ChaCha20Rng) -> (KeysetId, [u8; 32]) {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    (KeysetId::generate(rng), seed)
}

/// The HSM's entry and the PED's credential of one orange keyset.
fn orange_pair(rng: &mut ChaCha20Rng) -> (RpkEntry, RpkCredential) {
    let (id, seed) = orange_keyset(rng);
    (RpkEntry::from_seed(id, &seed).unwrap(), RpkCredential::from_seed(id, &seed).unwrap())
}

fn rig(seed: u64) -> Rig {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let factory = Factory::manufacture(&mut rng, SERIAL, NOW).unwrap();
    let identity = factory.hsm_identity(&mut rng, SERIAL, NOW).unwrap();
    let (rpk_entry, rpk) = orange_pair(&mut rng);
    Rig { rng, factory, identity, rpk_entry, rpk, cache: ChainCache::default() }
}

fn f(bytes: &[u8]) -> Frame<'_> {
    Frame::decode_exact(bytes).expect("well-formed frame")
}

impl Rig {
    fn root(&self) -> Vec<u8> {
        self.factory.root.certificate_der().to_vec()
    }

    fn local(&mut self) -> (ChannelSession, ChannelSession) {
        let root = self.root();
        let (hsm, hello) = hsm::start_local(&self.identity, SUPPORTED_VERSIONS, &mut self.rng).unwrap();
        let ped = AwaitingHello::new(b"PED-0001", SUPPORTED_VERSIONS)
            .receive_hello(f(&hello), &root, NOW, &mut self.cache)
            .unwrap();
        assert_eq!(ped.kind(), ChannelKind::Local);
        let (ped, share) = ped.respond_local(&mut self.rng).unwrap();
        let (hsm_session, finished) = hsm.receive_key_share(f(&share)).unwrap();
        (hsm_session, ped.receive_finished(f(&finished)).unwrap())
    }

    /// A C(2e,2s) handshake: the HSM lists and holds `rpks`, the PED presents `self.rpk`.
    fn remote(&mut self, rpks: &[RpkEntry]) -> Result<(ChannelSession, ChannelSession), (Error, Error)> {
        let rpk = self.rpk.clone();
        self.remote_with(rpks, &rpk)
    }

    fn remote_with(
        &mut self,
        rpks: &[RpkEntry],
        rpk: &RpkCredential,
    ) -> Result<(ChannelSession, ChannelSession), (Error, Error)> {
        let root = self.root();
        let (hsm, hello) = hsm::start_rpv(&self.identity, SUPPORTED_VERSIONS, rpks, &mut self.rng).unwrap();
        let ped = AwaitingHello::new(b"PED-0001", SUPPORTED_VERSIONS)
            .receive_hello(f(&hello), &root, NOW, &mut self.cache)
            .unwrap();
        assert_eq!(ped.orange_keysets(), rpks.iter().map(|e| e.keyset_id).collect::<Vec<_>>());
        let (ped, share) = ped.respond_rpv(rpk, &mut self.rng).unwrap();
        match hsm.receive_key_share(f(&share), rpks) {
            Ok((hsm_session, finished, _)) => Ok((hsm_session, ped.receive_finished(f(&finished)).unwrap())),
            Err(hsm_error) => {
                let ped_error = ped.receive_finished(f(&frame::handshake_failed())).unwrap_err();
                Err((hsm_error, ped_error))
            }
        }
    }

    fn password(
        &mut self,
        hsm_password: &mut OneTimePassword,
        typed: &str,
    ) -> Result<(ChannelSession, ChannelSession), Error> {
        let root = self.root();
        let (hsm, hello) = hsm::start_password(&self.identity, SUPPORTED_VERSIONS, hsm_password, &mut self.rng)?;
        let ped = AwaitingHello::new(b"PED-0001", SUPPORTED_VERSIONS)
            .receive_hello(f(&hello), &root, NOW, &mut self.cache)
            .unwrap();
        let typed = PasswordDigits::parse(typed).unwrap();
        let (ped, share) = ped.respond_password(&typed, &mut self.rng).unwrap();
        let (hsm_session, finished) = hsm.receive_key_share(f(&share), hsm_password)?;
        Ok((hsm_session, ped.receive_finished(f(&finished)).unwrap()))
    }
}

fn exchange(a: &mut ChannelSession, b: &mut ChannelSession, payload: &[u8]) {
    let record = a.seal(payload).unwrap();
    assert_eq!(b.open(f(&record)).unwrap(), Opened::Data(payload.to_vec().into()));
}

fn all_kinds(rig: &mut Rig) -> Vec<(ChannelSession, ChannelSession)> {
    let entries = [rig.rpk_entry.clone()];
    let remote = rig.remote(&entries).unwrap();
    let mut password = OneTimePassword::new(PasswordDigits::parse("12345678").unwrap());
    vec![rig.local(), rig.password(&mut password, "12345678").unwrap(), remote]
}

#[test]
fn every_kind_carries_records_and_csps_both_ways() {
    let mut rig = rig(1);
    let kinds: Vec<ChannelKind> = all_kinds(&mut rig).iter().map(|(h, _)| h.kind()).collect();
    assert_eq!(kinds, [ChannelKind::Local, ChannelKind::RemotePassword, ChannelKind::RemoteRpv]);
    for (mut hsm, mut ped) in all_kinds(&mut rig) {
        assert_eq!(hsm.kind(), ped.kind());
        exchange(&mut hsm, &mut ped, b"read keyset: SO, blue, quorum 2");
        exchange(&mut ped, &mut hsm, b"keys read: 02 of 02");
        exchange(&mut hsm, &mut ped, &[0u8; 16 * 1024]);
        // Every kind's record is AES-256-CTR + HMAC-SHA-512: header ‖ type+payload
        // (same length, no padding) ‖ 64-byte tag. (A KWP record would be padded to 8
        // bytes plus an 8-byte block and carry no 64-byte tag.)
        for len in [0usize, 1, 7, 8, 31] {
            let payload = vec![0xa5; len];
            let record = hsm.seal(&payload).unwrap();
            assert_eq!(record.len(), HEADER_LEN + 1 + len + TAG_LEN, "{:?} {len}", hsm.kind());
            let body = &record[HEADER_LEN..HEADER_LEN + 1 + len];
            if len >= 8 {
                assert_ne!(&body[1..], &payload[..], "{:?}: the payload is encrypted", hsm.kind());
            }
            assert_eq!(ped.open(f(&record)).unwrap(), Opened::Data(payload.into()));
        }
        let split = [0x5a; 48];
        let wrapped = ped.wrap_csp(&split).unwrap();
        assert_ne!(&wrapped[..], &split[..]);
        assert_eq!(&hsm.unwrap_csp(&wrapped).unwrap()[..], &split[..]);
        assert_eq!(ped.unwrap_csp(&wrapped), Err(Error::CspUnwrapFailed), "wrong direction's CWK");
        let close = hsm.seal_close().unwrap();
        assert_eq!(ped.open(f(&close)).unwrap(), Opened::Closed);
        assert!(ped.is_closed());
    }
}

type Attack = fn(&mut ChannelSession, &mut ChannelSession) -> Vec<u8>;

#[test]
fn tampered_replayed_reordered_reflected_truncated_records_are_refused() {
    let attacks: [(&str, Attack); 6] = [
        ("tampered ciphertext", |h, _| {
            let mut r = h.seal(b"first").unwrap();
            r[HEADER_LEN] ^= 1;
            r
        }),
        ("tampered tag", |h, _| {
            let mut r = h.seal(b"first").unwrap();
            let n = r.len();
            r[n - 1] ^= 0x80;
            r
        }),
        ("reordered", |h, _| {
            h.seal(b"first").unwrap();
            h.seal(b"second").unwrap()
        }),
        ("reflected", |_, p| p.seal(b"mirror").unwrap()),
        ("truncated", |h, _| {
            let r = h.seal(b"first").unwrap();
            frame::encode(FrameType::Record, &r[HEADER_LEN..r.len() - 8])
        }),
        ("empty", |_, _| frame::encode(FrameType::Record, &[])),
    ];
    let mut rig = rig(2);
    for kind in [ChannelKind::Local, ChannelKind::RemotePassword, ChannelKind::RemoteRpv] {
        for (what, attack) in attacks {
            let (mut hsm, mut ped) = fresh_pair(&mut rig, kind);
            let bad = attack(&mut hsm, &mut ped);
            assert_eq!(ped.open(f(&bad)).unwrap_err().code(), ErrorCode::PedIntegrityError, "{kind:?} {what}");
            let next = hsm.seal(b"after").unwrap();
            assert_eq!(ped.open(f(&next)), Err(Error::RecordIntegrity), "{kind:?} {what}: session stays poisoned");
        }
        let (mut hsm, mut ped) = fresh_pair(&mut rig, kind);
        let first = hsm.seal(b"first").unwrap();
        assert!(matches!(ped.open(f(&first)).unwrap(), Opened::Data(_)));
        assert_eq!(ped.open(f(&first)), Err(Error::RecordIntegrity), "{kind:?} replay");
    }
}

fn fresh_pair(rig: &mut Rig, kind: ChannelKind) -> (ChannelSession, ChannelSession) {
    match kind {
        ChannelKind::Local => rig.local(),
        ChannelKind::RemotePassword => {
            let mut password = OneTimePassword::new(PasswordDigits::parse("87654321").unwrap());
            rig.password(&mut password, "87654321").unwrap()
        }
        ChannelKind::RemoteRpv => {
            let entries = [rig.rpk_entry.clone()];
            rig.remote(&entries).unwrap()
        }
    }
}

#[test]
fn session_ends_at_its_record_limit() {
    let mut rig = rig(3);
    for (hsm, ped) in all_kinds(&mut rig) {
        let (mut hsm, mut ped) = (hsm.with_record_limit(2), ped.with_record_limit(2));
        exchange(&mut hsm, &mut ped, b"1");
        exchange(&mut hsm, &mut ped, b"2");
        assert_eq!(hsm.seal(b"3"), Err(Error::SessionLimitReached));
        assert_eq!(Error::SessionLimitReached.code(), ErrorCode::PedSessionLimit);
    }
}

#[test]
fn wrong_rpv_fails_both_sides_and_the_ped_learns_only_failed() {
    let mut rig = rig(4);
    // The HSM holds the keyset under the right identity and RPK, but another RPV.
    let other = RpkEntry::from_seed(rig.rpk_entry.keyset_id, &[7; 32]).unwrap();
    let wrong = RpkEntry { rpv: other.rpv, ..rig.rpk_entry.clone() };
    let (hsm_error, ped_error) = rig.remote(&[wrong]).unwrap_err();
    assert_eq!(hsm_error, Error::KeyConfirmationFailed);
    assert_eq!(ped_error, Error::PeerFailed);
    assert_eq!(frame::handshake_failed(), b"PD\x01\x04\x00\x00\x00\x00");
}

/// A wrong orange PIN unmasks the key to another seed: same keyset identity, another
/// RPV and RPK scalar. The PED cannot tell and answers; the HSM's check of its tag is
/// the first place the mistake shows, as the failure the HSM counts.
#[test]
fn a_wrong_orange_seed_fails_key_confirmation_at_the_hsm() {
    let mut rig = rig(17);
    let (_, wrong_seed) = orange_keyset(&mut rig.rng);
    let wrong = RpkCredential::from_seed(rig.rpk.keyset_id, &wrong_seed).unwrap();
    let entries = [rig.rpk_entry.clone()];
    let (hsm_error, ped_error) = rig.remote_with(&entries, &wrong).unwrap_err();
    assert_eq!(hsm_error, Error::KeyConfirmationFailed);
    assert_eq!(ped_error, Error::PeerFailed);
    // A seed that differs in one bit is just as wrong.
    let mut seed = [0u8; 32];
    rig.rng.fill_bytes(&mut seed);
    let entry = RpkEntry::from_seed(rig.rpk.keyset_id, &seed).unwrap();
    seed[31] ^= 1;
    let near = RpkCredential::from_seed(rig.rpk.keyset_id, &seed).unwrap();
    assert_eq!(rig.remote_with(&[entry], &near).unwrap_err().0, Error::KeyConfirmationFailed);
    // And the right one still works.
    assert!(rig.remote(&entries).is_ok());
}

/// An orange key of a keyset the HSM does not list is refused by the PED before it
/// sends anything (no failed login at the HSM), with UnknownRpk.
#[test]
fn the_ped_refuses_an_orange_keyset_the_hello_does_not_list_before_any_frame() {
    let mut rig = rig(5);
    let root = rig.root();
    let (listed, _) = orange_pair(&mut rig.rng);
    let (hsm, hello) =
        hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, std::slice::from_ref(&listed), &mut rig.rng).unwrap();
    let ped = AwaitingHello::new(b"PED-0001", SUPPORTED_VERSIONS)
        .receive_hello(f(&hello), &root, NOW, &mut rig.cache)
        .unwrap();
    assert!(ped.accepts_orange(&listed.keyset_id));
    assert!(!ped.accepts_orange(&rig.rpk.keyset_id));
    assert_eq!(ped.orange_keysets(), vec![listed.keyset_id]);
    let err = ped.respond_rpv(&rig.rpk, &mut rig.rng).unwrap_err();
    assert_eq!(err, Error::UnknownRpk);
    assert!(!err.to_string().is_empty());
    drop(hsm);

    // The same PED key whose keyset is listed next to others is accepted.
    let (other, _) = orange_pair(&mut rig.rng);
    assert!(rig.remote(&[other, rig.rpk_entry.clone()]).is_ok());
}

/// A key share naming a keyset the HSM does not hold is UnknownRpk at the HSM (not a
/// key-confirmation failure: it is not counted against the RPV).
#[test]
fn the_hsm_refuses_a_key_share_naming_an_unknown_keyset() {
    let mut rig = rig(18);
    let entries = [rig.rpk_entry.clone()];
    let (hsm, _) = hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, &entries, &mut rig.rng).unwrap();
    let share = PedKeyShare {
        version: PROTOCOL_VERSION_2,
        ped_id: b"PED-0001".to_vec(),
        ephemeral: *EcdhKeyPair::generate(&mut rig.rng).public(),
        orange_keyset: Some(KeysetId::from_bytes([0xee; 16])),
        tag: Some([0x5a; TAG_LEN]),
    };
    let share = frame::encode(FrameType::PedKeyShare, &share.encode(ChannelKind::RemoteRpv).unwrap());
    assert_eq!(hsm.receive_key_share(f(&share), &entries).unwrap_err(), Error::UnknownRpk);

    // Nor does the HSM accept a share for a keyset it listed but no longer holds.
    let (hsm, _) = hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, &entries, &mut rig.rng).unwrap();
    let (other, _) = orange_pair(&mut rig.rng);
    let share = PedKeyShare {
        version: PROTOCOL_VERSION_2,
        ped_id: b"PED-0001".to_vec(),
        ephemeral: *EcdhKeyPair::generate(&mut rig.rng).public(),
        orange_keyset: Some(rig.rpk_entry.keyset_id),
        tag: Some([0x5a; TAG_LEN]),
    };
    let share = frame::encode(FrameType::PedKeyShare, &share.encode(ChannelKind::RemoteRpv).unwrap());
    assert_eq!(hsm.receive_key_share(f(&share), &[other]).unwrap_err(), Error::UnknownRpk);
}

#[test]
fn rotation_accepts_old_and_new_and_reports_which() {
    let mut rig = rig(19);
    let (new_entry, new_credential) = orange_pair(&mut rig.rng);
    // The HSM holds only the new keyset: the PED's old orange key is refused.
    let root = rig.root();
    let (_, hello) =
        hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, std::slice::from_ref(&new_entry), &mut rig.rng).unwrap();
    let ped =
        AwaitingHello::new(b"PED", SUPPORTED_VERSIONS).receive_hello(f(&hello), &root, NOW, &mut rig.cache).unwrap();
    assert_eq!(ped.respond_rpv(&rig.rpk, &mut rig.rng).unwrap_err(), Error::UnknownRpk);
    // During rotation the HSM holds both; each orange keyset works, and the HSM learns
    // which one was used.
    let both = [new_entry, rig.rpk_entry.clone()];
    for (credential, index) in [(rig.rpk.clone(), 1), (new_credential, 0)] {
        let (hsm, hello) = hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, &both, &mut rig.rng).unwrap();
        let ped = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
            .receive_hello(f(&hello), &root, NOW, &mut rig.cache)
            .unwrap();
        let (ped, share) = ped.respond_rpv(&credential, &mut rig.rng).unwrap();
        let (_, finished, used) = hsm.receive_key_share(f(&share), &both).unwrap();
        assert_eq!(used, index);
        ped.receive_finished(f(&finished)).unwrap();
    }
}

/// One orange keyset serves several HSMs: the same seed gives each HSM the same entry,
/// and the same credential opens a channel to each.
#[test]
fn one_orange_keyset_serves_several_hsms() {
    let mut rig = rig(20);
    let (id, seed) = orange_keyset(&mut rig.rng);
    let credential = RpkCredential::from_seed(id, &seed).unwrap();
    for serial in ["154438865", "154438866"] {
        let factory = Factory::manufacture(&mut rig.rng, serial, NOW).unwrap();
        let identity = factory.hsm_identity(&mut rig.rng, serial, NOW).unwrap();
        let entries = [RpkEntry::from_seed(id, &seed).unwrap()];
        let root = factory.root.certificate_der().to_vec();
        let (hsm, hello) = hsm::start_rpv(&identity, SUPPORTED_VERSIONS, &entries, &mut rig.rng).unwrap();
        let ped = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
            .receive_hello(f(&hello), &root, NOW, &mut ChainCache::default())
            .unwrap();
        assert_eq!(ped.hsm_id(), serial.as_bytes());
        let (ped, share) = ped.respond_rpv(&credential, &mut rig.rng).unwrap();
        let (mut hsm_session, finished, _) = hsm.receive_key_share(f(&share), &entries).unwrap();
        let mut ped_session = ped.receive_finished(f(&finished)).unwrap();
        exchange(&mut hsm_session, &mut ped_session, serial.as_bytes());
    }
}

/// The key share names the orange keyset by its identity only: nothing derived from
/// the seed (no RPK public key, no certificate) is on the wire.
#[test]
fn the_rpv_key_share_carries_the_keyset_identity_and_nothing_of_the_seed() {
    let mut rig = rig(21);
    let root = rig.root();
    let entries = [rig.rpk_entry.clone()];
    let (_, hello) = hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, &entries, &mut rig.rng).unwrap();
    let ped =
        AwaitingHello::new(b"PED", SUPPORTED_VERSIONS).receive_hello(f(&hello), &root, NOW, &mut rig.cache).unwrap();
    let (_, share) = ped.respond_rpv(&rig.rpk, &mut rig.rng).unwrap();
    let body = &share[HEADER_LEN..];
    // version ‖ len8 "PED" ‖ EphemU ‖ keyset id[16] ‖ tag[64].
    assert_eq!(body.len(), 2 + 1 + 3 + PUBLIC_KEY_LEN + 16 + TAG_LEN);
    let at = 2 + 1 + 3 + PUBLIC_KEY_LEN;
    assert_eq!(&body[at..at + 16], rig.rpk.keyset_id.as_bytes());
    let public = rig.rpk_entry.public_key.to_uncompressed();
    for bytes in [&hello[..], &share[..]] {
        assert!(!bytes.windows(32).any(|w| w == &public[1..33]), "the RPK public key is never sent");
        assert!(!bytes.windows(32).any(|w| w == rig.rpk.rpv.expose()), "the RPV is never sent");
    }
    let decoded = PedKeyShare::decode(body, ChannelKind::RemoteRpv).unwrap();
    assert_eq!(decoded.orange_keyset, Some(rig.rpk.keyset_id));
}

#[test]
fn wrong_password_three_times_burns_it() {
    let mut rig = rig(6);
    let mut password = OneTimePassword::new(PasswordDigits::parse("24681357").unwrap());
    assert_eq!(rig.password(&mut password, "11111111").unwrap_err(), Error::PasswordRejected { remaining: 2 });
    assert_eq!(rig.password(&mut password, "22222222").unwrap_err(), Error::PasswordRejected { remaining: 1 });
    assert_eq!(rig.password(&mut password, "33333333").unwrap_err(), Error::PasswordBurnt);
    assert!(password.is_burnt());
    assert_eq!(rig.password(&mut password, "24681357").unwrap_err(), Error::PasswordBurnt);
    assert_eq!(Error::PasswordBurnt.code().to_string(), "0xc0000904 (PED_ERROR_PASSWORD_BURNT)");
}

#[test]
fn a_password_authenticates_one_channel_only() {
    let mut rig = rig(7);
    let mut password = OneTimePassword::new(PasswordDigits::parse("13572468").unwrap());
    rig.password(&mut password, "13572468").unwrap();
    assert_eq!(rig.password(&mut password, "13572468").unwrap_err(), Error::PasswordBurnt);
}

#[test]
fn hsm_sends_nothing_keyed_by_the_password_before_the_ped_proves_it() {
    let mut rig = rig(8);
    let root = rig.root();
    let mut password = OneTimePassword::new(PasswordDigits::parse("10293847").unwrap());
    let (hsm, hello) = hsm::start_password(&rig.identity, SUPPORTED_VERSIONS, &password, &mut rig.rng).unwrap();
    let ped = AwaitingHello::new(b"PED-0001", SUPPORTED_VERSIONS)
        .receive_hello(f(&hello), &root, NOW, &mut rig.cache)
        .unwrap();
    let (_, share) = ped.respond_password(&PasswordDigits::parse("99999999").unwrap(), &mut rig.rng).unwrap();
    // The only answer a wrong guess gets is an error, never a frame to test guesses against.
    assert!(hsm.receive_key_share(f(&share), &mut password).is_err());
}

#[test]
fn ped_refuses_a_chain_from_another_root_or_with_a_bad_signature() {
    let mut rig = rig(9);
    let other = Factory::manufacture(&mut rig.rng, "999", NOW).unwrap();
    let (_, hello) = hsm::start_local(&rig.identity, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
        .receive_hello(f(&hello), other.root.certificate_der(), NOW, &mut ChainCache::default())
        .unwrap_err();
    assert!(matches!(err, Error::Certificate(_)), "{err:?}");

    let mut forged = rig.identity.chain.clone();
    let n = forged[0].len();
    forged[0][n - 5] ^= 1;
    let forged_identity =
        HsmIdentity { id: rig.identity.id.clone(), static_key: rig.identity.static_key.clone(), chain: forged };
    let (_, hello) = hsm::start_local(&forged_identity, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
        .receive_hello(f(&hello), &rig.root(), NOW, &mut ChainCache::default())
        .unwrap_err();
    assert!(matches!(err, Error::Certificate(_)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::PedAuthFailed);
}

#[test]
fn an_rpk_holder_cannot_pass_for_the_hsm() {
    // The RPK certificate never leaves the HSM now, and the orange key holder has only
    // the seed, from which the RPK private key follows. Suppose the certificate leaked
    // anyway: presenting it as the HSM's static-key certificate, with the matching
    // private key, would make every later step of the handshake succeed; the PED must
    // refuse the hello because the certificate is not certified for the HSM role.
    let mut rig = rig(15);
    let root = rig.root();
    let rpk_cert = rig.factory.certify_rpk(&mut rig.rng, SERIAL, &rig.rpk_entry.public_key, NOW).unwrap();
    let rpk_pair = EcdhKeyPair::from_private_bytes(&rig.rpk.static_key.private_bytes()[..]).unwrap();
    assert_eq!(*rpk_pair.public(), rig.rpk_entry.public_key);
    let stolen = HsmIdentity {
        id: rig.identity.id.clone(),
        static_key: rpk_pair,
        chain: vec![rpk_cert.clone(), rig.identity.chain[1].clone(), rig.identity.chain[2].clone()],
    };
    let entries = [rig.rpk_entry.clone()];
    let (_, rpv_hello) = hsm::start_rpv(&stolen, SUPPORTED_VERSIONS, &entries, &mut rig.rng).unwrap();
    let (_, local_hello) = hsm::start_local(&stolen, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    for hello in [rpv_hello, local_hello] {
        let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
            .receive_hello(f(&hello), &root, NOW, &mut rig.cache)
            .unwrap_err();
        assert_eq!(err, Error::Certificate(CertificateError::KeyUsage));
        assert_eq!(err.code(), ErrorCode::PedAuthFailed);
    }

    // A cache that has verified the RPK chain in its own role still refuses it as the HSM's.
    let rpk_chain = [&rpk_cert[..], &rig.identity.chain[1], &rig.identity.chain[2]];
    let verified = rig.cache.verify_chain(&rpk_chain, &root, NOW, LeafRole::RpkStatic).unwrap();
    assert_eq!(*verified.leaf_key(), rig.rpk_entry.public_key);
    let (_, hello) = hsm::start_local(&stolen, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
        .receive_hello(f(&hello), &root, NOW, &mut rig.cache)
        .unwrap_err();
    assert_eq!(err, Error::Certificate(CertificateError::KeyUsage));
}

/// The RPK certificate the HSM keeps is issued by its own HOC, in the RPK role, for
/// the public key the orange seed gives; another HSM's HOC did not issue it.
#[test]
fn the_rpk_certificate_is_the_hocs_and_certifies_the_seeds_key() {
    let mut rig = rig(10);
    let rpk_cert = rig.factory.certify_rpk(&mut rig.rng, SERIAL, &rig.rpk_entry.public_key, NOW).unwrap();
    let key = cert::verify_rpk_cert(&rpk_cert, rig.factory.hoc.certificate_der(), NOW).unwrap();
    assert_eq!(key, rig.rpk_entry.public_key);
    let other = Factory::manufacture(&mut rig.rng, SERIAL, NOW).unwrap();
    let err = cert::verify_rpk_cert(&rpk_cert, other.hoc.certificate_der(), NOW).unwrap_err();
    assert!(matches!(err, CertificateError::HocMismatch | CertificateError::BadSignature), "{err:?}");
}

/// IDV must be the serialNumber the HSM's certificate carries: a hello naming another
/// serial (an HSM relabelled, or a relay swapping identities) is refused for every
/// kind, so the serial the PED shows and files RPKs under is the certified one.
#[test]
fn a_hello_whose_serial_is_not_the_certificates_is_refused() {
    let mut rig = rig(22);
    let root = rig.root();
    let entries = [rig.rpk_entry.clone()];
    for id in [&b"154438866"[..], b"15443886", b"1544388650", b"PED-0001"] {
        let liar = HsmIdentity {
            id: id.to_vec(),
            static_key: rig.identity.static_key.clone(),
            chain: rig.identity.chain.clone(),
        };
        let password = OneTimePassword::new(PasswordDigits::parse("12345678").unwrap());
        let hellos = [
            hsm::start_local(&liar, SUPPORTED_VERSIONS, &mut rig.rng).unwrap().1,
            hsm::start_password(&liar, SUPPORTED_VERSIONS, &password, &mut rig.rng).unwrap().1,
            hsm::start_rpv(&liar, SUPPORTED_VERSIONS, &entries, &mut rig.rng).unwrap().1,
        ];
        for hello in hellos {
            let decoded = HsmHello::decode(&hello[HEADER_LEN..]).unwrap();
            assert_eq!(decoded.hsm_id, id);
            let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
                .receive_hello(f(&hello), &root, NOW, &mut rig.cache)
                .unwrap_err();
            assert_eq!(err, Error::Certificate(CertificateError::SerialMismatch), "{:?}", decoded.kind);
            assert_eq!(err.code(), ErrorCode::PedAuthFailed);
        }
    }
    // A leaf without a serialNumber proves no serial at all: refused too.
    let anonymous_leaf = rig
        .factory
        .hoc
        .issue_key_agreement_cert(
            &mut rig.rng,
            LeafRole::HsmStatic,
            "HSM static ECDH",
            None,
            rig.identity.static_key.public(),
            NOW - 3600,
            NOW + 3600,
        )
        .unwrap();
    let mut chain = rig.identity.chain.clone();
    chain[0] = anonymous_leaf;
    let anonymous = HsmIdentity { id: rig.identity.id.clone(), static_key: rig.identity.static_key.clone(), chain };
    let (_, hello) = hsm::start_local(&anonymous, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
        .receive_hello(f(&hello), &root, NOW, &mut rig.cache)
        .unwrap_err();
    assert_eq!(err, Error::Certificate(CertificateError::SerialMismatch));

    // The certified serial passes, and the PED reports it.
    let (_, hello) = hsm::start_local(&rig.identity, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let ped =
        AwaitingHello::new(b"PED", SUPPORTED_VERSIONS).receive_hello(f(&hello), &root, NOW, &mut rig.cache).unwrap();
    assert_eq!(ped.hsm_id(), SERIAL.as_bytes());
}

#[test]
fn invalid_points_are_refused_by_both_ends() {
    let mut rig = rig(11);
    let (hsm, _) = hsm::start_local(&rig.identity, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let good = EcdhKeyPair::generate(&mut rig.rng).public().to_uncompressed();
    let mut off_curve = good;
    off_curve[132] ^= 1;
    let mut compressed = vec![0x02];
    compressed.extend_from_slice(&good[1..67]);
    let identity = [0u8; 133];
    for bad in [off_curve.to_vec(), compressed, identity.to_vec(), good[..132].to_vec()] {
        let mut body = vec![0x00, 0x01, 3, b'P', b'E', b'D'];
        body.extend_from_slice(&bad);
        let share = frame::encode(FrameType::PedKeyShare, &body);
        let (hsm_again, _) = hsm::start_local(&rig.identity, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
        let err = hsm_again.receive_key_share(f(&share)).unwrap_err();
        assert!(matches!(err, Error::InvalidPublicKey | Error::Decode(_)), "{err:?}");
    }
    drop(hsm);

    let entries = [rig.rpk_entry.clone()];
    let (_, hello) = hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, &entries, &mut rig.rng).unwrap();
    let mut body = hello[HEADER_LEN..].to_vec();
    // kind, version count, one version, id length and id come before the ephemeral key.
    let at = 1 + 1 + 2 + 1 + SERIAL.len();
    body[at + 132] ^= 1;
    let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
        .receive_hello(f(&frame::encode(FrameType::HsmHello, &body)), &rig.root(), NOW, &mut rig.cache)
        .unwrap_err();
    assert_eq!(err, Error::InvalidPublicKey);
}

#[test]
fn version_and_kind_mismatches_are_refused() {
    let mut rig = rig(12);
    let root = rig.root();
    let (_, hello) = hsm::start_local(&rig.identity, &[7, 8], &mut rig.rng).unwrap();
    let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
        .receive_hello(f(&hello), &root, NOW, &mut rig.cache)
        .unwrap_err();
    assert_eq!(err, Error::NoCommonVersion);
    assert_eq!(err.code(), ErrorCode::PedVersionMismatch);

    let entries = [rig.rpk_entry.clone()];
    let (_, hello) = hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, &entries, &mut rig.rng).unwrap();
    let ped = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS).receive_hello(f(&hello), &root, NOW, &mut rig.cache);
    assert_eq!(ped.unwrap().respond_local(&mut rig.rng).unwrap_err(), Error::ChannelKindRefused);
}

#[test]
fn wrong_frame_types_and_peer_failure_are_reported() {
    let mut rig = rig(13);
    let (hsm, hello) = hsm::start_local(&rig.identity, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    assert_eq!(hsm.receive_key_share(f(&hello)).unwrap_err(), Error::UnexpectedMessage);
    let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
        .receive_hello(f(&frame::handshake_failed()), &rig.root(), NOW, &mut rig.cache)
        .unwrap_err();
    assert_eq!(err, Error::PeerFailed);
}

#[test]
fn certificates_are_checked_against_the_time() {
    let mut rig = rig(14);
    let (_, hello) = hsm::start_local(&rig.identity, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let far_future = NOW + 100 * 365 * 24 * 3600;
    let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
        .receive_hello(f(&hello), &rig.root(), far_future, &mut ChainCache::default())
        .unwrap_err();
    assert_eq!(err, Error::Certificate(CertificateError::Expired));
}
