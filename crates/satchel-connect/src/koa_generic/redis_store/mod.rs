//! [`KoaGenericRedisStore`]: a satchel store over the records koa-redis keeps for
//! koa-generic-session.

mod layout;

use std::time::Duration;

use satchel::{StoreError, StoreErrorKind, StoreKey};

use crate::data::OrderedData;
use crate::redis_cas::io::Redis;
use crate::redis_cas::Cas;

/// How a [`KoaGenericRedisStore`] names keys and maps records. Set these to what the Koa
/// app's `session({...})` options say.
#[derive(Debug, Clone)]
pub struct KoaGenericRedisOptions {
    /// The Redis key prefix (koa-generic-session's `prefix` option, default `koa:sess:`).
    pub prefix: String,
    /// The `cookie` option the Koa app passes (default none): a session the Rust side
    /// creates stores [`cookie_options`](crate::koa_generic::cookie_options) of it, with
    /// `maxAge` = satchel's idle timeout, so Koa sets the same cookie attributes and TTL
    /// when it saves the session.
    pub cookie: OrderedData,
    /// The session property that is satchel's owner (default `Some("user")`):
    /// `Session::login("alice")` is what Koa code sees as `ctx.session.user = "alice"` and
    /// the other way round. Only a JSON string there is an owner. `None` keeps the owner
    /// where only satchel sees it (`cookie.satchel`).
    pub owner_key: Option<String>,
    /// How long one connection attempt may take (default 1 s).
    pub connect_timeout: Duration,
    /// How long one command may take, including waiting for a reconnection (default 1 s).
    pub command_timeout: Duration,
}

impl Default for KoaGenericRedisOptions {
    fn default() -> Self {
        KoaGenericRedisOptions {
            prefix: super::DEFAULT_PREFIX.to_owned(),
            cookie: OrderedData::new(),
            owner_key: Some("user".to_owned()),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
        }
    }
}

impl KoaGenericRedisOptions {
    /// The default options with another key prefix.
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        KoaGenericRedisOptions {
            prefix: prefix.into(),
            ..KoaGenericRedisOptions::default()
        }
    }
}

/// A satchel [`SessionStore`](satchel::SessionStore) over the very records koa-redis
/// (4.x) keeps for koa-generic-session (2.x), so a satchel app and a Koa app share
/// sessions live on one Redis. Use it with [`KoaGenericIds`](crate::koa_generic::KoaGenericIds)
/// as the engine's id format and the Koa cookie name (`koa.sid`). Cheap to clone: clones
/// share one multiplexed connection.
///
/// # Records
/// Key: [`prefix`](KoaGenericRedisOptions::prefix) + the sid (`koa:sess:<sid>`); a store
/// key that is not a koa-generic-session sid (a satchel-native SHA-256, as the
/// conformance suite uses) is written as 64 lower-case hex digits instead. Value:
/// `JSON.stringify(session)` as koa-generic-session writes it: the `cookie` object (the
/// cookie options, `maxAge` = the idle timeout) and the properties, with one member
/// `cookie.satchel` (creation time, idle timeout, deadlines, persistence, and the owner
/// when there is no owner property). koa-generic-session keeps that member when it
/// saves (it stores the object it loaded), so satchel reads its creation time and
/// absolute deadline back after Koa writes too; Koa's writes move the TTL, not the
/// member, so a key that outlives the member's deadline by more than 2 s (our own TTL
/// rounding) has its idle deadline where Redis drops it. A record Koa created has
/// no member: idle timeout = `cookie.maxAge` (one day when it is not a number),
/// deadline = the key's TTL (now + idle timeout without one), created = deadline −
/// idle timeout, no absolute deadline, a persistent cookie. TTL: the time left until the
/// session's deadline, `ceil(ms / 1000)` seconds, `SET … EX`: what Koa's
/// `cookie.maxAge` rule gives right after a write.
///
/// A session property named `cookie` is refused with a `Backend` error (it is where Koa
/// keeps the cookie options). Flash messages and other `_` properties survive (Koa
/// stores every property).
///
/// # Operations
/// As [`ConnectRedisStore`](crate::ConnectRedisStore), with the same code: `load` = `GET`
/// (a value koa-redis reads as no session, such as one that is not JSON, is none; a JSON
/// value that is not an object is a `Corrupt` error), `create` = `SET NX EX`, `apply` /
/// `rotate` / `touch` = read, patch in Rust, compare-and-set (up to
/// [`WRITE_ATTEMPTS`](crate::WRITE_ATTEMPTS) lost races), `delete` = `DEL`. Koa writes
/// whole records with `SETEX`, without compare-and-set, so a Koa write racing a Rust
/// write can still overwrite it; a Rust write never overwrites a Koa write. No owner
/// index and no purge (Redis expires keys by itself).
#[derive(Clone)]
pub struct KoaGenericRedisStore {
    inner: std::sync::Arc<Cas<layout::Generic>>,
}

impl std::fmt::Debug for KoaGenericRedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KoaGenericRedisStore")
            .field("prefix", &self.options().prefix)
            .field("owner_key", &self.options().owner_key)
            .finish_non_exhaustive()
    }
}

impl KoaGenericRedisStore {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host:port[/db]`).
    ///
    /// # Errors
    /// When the owner property is `cookie`, the URL is invalid or names a
    /// Cluster/Sentinel, or Redis cannot be reached within
    /// [`KoaGenericRedisOptions::connect_timeout`].
    pub async fn connect(url: &str, options: KoaGenericRedisOptions) -> Result<Self, StoreError> {
        if options.owner_key.as_deref() == Some("cookie") {
            return Err(StoreError::msg(
                StoreErrorKind::Backend,
                "owner_key cannot be `cookie`: koa-generic-session keeps the cookie options there",
            ));
        }
        let redis = Redis::connect(url, options.connect_timeout, options.command_timeout).await?;
        Ok(KoaGenericRedisStore {
            inner: std::sync::Arc::new(Cas::new(layout::Generic(options), redis)),
        })
    }

    /// The options this store was connected with.
    pub fn options(&self) -> &KoaGenericRedisOptions {
        &self.inner.layout.0
    }

    /// The Redis key of the record under `key`: the prefix and the sid for a
    /// [`KoaGenericIds`](crate::koa_generic::KoaGenericIds) id, else the prefix and 64
    /// hex digits.
    pub fn redis_key(&self, key: &StoreKey) -> String {
        self.inner.key(key)
    }

    fn cas(&self) -> &Cas<layout::Generic> {
        &self.inner
    }
}

crate::redis_cas::store::session_store_over_cas!(KoaGenericRedisStore);

/// The default layout's reading of `text` (the `fuzzing` module's entry point).
pub(crate) fn fuzzing_read(text: &str, now: satchel::Timestamp) -> crate::fuzzing::LayoutRead {
    crate::fuzzing::read_layout(
        &layout::Generic(KoaGenericRedisOptions::default()),
        text,
        now,
    )
}
