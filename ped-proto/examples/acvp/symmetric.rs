//! AES-KWP through `kwp`, AES-256-CTR through `ctr`, HMAC-SHA-512 through `mac`.

use ped_proto::internal::{ctr, kwp, mac};

use super::{Case, Outcome, bits_field, compare, compare_tag, hex_field, no_expected_results, str_field};

pub(super) fn check_kwp(case: &Case<'_>) -> Result<Outcome, String> {
    let cipher = str_field(case.group, "kwCipher")?;
    if cipher != "cipher" {
        return Ok(Outcome::skipped(format!(
            "kwCipher {cipher}: AES⁻¹ as the forward function is not the channel's KWP"
        )));
    }
    let payload_bits = bits_field(case.group, "payloadLen")?;
    if payload_bits % 8 != 0 {
        return Ok(Outcome::skipped("payloadLen not a whole number of bytes: kwp wraps bytes"));
    }
    match case.test_type()? {
        "AFT" => {}
        other => return Ok(Outcome::skipped(format!("test type {other} not handled"))),
    }
    let Some(expected) = case.expected else { return Ok(no_expected_results()) };
    let key = hex_field(case.test, "key")?;
    match str_field(case.group, "direction")? {
        "encrypt" => {
            let wrapped =
                kwp::wrap(&key, &hex_field(case.test, "pt")?).map_err(|e| format!("kwp::wrap refused: {e}"))?;
            Ok(compare("ct", &wrapped, &hex_field(expected, "ct")?))
        }
        "decrypt" => {
            let unwrapped = kwp::unwrap(&key, &hex_field(case.test, "ct")?);
            // A ciphertext that must not unwrap comes with `testPassed: false` and no pt.
            let must_fail = expected.get("testPassed").is_some_and(|passed| passed.as_bool() == Some(false));
            Ok(match (unwrapped, must_fail) {
                (Err(_), true) => Outcome::passed(),
                (Ok(_), true) => Outcome::Failed("kwp::unwrap accepted a ciphertext that must fail".to_owned()),
                (Ok(plaintext), false) => compare("pt", &plaintext, &hex_field(expected, "pt")?),
                (Err(e), false) => Outcome::Failed(format!("kwp::unwrap refused a valid ciphertext: {e}")),
            })
        }
        other => Err(format!("unknown direction {other}")),
    }
}

pub(super) fn check_ctr(case: &Case<'_>) -> Result<Outcome, String> {
    let key_bits = bits_field(case.group, "keyLen")?;
    if key_bits != ctr::KEY_LEN * 8 {
        return Ok(Outcome::skipped(format!("keyLen {key_bits}: the channel uses AES-256 only")));
    }
    match case.test_type()? {
        "AFT" => {}
        other => return Ok(Outcome::skipped(format!("test type {other} not handled"))),
    }
    let payload_bits = bits_field(case.test, "payloadLen")?;
    if payload_bits % 8 != 0 {
        return Ok(Outcome::skipped("payloadLen not a whole number of bytes: records are bytes"));
    }
    let Some(expected) = case.expected else { return Ok(no_expected_results()) };
    let (input, output) = match str_field(case.group, "direction")? {
        "encrypt" => ("pt", "ct"),
        "decrypt" => ("ct", "pt"),
        other => return Err(format!("unknown direction {other}")),
    };
    let key: [u8; ctr::KEY_LEN] = hex_field(case.test, "key")?.try_into().map_err(|_| "key is not 32 bytes")?;
    // On encrypt the IUT would choose the IV; ACVP reports the one it assumed next to ct.
    let iv_holder = if case.test.get("iv").is_some() { case.test } else { expected };
    let iv: [u8; ctr::BLOCK_LEN] = hex_field(iv_holder, "iv")?.try_into().map_err(|_| "iv is not 16 bytes")?;
    let mut data = hex_field(case.test, input)?;
    if data.len() * 8 != payload_bits {
        return Err(format!("{input} is {} bytes, payloadLen says {payload_bits} bits", data.len()));
    }
    ctr::aes256_ctr_apply(&key, &iv, &mut data);
    Ok(compare(output, &data, &hex_field(expected, output)?))
}

pub(super) fn check_hmac(case: &Case<'_>) -> Result<Outcome, String> {
    match case.test_type()? {
        "AFT" => {}
        other => return Ok(Outcome::skipped(format!("test type {other} not handled"))),
    }
    let mac_bits = bits_field(case.group, "macLen")?;
    if mac_bits % 8 != 0 {
        return Ok(Outcome::skipped("macLen not a whole number of bytes: the channel truncates to bytes"));
    }
    if mac_bits / 8 > mac::TAG_LEN {
        return Err(format!("macLen {mac_bits} exceeds HMAC-SHA-512's output"));
    }
    let Some(expected) = case.expected else { return Ok(no_expected_results()) };
    let tag = mac::hmac_sha512(&hex_field(case.test, "key")?, &[&hex_field(case.test, "msg")?]);
    Ok(compare_tag(&tag[..mac_bits / 8], &hex_field(expected, "mac")?))
}
