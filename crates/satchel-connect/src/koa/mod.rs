//! koa-session 7 (same output as 6.x and 5.x): cookie mode (`koa.sess` + `koa.sess.sig`)
//! and the external-store records koa-redis keeps.
//!
//! The payload is the session's public properties in insertion order (keys starting with
//! `_` are never stored), then `_expire` (now + maxAge, milliseconds since the epoch) and
//! `_maxAge`, or `_session: true` for `maxAge: 'session'`. In cookie mode it travels as
//! standard padded base64; the `.sig` cookie is [`keygrip`](crate::keygrip) HMAC-SHA1 over
//! `koa.sess=<value>` with Koa's `app.keys`.
//!
//! On read, a payload whose `_expire` is a number in the past is refused; one without
//! `_expire` (e.g. written by cookie-session) is accepted and never expires by payload; a
//! payload's `_maxAge` replaces the configured `maxAge` for that session.
//!
//! Live mode: [`KoaCookies`] shares cookie-mode sessions with a Koa app; [`KoaIds`] plus
//! `KoaRedisStore` (feature `redis`) share external-store sessions kept by koa-redis.

pub(crate) mod ids;
mod payload;
mod redis;
#[cfg(feature = "redis")]
mod redis_store;
mod sealer;

pub use ids::{parse_uuid, KoaIds, UUID_LEN};
#[cfg(feature = "redis")]
pub(crate) use redis_store::fuzzing_read;
#[cfg(feature = "redis")]
pub use redis_store::{KoaRedisOptions, KoaRedisStore};

pub use payload::{
    cookie_expires, decode, decode_json, decode_signed, encode, encode_json, MaxAge, Payload,
    RESERVED_KEYS,
};
pub use redis::{destroy_command, get_command, parse_get_reply, set_command, store_ttl_seconds};
pub use sealer::KoaCookies;

/// koa-session's default cookie name (the `key` option).
pub const DEFAULT_KEY: &str = "koa.sess";

/// The lifetime a payload gets when `maxAge` is not configured: one day.
pub const ONE_DAY_MS: i64 = 86_400_000;
