//! `cert::verify_hsm_chain` against the genuine root: no panic, and nothing verifies
//! but a genuine chain, byte for byte.
//!
//! Input: the selector (mode; in edit mode the genuine HSM or RPK chain), then up to
//! four certificates, each a big-endian `u16` length and that many bytes (a length past
//! the end takes what is left). In edit mode the edit applies to the genuine chain in
//! that same form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::cert::{self, MAX_CHAIN_LEN};
use ped_proto_fuzz::{Input, NOW, fixture};

/// `[HSM static, HOC, MIC]` and `[RPK, HOC, MIC]`, length-prefixed and concatenated.
fn genuine_chains() -> [Vec<u8>; 2] {
    let fx = fixture();
    let chain = &fx.identity.chain;
    let rpk = &fx.rpk_cert;
    [[&chain[0], &chain[1], &chain[2]], [rpk, &chain[1], &chain[2]]].map(|certs| {
        certs
            .iter()
            .flat_map(|der| {
                let len = u16::try_from(der.len()).expect("certificates are under 64 KiB").to_be_bytes();
                len.into_iter().chain(der.iter().copied())
            })
            .collect()
    })
}

fn split(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut certs = Vec::new();
    while certs.len() < MAX_CHAIN_LEN {
        let Some((len, rest)) = bytes.split_first_chunk::<2>() else { break };
        let (der, rest) = rest.split_at(usize::from(u16::from_be_bytes(*len)).min(rest.len()));
        certs.push(der);
        bytes = rest;
    }
    certs
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::split(data) else { return };
    let genuine = genuine_chains();
    let encoded = input.message(&genuine[usize::from(input.pick) % genuine.len()]);
    let chain = split(&encoded);
    if cert::verify_hsm_chain(&chain, &fixture().root, NOW).is_ok() {
        assert!(genuine.iter().any(|g| split(g) == chain), "an altered chain verified");
    }
});
