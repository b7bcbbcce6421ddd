//! [`CookieInfo`]: express-session's `Cookie` object (`session/cookie.js`) as stored in
//! every session record, and as the source of the `Set-Cookie` attributes.

use crate::attributes::SameSite;
use crate::data::ObjectWriter;
use crate::{js_date, json};

/// The `sameSite` field as JavaScript holds it: a boolean or a string, kept as written
/// (`"Lax"` stays `"Lax"`) so a record round-trips byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SameSiteValue {
    /// `true` (means `Strict`) or `false` (no attribute).
    Bool(bool),
    /// A string such as `"lax"`; valid ones are `strict`, `lax`, `none` in any case.
    Text(String),
}

impl SameSiteValue {
    /// The attribute `Set-Cookie` carries: `Some(None)` for `false` or `""` (no
    /// attribute), `None` for a string that names no policy (the `cookie` package throws).
    pub fn policy(&self) -> Option<Option<SameSite>> {
        match self {
            SameSiteValue::Bool(true) => Some(Some(SameSite::Strict)),
            SameSiteValue::Bool(false) => Some(None),
            SameSiteValue::Text(t) if t.is_empty() => Some(None),
            SameSiteValue::Text(t) => SameSite::parse(t).map(Some),
        }
    }
}

impl From<SameSite> for SameSiteValue {
    fn from(policy: SameSite) -> Self {
        SameSiteValue::Text(policy.as_lowercase().to_owned())
    }
}

/// The `cookie` object of an express-session session. Field order, names and presence in
/// JSON follow the `data` getter of express-session 1.19 exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieInfo {
    /// The configured `maxAge` in milliseconds, `None` (JSON `null`) for a browser-session
    /// cookie. Kept as stored: config changes do not reach existing sessions.
    pub original_max_age: Option<i64>,
    /// `Partitioned` (CHIPS), only when configured.
    pub partitioned: Option<bool>,
    /// `Priority` as configured (e.g. `"high"`), only when configured.
    pub priority: Option<String>,
    /// The expiry as a millisecond Unix time, `None` (JSON `null`) without `maxAge`. Stored
    /// as an ISO string; it goes stale after a touch (connect-redis only moves the TTL).
    pub expires: Option<i64>,
    /// `Secure`, only when configured (`"auto"` is resolved before it is stored).
    pub secure: Option<bool>,
    /// `HttpOnly` (default `true`).
    pub http_only: bool,
    /// `Domain`, only when configured.
    pub domain: Option<String>,
    /// `Path` (default `"/"`).
    pub path: String,
    /// `SameSite`, only when configured.
    pub same_site: Option<SameSiteValue>,
}

/// A stored `cookie` object this crate cannot faithfully represent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// `cookie` is missing or is not an object: express-session fails such a request with
    /// a 500 while loading it.
    #[error("the session record has no `cookie` object")]
    Missing,
    /// A field holds a value of the wrong type, or a date JavaScript would not read back.
    #[error("the session cookie's `{0}` field is not valid")]
    Field(&'static str),
}

impl CookieInfo {
    /// A new session's cookie, as `new Cookie({ maxAge })` builds it at `now_ms`: path
    /// `/`, `HttpOnly`, and `expires = now + maxAge` when `max_age_ms` is set. Other
    /// attributes are public fields to set afterwards.
    pub fn new(max_age_ms: Option<i64>, now_ms: i64) -> Self {
        CookieInfo {
            original_max_age: max_age_ms,
            partitioned: None,
            priority: None,
            expires: max_age_ms.map(|ms| now_ms.saturating_add(ms)),
            secure: None,
            http_only: true,
            domain: None,
            path: "/".to_owned(),
            same_site: None,
        }
    }

    /// `session.touch()` (`resetMaxAge`), which express-session runs at the end of every
    /// request that has a session: `expires = now + originalMaxAge`, or none.
    pub fn touch(&mut self, now_ms: i64) {
        self.expires = self.original_max_age.map(|ms| now_ms.saturating_add(ms));
    }

    /// `JSON.stringify(cookie)`: `{"originalMaxAge":…,"expires":…,"httpOnly":…,"path":…}`
    /// with the optional fields in express-session's order.
    pub fn to_json(&self) -> String {
        self.to_json_with(None)
    }

    /// [`CookieInfo::to_json`] with one more member `(name, JSON text)` at the end: the
    /// satchel store's own bookkeeping (see `connect_redis::StoredSession`), which
    /// express-session ignores on load and drops on its next save.
    pub(crate) fn to_json_with(&self, extra: Option<(&str, &str)>) -> String {
        let mut out = ObjectWriter::new();
        match self.original_max_age {
            Some(ms) => out.integer("originalMaxAge", ms),
            None => out.member("originalMaxAge", "null"),
        }
        if let Some(p) = self.partitioned {
            out.member("partitioned", bool_text(p));
        }
        if let Some(p) = &self.priority {
            out.string("priority", p);
        }
        // An expiry outside JavaScript's date range is an Invalid Date, which JSON writes
        // as null.
        match self.expires.and_then(js_date::to_iso_string) {
            Some(iso) => out.string("expires", &iso),
            None => out.member("expires", "null"),
        }
        if let Some(s) = self.secure {
            out.member("secure", bool_text(s));
        }
        out.member("httpOnly", bool_text(self.http_only));
        if let Some(d) = &self.domain {
            out.string("domain", d);
        }
        out.string("path", &self.path);
        match &self.same_site {
            Some(SameSiteValue::Bool(b)) => out.member("sameSite", bool_text(*b)),
            Some(SameSiteValue::Text(t)) => out.string("sameSite", t),
            None => {}
        }
        if let Some((name, value)) = extra {
            out.member(name, value);
        }
        out.finish()
    }

    /// Reads the stored `cookie` object (JSON text) as `Store#createSession` does: the
    /// stored fields win over any configuration; `path` and `httpOnly` default to `/` and
    /// `true`; `expires` is an ISO string or null (never checked against the clock).
    ///
    /// Fields express-session does not know are dropped, as its `toJSON` drops them on the
    /// next save. A `null` optional field counts as absent.
    ///
    /// # Errors
    /// [`CookieError::Missing`] when `json` is not an object, [`CookieError::Field`] when a
    /// field has a type express-session would not produce.
    pub fn from_json(json: &str) -> Result<Self, CookieError> {
        let members = json::object_members(json)
            .ok()
            .flatten()
            .ok_or(CookieError::Missing)?;
        let mut cookie = CookieInfo::new(None, 0);
        for (key, value) in &members {
            let value = value.as_str();
            match key.as_str() {
                "originalMaxAge" => {
                    cookie.original_max_age = nullable(value, "originalMaxAge", integer)?;
                }
                "expires" => {
                    cookie.expires =
                        nullable(value, "expires", |v| js_date::parse_iso(&string(v)?))?;
                }
                "partitioned" => cookie.partitioned = nullable(value, "partitioned", boolean)?,
                "priority" => cookie.priority = nullable(value, "priority", string)?,
                "secure" => cookie.secure = nullable(value, "secure", boolean)?,
                "httpOnly" => {
                    cookie.http_only = boolean(value).ok_or(CookieError::Field("httpOnly"))?;
                }
                "domain" => cookie.domain = nullable(value, "domain", string)?,
                "path" => cookie.path = string(value).ok_or(CookieError::Field("path"))?,
                "sameSite" => {
                    cookie.same_site = nullable(value, "sameSite", |v| {
                        boolean(v)
                            .map(SameSiteValue::Bool)
                            .or_else(|| string(v).map(SameSiteValue::Text))
                    })?;
                }
                _ => {}
            }
        }
        Ok(cookie)
    }
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// `null` → `None`; otherwise `read` must succeed.
fn nullable<T>(
    value: &str,
    field: &'static str,
    read: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, CookieError> {
    if value == "null" {
        return Ok(None);
    }
    read(value).map(Some).ok_or(CookieError::Field(field))
}

fn boolean(value: &str) -> Option<bool> {
    match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A JSON string's content (canonical JSON text in, so serde_json can only refuse lone
/// surrogates, which no attribute may contain).
fn string(value: &str) -> Option<String> {
    value
        .starts_with('"')
        .then(|| serde_json::from_str(value).ok())
        .flatten()
}

/// An integral JSON number that fits an `i64` (canonical text: no exponent below 1e21).
fn integer(value: &str) -> Option<i64> {
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_123;

    #[test]
    fn new_and_touch() {
        let mut c = CookieInfo::new(Some(3_600_000), NOW);
        assert_eq!(
            c.to_json(),
            r#"{"originalMaxAge":3600000,"expires":"2026-01-01T01:00:00.123Z","httpOnly":true,"path":"/"}"#
        );
        c.touch(NOW + 1000);
        assert_eq!(c.expires, Some(NOW + 3_601_000));
        let mut browser = CookieInfo::new(None, NOW);
        browser.touch(NOW);
        assert_eq!(
            browser.to_json(),
            r#"{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}"#
        );
    }

    #[test]
    fn every_field_round_trips_in_order() {
        let text = r#"{"originalMaxAge":600000,"partitioned":true,"priority":"high","expires":"2026-01-01T00:10:00.123Z","secure":true,"httpOnly":true,"domain":"example.test","path":"/","sameSite":"strict"}"#;
        let c = CookieInfo::from_json(text).expect("valid");
        assert_eq!(c.to_json(), text);
        let shuffled = r#"{"sameSite":true,"path":"/p","extra":1,"httpOnly":false,"expires":null,"originalMaxAge":null,"domain":null}"#;
        let c = CookieInfo::from_json(shuffled).expect("valid");
        assert_eq!(
            c.to_json(),
            r#"{"originalMaxAge":null,"expires":null,"httpOnly":false,"path":"/p","sameSite":true}"#
        );
    }

    #[test]
    fn bad_fields_are_errors() {
        assert_eq!(CookieInfo::from_json("[]"), Err(CookieError::Missing));
        assert_eq!(CookieInfo::from_json("{"), Err(CookieError::Missing));
        for (text, field) in [
            (r#"{"originalMaxAge":1.5}"#, "originalMaxAge"),
            (r#"{"originalMaxAge":"1"}"#, "originalMaxAge"),
            (r#"{"expires":"tomorrow"}"#, "expires"),
            (r#"{"expires":5}"#, "expires"),
            (r#"{"httpOnly":null}"#, "httpOnly"),
            (r#"{"path":1}"#, "path"),
            (r#"{"sameSite":1}"#, "sameSite"),
        ] {
            assert_eq!(
                CookieInfo::from_json(text),
                Err(CookieError::Field(field)),
                "{text}"
            );
        }
    }
}
