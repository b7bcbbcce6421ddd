//! koa-redis 4 as koa-session's external store: the record is the payload JSON under the
//! external key itself (no prefix), with a TTL of maxAge + 10 seconds.

use super::payload::{decode_json, MaxAge, Payload};
use super::ONE_DAY_MS;
use crate::connect_redis::Command;
use crate::payload::PayloadError;

/// The TTL koa-redis sets, in seconds: `ceil((maxAge + 10000) / 1000)` (3610 for one hour,
/// 86410 for the default day), koa-session passing maxAge + 10 s so the record outlives
/// the cookie.
///
/// For `'session'` Node sends `SETEX key session …`, which Redis rejects (the request
/// fails); we use the default day instead, so such sessions still work and still expire.
pub fn store_ttl_seconds(max_age: Option<MaxAge>) -> i64 {
    let ms = match max_age {
        Some(MaxAge::Ms(ms)) if ms != 0 => ms,
        _ => ONE_DAY_MS,
    };
    crate::connect_redis::ceil_seconds(ms.saturating_add(10_000))
}

/// `store.set(key, payload, maxAge + 10000)`: `SETEX key ttl json` (koa-redis rewrites
/// the whole record on every save, `rolling` included).
pub fn set_command(key: &str, payload_json: &str, max_age: Option<MaxAge>) -> Command {
    vec![
        "SETEX".to_owned(),
        key.to_owned(),
        store_ttl_seconds(max_age).to_string(),
        payload_json.to_owned(),
    ]
}

/// `store.get(key)`: `GET key`.
pub fn get_command(key: &str) -> Command {
    vec!["GET".to_owned(), key.to_owned()]
}

/// `store.destroy(key)`: `DEL key`.
pub fn destroy_command(key: &str) -> Command {
    vec!["DEL".to_owned(), key.to_owned()]
}

/// The session in a `GET` reply at `now_ms`. `Ok(None)` for a missing key or a value
/// koa-redis cannot parse (it treats both as missing, and koa-session starts afresh).
///
/// # Errors
/// [`PayloadError::Expired`], or a payload that is JSON but not an object.
pub fn parse_get_reply(reply: Option<&str>, now_ms: i64) -> Result<Option<Payload>, PayloadError> {
    let Some(text) = reply else { return Ok(None) };
    match decode_json(text, now_ms) {
        Ok(p) => Ok(Some(p)),
        Err(PayloadError::BadJson(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_and_commands() {
        assert_eq!(store_ttl_seconds(Some(MaxAge::Ms(3_600_000))), 3610);
        assert_eq!(store_ttl_seconds(None), 86_410);
        assert_eq!(store_ttl_seconds(Some(MaxAge::Session)), 86_410);
        assert_eq!(
            set_command("k", "{}", Some(MaxAge::Ms(1))),
            ["SETEX", "k", "11", "{}"]
        );
        assert_eq!(parse_get_reply(Some("not json"), 0), Ok(None));
        assert_eq!(parse_get_reply(None, 0), Ok(None));
    }
}
