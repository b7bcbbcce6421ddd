//! [`KoaCookies`]: koa-session's cookie mode as a satchel [`CookieSealer`], so a satchel
//! engine reads and writes the very `koa.sess` / `koa.sess.sig` cookies a Koa app does.
//!
//! ```text
//! let sealer = KoaCookies::new(Keygrip::new(["key1", "key2"])?);
//! let engine = Engine::stateless(Stateless::new(sealer), config_named("koa.sess"));
//! ```
//!
//! What Koa's format can and cannot carry, and how that is handled:
//! - the data is readable (base64 JSON, signed, not encrypted): that is the format; prefer
//!   satchel-cookie for anything new;
//! - keys starting with `_` are never stored (Koa drops them), so flash messages do not
//!   survive a request in this mode;
//! - the owner travels as an ordinary property (`user` by default), which is what Koa code
//!   reads as `ctx.session.user`;
//! - there is no session id and no issue time in the cookie, so a cookie replayed after
//!   logout stays valid until its `_expire`, exactly as in Koa; the idle deadline is
//!   `_expire`, and Koa has no absolute deadline;
//! - a cookie signed with an older key (keygrip index > 0) is re-signed with the first key
//!   on that response, as the `cookies` package does.

use std::time::Duration;

use satchel::sealed::{CookieSealer, OpenError, Opened, Unsealed};
use satchel::{Meta, Record, SessionId, StoreError, StoreErrorKind, Timestamp};

use super::{decode_signed, encode, MaxAge, ONE_DAY_MS};
use crate::cookies::{signature, SIGNATURE_SUFFIX};
use crate::keygrip::Keygrip;
use crate::payload::split_owner;
use crate::{OrderedData, PayloadError};

/// How far in the future "no absolute deadline" lies (Koa has none): about 285 million
/// years, far enough never to bind, small enough for every timestamp sum to stay exact.
const NO_ABSOLUTE_DEADLINE: Timestamp = Timestamp::from_millis(1 << 62);

/// koa-session cookie mode (`koa.sess` + `koa.sess.sig`, keygrip-signed base64 JSON).
pub struct KoaCookies {
    keys: Keygrip,
    owner_key: Option<String>,
}

impl std::fmt::Debug for KoaCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KoaCookies")
            .field("keys", &self.keys.len())
            .field("owner_key", &self.owner_key)
            .finish()
    }
}

impl KoaCookies {
    /// Cookies signed with `keys` (Koa's `app.keys`: the first signs, all verify), with the
    /// session owner in the `user` property.
    pub fn new(keys: Keygrip) -> Self {
        KoaCookies {
            keys,
            owner_key: Some("user".to_owned()),
        }
    }

    /// Which property carries the satchel owner (`None`: the owner is not kept).
    pub fn owner_key(mut self, key: Option<String>) -> Self {
        self.owner_key = key;
        self
    }

    fn payload(&self, unsealed: &Unsealed) -> Result<(OrderedData, i64, i64), StoreError> {
        let mut data = OrderedData::new();
        for (key, value) in unsealed.record.data.iter() {
            data.insert(key.as_str(), value.get())
                .map_err(|_| StoreError::corrupt("session value is not JSON"))?;
        }
        if let (Some(key), Some(owner)) = (&self.owner_key, &unsealed.record.meta.owner) {
            data.insert_serialize(key.as_str(), owner)
                .map_err(|_| StoreError::corrupt("owner is not serialisable"))?;
        }
        let meta = &unsealed.record.meta;
        let max_age = i64::try_from(meta.idle_timeout.as_millis()).unwrap_or(ONE_DAY_MS);
        let expire = i64::try_from(meta.idle_deadline.as_millis()).unwrap_or(i64::MAX);
        Ok((data, max_age, expire))
    }
}

impl CookieSealer for KoaCookies {
    fn seal(&self, _cookie_name: &str, plaintext: &[u8]) -> Result<String, StoreError> {
        let unsealed = Unsealed::from_plaintext(plaintext)?;
        let (data, max_age, expire) = self.payload(&unsealed)?;
        // koa-session writes `_expire = now + maxAge`; "now" is chosen so that `_expire`
        // is exactly the engine's idle deadline.
        encode(
            &data,
            Some(MaxAge::Ms(max_age)),
            expire.saturating_sub(max_age),
        )
        .map_err(|e| match e {
            PayloadError::ReservedKey(_) => StoreError::msg(
                StoreErrorKind::Backend,
                "a session key koa-session cannot hold (see koa::RESERVED_KEYS)",
            ),
            _ => StoreError::msg(StoreErrorKind::Backend, "koa payload encoding failed"),
        })
    }

    fn open(&self, _cookie_name: &str, _sealed: &str) -> Result<Opened, OpenError> {
        // Only ever reached without a `.sig` cookie: unsigned Koa cookies are not trusted.
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
        // The engine checks deadlines on its own clock: decode with "now" before any
        // `_expire`.
        let (payload, key_index) =
            decode_signed(cookie_name, sealed, companion, &self.keys, i64::MIN)
                .map_err(|e| e.open_error())?;
        let (data, owner) = split_owner(&payload.data, self.owner_key.as_deref())?;
        let max_age = match payload.max_age {
            Some(MaxAge::Ms(ms)) if ms > 0 => ms,
            _ => ONE_DAY_MS,
        };
        let idle_timeout = Duration::from_millis(u64::try_from(max_age).unwrap_or(0));
        let idle_deadline = payload.expire_ms.map_or(NO_ABSOLUTE_DEADLINE, |ms| {
            Timestamp::from_millis(u64::try_from(ms).unwrap_or(0))
        });
        let created_at = Timestamp::from_millis(
            idle_deadline
                .as_millis()
                .saturating_sub(u64::try_from(max_age).unwrap_or(0)),
        );
        let record = Record {
            data,
            meta: Meta {
                created_at,
                idle_timeout,
                idle_deadline,
                absolute_deadline: NO_ABSOLUTE_DEADLINE,
                persistent: true,
                owner,
            },
        };
        // Koa cookies carry no id: a fresh random one stands in (so revocation has nothing
        // to hold on to, as in Koa).
        let unsealed = Unsealed {
            id: SessionId::generate(),
            issued_at: created_at,
            record,
        };
        Ok(Opened {
            plaintext: unsealed.to_plaintext(),
            stale_key: key_index != 0,
        })
    }
}
