//! Frames over USB bulk packets and over the emulated endpoint's socket records.

use ped_proto::DecodeError;
use ped_proto::frame::{self, FrameType, MAX_BODY_LEN};
use ped_proto::usb::{
    PACKET_LEN, Reassembler, SocketPacketReader, StreamDecoder, StreamError, frame_records, packets, socket_record,
};
use proptest::prelude::*;

fn frame_of(body_len: usize) -> Vec<u8> {
    frame::encode(FrameType::Record, &vec![0xa5; body_len])
}

fn through_usb(frame: &[u8]) -> Vec<Vec<u8>> {
    let mut r = Reassembler::new();
    packets(frame).filter_map(|p| r.push(p).unwrap()).collect()
}

#[test]
fn a_frame_is_one_transfer_ended_by_a_short_packet() {
    // 8-byte header + 56 = 64: a full packet, so a zero-length packet ends the transfer.
    let exact = frame_of(56);
    let sizes: Vec<usize> = packets(&exact).map(<[u8]>::len).collect();
    assert_eq!(sizes, [64, 0]);
    let odd = frame_of(100);
    assert_eq!(packets(&odd).map(<[u8]>::len).collect::<Vec<_>>(), [64, 44]);
    for len in [0, 1, 55, 56, 57, 120, 184, MAX_BODY_LEN] {
        let f = frame_of(len);
        assert_eq!(through_usb(&f), vec![f.clone()], "body {len}");
    }
}

#[test]
fn bad_transfers_are_refused_and_the_next_one_reads() {
    let mut r = Reassembler::new();
    assert_eq!(r.push(&[0u8; 65]), Err(DecodeError::TooLong { field: "usb packet", max: PACKET_LEN }));
    assert_eq!(r.push(b"HTTP/1.1 200 OK\r\n"), Err(DecodeError::BadMagic));
    let f = frame_of(100);
    assert_eq!(r.push(&f[..64]), Ok(None));
    assert_eq!(r.push(&f[64..100]), Err(DecodeError::Truncated("usb transfer")), "ended early");
    let mut long = f.clone();
    long.push(0);
    let mut result = Ok(None);
    for p in packets(&long) {
        result = r.push(p);
    }
    assert_eq!(result, Err(DecodeError::TrailingBytes));
    assert_eq!(through_usb(&f), vec![f]);
    let mut huge = frame_of(100);
    huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(r.push(&huge[..64]), Err(DecodeError::TooLong { .. })), "refused from the header alone");
}

#[test]
fn socket_records_carry_packets_exactly() {
    let f = frame_of(130);
    let stream: Vec<u8> = packets(&f).flat_map(socket_record).collect();
    let mut reader = SocketPacketReader::new();
    let mut r = Reassembler::new();
    let mut frames = Vec::new();
    for byte in stream.chunks(7) {
        reader.extend(byte);
        while let Some(p) = reader.next_packet().unwrap() {
            frames.extend(r.push(&p).unwrap());
        }
    }
    assert_eq!(frames, vec![f]);
    let mut reader = SocketPacketReader::new();
    reader.extend(&[65]);
    assert!(reader.next_packet().is_err());
}

#[test]
fn the_stream_decoder_refuses_one_transfer_and_reads_the_next_but_not_a_foreign_stream() {
    let mut d = StreamDecoder::new();
    let good = frame_of(30);
    // A transfer whose header is not a frame's, then a good frame: the first is refused,
    // the second reads.
    d.feed(&socket_record(b"HTTP/1.1 200 OK\r\n"));
    d.feed(&frame_records(&good));
    assert_eq!(d.next_frame(), Err(StreamError::TransferRefused(DecodeError::BadMagic)));
    assert_eq!(d.next_frame(), Ok(Some(good)));
    assert_eq!(d.next_frame(), Ok(None));
    // A length byte above the packet size: not an emulated endpoint at all.
    d.feed(&[65]);
    assert!(matches!(d.next_frame(), Err(StreamError::NotAnEndpoint(_))));
}

proptest! {
    /// Frames written with `frame_records` come out of the decoder whole and in order,
    /// however the stream is cut into reads.
    #[test]
    fn the_stream_decoder_reads_frames_across_any_cuts(
        lens in proptest::collection::vec(0..300usize, 1..6),
        cut in 1..97usize,
    ) {
        let frames: Vec<Vec<u8>> = lens.iter().map(|&l| frame_of(l)).collect();
        let stream: Vec<u8> = frames.iter().flat_map(|f| frame_records(f)).collect();
        let mut d = StreamDecoder::new();
        let mut got = Vec::new();
        for chunk in stream.chunks(cut) {
            d.feed(chunk);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        prop_assert_eq!(got, frames);
    }

    /// Any bytes: frames, refusals or the end of the stream, never a panic.
    #[test]
    fn the_stream_decoder_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut d = StreamDecoder::new();
        d.feed(&bytes);
        for _ in 0..bytes.len() + 1 {
            match d.next_frame() {
                Ok(Some(_)) | Err(StreamError::TransferRefused(_)) => {}
                Ok(None) | Err(StreamError::NotAnEndpoint(_)) => break,
            }
        }
    }

    #[test]
    fn any_frame_survives_the_trip(len in 0..4096usize) {
        let f = frame_of(len);
        prop_assert_eq!(through_usb(&f), vec![f]);
    }

    #[test]
    fn any_packets_never_panic(packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..=70), 0..40)) {
        let mut r = Reassembler::new();
        for p in &packets {
            let _ = r.push(p);
        }
        let mut reader = SocketPacketReader::new();
        for p in &packets {
            reader.extend(p);
            while let Ok(Some(_)) = reader.next_packet() {}
        }
    }
}
