//! [`RedisStoreOptions`]: connect-redis's options, and the commands its store methods send.

use super::record::{RecordError, StoredSession};
use super::ttl::Ttl;

/// One Redis command as sent: name then arguments, all strings (numbers in decimal), e.g.
/// `["SET", "sess:abc", "{…}", "EX", "3600"]`.
pub type Command = Vec<String>;

/// connect-redis's default key prefix.
pub const DEFAULT_PREFIX: &str = "sess:";

/// connect-redis's default `COUNT` for `SCAN`.
pub const DEFAULT_SCAN_COUNT: u32 = 100;

/// The options of `new RedisStore({...})` that change what is sent.
#[derive(Debug, Clone)]
pub struct RedisStoreOptions {
    /// `prefix` (default `sess:`; an empty prefix is honoured).
    pub prefix: String,
    /// `ttl` (default 86400 seconds for sessions without an expiry).
    pub ttl: Ttl,
    /// `disableTTL`: `SET` without expiry, and no touch.
    pub disable_ttl: bool,
    /// `disableTouch`: no `EXPIRE` on touch.
    pub disable_touch: bool,
    /// `scanCount` (default 100; 0 means the default).
    pub scan_count: u32,
}

impl Default for RedisStoreOptions {
    fn default() -> Self {
        RedisStoreOptions {
            prefix: DEFAULT_PREFIX.to_owned(),
            ttl: Ttl::default(),
            disable_ttl: false,
            disable_touch: false,
            scan_count: DEFAULT_SCAN_COUNT,
        }
    }
}

fn command<const N: usize>(parts: [&str; N]) -> Command {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

impl RedisStoreOptions {
    /// The Redis key of session `sid`: prefix + the raw id.
    pub fn key(&self, sid: &str) -> String {
        format!("{}{sid}", self.prefix)
    }

    /// The session id in a key listed by `SCAN`, if it has the prefix.
    pub fn id_of_key<'a>(&self, key: &'a str) -> Option<&'a str> {
        key.strip_prefix(self.prefix.as_str())
    }

    /// The TTL in seconds connect-redis computes for `session` at `now_ms` (see
    /// [`Ttl::seconds`]).
    pub fn ttl(&self, session: &StoredSession, now_ms: i64) -> i64 {
        self.ttl.seconds(session, now_ms)
    }

    /// `store.get(sid)`: `GET key`.
    pub fn get_command(&self, sid: &str) -> Command {
        command(["GET", &self.key(sid)])
    }

    /// The session in a `GET` reply. `Ok(None)` when there is none: a missing key, an
    /// empty string (connect-redis's `if (!data)`), or JSON whose value is falsy in
    /// JavaScript (`null`, `false`, `0`, `""`; express-session's `if (!sess)`).
    ///
    /// # Errors
    /// Where express-session fails the request with a 500 (see [`RecordError`]).
    pub fn parse_get_reply(reply: Option<&str>) -> Result<Option<StoredSession>, RecordError> {
        let Some(text) = reply.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let canonical = crate::json::canonicalize(text)?;
        if matches!(canonical.as_str(), "null" | "false" | "0" | "\"\"") {
            return Ok(None);
        }
        StoredSession::from_json(&canonical).map(Some)
    }

    /// `store.set(sid, session)` at `now_ms`: `SET key json EX ttl`, `SET key json` with
    /// `disableTTL`, or `DEL key` when the TTL is not positive (even with `disableTTL`).
    ///
    /// express-session touches the session (see
    /// [`CookieInfo::touch`](crate::express::CookieInfo::touch)) before it saves it.
    ///
    /// # Errors
    /// [`RecordError::ReservedKey`] (see [`StoredSession::to_json`]).
    pub fn set_command(
        &self,
        sid: &str,
        session: &StoredSession,
        now_ms: i64,
    ) -> Result<Command, RecordError> {
        let ttl = self.ttl(session, now_ms);
        if ttl <= 0 {
            return Ok(self.destroy_command(sid));
        }
        let json = session.to_json()?;
        let key = self.key(sid);
        Ok(if self.disable_ttl {
            command(["SET", &key, &json])
        } else {
            command(["SET", &key, &json, "EX", &ttl.to_string()])
        })
    }

    /// `store.touch(sid, session)` at `now_ms`: `EXPIRE key ttl` (a negative TTL makes
    /// Redis delete the key), or nothing with `disableTouch` / `disableTTL`.
    pub fn touch_command(
        &self,
        sid: &str,
        session: &StoredSession,
        now_ms: i64,
    ) -> Option<Command> {
        if self.disable_touch || self.disable_ttl {
            return None;
        }
        let ttl = self.ttl(session, now_ms).to_string();
        Some(command(["EXPIRE", &self.key(sid), &ttl]))
    }

    /// `store.destroy(sid)`: `DEL key`.
    pub fn destroy_command(&self, sid: &str) -> Command {
        command(["DEL", &self.key(sid)])
    }

    /// One step of the key listing behind `length`, `ids`, `all` and `clear`:
    /// `SCAN cursor MATCH prefix* COUNT n`, repeated until Redis returns cursor `0`.
    pub fn scan_command(&self, cursor: &str) -> Command {
        let count = if self.scan_count == 0 {
            DEFAULT_SCAN_COUNT
        } else {
            self.scan_count
        };
        let pattern = format!("{}*", self.prefix);
        command([
            "SCAN",
            cursor,
            "MATCH",
            &pattern,
            "COUNT",
            &count.to_string(),
        ])
    }

    /// `store.all()` after the scan: `MGET keys…` (nothing when no key was found).
    pub fn mget_command(&self, keys: &[String]) -> Option<Command> {
        Self::multi_key("MGET", keys)
    }

    /// `store.clear()` after the scan: one `DEL keys…` (nothing when no key was found).
    pub fn clear_command(&self, keys: &[String]) -> Option<Command> {
        Self::multi_key("DEL", keys)
    }

    fn multi_key(name: &str, keys: &[String]) -> Option<Command> {
        (!keys.is_empty()).then(|| {
            std::iter::once(name.to_owned())
                .chain(keys.iter().cloned())
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::express::CookieInfo;
    use crate::OrderedData;

    const NOW: i64 = 1_767_225_600_123;

    fn session(max_age: Option<i64>) -> StoredSession {
        let mut data = OrderedData::new();
        data.insert("user", "\"alice\"").expect("json");
        StoredSession::new(CookieInfo::new(max_age, NOW), data)
    }

    #[test]
    fn set_touch_destroy() {
        let opts = RedisStoreOptions::default();
        let set = opts
            .set_command("abc", &session(Some(3_600_000)), NOW)
            .expect("set");
        assert_eq!(set[..2], ["SET", "sess:abc"]);
        assert_eq!(set[3..], ["EX", "3600"]);
        let set = opts.set_command("abc", &session(None), NOW).expect("set");
        assert_eq!(set[3..], ["EX", "86400"]);
        let expired = opts
            .set_command("abc", &session(Some(0)), NOW)
            .expect("set");
        assert_eq!(expired, ["DEL", "sess:abc"]);
        assert_eq!(
            opts.touch_command("abc", &session(Some(1500)), NOW),
            Some(command(["EXPIRE", "sess:abc", "2"]))
        );
        let quiet = RedisStoreOptions {
            disable_touch: true,
            ..RedisStoreOptions::default()
        };
        assert_eq!(quiet.touch_command("abc", &session(None), NOW), None);
    }

    #[test]
    fn get_reply() {
        assert_eq!(RedisStoreOptions::parse_get_reply(None), Ok(None));
        for falsy in ["", "null", " false", "0", "-0", "\"\"", "0.0"] {
            assert_eq!(
                RedisStoreOptions::parse_get_reply(Some(falsy)),
                Ok(None),
                "{falsy}"
            );
        }
        assert!(RedisStoreOptions::parse_get_reply(Some("nope")).is_err());
        assert!(RedisStoreOptions::parse_get_reply(Some("1")).is_err());
    }
}
