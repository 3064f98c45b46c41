//! KDA OneStep (SP 800-56C Rev.1 and Rev.2) through `kdf::one_step`.

use std::borrow::Cow;

use ped_proto::internal::kdf::{self, AuxFunction};
use serde_json::Value;

use super::{Case, Outcome, bits_field, compare, field, hex_field, judge_val, no_expected_results, str_field};

/// One element of a `fixedInfoPattern` (SP 800-56C §4.2 with the ACVP names).
enum Element<'a> {
    /// `uPartyInfo` or `vPartyInfo`: the party's ID, then its ephemeral data if any.
    PartyInfo(&'static str),
    /// `l`: the DKM length in bits, 32-bit big-endian.
    Length,
    /// A `kdfParameter` field taken as is: `t`, `algorithmId`, `label`, `context`.
    Parameter(&'static str),
    /// `literal[hex]`.
    Literal(&'a str),
}

pub(super) fn check(case: &Case<'_>) -> Result<Outcome, String> {
    let config = field(case.group, "kdfConfiguration")?;
    let kdf_type = str_field(config, "kdfType")?;
    if kdf_type != "oneStep" {
        return Ok(Outcome::skipped(format!("kdfType {kdf_type}: the channel uses the counter form (oneStep)")));
    }
    let encoding = str_field(config, "fixedInfoEncoding")?;
    if encoding != "concatenation" {
        return Ok(Outcome::skipped(format!("fixedInfoEncoding {encoding}: the channel concatenates")));
    }
    let elements = match parse_pattern(str_field(config, "fixedInfoPattern")?) {
        Ok(elements) => elements,
        Err(unknown) => return Ok(Outcome::skipped(format!("fixedInfoPattern element `{unknown}` not supported"))),
    };
    let params = field(case.test, "kdfParameter")?;
    let salt;
    let aux = match str_field(config, "auxFunction")? {
        "SHA2-512" => AuxFunction::Sha512,
        "HMAC-SHA2-512" => {
            salt = hmac_salt(config, params)?;
            AuxFunction::HmacSha512 { salt: &salt }
        }
        other => {
            return Ok(Outcome::skipped(format!(
                "auxFunction {other}: kdf::one_step implements SHA2-512 and HMAC-SHA2-512 only"
            )));
        }
    };
    // The case's own `l` wins over the group's; they agree in every published set.
    let bits = if params.get("l").is_some() { bits_field(params, "l")? } else { bits_field(config, "l")? };
    let fixed_info = fixed_info(&elements, case.test, params, bits)?;
    let z = hex_field(params, "z")?;
    let mut dkm = vec![0u8; bits.div_ceil(8)];
    kdf::one_step(aux, &z, &fixed_info, &mut dkm).map_err(|e| format!("kdf::one_step refused l={bits}: {e}"))?;
    // The DKM is the leftmost `l` bits; ACVP pads a partial last byte with zero bits.
    if let (Some(last), partial @ 1..) = (dkm.last_mut(), bits % 8) {
        *last &= 0xff << (8 - partial);
    }
    match case.test_type()? {
        "AFT" => match case.expected {
            Some(expected) => Ok(compare("dkm", &dkm, &hex_field(expected, "dkm")?)),
            None => Ok(no_expected_results()),
        },
        "VAL" => judge_val(hex_field(case.test, "dkm")? == dkm, case),
        other => Ok(Outcome::skipped(format!("test type {other} not handled"))),
    }
}

fn parse_pattern(pattern: &str) -> Result<Vec<Element<'_>>, &str> {
    pattern
        .split("||")
        .map(|token| match token {
            "uPartyInfo" => Ok(Element::PartyInfo("fixedInfoPartyU")),
            "vPartyInfo" => Ok(Element::PartyInfo("fixedInfoPartyV")),
            "l" => Ok(Element::Length),
            "t" => Ok(Element::Parameter("t")),
            "algorithmId" => Ok(Element::Parameter("algorithmId")),
            "label" => Ok(Element::Parameter("label")),
            "context" => Ok(Element::Parameter("context")),
            _ => token
                .strip_prefix("literal[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(Element::Literal)
                .ok_or(token),
        })
        .collect()
}

fn fixed_info(elements: &[Element<'_>], test: &Value, params: &Value, bits: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for element in elements {
        match element {
            Element::PartyInfo(key) => {
                let party = field(test, key)?;
                out.extend(hex_field(party, "partyId")?);
                if party.get("ephemeralData").is_some() {
                    out.extend(hex_field(party, "ephemeralData")?);
                }
            }
            Element::Length => {
                let bits = u32::try_from(bits).map_err(|_| format!("l={bits} does not fit 32 bits"))?;
                out.extend_from_slice(&bits.to_be_bytes());
            }
            Element::Parameter(key) => out.extend(hex_field(params, key)?),
            Element::Literal(literal) => {
                out.extend(hex::decode(literal).map_err(|e| format!("literal[{literal}] is not hex: {e}"))?);
            }
        }
    }
    Ok(out)
}

/// The HMAC key. For `default` it is our `kdf::DEFAULT_HMAC_SALT`, the constant the
/// channel uses, after checking that the vector's salt is that same value.
fn hmac_salt(config: &Value, params: &Value) -> Result<Cow<'static, [u8]>, String> {
    match str_field(config, "saltMethod")? {
        "default" => {
            if params.get("salt").is_some() && hex_field(params, "salt")? != kdf::DEFAULT_HMAC_SALT {
                return Err("the vector's default salt differs from kdf::DEFAULT_HMAC_SALT".to_owned());
            }
            Ok(Cow::Borrowed(&kdf::DEFAULT_HMAC_SALT))
        }
        "random" => hex_field(params, "salt").map(Cow::Owned),
        other => Err(format!("unknown saltMethod {other}")),
    }
}
