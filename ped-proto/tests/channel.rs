//! End-to-end handshakes of all three channel kinds in one process, and every way a
//! handshake or a record can be attacked.

use ped_proto::cert::ChainCache;
use ped_proto::ecdh::EcdhKeyPair;
use ped_proto::factory::Factory;
use ped_proto::frame::{self, Frame, FrameType};
use ped_proto::handshake::hsm::{self, HsmIdentity, RpkEntry};
use ped_proto::handshake::ped::{AwaitingHello, RpkCredential};
use ped_proto::handshake::{ChannelKind, SUPPORTED_VERSIONS};
use ped_proto::record::{ChannelSession, Opened};
use ped_proto::secrets::{OneTimePassword, PasswordDigits, Rpv};
use ped_proto::{CertificateError, Error, ErrorCode};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

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

fn rig(seed: u64) -> Rig {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let factory = Factory::manufacture(&mut rng, SERIAL, NOW).unwrap();
    let identity = factory.hsm_identity(&mut rng, SERIAL, NOW).unwrap();
    let (rpk_entry, rpk) = factory.new_rpk(&mut rng, SERIAL, NOW).unwrap();
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

    fn remote(&mut self, rpks: &[RpkEntry]) -> Result<(ChannelSession, ChannelSession), (Error, Error)> {
        let root = self.root();
        let (hsm, hello) = hsm::start_rpv(&self.identity, SUPPORTED_VERSIONS, &mut self.rng).unwrap();
        let ped = AwaitingHello::new(b"PED-0001", SUPPORTED_VERSIONS)
            .receive_hello(f(&hello), &root, NOW, &mut self.cache)
            .unwrap();
        let (ped, share) = ped.respond_rpv(&self.rpk, &root, NOW, &mut self.cache, &mut self.rng).unwrap();
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
    let entries = [clone_entry(&rig.rpk_entry)];
    let remote = rig.remote(&entries).unwrap();
    let mut password = OneTimePassword::new(PasswordDigits::parse("12345678").unwrap());
    vec![rig.local(), rig.password(&mut password, "12345678").unwrap(), remote]
}

fn clone_entry(e: &RpkEntry) -> RpkEntry {
    RpkEntry { rpv: e.rpv.clone(), cert_der: e.cert_der.clone(), public_key: e.public_key }
}

#[test]
fn every_kind_carries_records_and_csps_both_ways() {
    let mut rig = rig(1);
    for (mut hsm, mut ped) in all_kinds(&mut rig) {
        assert_eq!(hsm.kind(), ped.kind());
        exchange(&mut hsm, &mut ped, b"read keyset: SO, blue, quorum 2");
        exchange(&mut ped, &mut hsm, b"keys read: 02 of 02");
        exchange(&mut hsm, &mut ped, &[0u8; 16 * 1024]);
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
            r[frame::HEADER_LEN] ^= 1;
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
            frame::encode(FrameType::Record, &r[frame::HEADER_LEN..r.len() - 8])
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
            let entries = [clone_entry(&rig.rpk_entry)];
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
    let wrong = RpkEntry {
        rpv: Rpv::from_bytes([7; 32]),
        cert_der: rig.rpk_entry.cert_der.clone(),
        public_key: rig.rpk_entry.public_key,
    };
    let (hsm_error, ped_error) = rig.remote(&[wrong]).unwrap_err();
    assert_eq!(hsm_error, Error::KeyConfirmationFailed);
    assert_eq!(ped_error, Error::PeerFailed);
    assert_eq!(frame::handshake_failed(), b"PD\x01\x04\x00\x00\x00\x00");
}

#[test]
fn unknown_rpk_is_refused_and_rotation_accepts_old_and_new() {
    let mut rig = rig(5);
    let (new_entry, _new_credential) = rig.factory.new_rpk(&mut rig.rng, SERIAL, NOW).unwrap();
    let (hsm_error, _) = rig.remote(&[clone_entry(&new_entry)]).unwrap_err();
    assert_eq!(hsm_error, Error::UnknownRpk);
    // During rotation the HSM holds both; the PED's old orange key still works.
    assert!(rig.remote(&[new_entry, clone_entry(&rig.rpk_entry)]).is_ok());
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
fn an_orange_key_holder_cannot_pass_for_the_hsm() {
    // The attacker holds an orange key: the RPK static key and its certificate, issued
    // by this HSM's HOC, and can read the HOC and MIC off any HsmHello. Presenting the
    // RPK certificate as the HSM's static-key certificate, with the matching private
    // key, would make every later step of the handshake succeed; the PED must refuse
    // the hello because the certificate is not certified for the HSM role.
    let mut rig = rig(15);
    let root = rig.root();
    let stolen = HsmIdentity {
        id: rig.identity.id.clone(),
        static_key: rig.rpk.static_key.clone(),
        chain: vec![rig.rpk.cert_der.clone(), rig.identity.chain[1].clone(), rig.identity.chain[2].clone()],
    };
    let (_, rpv_hello) = hsm::start_rpv(&stolen, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let (_, local_hello) = hsm::start_local(&stolen, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    for hello in [rpv_hello, local_hello] {
        let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
            .receive_hello(f(&hello), &root, NOW, &mut rig.cache)
            .unwrap_err();
        assert_eq!(err, Error::Certificate(CertificateError::KeyUsage));
        assert_eq!(err.code(), ErrorCode::PedAuthFailed);
    }

    // The same cache, having just verified the RPK certificate for its own role on the
    // warm path of a real RPV connection, still refuses it as the HSM's.
    rig.remote(&[clone_entry(&rig.rpk_entry)]).unwrap();
    let (_, hello) = hsm::start_local(&stolen, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let err = AwaitingHello::new(b"PED", SUPPORTED_VERSIONS)
        .receive_hello(f(&hello), &root, NOW, &mut rig.cache)
        .unwrap_err();
    assert_eq!(err, Error::Certificate(CertificateError::KeyUsage));
}

#[test]
fn the_hsm_certificate_cannot_stand_in_for_an_rpk_certificate() {
    // An orange key whose "RPK" is the HSM's own static key and certificate: refused
    // by the PED before it sends anything.
    let mut rig = rig(16);
    let root = rig.root();
    let fake = RpkCredential {
        rpv: rig.rpk.rpv.clone(),
        static_key: rig.identity.static_key.clone(),
        cert_der: rig.identity.chain[0].clone(),
    };
    let (_, hello) = hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let ped =
        AwaitingHello::new(b"PED", SUPPORTED_VERSIONS).receive_hello(f(&hello), &root, NOW, &mut rig.cache).unwrap();
    let err = ped.respond_rpv(&fake, &root, NOW, &mut rig.cache, &mut rig.rng).unwrap_err();
    assert_eq!(err, Error::Certificate(CertificateError::KeyUsage));
}

#[test]
fn ped_refuses_an_rpk_from_another_hoc() {
    let mut rig = rig(10);
    let other = Factory::manufacture(&mut rig.rng, SERIAL, NOW).unwrap();
    let (_, foreign) = other.new_rpk(&mut rig.rng, SERIAL, NOW).unwrap();
    let root = rig.root();
    let (_, hello) = hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let ped =
        AwaitingHello::new(b"PED", SUPPORTED_VERSIONS).receive_hello(f(&hello), &root, NOW, &mut rig.cache).unwrap();
    let err = ped.respond_rpv(&foreign, &root, NOW, &mut rig.cache, &mut rig.rng).unwrap_err();
    assert!(matches!(err, Error::Certificate(_)), "{err:?}");
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

    let (_, hello) = hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
    let mut body = hello[frame::HEADER_LEN..].to_vec();
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

    let (_, hello) = hsm::start_rpv(&rig.identity, SUPPORTED_VERSIONS, &mut rig.rng).unwrap();
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
