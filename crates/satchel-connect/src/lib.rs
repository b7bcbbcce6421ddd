//! # satchel-connect: the session wire formats of Node.js apps
//!
//! Pure functions that read and write exactly what Express and Koa session middleware put
//! in cookies and in Redis, so a Rust service and a Node service behind one domain can
//! share logged-in users in both directions. The format modules do no I/O and read no
//! clock: every function that depends on time takes `now_ms` (milliseconds since the
//! epoch, what JavaScript's `Date.now()` returns), and Redis access is described as the
//! exact [`connect_redis::Command`]s Node sends. The live mode below builds on them.
//!
//! | Node package | module |
//! |---|---|
//! | express-session (`connect.sid` = `s:` + id + HMAC-SHA256) | [`express`] |
//! | connect-redis (`sess:<id>` → JSON with the `cookie` object, TTL rules) | [`connect_redis`] |
//! | keygrip (`<name>.sig` signatures, key rotation) | [`keygrip`] |
//! | cookies (how cookie-session and Koa read and write cookies) | [`cookies`] |
//! | cookie-session (base64 JSON payload; [`CookieSessionCookies`](cookie_session::CookieSessionCookies) for a stateless engine) | [`cookie_session`] |
//! | koa-session (base64 JSON payload with `_expire` / `_maxAge`; koa-redis records) | [`koa`] |
//! | express-session's cookie as a satchel id format (live mode) | [`ExpressIds`] |
//! | connect-redis records as a satchel store (live mode, feature `redis`) | `ConnectRedisStore` |
//! | koa-session's external-store cookie (a signed UUID) as a satchel id format | [`koa::KoaIds`] |
//! | koa-redis records as a satchel store (live mode, feature `redis`) | `koa::KoaRedisStore` |
//! | koa-generic-session + koa-redis (`koa.sid` + `.sig`, `koa:sess:<sid>` records; [`koa_generic::KoaGenericIds`], `koa_generic::KoaGenericRedisStore`) | [`koa_generic`] |
//! | moving users to satchel's own format | [`migrate`] |
//!
//! # Live mode: a satchel app sharing sessions with an Express app
//! [`ExpressIds`] (an [`IdFormat`](satchel::IdFormat): the signed `connect.sid` cookie) and
//! `ConnectRedisStore` (feature `redis`, on by default: a satchel store over
//! connect-redis's records) make a satchel [`Engine`](satchel::Engine) read and write the
//! very cookies and Redis keys an express-session + connect-redis app does, in both
//! directions, with satchel's guarantees on the Rust side (no lost updates, no session
//! revived after logout). [`migrate`] moves users to satchel's own format instead.
//!
//! ```no_run
//! use satchel::{Engine, SessionConfig};
//! use satchel_connect::{ConnectRedisOptions, ConnectRedisStore, ExpressIds};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = ConnectRedisStore::connect("redis://127.0.0.1:6379", ConnectRedisOptions::default()).await?;
//! let config = SessionConfig::builder().cookie_name("connect.sid").build()?;
//! let ids = ExpressIds::new(vec!["keyboard cat".to_owned()])?;
//! let engine = Engine::with_id_format(store, config, ids);
//! // satchel_axum::SessionLayer::from_engine(engine), or drive engine.begin/finish.
//! # let _ = engine; Ok(()) }
//! ```
//!
//! Session properties are [`OrderedData`]: key → JSON text in the exact form
//! `JSON.stringify` writes, in JavaScript's key order, so what Node wrote comes back out
//! byte for byte, including keys the Rust side does not know about ([`json`] explains why
//! this crate reads JSON itself instead of using `serde_json::Value`).
//!
//! Every reader takes network or store input and never panics on it: it returns a typed
//! error or `None`, and the docs say what Node does in the same case (almost always:
//! silently start a new session).
//!
//! ```
//! use satchel_connect::{connect_redis::{RedisStoreOptions, StoredSession}, express};
//!
//! let now = 1_767_225_600_123; // 2026-01-01T00:00:00.123Z
//! // An Express user's cookie and the record connect-redis keeps for it.
//! let header = "connect.sid=s%3AfEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz8.O3URxphqXw8ZaSFuGyvtPZMQDL5x8usK4U0No22wDuw";
//! let sid = express::session_id_from_header(header, "connect.sid", &["keyboard cat"]).unwrap();
//! let store = RedisStoreOptions::default();
//! assert_eq!(store.get_command(&sid), ["GET", "sess:fEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz8"]);
//!
//! let stored = r#"{"cookie":{"originalMaxAge":3600000,"expires":"2026-01-01T01:00:00.123Z","httpOnly":true,"path":"/"},"user":"alice","n":3}"#;
//! let mut session = RedisStoreOptions::parse_get_reply(Some(stored))?.unwrap();
//! assert_eq!(session.data.get("n"), Some("3"));
//!
//! // The Rust side increments the counter; Express will see req.session.n === 4.
//! session.data.insert("n", "4")?;
//! session.cookie.touch(now);
//! let set = store.set_command(&sid, &session, now)?;
//! assert_eq!(set[2], r#"{"cookie":{"originalMaxAge":3600000,"expires":"2026-01-01T01:00:00.123Z","httpOnly":true,"path":"/"},"user":"alice","n":4}"#);
//! assert_eq!(set[3..], ["EX", "3600"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attributes;
mod b64;
pub mod connect_redis;
pub mod cookie_session;
pub mod cookies;
mod data;
pub mod express;
mod express_ids;
#[doc(hidden)]
pub mod fuzzing;
mod js_date;
pub mod json;
pub mod keygrip;
pub mod koa;
pub mod koa_generic;
mod mac;
pub mod migrate;
mod payload;
#[cfg(feature = "redis")]
mod redis_cas;
#[cfg(feature = "redis")]
mod redis_store;
mod signed_ids;
pub mod uri;

pub use attributes::{Priority, SameSite};
pub use data::OrderedData;
pub use express_ids::{is_express_id, ExpressIds, NoSecrets, EXPRESS_ID_LEN};
pub use payload::PayloadError;
#[cfg(feature = "redis")]
pub use redis_store::{ConnectRedisOptions, ConnectRedisStore, CookieTemplate, WRITE_ATTEMPTS};
