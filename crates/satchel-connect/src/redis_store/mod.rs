//! [`ConnectRedisStore`]: a satchel store over the records connect-redis keeps for
//! express-session (the user-facing documentation is on the type).

pub(crate) mod keys;
mod meta;
mod ops;
mod options;
mod view;

use std::sync::Arc;

use satchel::{StoreError, StoreErrorKind, StoreKey};

pub use options::{ConnectRedisOptions, CookieTemplate};

use crate::express::is_reserved_key;

pub use crate::redis_cas::WRITE_ATTEMPTS;

/// A satchel [`SessionStore`](satchel::SessionStore) over the very records connect-redis
/// keeps for express-session, so a satchel app and an Express app share sessions live on
/// one Redis. Cheap to clone: clones share one multiplexed connection.
///
/// With [`ExpressIds`](crate::ExpressIds) as the engine's id format, a session Express
/// created is a satchel session and the other way round: same cookie, same key
/// (`sess:<id>`), same JSON. `docs/coming-from-express.md` shows both apps side by side.
///
/// # Operations
/// | satchel | Redis | guarantee |
/// |---|---|---|
/// | `load` | `GET` (with `PTTL`, `TIME`) in one script | a record past its deadline is absent |
/// | `create` | `SET key json NX EX ttl` | never overwrites a live record (an expired one is replaced by compare-and-set) |
/// | `apply`, `touch` | `GET`, patch in Rust, then `SET … EX ttl` in a script **only if the value is still exactly what was read** | different keys written concurrently (by Rust or Express) both survive; a stale read of a written key is a `Conflict`; a deleted session is `Gone`, never recreated |
/// | `rotate` | `GET`, patch in Rust, then one script: old unchanged → `SET new NX` → `DEL old` | exactly one of the two ids is valid at any time |
/// | `delete` | `DEL` | |
///
/// A lost compare-and-set means another write landed between our read and our write, so
/// the store reads again and re-applies the patch; after [`WRITE_ATTEMPTS`] lost races it
/// reports a `Conflict`. Since every lost race is someone else's success, `n` writers
/// racing on one session all finish within `n` attempts.
///
/// # Records
/// Session properties are satchel's data: every property except `cookie`, each value in
/// `JSON.stringify`'s form, key order and properties the Rust side never touches kept byte
/// for byte (see [`OrderedData`](crate::OrderedData)); values satchel read and compares
/// are compared as canonical JSON text. The owner is the
/// [`owner_key`](ConnectRedisOptions::owner_key) property (`user` by default).
///
/// Express keeps one expiry per session; satchel keeps five facts. The Express-visible
/// fields say what Express needs, and one extra member of the `cookie` object,
/// `cookie.satchel` ([`EXTENSION_MEMBER`](crate::connect_redis::EXTENSION_MEMBER)),
/// keeps the rest for the Rust side. Express ignores it and drops it when it saves the
/// session, after which the right-hand column applies:
///
/// | satchel | written as | read back when Express saved the record last |
/// |---|---|---|
/// | persistent | `expires` present | `expires` present |
/// | idle timeout | `originalMaxAge` (persistent) and `satchel.idle` | `originalMaxAge`, else [`default_ttl`](ConnectRedisOptions::default_ttl) |
/// | idle deadline | `expires` (persistent) and `satchel.deadline` | `expires`, else when Redis drops the key |
/// | absolute deadline | `satchel.absolute` (`null`: none) | **none**: Express has no absolute timeout, so none is enforced beyond the idle deadline |
/// | created at | `satchel.created` | the idle deadline minus the idle timeout (Express's last save) |
/// | owner | the owner property (or `satchel.owner` with `owner_key: None`) | the owner property (or none) |
///
/// Either way the idle deadline becomes the moment Redis drops the key when that is later
/// (by more than the TTL's rounding): Express extends a session it only read with
/// `EXPIRE` and leaves the JSON as it was, and a session Express still accepts must not
/// look expired to the Rust side.
///
/// The TTL follows connect-redis's rule, `ceil((deadline − now) / 1000)` seconds, on the
/// session's deadline (for a record Express wrote without an expiry, that is the default
/// TTL, 86 400 s).
///
/// # What it does not do
/// - No owner index (`sessions_of`, `revoke_owner`) and no purge: connect-redis has
///   neither, and Redis expires keys by itself.
/// - One Redis server only (connect-redis's standalone client); no Cluster or Sentinel.
/// - Express writes whole records with a plain `SET`, without compare-and-set, so an
///   Express write racing a Rust write can still overwrite it, as two Express requests
///   can overwrite each other; a Rust write never overwrites an Express write.
#[derive(Clone)]
pub struct ConnectRedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    cas: crate::redis_cas::Cas<ops::Express>,
}

impl std::fmt::Debug for ConnectRedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRedisStore")
            .field("options", self.options())
            .finish_non_exhaustive()
    }
}

impl ConnectRedisStore {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host:port[/db]`).
    ///
    /// # Errors
    /// When the options are unusable (an owner property express-session cannot keep, such
    /// as `id` or `cookie`), the URL is invalid or names a Cluster/Sentinel, or Redis
    /// cannot be reached within [`ConnectRedisOptions::connect_timeout`].
    pub async fn connect(url: &str, options: ConnectRedisOptions) -> Result<Self, StoreError> {
        if options.owner_key.as_deref().is_some_and(is_reserved_key) {
            return Err(StoreError::msg(
                StoreErrorKind::Backend,
                "owner_key names a property express-session does not keep (id, cookie, save, …)",
            ));
        }
        let redis = crate::redis_cas::io::Redis::connect(
            url,
            options.connect_timeout,
            options.command_timeout,
        )
        .await?;
        let cas = crate::redis_cas::Cas::new(ops::Express(options), redis);
        Ok(ConnectRedisStore {
            inner: Arc::new(Inner { cas }),
        })
    }

    /// The options this store was connected with.
    pub fn options(&self) -> &ConnectRedisOptions {
        &self.inner.cas.layout.0
    }

    /// The Redis key of the record under `key`: the prefix and the raw express-session id
    /// (`sess:<id>`), or the prefix and 64 hex digits for a satchel-native key.
    pub fn redis_key(&self, key: &StoreKey) -> String {
        keys::redis_key(&self.options().prefix, key)
    }

    /// The shared operations (`ops.rs` implements `SessionStore` with them).
    fn cas(&self) -> &crate::redis_cas::Cas<ops::Express> {
        &self.inner.cas
    }
}

/// The default layout's reading of `text` (the `fuzzing` module's entry point).
pub(crate) fn fuzzing_read(text: &str, now: satchel::Timestamp) -> crate::fuzzing::LayoutRead {
    crate::fuzzing::read_layout(&ops::Express(ConnectRedisOptions::default()), text, now)
}
