//! KAS-KC (key confirmation, SP 800-56A Rev.3 §5.9) through `mac::kc_mac_data` and
//! `mac::kc_tag` (HMAC-SHA2-224 groups: our MacData under the MAC they name), and KAS-ECC-SSC (the shared secret Z, §6) through `ecdh`.

use hmac::{Hmac, KeyInit, Mac};
use ped_proto::internal::ecdh::{EcdhKeyPair, EcdhPublicKey, FIELD_LEN, PUBLIC_KEY_LEN};
use ped_proto::internal::mac::{self, KcMessage, KcParties};
use serde_json::Value;
use sha2::Sha224;

use super::{
    Case, Outcome, bits_field, compare, compare_tag, field, hex_field, judge_val, no_expected_results, str_field,
};

/// Whether the IUT is party U (`kasRole` initiator) or party V (responder).
fn iut_is_u(group: &Value) -> Result<bool, String> {
    match str_field(group, "kasRole")? {
        "initiator" => Ok(true),
        "responder" => Ok(false),
        other => Err(format!("unknown kasRole {other}")),
    }
}

pub(super) fn check_kc(case: &Case<'_>) -> Result<Outcome, String> {
    let group = case.group;
    let iut_provides = match str_field(group, "keyConfirmationRole")? {
        "provider" => true,
        "recipient" => false,
        other => return Err(format!("unknown keyConfirmationRole {other}")),
    };
    let bilateral = match str_field(group, "keyConfirmationDirection")? {
        "bilateral" => true,
        "unilateral" => false,
        other => return Err(format!("unknown keyConfirmationDirection {other}")),
    };
    // The tag under test is the provider's; its letter names the message (§5.9.1.1).
    let provider_is_u = iut_is_u(group)? == iut_provides;
    let message = match (bilateral, provider_is_u) {
        (false, true) => KcMessage::Kc1U,
        (false, false) => KcMessage::Kc1V,
        (true, true) => KcMessage::Kc2U,
        (true, false) => KcMessage::Kc2V,
    };
    let iut = field(case.test, "macDataIut")?;
    let server = field(case.test, "macDataServer")?;
    let (provider, recipient) = if iut_provides { (iut, server) } else { (server, iut) };
    let (provider_id, provider_ephemeral) = (hex_field(provider, "partyId")?, ephemeral_data(provider)?);
    let (recipient_id, recipient_ephemeral) = (hex_field(recipient, "partyId")?, ephemeral_data(recipient)?);
    let parties = KcParties {
        provider_id: &provider_id,
        recipient_id: &recipient_id,
        provider_ephemeral: &provider_ephemeral,
        recipient_ephemeral: &recipient_ephemeral,
    };
    // The server's own MacData, where shipped, pins the layout whatever the MAC.
    if let Some(projection) = case.projection {
        let outcome = compare("macData", &mac::kc_mac_data(message, &parties), &hex_field(projection, "macData")?);
        if matches!(outcome, Outcome::Failed(_)) {
            return Ok(outcome);
        }
    }
    let mac_bytes = mac_len(group)?;
    let mac_key = hex_field(case.test, "macKey")?;
    let full_tag = match str_field(group, "keyAgreementMacType")? {
        "HMAC-SHA2-512" => mac::kc_tag(&mac_key, message, &parties).to_vec(),
        // The channel's tags are HMAC-SHA-512; the sample has no such group, so the
        // HMAC-SHA2-224 groups check our MacData end to end under the MAC they name.
        "HMAC-SHA2-224" => <Hmac<Sha224> as KeyInit>::new_from_slice(&mac_key)
            .map_err(|_| "HMAC key rejected".to_owned())?
            .chain_update(mac::kc_mac_data(message, &parties))
            .finalize()
            .into_bytes()
            .to_vec(),
        other => {
            return Ok(Outcome::skipped(format!("{other}: not an HMAC, outside the channel's code path")));
        }
    };
    let tag = full_tag.get(..mac_bytes).ok_or_else(|| format!("macLen {mac_bytes} bytes exceeds the MAC output"))?;
    match case.test_type()? {
        "AFT" => match case.expected {
            Some(expected) => Ok(compare_tag(tag, &hex_field(expected, "tag")?)),
            None => Ok(no_expected_results()),
        },
        "VAL" => judge_val(mac::tags_equal(tag, &hex_field(case.test, "tag")?), case),
        other => Ok(Outcome::skipped(format!("test type {other} not handled"))),
    }
}

/// `macLen` in whole bytes.
fn mac_len(group: &Value) -> Result<usize, String> {
    let bits = bits_field(group, "macLen")?;
    if bits % 8 != 0 || bits / 8 > mac::TAG_LEN {
        return Err(format!("macLen {bits} is not a whole-byte tag length"));
    }
    Ok(bits / 8)
}

fn ephemeral_data(party: &Value) -> Result<Vec<u8>, String> {
    if party.get("ephemeralData").is_some() { hex_field(party, "ephemeralData") } else { Ok(Vec::new()) }
}

pub(super) fn check_ssc(case: &Case<'_>) -> Result<Outcome, String> {
    let group = case.group;
    let curve = str_field(group, "domainParameterGenerationMode")?;
    if curve != "P-521" {
        return Ok(Outcome::skipped(format!("curve {curve}: the channel uses P-521 only")));
    }
    match case.test_type()? {
        "VAL" => {}
        "AFT" => {
            return Ok(Outcome::skipped(
                "AFT: the IUT must answer with a key pair of its own, which only the ACVP server can judge",
            ));
        }
        other => return Ok(Outcome::skipped(format!("test type {other} not handled"))),
    }
    let test = case.test;
    // The two schemes of the channel: C(1e,1s) before RPV initialisation, C(2e,2s) after.
    let z = match str_field(group, "scheme")? {
        "onePassDh" => {
            if iut_is_u(group)? {
                cdh(test, "ephemeralPrivateIut", "staticPublicServer")?
            } else {
                cdh(test, "staticPrivateIut", "ephemeralPublicServer")?
            }
        }
        "fullUnified" => {
            let ephemeral = cdh(test, "ephemeralPrivateIut", "ephemeralPublicServer")?;
            let static_ = cdh(test, "staticPrivateIut", "staticPublicServer")?;
            ephemeral.zip(static_).map(|(ze, zs)| [ze, zs].concat())
        }
        // The one-sided halves of fullUnified, which the ACVP server tests separately.
        "ephemeralUnified" => cdh(test, "ephemeralPrivateIut", "ephemeralPublicServer")?,
        "staticUnified" => cdh(test, "staticPrivateIut", "staticPublicServer")?,
        other => return Ok(Outcome::skipped(format!("scheme {other}: not a scheme of the channel"))),
    };
    let candidate = hex_field(test, "z")?;
    judge_val(z.is_some_and(|z| z == candidate), case)
}

/// Z = x(d·Q) through `ecdh`, with the key checks of the channel; `None` when our code
/// rejects either key (a VAL candidate built on such a key cannot be accepted).
fn cdh(test: &Value, private_field: &str, public_prefix: &str) -> Result<Option<Vec<u8>>, String> {
    let private = hex_field(test, private_field)?;
    let x = hex_field(test, &format!("{public_prefix}X"))?;
    let y = hex_field(test, &format!("{public_prefix}Y"))?;
    let Some(private) = field_element(&private) else { return Ok(None) };
    let (Some(x), Some(y)) = (field_element(&x), field_element(&y)) else { return Ok(None) };
    let mut point = [0u8; PUBLIC_KEY_LEN];
    point[0] = 0x04;
    point[1..=FIELD_LEN].copy_from_slice(&x);
    point[FIELD_LEN + 1..].copy_from_slice(&y);
    let (Ok(pair), Ok(peer)) = (EcdhKeyPair::from_private_bytes(&private), EcdhPublicKey::from_uncompressed(&point))
    else {
        return Ok(None);
    };
    Ok(Some(pair.diffie_hellman(&peer).as_bytes().to_vec()))
}

/// ACVP prints integers with as many bytes as it likes: left-pad (or strip leading zero
/// bytes) to the 66 bytes of a P-521 field element; `None` if the value is wider.
fn field_element(bytes: &[u8]) -> Option<[u8; FIELD_LEN]> {
    let start = bytes.len().saturating_sub(FIELD_LEN);
    let (excess, tail) = bytes.split_at(start);
    if excess.iter().any(|&b| b != 0) {
        return None;
    }
    let mut out = [0u8; FIELD_LEN];
    out[FIELD_LEN - tail.len()..].copy_from_slice(tail);
    Some(out)
}
