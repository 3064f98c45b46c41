//! `HsmCommand::decode` and `PedReply::decode` on any record payload: no panic; what
//! decodes re-encodes to exactly its input; the version-1 ReusedRpv reply (0x47) is
//! never accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::command::{HsmCommand, PedReply};

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = HsmCommand::decode(data) {
        assert_eq!(command.encode().expect("a decoded command encodes"), data);
    }
    if let Ok(reply) = PedReply::decode(data) {
        assert_eq!(reply.encode().expect("a decoded reply encodes"), data);
        assert_ne!(data.first(), Some(&0x47), "ReusedRpv is gone in protocol version 2");
    }
});
