//! cookie-session 2.1: the whole session in the cookie (`session` + `session.sig`).
//!
//! The value is `base64(JSON.stringify(session))`: only the session's properties, no id and
//! no expiry (the browser's cookie expiry is the only one). The `.sig` cookie is
//! [`keygrip`](crate::keygrip) HMAC-SHA1 over `session=<value>` (see
//! [`cookies`](crate::cookies) for reading and writing both cookies).

use crate::data::OrderedData;
use crate::keygrip::Keygrip;
use crate::payload::{self, PayloadError};

/// cookie-session's default cookie name.
pub const DEFAULT_NAME: &str = "session";

/// Keys a cookie-session session cannot hold: its own internals and read-only getters.
/// Node fails to load a payload holding one (strict-mode assignment to a getter throws, and
/// the session comes up empty) or fails to save it again (`save`).
pub const RESERVED_KEYS: &[&str] = &[
    "_ctx",
    "isChanged",
    "isNew",
    "length",
    "isPopulated",
    "save",
];

fn check_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<(), PayloadError> {
    match keys.into_iter().find(|k| RESERVED_KEYS.contains(k)) {
        Some(k) => Err(PayloadError::ReservedKey(k.to_owned())),
        None => Ok(()),
    }
}

/// `JSON.stringify(session)`.
///
/// # Errors
/// [`PayloadError::ReservedKey`] (see [`RESERVED_KEYS`]).
pub fn encode_json(data: &OrderedData) -> Result<String, PayloadError> {
    check_keys(data.iter().map(|(k, _)| k))?;
    Ok(data.to_json_object())
}

/// The cookie value: standard base64 (padded) of [`encode_json`].
///
/// # Errors
/// As [`encode_json`].
pub fn encode(data: &OrderedData) -> Result<String, PayloadError> {
    Ok(payload::encode(&encode_json(data)?))
}

/// The session in an (already verified, or unsigned-mode) cookie value.
///
/// # Errors
/// See [`PayloadError`]; Node gives an empty new session in each case.
pub fn decode(value: &str) -> Result<OrderedData, PayloadError> {
    let members = payload::decode(value)?;
    check_keys(members.iter().map(|(k, _)| k.as_str()))?;
    Ok(OrderedData::from_canonical(members))
}

/// The session in cookie `name` = `value` with its `.sig` cookie `sig`, and the index of
/// the key that signed it (above 0: re-issue the `.sig` with the first key).
///
/// # Errors
/// [`PayloadError::MissingSignature`], [`PayloadError::BadSignature`] (clear the `.sig`
/// cookie), or as [`decode`].
pub fn decode_signed(
    name: &str,
    value: &str,
    sig: Option<&str>,
    keys: &Keygrip,
) -> Result<(OrderedData, usize), PayloadError> {
    let key_index = payload::verify(keys, name, value, sig)?;
    Ok((decode(value)?, key_index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut data = OrderedData::new();
        data.insert("k", "\">>>???\"").expect("json");
        let value = encode(&data).expect("encode");
        assert!(value.contains('+') && value.contains('/') && value.ends_with('='));
        assert_eq!(decode(&value), Ok(data));
        assert_eq!(decode("e30="), Ok(OrderedData::new()));
        assert_eq!(decode("not-json!"), Err(PayloadError::BadBase64));
        assert!(matches!(
            decode("bm90IGpzb24="),
            Err(PayloadError::BadJson(_))
        ));
        assert_eq!(decode("WzFd"), Err(PayloadError::NotAnObject));
        assert_eq!(
            decode("eyJpc05ldyI6MX0="),
            Err(PayloadError::ReservedKey("isNew".into()))
        );
    }
}
