//! The HSM link's audit record (protocol §15.2, frame type `2c`): its decoder is total,
//! and a record survives the wire and pedclient's log line unchanged.

use ped_wire::frame::{Frame, FrameType};
use ped_wire::hsm_link::{AuditRecord, HsmLinkMessage};
use proptest::prelude::*;

fn record() -> impl Strategy<Value = AuditRecord> {
    (any::<u64>(), any::<u64>(), "[!-~]{1,32}", "[ -~]{0,200}", any::<[u8; 32]>())
        .prop_map(|(seq, time, hsm_serial, event, prev)| AuditRecord { seq, time, hsm_serial, event, prev })
}

#[test]
fn the_frame_is_byte_exact() {
    let record = AuditRecord {
        seq: 2,
        time: 0x6571_2a00,
        hsm_serial: "150123".into(),
        event: "ped connect: OK".into(),
        prev: [0xab; 32],
    };
    let frame = HsmLinkMessage::Audit(record.clone()).encode().unwrap();
    let mut expected = b"PD\x01\x2c".to_vec();
    expected.extend_from_slice(&(8 + 8 + 7 + 16 + 32u32).to_be_bytes());
    expected.extend_from_slice(&2u64.to_be_bytes());
    expected.extend_from_slice(&0x6571_2a00u64.to_be_bytes());
    expected.extend_from_slice(b"\x06150123\x0fped connect: OK");
    expected.extend_from_slice(&[0xab; 32]);
    assert_eq!(frame, expected);
    assert_eq!(record.to_line(), format!("2 1701915136 150123 {} ped connect: OK", "ab".repeat(32)));
}

#[test]
fn bad_lines_name_their_field() {
    let good = format!("1 5 150123 {} role login -name so: OK", "00".repeat(32));
    assert!(AuditRecord::from_line(&good).is_ok());
    for (line, field) in [
        ("", "seq"),
        ("1 5 150123", "prev"),
        ("x 5 150123 00 e", "seq"),
        ("1 5 150123 00 e", "prev"),
        (&*format!("1 5 150123 {} caf\u{e9}", "00".repeat(32)), "audit event"),
        (&*format!("1 5  {} e", "00".repeat(32)), "hsm serial"),
    ] {
        let e = AuditRecord::from_line(line).unwrap_err();
        assert!(format!("{e:?}").contains(field), "{line:?}: {e:?}");
    }
}

proptest! {
    #[test]
    fn any_record_round_trips_on_the_wire_and_in_a_line(record in record()) {
        let frame = HsmLinkMessage::Audit(record.clone()).encode().unwrap();
        let decoded = HsmLinkMessage::decode(Frame::decode_exact(&frame).unwrap()).unwrap();
        prop_assert_eq!(decoded, HsmLinkMessage::Audit(record.clone()));
        prop_assert_eq!(AuditRecord::from_line(&record.to_line()).unwrap(), record);
    }

    #[test]
    fn any_body_decodes_or_fails_typed(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let frame = Frame { frame_type: FrameType::LinkAudit, body: &body };
        if let Ok(HsmLinkMessage::Audit(record)) = HsmLinkMessage::decode(frame) {
            prop_assert_eq!(record.body().unwrap(), body.clone());
        }
        let frame = Frame { frame_type: FrameType::LinkAuditConfig, body: &body };
        if let Ok(config) = HsmLinkMessage::decode(frame) {
            let encoded = config.encode().unwrap();
            prop_assert_eq!(&encoded[8..], &body[..]);
        }
    }

    #[test]
    fn any_rotation_round_trips_or_is_refused(rotate_size in any::<u64>(), rotate_count in any::<u32>()) {
        let message = HsmLinkMessage::AuditConfig { rotate_size, rotate_count };
        match message.encode() {
            Ok(frame) => prop_assert_eq!(HsmLinkMessage::decode(Frame::decode_exact(&frame).unwrap()).unwrap(), message),
            Err(_) => prop_assert!(rotate_size == 0 || rotate_count == 0 || rotate_count > 1000),
        }
    }

    #[test]
    fn any_line_parses_or_fails_typed(line in "\\PC{0,300}") {
        if let Ok(record) = AuditRecord::from_line(&line) {
            prop_assert_eq!(record.to_line(), line);
        }
    }
}
