//! The secrets' handling rules and the stable error codes users see.

use ped_proto::ErrorCode;
use ped_proto::secrets::{OneTimePassword, PasswordDigits, Rpv};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

#[test]
fn error_codes_print_as_the_seed_does_and_never_collide() {
    assert_eq!(ErrorCode::CkrPedUnplugged.to_string(), "0x8000002e (CKR_PED_UNPLUGGED)");
    assert_eq!(ErrorCode::RcSocketError.to_string(), "0xc0000500 (RC_SOCKET_ERROR)");
    assert_eq!(ErrorCode::RcOperationTimedOut.to_string(), "0xc0000303 (RC_OPERATION_TIMED_OUT)");
    for code in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_value(code.value()), Some(code));
        assert!(!code.advice().is_empty());
        assert_eq!(ErrorCode::ALL.iter().filter(|c| c.name() == code.name()).count(), 1);
    }
    assert_eq!(ErrorCode::from_value(0xdead_beef), None);
}

#[test]
fn errors_say_what_to_do() {
    let text = ped_proto::Error::PasswordRejected { remaining: 2 }.to_string();
    assert!(text.contains("2 tries left"), "{text}");
    assert!(text.contains("PED_ERROR_AUTH_FAILED"), "{text}");
}

#[test]
fn passwords_are_eight_digits() {
    for bad in ["1234567", "123456789", "1234567a", "１２３４５６７８", ""] {
        assert!(PasswordDigits::parse(bad).is_none(), "{bad}");
    }
    assert_eq!(PasswordDigits::parse("01234567").unwrap().expose(), b"01234567");
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut seen = [0usize; 10];
    for _ in 0..1000 {
        let p = PasswordDigits::generate(&mut rng);
        for d in p.expose() {
            assert!(d.is_ascii_digit());
            seen[usize::from(d - b'0')] += 1;
        }
    }
    // 8000 digits: each appears about 800 times; a biased mapping would show.
    assert!(seen.iter().all(|&n| (650..950).contains(&n)), "{seen:?}");
}

#[test]
fn secrets_never_print_and_compare_by_value() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let rpv = Rpv::generate(&mut rng);
    assert_eq!(format!("{rpv:?}"), "Rpv(..)");
    assert_eq!(rpv, Rpv::from_bytes(*rpv.expose()));
    assert_ne!(rpv, Rpv::generate(&mut rng));
    let otp = OneTimePassword::new(PasswordDigits::parse("12345678").unwrap());
    assert!(!format!("{otp:?}").contains("12345678"));
    assert!(!otp.is_burnt());
    assert_eq!(otp.failures(), 0);
}
