//! cookie-session 2.1: the whole session in the cookie (`session` + `session.sig`).
//!
//! The value is `base64(JSON.stringify(session))`: only the session's properties, no id and
//! no expiry (the browser's cookie expiry is the only one). The `.sig` cookie is
//! [`keygrip`](crate::keygrip) HMAC-SHA1 over `session=<value>` (see
//! [`cookies`](crate::cookies) for reading and writing both cookies).
//!
//! [`CookieSessionCookies`] plugs the format into a satchel stateless engine.

mod sealer;

pub use sealer::CookieSessionCookies;

use crate::data::OrderedData;
use crate::keygrip::Keygrip;
use crate::payload::{self, PayloadError};

/// cookie-session's default cookie name.
pub const DEFAULT_NAME: &str = "session";

/// Keys a cookie-session session cannot hold. cookie-session 2.1.1 loads a payload with
/// `for (key in obj) if (!(key in this)) this[key] = obj[key]`, so it silently skips every
/// name a `Session` already has: its internal `_ctx`, its getters `isChanged`, `isNew` and
/// `isPopulated`, and everything on `Object.prototype`. A session written with one of them
/// loses it on Node's next read. Other keys, `_`-prefixed ones included, are kept.
pub const RESERVED_KEYS: &[&str] = &[
    "_ctx",
    "isChanged",
    "isNew",
    "isPopulated",
    "__proto__",
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
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

/// The session in an (already verified, or unsigned-mode) cookie value. Members named in
/// [`RESERVED_KEYS`] are dropped, as Node skips them; the rest of the session stays.
///
/// # Errors
/// See [`PayloadError`]; Node gives an empty new session in each case.
pub fn decode(value: &str) -> Result<OrderedData, PayloadError> {
    let mut members = payload::decode(value)?;
    members.retain(|(k, _)| !RESERVED_KEYS.contains(&k.as_str()));
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
        // {"isNew":1,"a":2,"save":3,"toString":4,"_x":5}: Node keeps a, save and _x.
        let mut kept = OrderedData::new();
        for (k, v) in [("a", "2"), ("save", "3"), ("_x", "5")] {
            kept.insert(k, v).expect("json");
        }
        let value = payload::encode(r#"{"isNew":1,"a":2,"save":3,"toString":4,"_x":5}"#);
        assert_eq!(decode(&value), Ok(kept));
        let mut reserved = OrderedData::new();
        reserved.insert("toString", "1").expect("json");
        assert_eq!(
            encode(&reserved),
            Err(PayloadError::ReservedKey("toString".into()))
        );
    }
}
