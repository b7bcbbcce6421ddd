//! [`StoredSession`]: the JSON text connect-redis stores for an express-session session.

use crate::data::{ObjectWriter, OrderedData};
use crate::express::{is_reserved_key, CookieError, CookieInfo};
use crate::json::{self, JsonError};

/// One stored express-session session: `{"cookie":{…}, …properties}`. The id is not part
/// of it (it is in the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The session cookie's attributes and expiry, as Express keeps them.
    pub cookie: CookieInfo,
    /// The properties Express code sees as `req.session.<key>`, in JavaScript order.
    pub data: OrderedData,
    /// How many non-index properties precede `cookie` (0 for sessions Express creates, which
    /// get their cookie first). Index keys always come first in JavaScript.
    cookie_slot: usize,
    /// The JSON text of `cookie.satchel`, when present: what a satchel store records that
    /// express-session has no field for (see [`EXTENSION_MEMBER`]).
    extension: Option<String>,
}

/// The one member of the stored `cookie` object that is not express-session's own:
/// `cookie.satchel`, where the satchel store keeps the deadlines Express has no field
/// for. express-session copies unknown cookie members onto its `Cookie` object when it
/// loads a session and leaves them out when it saves one (its `toJSON` lists its own
/// fields only), so Express code never depends on it and an Express write removes it.
pub const EXTENSION_MEMBER: &str = "satchel";

/// Why a stored value is not a session express-session could load, or a session cannot be
/// written so that Node loads it back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Not JSON: connect-redis's `JSON.parse` throws and Express answers 500.
    #[error("the stored session is not JSON: {0}")]
    Json(#[from] JsonError),
    /// JSON, but not an object.
    #[error("the stored session is not a JSON object")]
    NotAnObject,
    /// The `cookie` object is missing or malformed.
    #[error(transparent)]
    Cookie(#[from] CookieError),
    /// A property Express would never hand to application code (see
    /// [`RESERVED_KEYS`](crate::express::RESERVED_KEYS)); refused on write.
    #[error("`{0}` cannot be an express-session property")]
    ReservedKey(String),
}

impl StoredSession {
    /// A session as express-session creates it: the cookie first, then `data`.
    pub fn new(cookie: CookieInfo, data: OrderedData) -> Self {
        StoredSession {
            cookie,
            data,
            cookie_slot: 0,
            extension: None,
        }
    }

    /// The JSON text of the `cookie.satchel` member, if the record has one.
    // Only the satchel store (feature `redis`) reads and writes it.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// Sets (or with `None` removes) the `cookie.satchel` member; `json` must be canonical
    /// JSON text.
    // Only the satchel store (feature `redis`) reads and writes it.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn set_extension(&mut self, json: Option<String>) {
        self.extension = json;
    }

    /// Reads a stored value as `Store#createSession` does. Properties that Express never
    /// restores onto a session (`id`, `save`, `__proto__`, … see
    /// [`RESERVED_KEYS`](crate::express::RESERVED_KEYS)) are dropped, as Node drops them.
    ///
    /// # Errors
    /// See [`RecordError`]; each is a load Express fails with a 500.
    pub fn from_json(text: &str) -> Result<Self, RecordError> {
        let members = json::object_members(text)?.ok_or(RecordError::NotAnObject)?;
        let mut cookie = None;
        let mut extension = None;
        let mut cookie_slot = 0;
        let mut kept = Vec::with_capacity(members.len());
        for (key, value) in members {
            if key == "cookie" {
                cookie = Some(CookieInfo::from_json(&value)?);
                extension = extension_of(&value);
            } else if !is_reserved_key(&key) {
                if cookie.is_none() && json::array_index(&key).is_none() {
                    cookie_slot += 1;
                }
                kept.push((key, value));
            }
        }
        Ok(StoredSession {
            cookie: cookie.ok_or(CookieError::Missing)?,
            data: OrderedData::from_canonical(kept),
            cookie_slot,
            extension,
        })
    }

    /// `JSON.stringify(session)` byte for byte: properties in order with the cookie object
    /// where it was (first for new sessions).
    ///
    /// # Errors
    /// [`RecordError::ReservedKey`] when `data` holds a key Express would not load back.
    pub fn to_json(&self) -> Result<String, RecordError> {
        if let Some((key, _)) = self.data.iter().find(|(k, _)| is_reserved_key(k)) {
            return Err(RecordError::ReservedKey(key.to_owned()));
        }
        let cookie = self
            .cookie
            .to_json_with(self.extension.as_deref().map(|e| (EXTENSION_MEMBER, e)));
        let mut out = ObjectWriter::new();
        let mut non_index = 0;
        let mut cookie_done = false;
        for (key, value) in self.data.iter() {
            if json::array_index(key).is_none() {
                if non_index == self.cookie_slot && !cookie_done {
                    out.member("cookie", &cookie);
                    cookie_done = true;
                }
                non_index += 1;
            }
            out.member(key, value);
        }
        if !cookie_done {
            out.member("cookie", &cookie);
        }
        Ok(out.finish())
    }
}

/// The `satchel` member of a (valid) cookie object's JSON text; `null` counts as absent.
fn extension_of(cookie: &str) -> Option<String> {
    json::object_members(cookie)
        .ok()
        .flatten()?
        .into_iter()
        .find(|(k, _)| k == EXTENSION_MEMBER)
        .map(|(_, v)| v)
        .filter(|v| v != "null")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"cookie":{"originalMaxAge":3600000,"expires":"2026-01-01T01:00:00.123Z","httpOnly":true,"path":"/"},"user":"alice","n":3,"nested":{"a":[1,2]},"unicode":"héllo ✓"}"#;

    #[test]
    fn round_trip_is_byte_exact() {
        let s = StoredSession::from_json(RECORD).expect("valid");
        assert_eq!(s.data.get("unicode"), Some("\"héllo ✓\""));
        assert_eq!(s.to_json().as_deref(), Ok(RECORD));
    }

    #[test]
    fn keeps_the_cookie_position_and_unknown_keys() {
        let text = r#"{"a":1,"7":true,"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"z":{"y":[]}}"#;
        let s = StoredSession::from_json(text).expect("valid");
        let want = r#"{"7":true,"a":1,"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"z":{"y":[]}}"#;
        assert_eq!(s.to_json().as_deref(), Ok(want));
        let mut s = s;
        s.data.remove("a");
        s.data.remove("z");
        assert!(s.to_json().is_ok_and(|j| j.ends_with(r#""path":"/"}}"#)));
    }

    #[test]
    fn drops_what_express_drops_and_refuses_to_write_it() {
        let text = r#"{"cookie":{"path":"/"},"id":1,"save":2,"__proto__":3,"user":4}"#;
        let mut s = StoredSession::from_json(text).expect("valid");
        assert_eq!(s.data.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["user"]);
        s.data.insert("save", "1").expect("json");
        assert_eq!(s.to_json(), Err(RecordError::ReservedKey("save".into())));
    }

    #[test]
    fn keeps_the_satchel_member_of_the_cookie() {
        let text = r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/","satchel":{"created":1}},"n":1}"#;
        let mut s = StoredSession::from_json(text).expect("valid");
        assert_eq!(s.extension(), Some(r#"{"created":1}"#));
        assert_eq!(s.to_json().as_deref(), Ok(text));
        s.set_extension(None);
        assert!(s.to_json().is_ok_and(|j| !j.contains("satchel")));
    }

    #[test]
    fn foreign_records_fail_like_express() {
        assert!(matches!(
            StoredSession::from_json("not json"),
            Err(RecordError::Json(_))
        ));
        assert_eq!(
            StoredSession::from_json("[1]"),
            Err(RecordError::NotAnObject)
        );
        assert_eq!(
            StoredSession::from_json(r#"{"user":"x"}"#),
            Err(RecordError::Cookie(CookieError::Missing))
        );
        assert_eq!(
            StoredSession::from_json(r#"{"cookie":null}"#),
            Err(RecordError::Cookie(CookieError::Missing))
        );
    }
}
