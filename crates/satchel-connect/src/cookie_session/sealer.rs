//! [`CookieSessionCookies`]: Express's cookie-session 2.x as a satchel `CookieSealer`.

use std::sync::Arc;
use std::time::Duration;

use satchel::sealed::{CookieSealer, OpenError, Opened, Unsealed};
use satchel::{Clock, Meta, Record, SessionId, StoreError, StoreErrorKind, SystemClock, Timestamp};

use super::{decode_signed, encode};
use crate::cookies::{signature, SIGNATURE_SUFFIX};
use crate::keygrip::Keygrip;
use crate::payload::split_owner;
use crate::{OrderedData, PayloadError};

/// How far in the future "no absolute deadline" lies (cookie-session has none): about 146
/// million years, far enough never to bind, small enough for every timestamp sum to stay
/// exact.
const NO_ABSOLUTE_DEADLINE: Timestamp = Timestamp::from_millis(1 << 62);

/// Express's cookie-session 2.x (`session` + `session.sig`, keygrip-signed base64 JSON, no
/// expiry in the payload) as a satchel [`CookieSealer`], so a satchel engine reads and
/// writes the very cookies an Express app using cookie-session does.
///
/// ```
/// use std::time::Duration;
/// use satchel::{Engine, SessionConfig, Stateless};
/// use satchel_connect::{cookie_session::CookieSessionCookies, keygrip::Keygrip};
///
/// let max_age = Duration::from_secs(3600); // cookie-session's `maxAge`
/// let sealer = CookieSessionCookies::new(Keygrip::new(["key1", "key2"])?, max_age);
/// let config = SessionConfig::builder()
///     .cookie_name("session")  // cookie-session's `name`
///     .idle_timeout(max_age)   // the same lifetime for sessions Rust creates
///     .build()?;
/// let engine = Engine::stateless(Stateless::new(sealer), config);
/// # let _ = engine;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// What cookie-session's format can and cannot carry, and how that is handled:
/// - the data is readable (base64 JSON, signed, not encrypted): that is the format; prefer
///   satchel-cookie for anything new;
/// - keys starting with `_` are kept (cookie-session keeps them, so flash messages work);
///   the names in [`RESERVED_KEYS`](super::RESERVED_KEYS) are dropped on read, as Node
///   skips them, and refused on write (a `Backend` store error), since Node would lose
///   them;
/// - the owner travels as an ordinary property (`user` by default), which is what Express
///   code reads as `req.session.user`; a non-string `user` stays ordinary data;
/// - **lifetime**: the payload holds no expiry, no issue time and no id. cookie-session's
///   only lifetime is the cookie's own `Expires` (now + `maxAge` at each write), which the
///   browser enforces. This sealer does the same on the server side: every cookie that
///   opens is valid for the configured max age *from the moment it is opened* (idle
///   deadline = open time + max age, no absolute deadline), and the record is persistent,
///   so every cookie satchel writes carries `Max-Age` = max age. That is **no worse than
///   cookie-session: a copied cookie is valid until the browser would have dropped it, and
///   forever if replayed by hand** (also after logout: there is nothing to revoke). A
///   read-only request re-seals nothing, as in cookie-session, so an honest browser still
///   drops the cookie max age after the last write. A session Rust creates gets the
///   engine's configuration until it is next opened (set `idle_timeout` to the same max
///   age, and `Expiry::Persistent` at login for a persistent first cookie); an absolute
///   timeout does not survive the round trip. For a cookie-session app without `maxAge`
///   see [`CookieSessionCookies::browser_session_cookies`]. Use `satchel-cookie`
///   (encrypted, with idle and absolute deadlines inside the cookie and optional
///   revocation) where that matters;
/// - a cookie signed with an older key (keygrip index > 0) is re-signed with the first key
///   on that response; satchel re-sends the value cookie with its attributes too, where
///   cookie-session re-sends only a `.sig` without `Expires`;
/// - a session larger than one cookie is refused with `TooLarge` (never chunked).
pub struct CookieSessionCookies {
    keys: Keygrip,
    max_age: Duration,
    owner_key: Option<String>,
    persistent: bool,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for CookieSessionCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieSessionCookies")
            .field("keys", &self.keys.len())
            .field("max_age", &self.max_age)
            .field("owner_key", &self.owner_key)
            .field("persistent", &self.persistent)
            .field("clock", &self.clock)
            .finish()
    }
}

impl CookieSessionCookies {
    /// Cookies signed with `keys` (cookie-session's `keys`: the first signs, all verify),
    /// each opened cookie valid for `max_age` (cookie-session's `maxAge`) from the moment
    /// it is opened, the owner in the `user` property, the system clock.
    ///
    /// A zero `max_age` opens nothing (every cookie is expired on arrival).
    pub fn new(keys: Keygrip, max_age: Duration) -> Self {
        CookieSessionCookies {
            keys,
            max_age,
            owner_key: Some("user".to_owned()),
            persistent: true,
            clock: Arc::new(SystemClock),
        }
    }

    /// Which property carries the satchel owner (`None`: the owner is not kept).
    pub fn owner_key(mut self, key: Option<String>) -> Self {
        self.owner_key = key;
        self
    }

    /// For a cookie-session app without `maxAge` (browser-session cookies): opened
    /// sessions are not persistent, so the cookies satchel re-seals carry no `Max-Age`
    /// either. The server still treats each opened cookie as valid for the max age given
    /// to [`CookieSessionCookies::new`] from the open.
    pub fn browser_session_cookies(mut self) -> Self {
        self.persistent = false;
        self
    }

    /// Reads "now" (the start of an opened cookie's lifetime) from `clock`: give it the
    /// engine's clock when that is not the system clock (tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The lifetime each opened cookie gets.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The session's properties as cookie-session holds them: the owner first (where
    /// Express code sets it at login), then the data in order.
    fn payload(&self, unsealed: &Unsealed) -> Result<OrderedData, StoreError> {
        let mut data = OrderedData::new();
        let owner = match (&self.owner_key, &unsealed.record.meta.owner) {
            (Some(key), Some(owner)) => {
                data.insert_serialize(key.as_str(), owner)
                    .map_err(|_| StoreError::corrupt("owner is not serialisable"))?;
                Some(key.as_str())
            }
            _ => None,
        };
        for (key, value) in unsealed.record.data.iter() {
            if owner == Some(key.as_str()) {
                continue; // the owner wins over a same-named data key
            }
            data.insert(key.as_str(), value.get())
                .map_err(|_| StoreError::corrupt("session value is not JSON"))?;
        }
        Ok(data)
    }
}

impl CookieSealer for CookieSessionCookies {
    fn seal(&self, _cookie_name: &str, plaintext: &[u8]) -> Result<String, StoreError> {
        let unsealed = Unsealed::from_plaintext(plaintext)?;
        // Only the data goes out: cookie-session's payload has no room for deadlines.
        encode(&self.payload(&unsealed)?).map_err(|e| match e {
            PayloadError::ReservedKey(_) => StoreError::msg(
                StoreErrorKind::Backend,
                "a session key cookie-session cannot hold (see cookie_session::RESERVED_KEYS)",
            ),
            _ => StoreError::msg(
                StoreErrorKind::Backend,
                "cookie-session payload encoding failed",
            ),
        })
    }

    fn open(&self, _cookie_name: &str, _sealed: &str) -> Result<Opened, OpenError> {
        // Only ever reached without a `.sig` cookie: unsigned cookies are not trusted.
        Err(OpenError::Tampered)
    }

    fn companion_suffix(&self) -> Option<&str> {
        Some(SIGNATURE_SUFFIX)
    }

    fn companion(&self, cookie_name: &str, sealed: &str) -> Option<String> {
        Some(signature(&self.keys, cookie_name, sealed))
    }

    fn open_with_companion(
        &self,
        cookie_name: &str,
        sealed: &str,
        companion: Option<&str>,
    ) -> Result<Opened, OpenError> {
        let (payload, key_index) = decode_signed(cookie_name, sealed, companion, &self.keys)
            .map_err(|e| e.open_error())?;
        let (data, owner) = split_owner(&payload, self.owner_key.as_deref())?;
        // No expiry in the payload: valid for max age from now, as the browser would keep
        // a cookie cookie-session wrote now (see the module docs).
        let now = self.clock.now();
        let mut meta = Meta::new(now, self.max_age, Duration::MAX);
        meta.absolute_deadline = NO_ABSOLUTE_DEADLINE;
        meta.touch(now);
        meta.persistent = self.persistent;
        meta.owner = owner;
        // No id in the cookie either: a fresh random one stands in (so revocation has
        // nothing to hold on to, as in cookie-session).
        let unsealed = Unsealed {
            id: SessionId::generate(),
            issued_at: now,
            record: Record { data, meta },
        };
        Ok(Opened {
            plaintext: unsealed.to_plaintext(),
            stale_key: key_index != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use satchel::{Data, TestClock, Value};

    use super::*;

    const NAME: &str = "session";
    const HOUR: Duration = Duration::from_secs(3600);

    fn sealer(keys: &[&str], clock: &TestClock) -> CookieSessionCookies {
        CookieSessionCookies::new(Keygrip::new(keys.iter().copied()).unwrap(), HOUR)
            .clock(clock.clone())
    }

    fn record(owner: Option<&str>, entries: &[(&str, &str)]) -> Unsealed {
        let now = Timestamp::from_millis(1_767_225_600_123);
        let mut meta = Meta::new(now, Duration::from_secs(60), Duration::from_secs(600));
        meta.owner = owner.map(str::to_owned);
        let mut data = Data::new();
        for (k, v) in entries {
            data.insert((*k).to_owned(), Value::from_json(*v).unwrap());
        }
        Unsealed {
            id: SessionId::generate(),
            issued_at: now,
            record: Record { data, meta },
        }
    }

    fn seal(s: &CookieSessionCookies, u: &Unsealed) -> (String, String) {
        let value = s.seal(NAME, &u.to_plaintext()).unwrap();
        let sig = s.companion(NAME, &value).unwrap();
        (value, sig)
    }

    fn open(
        s: &CookieSessionCookies,
        value: &str,
        sig: Option<&str>,
    ) -> Result<Unsealed, OpenError> {
        let opened = s.open_with_companion(NAME, value, sig)?;
        assert!(!opened.stale_key);
        Ok(Unsealed::from_plaintext(&opened.plaintext).unwrap())
    }

    #[test]
    fn writes_exactly_what_cookie_session_writes() {
        let clock = TestClock::default();
        let s = sealer(&["key1", "key2"], &clock);
        let (value, sig) = seal(
            &s,
            &record(Some("alice"), &[("n", "2"), ("_flash", "\"hi\"")]),
        );
        // The owner first, as Express code sets it at login; then the data (in satchel's
        // key order), `_` keys included.
        let json = r#"{"user":"alice","_flash":"hi","n":2}"#;
        assert_eq!(value, crate::b64::standard(json.as_bytes()));
        // keygrip HMAC-SHA1 over `session=<value>` with the first key.
        assert_eq!(
            sig,
            Keygrip::new(["key1"])
                .unwrap()
                .sign(&format!("session={value}"))
        );
        assert_eq!(s.companion_suffix(), Some(".sig"));
    }

    #[test]
    fn round_trip_gives_max_age_from_the_open() {
        let clock = TestClock::default();
        let s = sealer(&["key1"], &clock);
        let (value, sig) = seal(&s, &record(Some("alice"), &[("n", "2"), ("_x", "[1]")]));
        clock.advance(Duration::from_secs(86_400));
        let now = clock.now();
        let back = open(&s, &value, Some(&sig)).unwrap();
        let meta = &back.record.meta;
        assert_eq!(meta.owner.as_deref(), Some("alice"));
        assert_eq!(back.record.data.get("n").map(Value::get), Some("2"));
        assert_eq!(back.record.data.get("_x").map(Value::get), Some("[1]"));
        assert!(back.record.data.get("user").is_none());
        assert_eq!(meta.idle_timeout, HOUR);
        assert_eq!(meta.idle_deadline, now.saturating_add(HOUR));
        assert_eq!(meta.expires_at(), now.saturating_add(HOUR));
        assert!(meta.persistent);
        assert!(!meta.is_expired(now.saturating_add(HOUR - Duration::from_millis(1))));
        assert!(meta.is_expired(now.saturating_add(HOUR)));
        // Sealed again, it is the same cookie.
        assert_eq!(seal(&s, &back), (value, sig));
    }

    #[test]
    fn browser_session_cookies_are_not_persistent() {
        let clock = TestClock::default();
        let s = sealer(&["key1"], &clock).browser_session_cookies();
        let (value, sig) = seal(&s, &record(None, &[("n", "1")]));
        let back = open(&s, &value, Some(&sig)).unwrap();
        let meta = back.record.meta;
        assert!(!meta.persistent && meta.owner.is_none());
        assert_eq!(meta.idle_deadline, clock.now().saturating_add(HOUR));
    }

    #[test]
    fn express_sessions_open_with_their_quirks() {
        let clock = TestClock::default();
        let s = sealer(&["key1"], &clock);
        let sign = |v: &str| s.companion(NAME, v).unwrap();
        // Node skips reserved names on load and keeps the rest; a non-string `user` is
        // data, not an owner.
        let v = crate::b64::standard(br#"{"user":{"id":7},"isNew":true,"toString":1,"n":1}"#);
        let back = open(&s, &v, Some(&sign(&v))).unwrap();
        assert!(back.record.meta.owner.is_none());
        assert_eq!(
            back.record.data.get("user").map(Value::get),
            Some(r#"{"id":7}"#)
        );
        assert!(back.record.data.get("isNew").is_none());
        assert_eq!(back.record.data.len(), 2);
        // Unpadded / URL-safe base64 as Node's lenient decoder reads it.
        let v = "eyJ1c2VyIjoiYm9iIn0";
        let back = open(&s, v, Some(&sign(v))).unwrap();
        assert_eq!(back.record.meta.owner.as_deref(), Some("bob"));
        // Signed garbage is malformed, not a panic.
        for v in ["", "!!!", "bnVsbA==", "WzFd", "e30", "////"] {
            let r = s.open_with_companion(NAME, v, Some(&sign(v)));
            assert!(r.is_err() || v == "e30", "{v}: {r:?}");
        }
        // A reserved key is refused on write.
        let err = s
            .seal(NAME, &record(None, &[("isPopulated", "1")]).to_plaintext())
            .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Backend);
    }

    #[test]
    fn tampering_is_rejected() {
        let clock = TestClock::default();
        let s = sealer(&["key1", "key2"], &clock);
        let (value, sig) = seal(&s, &record(Some("alice"), &[("admin", "false")]));
        let forged = crate::b64::standard(br#"{"user":"alice","admin":true}"#);
        let reject = |v: &str, g: Option<&str>| s.open_with_companion(NAME, v, g).unwrap_err();
        assert_eq!(reject(&forged, Some(&sig)), OpenError::Tampered);
        assert_eq!(reject(&value, None), OpenError::Tampered);
        assert_eq!(reject(&value, Some("")), OpenError::Tampered);
        assert_eq!(reject(&value, Some(&sig[1..])), OpenError::Tampered);
        assert_eq!(s.open(NAME, &value).unwrap_err(), OpenError::Tampered);
        // Moved to another cookie name: the signature covers the name.
        let moved = s.open_with_companion("other", &value, Some(&sig));
        assert_eq!(moved.unwrap_err(), OpenError::Tampered);
        // Signed with a key this app does not hold.
        let stranger = sealer(&["key3"], &clock);
        let (v, g) = seal(&stranger, &record(Some("eve"), &[]));
        assert_eq!(reject(&v, Some(&g)), OpenError::Tampered);
    }

    #[test]
    fn an_older_key_opens_stale_and_is_resigned_with_the_first() {
        let clock = TestClock::default();
        let old = sealer(&["key2"], &clock);
        let rotated = sealer(&["key1", "key2"], &clock);
        let (value, sig) = seal(&old, &record(Some("bob"), &[("n", "1")]));
        let opened = rotated
            .open_with_companion(NAME, &value, Some(&sig))
            .unwrap();
        assert!(opened.stale_key);
        let back = Unsealed::from_plaintext(&opened.plaintext).unwrap();
        let (again, new_sig) = seal(&rotated, &back);
        assert_eq!(again, value);
        assert_ne!(new_sig, sig);
        assert!(
            !rotated
                .open_with_companion(NAME, &again, Some(&new_sig))
                .unwrap()
                .stale_key
        );
    }
}
