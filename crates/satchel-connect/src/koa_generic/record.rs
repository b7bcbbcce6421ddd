//! The record koa-generic-session keeps through koa-redis, the Redis commands it sends, when
//! it saves, and the cookies it sets (`lib/session.js`, `lib/store.js`,
//! `koa-redis/lib/index.js`).

use super::ONE_DAY_MS;
use crate::attributes::{Priority, SameSite};
use crate::connect_redis::Command;
use crate::cookies::{set_cookie, set_signed_pair, CookieError, CookieOptions};
use crate::data::OrderedData;
use crate::js_date;
use crate::keygrip::Keygrip;
use crate::payload::{members, PayloadError};

/// The member that holds the cookie options.
const COOKIE: &str = "cookie";

/// koa-generic-session's `defaultCookie`, in its order.
const DEFAULTS: [(&str, &str); 5] = [
    ("httpOnly", "true"),
    ("path", "\"/\""),
    ("overwrite", "true"),
    ("signed", "true"),
    ("maxAge", "86400000"),
];

/// The `cookie` object of a fresh session: the configured `cookie` option's members
/// first (as given), then each missing default in the order `httpOnly: true, path: "/",
/// overwrite: true, signed: true, maxAge: 86400000`.
pub fn cookie_options(configured: &OrderedData) -> OrderedData {
    let mut out = configured.clone();
    for (k, v) in DEFAULTS {
        if !out.contains_key(k) {
            out.insert_canonical(k.to_owned(), v.to_owned());
        }
    }
    out
}

/// A session as koa-redis stores it: `{"cookie":{…options…},…properties}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The `cookie` object's members (empty when the record has none, e.g. after a Koa
    /// handler replaced `ctx.session` with a plain object).
    pub cookie: OrderedData,
    /// The session properties (everything but `cookie`), in JavaScript's order.
    pub data: OrderedData,
}

impl StoredSession {
    /// A fresh session: the `cookie` object [`cookie_options`] makes, no properties.
    pub fn fresh(configured_cookie: &OrderedData) -> Self {
        StoredSession {
            cookie: cookie_options(configured_cookie),
            data: OrderedData::new(),
        }
    }

    /// What `store.get(sid)` returns for a stored value: `Ok(None)` where koa-redis and
    /// koa-generic-session see no session (not JSON, or a falsy JSON value such as
    /// `null`: the user gets a fresh one).
    ///
    /// # Errors
    /// [`PayloadError::NotAnObject`] for another JSON value that is not an object, or a
    /// `cookie` member that is not one (Node would go on with a session it cannot use).
    pub fn from_json(text: &str) -> Result<Option<Self>, PayloadError> {
        let all = match members(text) {
            Ok(all) => all,
            Err(PayloadError::BadJson(_)) => return Ok(None),
            Err(PayloadError::NotAnObject) if is_falsy(text) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut cookie = OrderedData::new();
        let mut data = Vec::with_capacity(all.len());
        for (k, v) in all {
            if k == COOKIE {
                cookie = OrderedData::from_json_object(&v)?.ok_or(PayloadError::NotAnObject)?;
            } else {
                data.push((k, v));
            }
        }
        Ok(Some(StoredSession {
            cookie,
            data: OrderedData::from_canonical(data),
        }))
    }

    /// `JSON.stringify(session)`: `cookie` first, as a fresh session has it (only
    /// array-index keys, which JavaScript always lists first, come before it); no
    /// `cookie` member when the object is empty and the record had none.
    pub fn to_json(&self) -> String {
        let mut all = OrderedData::new();
        if !self.cookie.is_empty() {
            all.insert_canonical(COOKIE.to_owned(), self.cookie.to_json_object());
        }
        for (k, v) in self.data.iter() {
            all.insert_canonical(k.to_owned(), v.to_owned());
        }
        all.to_json_object()
    }

    /// `cookie.maxAge` when it is a number.
    pub fn max_age_ms(&self) -> Option<f64> {
        number(self.cookie.get("maxAge")?)
    }

    /// `cookie.expires` as `new Date(string)` reads it: `Some(None)` for a string that
    /// is no date (an Invalid Date), `None` without a string there.
    pub fn expires_ms(&self) -> Option<Option<i64>> {
        let text = self.cookie.get("expires")?;
        let s: String = serde_json::from_str(text).ok()?;
        Some(js_date::parse_iso(&s))
    }

    /// The TTL `store.set` hands koa-redis, in ms: the `ttl` option when set (non-zero),
    /// else `cookie.expires − now` when the cookie has `expires`, else `cookie.maxAge`.
    /// `None` means no TTL (koa-redis then sends a plain `SET`); an `expires` that is no
    /// date gives NaN in Node, which koa-redis also treats as none.
    pub fn ttl_ms(&self, ttl_option: Option<f64>, now_ms: i64) -> Option<f64> {
        if let Some(ttl) = ttl_option.filter(|t| *t != 0.0 && !t.is_nan()) {
            return Some(ttl);
        }
        match self.expires_ms() {
            #[allow(clippy::cast_precision_loss)] // ms times are below 2^53
            Some(Some(expires)) => Some(expires.saturating_sub(now_ms) as f64),
            Some(None) => None,
            None => self.max_age_ms(),
        }
    }

    /// The options `cookies.set(key, sid, session.cookie)` writes the cookie with.
    pub fn cookie_header_options(&self) -> CookieOptions {
        let c = &self.cookie;
        let string = |k: &str| {
            c.get(k)
                .and_then(|v| serde_json::from_str::<String>(v).ok())
        };
        let flag = |k: &str| c.get(k).map(|v| v != "false" && v != "null" && v != "0");
        CookieOptions {
            path: match c.get("path") {
                Some(_) => string("path"),
                None => Some("/".to_owned()),
            },
            #[allow(clippy::cast_possible_truncation)] // Date arithmetic is integral
            max_age_ms: self.max_age_ms().map(|ms| ms as i64),
            expires_ms: self.expires_ms().flatten(),
            domain: string("domain"),
            priority: string("priority").as_deref().and_then(Priority::parse),
            same_site: match c.get("sameSite") {
                Some("true") => Some(SameSite::Strict),
                _ => string("sameSite").as_deref().and_then(SameSite::parse),
            },
            secure: flag("secure").unwrap_or(false),
            http_only: flag("httpOnly").unwrap_or(true),
            partitioned: flag("partitioned").unwrap_or(false),
        }
    }

    /// Whether the cookie is signed (`cookie.signed`, default true with `app.keys`).
    pub fn signed(&self) -> bool {
        self.cookie.get("signed") != Some("false")
    }
}

/// Whether a JSON text is a value JavaScript counts as false.
fn is_falsy(text: &str) -> bool {
    matches!(text.trim(), "null" | "false" | "\"\"") || number(text.trim()) == Some(0.0)
}

/// A JSON number's value.
fn number(text: &str) -> Option<f64> {
    let first = text.bytes().next()?;
    (first == b'-' || first.is_ascii_digit())
        .then(|| text.parse::<f64>().ok())
        .flatten()
}

/// The seconds koa-redis gives `SETEX`: `ceil(ms / 1000)`; `None` (a plain `SET`) when
/// that is 0 or NaN. A negative result is what Node sends too (Redis refuses it).
pub fn ttl_seconds(ttl_ms: Option<f64>) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation)] // saturating by definition of `as`
    let s = (ttl_ms? / 1000.0).ceil() as i64;
    (s != 0).then_some(s)
}

/// The Redis key: `prefix + sid`.
pub fn key(prefix: &str, sid: &str) -> String {
    format!("{prefix}{sid}")
}

/// `store.get(sid)`: `GET prefix+sid`.
pub fn get_command(prefix: &str, sid: &str) -> Command {
    vec!["GET".to_owned(), key(prefix, sid)]
}

/// `store.destroy(sid)`: `DEL prefix+sid`.
pub fn destroy_command(prefix: &str, sid: &str) -> Command {
    vec!["DEL".to_owned(), key(prefix, sid)]
}

/// `store.set(sid, session)`: `SETEX prefix+sid ttl json`, or `SET prefix+sid json`
/// without a TTL (see [`StoredSession::ttl_ms`]).
pub fn set_command(
    prefix: &str,
    sid: &str,
    session: &StoredSession,
    ttl_option: Option<f64>,
    now_ms: i64,
) -> Command {
    let json = session.to_json();
    match ttl_seconds(session.ttl_ms(ttl_option, now_ms)) {
        Some(ttl) => vec!["SETEX".to_owned(), key(prefix, sid), ttl.to_string(), json],
        None => vec!["SET".to_owned(), key(prefix, sid), json],
    }
}

/// koa-generic-session's `refreshSession` decision for a session that is not `null`:
/// `original_json` is the session as loaded (`None` for one created by this request),
/// `fresh_json` that of a fresh session. A new session equal to a fresh one is never
/// saved (unless `allow_empty`); otherwise it saves when the JSON changed, or always
/// with `rolling`. (Node compares CRC-32s of the JSON; equal texts are equal CRCs, and
/// a collision between different texts, which would skip a save in Node, is ignored.)
///
/// After `regenerateSession()` the session counts as new but `original_json` is still
/// the old session's, so regenerating to the same content saves nothing and the user
/// ends up logged out (vector `regenerate-same-content`).
pub fn should_save(
    is_new: bool,
    original_json: Option<&str>,
    new_json: &str,
    fresh_json: &str,
    rolling: bool,
    allow_empty: bool,
) -> bool {
    if !allow_empty && is_new && new_json == fresh_json {
        return false;
    }
    rolling || original_json != Some(new_json)
}

/// The headers of a save: `cookies.set(key, sid, session.cookie)`, the value cookie and,
/// when signed, `<key>.sig` with the same attributes (`expires = now + cookie.maxAge`).
///
/// # Errors
/// Where the `cookies` package throws (see [`CookieError`]).
pub fn set_cookie_headers(
    keys: &Keygrip,
    name: &str,
    sid: &str,
    session: &StoredSession,
    now_ms: i64,
) -> Result<Vec<String>, CookieError> {
    let opts = session.cookie_header_options();
    if session.signed() {
        Ok(set_signed_pair(keys, name, sid, &opts, now_ms)?.to_vec())
    } else {
        Ok(vec![set_cookie(name, sid, &opts, now_ms)?])
    }
}

/// The reset after `ctx.session = null`, `regenerateSession()` or a missing record:
/// `cookies.set(key, null, { expires: new Date(0) })`, the empty cookie and its
/// signature (over `<key>=`), both with default attributes and the epoch expiry.
///
/// # Errors
/// For a name the `cookies` package refuses.
pub fn reset_cookie_headers(keys: &Keygrip, name: &str) -> Result<[String; 2], CookieError> {
    let opts = CookieOptions {
        expires_ms: Some(0),
        ..CookieOptions::default()
    };
    set_signed_pair(keys, name, "", &opts, 0)
}

/// The default cookie lifetime a session gets when its `cookie.maxAge` is not a positive
/// number (satchel's side; Node then has no TTL at all).
pub(crate) fn idle_ms(session: &StoredSession) -> i64 {
    match session.max_age_ms() {
        #[allow(clippy::cast_possible_truncation)]
        Some(ms) if ms >= 1.0 && ms.is_finite() => ms as i64,
        _ => ONE_DAY_MS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_123;

    fn data(json: &str) -> OrderedData {
        OrderedData::from_json_object(json)
            .expect("json")
            .expect("object")
    }

    #[test]
    fn fresh_sessions_and_configured_options() {
        let fresh = StoredSession::fresh(&OrderedData::new());
        assert_eq!(
            fresh.to_json(),
            r#"{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"maxAge":86400000}}"#
        );
        let custom = StoredSession::fresh(&data(r#"{"maxAge":3600000,"sameSite":"lax"}"#));
        assert_eq!(
            custom.cookie.to_json_object(),
            r#"{"maxAge":3600000,"sameSite":"lax","httpOnly":true,"path":"/","overwrite":true,"signed":true}"#
        );
        assert_eq!(custom.ttl_ms(None, NOW), Some(3_600_000.0));
        assert_eq!(custom.ttl_ms(Some(5000.0), NOW), Some(5000.0));
        assert_eq!(
            set_command("p:", "s", &custom, None, NOW)[..3],
            ["SETEX", "p:s", "3600"]
        );
    }

    #[test]
    fn ttl_rules() {
        let expires = StoredSession::from_json(
            r#"{"cookie":{"maxAge":1000,"expires":"2026-01-01T00:00:10.123Z"},"n":1}"#,
        )
        .expect("ok")
        .expect("session");
        assert_eq!(expires.ttl_ms(None, NOW), Some(10_000.0), "expires wins");
        let invalid = StoredSession::from_json(r#"{"cookie":{"maxAge":1000,"expires":"soon"}}"#)
            .expect("ok")
            .expect("session");
        assert_eq!(invalid.ttl_ms(None, NOW), None, "Invalid Date: NaN");
        let bare = StoredSession::from_json(r#"{"user":"alice"}"#)
            .expect("ok")
            .expect("session");
        assert_eq!(
            set_command("", "s", &bare, None, NOW),
            ["SET", "s", r#"{"user":"alice"}"#]
        );
        assert_eq!(ttl_seconds(Some(1.0)), Some(1));
        assert_eq!(ttl_seconds(Some(0.4)), Some(1));
        assert_eq!(ttl_seconds(Some(-0.4)), None, "ceil(-0.0004) is -0");
        assert_eq!(ttl_seconds(Some(f64::NAN)), None);
    }

    #[test]
    fn what_koa_redis_treats_as_missing() {
        for missing in ["", "not json", "null", "false", "0", "\"\""] {
            assert_eq!(StoredSession::from_json(missing), Ok(None), "{missing}");
        }
        for bad in ["1", "\"x\"", "true", "[]", r#"{"cookie":1}"#] {
            assert!(StoredSession::from_json(bad).is_err(), "{bad}");
        }
        let odd = r#"{"0":1,"cookie":{"path":"/"},"n":2}"#;
        let s = StoredSession::from_json(odd).expect("ok").expect("session");
        assert_eq!(s.to_json(), odd, "array-index keys stay before cookie");
    }

    #[test]
    fn save_decisions() {
        let fresh = "{}";
        assert!(!should_save(true, None, fresh, fresh, false, false));
        assert!(should_save(true, None, fresh, fresh, false, true));
        assert!(should_save(true, None, "{\"a\":1}", fresh, false, false));
        assert!(!should_save(false, Some("x"), "x", fresh, false, false));
        assert!(should_save(false, Some("x"), "x", fresh, true, false));
        assert!(
            !should_save(true, Some("x"), "x", fresh, false, false),
            "regenerate quirk"
        );
    }
}
