//! The koa-session payload: session properties plus `_expire` / `_maxAge` / `_session`.

use super::ONE_DAY_MS;
use crate::data::{ObjectWriter, OrderedData};
use crate::keygrip::Keygrip;
use crate::payload::{self as codec, PayloadError};

/// Names a koa-session `Session` object owns (flags, getters, methods): a payload property
/// with one of these names never reaches application code as data, so writers refuse them
/// and readers drop them. Keys starting with `_` are handled apart: dropped silently on
/// write, exactly as koa-session's `toJSON` does.
pub const RESERVED_KEYS: &[&str] = &[
    "isNew",
    "length",
    "populated",
    "maxAge",
    "externalKey",
    "save",
    "regenerate",
    "manuallyCommit",
    "commit",
    "toJSON",
];

/// A session's lifetime (koa-session's `maxAge` option, or a payload's `_maxAge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxAge {
    /// This many milliseconds (0 means the one-day default, as in koa-session).
    Ms(i64),
    /// `'session'`: no expiry in the payload, a browser-session cookie.
    Session,
}

/// A decoded koa-session payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The session's properties, as the Koa handler sees them.
    pub data: OrderedData,
    /// `_expire` (milliseconds since the epoch) when it is a number.
    pub expire_ms: Option<i64>,
    /// `_maxAge` when it is an integer, or [`MaxAge::Session`] for `_session`: the lifetime
    /// this session keeps on its next write, whatever the configuration says.
    pub max_age: Option<MaxAge>,
}

impl Payload {
    /// koa-session's `renew` rule: with `renew` on, an unchanged session is re-issued
    /// once less than half of `max_age` is left before `_expire`.
    pub fn needs_renewal(&self, max_age: Option<MaxAge>, now_ms: i64) -> bool {
        match (self.expire_ms, max_age) {
            (Some(expire), Some(MaxAge::Ms(ms))) if expire != 0 && ms != 0 => {
                // `expire - now < maxAge / 2` in JavaScript's arithmetic.
                let left = i128::from(expire) - i128::from(now_ms);
                2 * left < i128::from(ms)
            }
            _ => false,
        }
    }
}

fn is_reserved(key: &str) -> bool {
    key.starts_with('_') || RESERVED_KEYS.contains(&key)
}

/// The payload JSON koa-session writes at `now_ms` for `data` and lifetime `max_age` (the
/// session's, falling back to the configured one): keys starting with `_` left out, then
/// `_expire` and `_maxAge` (one day when `None` or 0), or `_session: true`.
///
/// # Errors
/// [`PayloadError::ReservedKey`] for a key in [`RESERVED_KEYS`].
pub fn encode_json(
    data: &OrderedData,
    max_age: Option<MaxAge>,
    now_ms: i64,
) -> Result<String, PayloadError> {
    if let Some((key, _)) = data.iter().find(|(k, _)| RESERVED_KEYS.contains(k)) {
        return Err(PayloadError::ReservedKey(key.to_owned()));
    }
    let mut out = ObjectWriter::new();
    for (key, value) in data.iter().filter(|(k, _)| !k.starts_with('_')) {
        out.member(key, value);
    }
    match max_age {
        Some(MaxAge::Session) => out.member("_session", "true"),
        Some(MaxAge::Ms(ms)) if ms != 0 => {
            out.integer("_expire", now_ms.saturating_add(ms));
            out.integer("_maxAge", ms);
        }
        _ => {
            out.integer("_expire", now_ms.saturating_add(ONE_DAY_MS));
            out.integer("_maxAge", ONE_DAY_MS);
        }
    }
    Ok(out.finish())
}

/// The cookie value: standard base64 (padded) of [`encode_json`].
///
/// # Errors
/// As [`encode_json`].
pub fn encode(
    data: &OrderedData,
    max_age: Option<MaxAge>,
    now_ms: i64,
) -> Result<String, PayloadError> {
    Ok(codec::encode(&encode_json(data, max_age, now_ms)?))
}

/// The `expires` of the session cookie koa-session writes: now + maxAge for a non-zero
/// number, none for `'session'` or an unset `maxAge` (even though the payload then says one
/// day: Node's first cookie is a browser-session cookie, later ones are not, because the
/// payload's `_maxAge` is read back).
pub fn cookie_expires(max_age: Option<MaxAge>, now_ms: i64) -> Option<i64> {
    match max_age {
        Some(MaxAge::Ms(ms)) if ms != 0 => Some(now_ms.saturating_add(ms)),
        _ => None,
    }
}

/// Reads a payload's JSON text (an external store record) as koa-session does at
/// `now_ms`.
///
/// # Errors
/// [`PayloadError::Expired`] when `_expire` is a number before `now_ms`; JSON errors.
pub fn decode_json(text: &str, now_ms: i64) -> Result<Payload, PayloadError> {
    from_members(codec::members(text)?, now_ms)
}

/// Reads a cookie value (already verified, or from an unsigned cookie).
///
/// # Errors
/// As [`decode_json`], plus base64 and UTF-8 errors.
pub fn decode(value: &str, now_ms: i64) -> Result<Payload, PayloadError> {
    from_members(codec::decode(value)?, now_ms)
}

/// Reads cookie `name` = `value` with its `.sig` cookie `sig`; also returns the index of
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
    now_ms: i64,
) -> Result<(Payload, usize), PayloadError> {
    let key_index = codec::verify(keys, name, value, sig)?;
    Ok((decode(value, now_ms)?, key_index))
}

pub(super) fn from_members(
    members: Vec<(String, String)>,
    now_ms: i64,
) -> Result<Payload, PayloadError> {
    let mut expire = None;
    let mut max_age = None;
    let mut data = Vec::with_capacity(members.len());
    for (key, value) in members {
        match key.as_str() {
            "_expire" => expire = number(&value),
            // The Session constructor applies these in property order: the last one wins.
            "_maxAge" => {
                max_age = number(&value)
                    .filter(|n| n.fract() == 0.0)
                    .map(to_ms)
                    .map(MaxAge::Ms)
            }
            "_session" => max_age = Some(MaxAge::Session),
            k if is_reserved(k) => {}
            _ => data.push((key, value)),
        }
    }
    // `_expire < now`, compared as JavaScript numbers (now is an integer, so flooring a
    // fractional `_expire` does not change the answer).
    if let Some(expire) = expire {
        #[allow(clippy::cast_precision_loss)]
        if expire < now_ms as f64 {
            return Err(PayloadError::Expired);
        }
    }
    Ok(Payload {
        data: OrderedData::from_canonical(data),
        expire_ms: expire.map(|e| to_ms(e.floor())),
        max_age,
    })
}

/// A JSON number's value (canonical text: `null` for non-finite numbers never parses).
fn number(value: &str) -> Option<f64> {
    let first = value.as_bytes().first()?;
    if !(first.is_ascii_digit() || *first == b'-') {
        return None;
    }
    value.parse().ok()
}

/// An integral f64 as i64, saturating (`as` saturates, and the value is integral).
#[allow(clippy::cast_possible_truncation)]
fn to_ms(x: f64) -> i64 {
    x as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_123;

    fn alice() -> OrderedData {
        let mut d = OrderedData::new();
        d.insert("user", "\"alice\"").expect("json");
        d
    }

    #[test]
    fn payload_shapes() {
        assert_eq!(
            encode_json(&alice(), None, NOW).as_deref(),
            Ok(r#"{"user":"alice","_expire":1767312000123,"_maxAge":86400000}"#)
        );
        assert_eq!(
            encode_json(&alice(), Some(MaxAge::Session), NOW).as_deref(),
            Ok(r#"{"user":"alice","_session":true}"#)
        );
        let mut d = alice();
        d.insert("_private", "1").expect("json");
        d.insert("$dollar", "2").expect("json");
        assert_eq!(
            encode_json(&d, Some(MaxAge::Ms(5000)), NOW).as_deref(),
            Ok(r#"{"user":"alice","$dollar":2,"_expire":1767225605123,"_maxAge":5000}"#)
        );
        d.insert("toJSON", "1").expect("json");
        assert_eq!(
            encode_json(&d, None, NOW),
            Err(PayloadError::ReservedKey("toJSON".into()))
        );
    }

    #[test]
    fn expiry_and_lifetime_on_read() {
        let json = encode_json(&alice(), Some(MaxAge::Ms(1000)), NOW).expect("encode");
        let p = decode_json(&json, NOW + 1000).expect("valid at the last millisecond");
        assert_eq!(
            (p.expire_ms, p.max_age),
            (Some(NOW + 1000), Some(MaxAge::Ms(1000)))
        );
        assert_eq!(decode_json(&json, NOW + 1001), Err(PayloadError::Expired));
        let foreign =
            decode_json(r#"{"user":"alice","_expire":"soon","isNew":true}"#, NOW).expect("valid");
        assert_eq!(
            (foreign.data, foreign.expire_ms, foreign.max_age),
            (alice(), None, None)
        );
        let s = decode_json(r#"{"_maxAge":5,"_session":false}"#, NOW).expect("valid");
        assert_eq!(s.max_age, Some(MaxAge::Session));
        assert_eq!(decode_json("[]", NOW), Err(PayloadError::NotAnObject));
    }

    #[test]
    fn renewal_threshold() {
        let p = Payload {
            data: alice(),
            expire_ms: Some(NOW + 1_800_000),
            max_age: None,
        };
        assert!(!p.needs_renewal(Some(MaxAge::Ms(3_600_000)), NOW));
        assert!(p.needs_renewal(Some(MaxAge::Ms(3_600_000)), NOW + 1));
        assert!(!p.needs_renewal(None, NOW + 1));
    }
}
