//! connect-redis 10 (identical on the wire to 9.x and 7.x): how express-session sessions
//! sit in Redis, as pure functions that build the exact commands Node sends.
//!
//! - **Key**: prefix (default `sess:`, `""` allowed) + the raw session id.
//! - **Value**: `JSON.stringify(session)`: the `cookie` object Express requires, then the
//!   session's own properties in insertion order ([`StoredSession`]).
//! - **TTL** in seconds, at every `set` and `touch` ([`RedisStoreOptions::ttl`]): a `ttl`
//!   function's result if configured; else `ceil((cookie.expires − now) / 1000)` when the
//!   cookie has an expiry; else the `ttl` option (default 86400).
//! - **set**: `SET key json EX ttl`; plain `SET` with `disableTTL`; **`DEL`** when the TTL
//!   is ≤ 0 (an expired cookie deletes the session).
//! - **touch**: `EXPIRE key ttl` (the stored JSON, `cookie.expires` included, is not
//!   rewritten and goes stale); nothing with `disableTouch` or `disableTTL`.
//! - **get** `GET key`, **destroy** `DEL key`, and `SCAN … MATCH prefix* COUNT n` for the
//!   listing operations.
//!
//! # How a record round-trips
//! [`StoredSession::from_json`] keeps every property of the stored object: the `cookie`
//! object becomes a typed [`CookieInfo`](crate::express::CookieInfo), every other property
//! stays JSON text in an [`OrderedData`](crate::OrderedData) in JavaScript's order, and the
//! position of `cookie` among the properties is remembered. [`StoredSession::to_json`]
//! writes them back in that order, each value exactly as `JSON.stringify` writes it, so an
//! unchanged record comes out byte for byte as it went in (and as Node would rewrite it).
//! The one exception is `cookie.satchel` ([`EXTENSION_MEMBER`]), which only the satchel
//! store writes: it is kept here, where express-session would drop it on its next save.

mod commands;
mod record;
mod ttl;

pub use commands::{Command, RedisStoreOptions, DEFAULT_PREFIX, DEFAULT_SCAN_COUNT};
pub use record::{RecordError, StoredSession, EXTENSION_MEMBER};
pub(crate) use ttl::ceil_seconds;
pub use ttl::{Ttl, DEFAULT_TTL_SECONDS};
