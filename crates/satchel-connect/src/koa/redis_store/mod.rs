//! [`KoaRedisStore`]: a satchel store over the records koa-redis keeps for koa-session's
//! external-store mode.

mod layout;

use std::sync::Arc;
use std::time::Duration;

use satchel::{StoreError, StoreKey};

use crate::redis_cas::io::Redis;
use crate::redis_cas::Cas;

/// How a [`KoaRedisStore`] names keys and maps records. Set these to what the Koa app's
/// `redisStore()` and `session()` options say.
#[derive(Debug, Clone)]
pub struct KoaRedisOptions {
    /// A prefix before every Redis key (default empty: koa-redis and koa-session add
    /// none, the key is the bare UUID). Set it only if the Node side's store adds one.
    pub prefix: String,
    /// The session property that is satchel's owner (default `Some("user")`):
    /// `Session::login("alice")` is what Koa code sees as `ctx.session.user = "alice"` and
    /// the other way round. Only a JSON string there is an owner. `None` keeps the owner
    /// where only satchel sees it (the `_satchel` member), so a Koa write forgets it.
    pub owner_key: Option<String>,
    /// How long one connection attempt may take (default 1 s).
    pub connect_timeout: Duration,
    /// How long one command may take, including waiting for a reconnection (default 1 s).
    pub command_timeout: Duration,
}

impl Default for KoaRedisOptions {
    fn default() -> Self {
        KoaRedisOptions {
            prefix: String::new(),
            owner_key: Some("user".to_owned()),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
        }
    }
}

/// A satchel [`SessionStore`](satchel::SessionStore) over the very records koa-redis (4.x) keeps for
/// koa-session's external-store mode, so a satchel app and a Koa app share sessions live
/// on one Redis. Use it with [`KoaIds`](crate::koa::KoaIds) as the engine's id format and
/// the Koa cookie name (`koa.sess`). Cheap to clone: clones share one multiplexed
/// connection.
///
/// # Records
/// Key: the external key verbatim (the UUID text), after the optional
/// [`prefix`](KoaRedisOptions::prefix); a store key that is not a [`KoaIds`](crate::koa::KoaIds)
/// id (a satchel-native SHA-256, as the conformance suite uses) is written as 64
/// lower-case hex digits instead. Value: `JSON.stringify(payload)` as koa-session writes
/// it ([`encode_json`](crate::koa::encode_json): the properties, then `_expire` and
/// `_maxAge`), plus one member `_satchel` (creation time, idle timeout, deadlines,
/// persistence, and the owner when there is no owner property). koa-session ignores
/// members starting with `_` and drops them on its next save, after which satchel reads
/// Koa's fields: idle timeout = `_maxAge`, deadline = `_expire`, created = deadline −
/// idle timeout, no absolute deadline, a persistent cookie. TTL: koa-session's
/// `maxAge + 10 s` (`ceil((maxAge + 10000) / 1000)` seconds, `SET … EX`), counted from
/// the session's deadline, so a nearer absolute deadline shortens it.
///
/// Properties starting with `_` are never stored (Koa drops them): satchel's flash
/// messages do not survive in this mode. Properties koa-session owns (`isNew`, `maxAge`,
/// … see [`RESERVED_KEYS`](crate::koa::RESERVED_KEYS)) are refused with a `Backend` error.
///
/// # Operations
/// As [`ConnectRedisStore`](crate::ConnectRedisStore), with the same code: `load` = `GET`
/// (a value that is not a JSON object is a `Corrupt` error; `_expire` in the past is no
/// session), `create` = `SET NX EX`, `apply` / `rotate` / `touch` = read, patch in Rust,
/// compare-and-set (up to [`WRITE_ATTEMPTS`](crate::WRITE_ATTEMPTS) lost races),
/// `delete` = `DEL`. Koa writes whole records with `SETEX`, without compare-and-set, so
/// a Koa write racing a Rust write can still overwrite it; a Rust write never overwrites
/// a Koa write. No owner index and no purge (Redis expires keys by itself).
#[derive(Clone)]
pub struct KoaRedisStore {
    inner: Arc<Cas<layout::Koa>>,
}

impl std::fmt::Debug for KoaRedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KoaRedisStore")
            .field("options", self.options())
            .finish_non_exhaustive()
    }
}

impl KoaRedisStore {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host:port[/db]`).
    ///
    /// # Errors
    /// When the owner property is one koa-session cannot keep (`_…`, `isNew`, …), the URL
    /// is invalid or names a Cluster/Sentinel, or Redis cannot be reached within
    /// [`KoaRedisOptions::connect_timeout`].
    pub async fn connect(url: &str, options: KoaRedisOptions) -> Result<Self, StoreError> {
        if options
            .owner_key
            .as_deref()
            .is_some_and(|k| k.starts_with('_') || super::RESERVED_KEYS.contains(&k))
        {
            return Err(StoreError::msg(
                satchel::StoreErrorKind::Backend,
                "owner_key names a property koa-session does not keep (_…, isNew, maxAge, …)",
            ));
        }
        let redis = Redis::connect(url, options.connect_timeout, options.command_timeout).await?;
        Ok(KoaRedisStore {
            inner: Arc::new(Cas::new(layout::Koa(options), redis)),
        })
    }

    /// The options this store was connected with.
    pub fn options(&self) -> &KoaRedisOptions {
        &self.inner.layout.0
    }

    /// The Redis key of the record under `key`: the prefix and the UUID for a
    /// [`KoaIds`](crate::koa::KoaIds) id, else the prefix and 64 hex digits.
    pub fn redis_key(&self, key: &StoreKey) -> String {
        crate::redis_cas::Layout::redis_key(&self.inner.layout, key)
    }

    /// The shared operations (`SessionStore` is implemented with them).
    fn cas(&self) -> &Cas<layout::Koa> {
        &self.inner
    }
}

crate::redis_cas::store::session_store_over_cas!(KoaRedisStore);

/// The default layout's reading of `text` (the `fuzzing` module's entry point).
pub(crate) fn fuzzing_read(text: &str, now: satchel::Timestamp) -> crate::fuzzing::LayoutRead {
    crate::fuzzing::read_layout(&layout::Koa(KoaRedisOptions::default()), text, now)
}
