//! koa-generic-session 2.3 with koa-redis 4 (the seed's Koa + Redis stack:
//! `app.use(session({ store: redisStore() }))`).
//!
//! - **Cookie**: `koa.sid` (the `key` option) = the session id, `uid-safe(24)` (32
//!   characters `[A-Za-z0-9_-]`, as express-session's), signed through Koa's
//!   `ctx.cookies` with `app.keys`: `koa.sid.sig` is [`keygrip`](crate::keygrip)
//!   HMAC-SHA1 over `koa.sid=<sid>`; an older key verifies and the `.sig` is re-issued
//!   with the first.
//! - **Record**: `koa:sess:` (the `prefix` option) + sid → `JSON.stringify(session)` =
//!   `{"cookie":{…cookie options…},…properties}` ([`StoredSession`]). The `cookie`
//!   object holds the cookie **options** (the configured ones first, then the missing
//!   defaults `httpOnly`, `path`, `overwrite`, `signed`, `maxAge`: [`cookie_options`]),
//!   not an expiry.
//! - **TTL** ([`StoredSession::ttl_ms`]): the `ttl` option, else `cookie.expires − now`
//!   when the cookie has `expires`, else `cookie.maxAge`; koa-redis sends
//!   `SETEX key ceil(ms/1000) value`, or a plain `SET` (no expiry) without one.
//! - **Writes** ([`should_save`]): never for a new session equal to a fresh one (unless
//!   `allowEmpty`); otherwise when `JSON.stringify(session)` changed, or on every request
//!   with `rolling`. Every write re-sends the cookie with `expires = now + cookie.maxAge`
//!   ([`set_cookie_headers`]). `ctx.session = null` is `DEL` plus the reset cookie
//!   ([`reset_cookie_headers`]); so is a valid cookie whose record is gone.
//!
//! Live mode: [`KoaGenericIds`] (the signed `koa.sid` as a satchel id format) plus
//! `KoaGenericRedisStore` (feature `redis`) share sessions with a Koa app on one Redis.

mod ids;
mod record;
#[cfg(feature = "redis")]
mod redis_store;

pub use ids::KoaGenericIds;
pub use record::{
    cookie_options, destroy_command, get_command, key, reset_cookie_headers, set_command,
    set_cookie_headers, should_save, ttl_seconds, StoredSession,
};
#[cfg(feature = "redis")]
pub(crate) use redis_store::fuzzing_read;
#[cfg(feature = "redis")]
pub use redis_store::{KoaGenericRedisOptions, KoaGenericRedisStore};

/// koa-generic-session's default cookie name (the `key` option).
pub const DEFAULT_KEY: &str = "koa.sid";

/// koa-generic-session's default Redis key prefix (the `prefix` option).
pub const DEFAULT_PREFIX: &str = "koa:sess:";

/// The default `cookie.maxAge`: one day.
pub const ONE_DAY_MS: i64 = 86_400_000;
