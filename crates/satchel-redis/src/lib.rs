//! A Redis session store for satchel.
//!
//! ```no_run
//! # async fn demo() -> Result<(), satchel::StoreError> {
//! use satchel_redis::{RedisConfig, RedisStore};
//!
//! let store = RedisStore::connect("redis://127.0.0.1:6379", RedisConfig::default()).await?;
//! # let _ = store; Ok(()) }
//! ```
//!
//! # What it does per operation (layout v2)
//! | operation | Redis commands sent |
//! |---|---|
//! | `load` | one `GET` |
//! | `apply` | one `EVALSHA` of a small version-checked write script, or on servers with `SET … IFEQ` (Valkey ≥ 8.1, Redis ≥ 8.4) one such `SET` (+ a `GET` first when this store knows no recent version of the session, e.g. a blind write) |
//! | `create`, `touch`, `rotate`, `renew` (standalone, Sentinel) | one `EVALSHA` |
//! | `load_forward` (standalone, Sentinel) | one `GET` |
//! | `delete` | one `EVALSHA` (+ a `ZREM` when the session had an owner) |
//! | `sessions_of`, `revoke_owner` | the owner index, then one command per listed session |
//!
//! A write sends the whole new value, computed here from the version of the record it is
//! based on; the script replaces the stored value only if it is still that version (and
//! live at the caller's `now`, and not deleted meanwhile: no resurrection). If another
//! write came first, the reply carries the current value: the patch's expectations (the
//! keys the request read, then changed) are checked against it, so a same-key race is a
//! [`satchel::WriteOutcome::Conflict`] and a different-key race is rebased and retried
//! (at most 32 calls, then an `Unavailable` error). Writes to one session from one process
//! go one at a time, so only other processes can make a write retry.
//! The first time a script is used on a server it costs one extra `EVAL` (after the
//! server answers `NOSCRIPT`). Where the server has `SET key value IFEQ old GET`, a plain
//! write (no rotation, no owner change, no near cache, a base of at most 4 KiB) is that
//! one command instead of the script: the same checks, no Lua, about a quarter of the
//! server CPU ([`RedisConfig::use_set_ifeq`], `src/v2/ifeq.rs`).
//!
//! # Layout
//! One string per session, named `{prefix}s:{hex SHA-256 of the session id}` (the raw id
//! never reaches Redis): a fixed-width text header (format version, write token,
//! deadlines as 13-digit text the scripts compare as strings) followed by the packed
//! record; TTL at the earlier deadline. The byte-exact layout is in `src/v2/format.rs`;
//! the internal API a near cache builds on (a record with the version it was read at, and
//! a write on such a base) in `src/v2/mod.rs` and `TODO.md`. Sessions written by earlier
//! versions of this crate (layout v1, one hash per session) still load and are rewritten
//! as strings by their next write; a process still running v1 code cannot read v2 values,
//! so upgrade all instances together. Anything else under a session key is a
//! [`satchel::StoreErrorKind::Corrupt`] error, never a panic.
//!
//! # Periodic id renewal (SEC-49)
//! On standalone servers and through Sentinel the store claims
//! [`satchel::Capabilities::renewal`]: [`SessionStore::renew`] is the rotation script
//! with one more `SET`, so the move of the session and the forward record at the old id
//! happen in one atomic step (one round trip), version-checked on the old session like a
//! rotation. The forward lives under its own key, `{prefix}f:{hex}` (the old session
//! key's hex; [`RedisStore::forward_key`]), with `PXAT` at the grace deadline, never
//! under a session key: loads, writes, touches and rotations never see it, and cost
//! what they cost without renewal. [`SessionStore::load_forward`] is one `GET` (only
//! for an id whose session is gone, only with renewal configured); `create` refuses a
//! key whose forward is live (`KeyTaken`, one `GETRANGE` more inside its script) and
//! `delete` removes the forward with the session. A forward value that is not one is
//! [`satchel::StoreErrorKind::Corrupt`] (the engine treats the old id as absent).
//! Byte layout: `src/v2/forward.rs`.
//!
//! **Not on Redis Cluster**: the old and the new session key (and the forward key) are
//! in different slots, so no step can move one and leave the other atomically. A Cluster
//! store does not claim renewal, its `renew` answers
//! [`satchel::StoreErrorKind::Unsupported`], and an engine configured with
//! `SessionConfigBuilder::renew_id_after` over it is refused at construction:
//! `Engine::try_new` returns [`satchel::ConfigError::RenewalUnsupported`] (and
//! `Engine::new` panics with it). Never a silent downgrade to no renewal.
//!
//! # Topologies
//! - **Standalone** (`redis://host:port`): everything above, each operation atomic.
//! - **Cluster** (`redis+cluster://host:port,host:port`): a session value lives in one
//!   slot, so `load`, `apply`, `touch` and `delete` stay atomic. What spans
//!   slots is not atomic:
//!   - the **owner index** (a per-owner key in another slot) is updated by a second
//!     command after the session script (`create` of an owned session updates it
//!     *before*). Dying in between leaves either an index entry without a session (never
//!     listed, pruned on read) or, only for a direct `apply` that changes the owner (the
//!     engine changes owners only while rotating), a session that `revoke_owner` does not
//!     find until it expires;
//!   - **rotation** is load → create the new key → delete the old key. Dying between the
//!     create and the delete leaves both ids valid until the old one expires; a write to
//!     the old id that lands between the load and the delete is lost;
//!   - `sessions_of` and `revoke_owner` read the index and then each session separately
//!     (on standalone servers too, since layout v2);
//!   - **id renewal** is not offered at all (see "Periodic id renewal" above).
//!
//!   `tests/cluster_slots.rs` simulates each failure case.
//! - **Sentinel** (`redis+sentinel://host:port,host:port/service`): the primary is looked
//!   up through the sentinels; after a failover the store moves to the new primary by
//!   itself: on `+switch-master` (subscribed on every sentinel, ordered by config epoch),
//!   on the first `READONLY`/connection error, or within 500 ms when a background poll of
//!   the sentinels names another primary; from the leader's `+elected-leader` /
//!   `+selected-slave` until the switch it holds commands (within their timeout). Writes
//!   acknowledged by the old primary before the store moved, or not yet replicated when
//!   it failed, can still be lost (Redis replication is asynchronous): the server-side
//!   guard `min-replicas-to-write 1` is the configuration measured to lose none
//!   (`docs/reliability.md`).
//!
//! # Near cache (optional)
//! With [`RedisConfig::near_cache`] the store keeps loaded sessions in process and Redis
//! invalidates them (RESP3 `CLIENT TRACKING`, `NOLOOP`): a warm read costs no round trip
//! and a warm read-then-write one. Every write is still checked at Redis; a read on one
//! instance shortly after another instance's write can return the old value for the
//! time the invalidation takes to arrive. Off by default; standalone and Sentinel only.
//! See `docs/redis-near-cache.md`.
//!
//! # Failures and timeouts
//! Every command is bounded by [`RedisConfig::command_timeout`] (default 1 s) and every
//! connection attempt by [`RedisConfig::connect_timeout`] (default 1 s). While Redis is
//! down, calls fail with `Unavailable` or `Timeout` (the integrations answer 503) and
//! the connection is re-established in the background; no restart is needed when Redis
//! comes back. [`RedisStore::connect`] itself fails if Redis is unreachable at startup.
#![forbid(unsafe_code)]

mod admin;
mod codec;
#[doc(hidden)]
pub mod connect;
mod durability;
mod near_cache;
mod revocations;
mod scripts;
mod sentinel;
mod v2;

pub use durability::{eviction_policy_risk, WaitForReplicas};
pub use near_cache::{NearCacheConfig, NearCacheStats};

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Cmd, Value as RValue};
use satchel::{
    Capabilities, Expires, Patch, Record, SessionInfo, SessionStore, StoreError, StoreErrorKind,
    StoreKey, Timestamp, WriteOutcome,
};

use crate::connect::store_error as map_err;
use crate::scripts::{Script, Scripts};

pub use revocations::RedisRevocations;

/// Entry points for the cargo-fuzz targets in `fuzz/` (not part of the API).
#[doc(hidden)]
pub mod fuzzing {
    use satchel::{Record, StoreError};

    /// Decodes a stored layout-v2 session value, as a load does.
    pub fn decode_value(value: &[u8]) -> Result<Record, StoreError> {
        crate::v2::format::decode(value).map(|(_, record)| record)
    }

    /// Encodes `record` as a layout-v2 value, as a write does.
    pub fn encode_value(record: &Record) -> Vec<u8> {
        crate::v2::format::encode(record, 1)
    }

    /// Decodes a stored renewal forward value at `now_ms`, as `load_forward` does.
    pub fn decode_forward(value: &[u8], now_ms: u64) -> Result<Option<Vec<u8>>, StoreError> {
        crate::v2::forward::decode(value, satchel::Timestamp::from_millis(now_ms))
    }

    /// Encodes a renewal forward holding `bytes` until `until_ms`, as `renew` does.
    pub fn encode_forward(bytes: &[u8], until_ms: u64) -> Vec<u8> {
        crate::v2::forward::encode(bytes, satchel::Timestamp::from_millis(until_ms))
    }
}

/// How a [`RedisStore`] names its keys and how long it waits.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// Prepended to every key this store writes (default `satchel:`). Give each
    /// application (or each test) its own.
    pub prefix: String,
    /// How long one connection attempt may take (default 1 s).
    pub connect_timeout: Duration,
    /// How long one command may take, including waiting for a reconnection (default 1 s).
    /// Past it the call fails with [`StoreErrorKind::Timeout`].
    pub command_timeout: Duration,
    /// Keep loaded sessions in process, invalidated by Redis (`CLIENT TRACKING`); off
    /// (`None`) by default. Standalone and Sentinel; [`RedisStore::connect_cluster`]
    /// refuses it. See `docs/redis-near-cache.md`.
    pub near_cache: Option<NearCacheConfig>,
    /// `WAIT` for this many replicas after a logout or `revoke_owner`, so that a failover
    /// cannot bring a logged-out session back (SEC-43); off (`None`) by default, as it
    /// holds up the shared connection for a replication round trip. See
    /// [`WaitForReplicas`] and `docs/reliability.md`.
    pub wait_for_replicas: Option<WaitForReplicas>,
    /// Write with `SET … IFEQ` instead of the Lua script where the server has it (Valkey
    /// ≥ 8.1, Redis ≥ 8.4; asked once at connect): the same checks for about a quarter of
    /// the server CPU per write (`src/v2/ifeq.rs`). On by default; `false` keeps the
    /// script on every server. With the near cache too (its writes then re-track their
    /// key with a `GETRANGE` in the same round trip).
    pub use_set_ifeq: bool,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            prefix: "satchel:".to_owned(),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            near_cache: None,
            wait_for_replicas: None,
            use_set_ifeq: true,
        }
    }
}

impl RedisConfig {
    /// The default configuration with another key prefix.
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        RedisConfig {
            prefix: prefix.into(),
            ..RedisConfig::default()
        }
    }
}

/// A [`SessionStore`] on one Redis server (standalone or the primary of a replicated
/// setup). Cheap to clone: clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
    conn: Conn,
}

/// The connection: one multiplexed connection to a server, or a Cluster client.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
    Sentinel(Arc<sentinel::SentinelConn>),
    /// The near cache's tracking connection (standalone): every command goes on it, so
    /// that reads are tracked and this store's own writes send it no invalidation.
    Tracked(Arc<near_cache::tracked_conn::TrackedConn>),
}

struct Inner {
    prefix: String,
    /// Cluster mode: scripts touch only their session key(s); owner index operations run
    /// as separate commands (see the crate docs).
    cluster: bool,
    command_timeout: Duration,
    /// The layout-v1 scripts still needed: the test-only v1 writer, the v1 branch of
    /// `revoke_owner`, and the Cluster owner-index add.
    scripts: Scripts,
    /// The layout-v2 scripts.
    v2: v2::Scripts,
    /// The bases of the next writes and the per-session write lanes (`v2/bases.rs`).
    bases: v2::bases::Bases,
    /// The near cache, when configured (then `conn` is `Conn::Tracked` or a Sentinel
    /// connection that tracks).
    near: Option<Arc<near_cache::Cache>>,
    /// [`RedisConfig::wait_for_replicas`] (`durability.rs`).
    wait_for_replicas: Option<WaitForReplicas>,
    /// Whether plain writes go through `SET … IFEQ` (`v2/ifeq.rs`).
    set_ifeq: v2::ifeq::SetIfeq,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("cluster", &self.inner.cluster)
            .field("command_timeout", &self.inner.command_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to Redis at `url`: `redis://[user:password@]host:port[/db]` for one
    /// server, or `redis+cluster://host:port[,host:port...]` for a Cluster (any reachable
    /// node; the client discovers the rest).
    ///
    /// # Errors
    /// When the URL is invalid or Redis cannot be reached within
    /// [`RedisConfig::connect_timeout`].
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self, StoreError> {
        durability::warn_on_risky_eviction_policy(url, &config).await;
        if let Some(nodes) = url.strip_prefix("redis+cluster://") {
            let nodes: Vec<String> = nodes
                .split(',')
                .filter(|n| !n.is_empty())
                .map(|n| format!("redis://{n}"))
                .collect();
            return Self::connect_cluster(&nodes, config).await;
        }
        if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            let (nodes, service) = rest.split_once('/').ok_or_else(|| {
                StoreError::msg(
                    StoreErrorKind::Backend,
                    "expected redis+sentinel://host:port[,host:port...]/service-name",
                )
            })?;
            let nodes: Vec<String> = nodes
                .split(',')
                .filter(|n| !n.is_empty())
                .map(|n| format!("redis://{n}"))
                .collect();
            return Self::connect_sentinel(&nodes, service, config).await;
        }
        let client = redis::Client::open(url).map_err(map_err)?;
        if let Some(near) = config.near_cache.clone() {
            return Self::connect_tracked(client, near, config).await;
        }
        let conn =
            connect::connection_manager(client, config.connect_timeout, config.command_timeout)
                .await?;
        let use_set_ifeq = config.use_set_ifeq;
        let store = RedisStore {
            inner: Arc::new(Inner {
                wait_for_replicas: config.wait_for_replicas,
                prefix: config.prefix,
                command_timeout: config.command_timeout,
                scripts: Scripts::new(),
                v2: v2::Scripts::new(false, true),
                bases: v2::bases::Bases::default(),
                set_ifeq: v2::ifeq::SetIfeq::default(),
                cluster: false,
                near: None,
            }),
            conn: Conn::Single(conn),
        };
        if use_set_ifeq {
            store.probe_set_ifeq().await;
        }
        Ok(store)
    }

    /// Standalone with the near cache: the tracking connection instead of a
    /// `ConnectionManager`.
    async fn connect_tracked(
        client: redis::Client,
        near: NearCacheConfig,
        config: RedisConfig,
    ) -> Result<Self, StoreError> {
        let cache = Arc::new(near_cache::Cache::new(
            near.max_entries,
            near.max_entry_life,
        ));
        let conn = Arc::new(near_cache::tracked_conn::TrackedConn::new(
            client,
            cache.clone(),
            config.connect_timeout,
            config.command_timeout,
        ));
        tokio::time::timeout(config.connect_timeout.saturating_mul(4), conn.start())
            .await
            .map_err(|_| StoreError::msg(StoreErrorKind::Timeout, "connecting to Redis timed out"))?
            .map_err(|e| {
                if e.kind() == redis::ErrorKind::ResponseError {
                    // The server answered but refused HELLO 3 or CLIENT TRACKING (Redis
                    // < 6, some managed services): a configuration problem, said plainly.
                    StoreError::msg(
                        StoreErrorKind::Backend,
                        "the Redis near cache needs RESP3 and CLIENT TRACKING, which this \
                         server refused; turn RedisConfig::near_cache off",
                    )
                } else {
                    map_err(e)
                }
            })?;
        let use_set_ifeq = config.use_set_ifeq;
        let store = RedisStore {
            inner: Arc::new(Inner {
                wait_for_replicas: config.wait_for_replicas,
                prefix: config.prefix,
                command_timeout: config.command_timeout,
                scripts: Scripts::new(),
                v2: v2::Scripts::new(true, true),
                bases: v2::bases::Bases::default(),
                set_ifeq: v2::ifeq::SetIfeq::default(),
                cluster: false,
                near: Some(cache),
            }),
            conn: Conn::Tracked(conn),
        };
        if use_set_ifeq {
            store.probe_set_ifeq().await;
        }
        Ok(store)
    }

    /// Connects to a Redis Cluster through any of `nodes` (`redis://host:port` each).
    ///
    /// # Errors
    /// When no node can be reached within [`RedisConfig::connect_timeout`], or when
    /// [`RedisConfig::near_cache`] is set: redis-rs 0.32 gives no hook to re-enable
    /// `CLIENT TRACKING` on each node connection after a reconnect or a topology change,
    /// so a cache there could silently stop being invalidated.
    pub async fn connect_cluster(
        nodes: &[String],
        config: RedisConfig,
    ) -> Result<Self, StoreError> {
        if config.near_cache.is_some() {
            return Err(StoreError::msg(
                StoreErrorKind::Backend,
                "RedisConfig::near_cache is not supported on Redis Cluster (no per-node \
                 CLIENT TRACKING in redis-rs 0.32); turn it off for this store",
            ));
        }
        let client = redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
            .connection_timeout(config.connect_timeout)
            .response_timeout(config.command_timeout)
            .retries(2)
            .build()
            .map_err(map_err)?;
        let conn = tokio::time::timeout(
            config.connect_timeout.saturating_mul(4),
            client.get_async_connection(),
        )
        .await
        .map_err(|_| StoreError::msg(StoreErrorKind::Timeout, "connecting to Redis timed out"))?
        .map_err(map_err)?;
        let use_set_ifeq = config.use_set_ifeq;
        let store = RedisStore {
            inner: Arc::new(Inner {
                wait_for_replicas: config.wait_for_replicas,
                prefix: config.prefix,
                command_timeout: config.command_timeout,
                scripts: Scripts::new(),
                v2: v2::Scripts::new(false, false),
                bases: v2::bases::Bases::default(),
                set_ifeq: v2::ifeq::SetIfeq::default(),
                cluster: true,
                near: None,
            }),
            conn: Conn::Cluster(conn),
        };
        if use_set_ifeq {
            store.probe_set_ifeq().await;
        }
        Ok(store)
    }

    /// Connects to the primary of the Sentinel-monitored service `service` through any of
    /// the sentinels `nodes` (`redis://host:port` each). After a failover the store asks
    /// the sentinels again for the new primary on the next call (calls in flight during
    /// the switch fail with `Unavailable`/`Timeout`).
    ///
    /// With [`RedisConfig::near_cache`], each connection to a primary is a tracking one and
    /// the cache is flushed whenever the store leaves a primary (failover, broken
    /// connection).
    ///
    /// # Errors
    /// When no sentinel knows a reachable primary within [`RedisConfig::connect_timeout`].
    pub async fn connect_sentinel(
        nodes: &[String],
        service: &str,
        config: RedisConfig,
    ) -> Result<Self, StoreError> {
        let near = config
            .near_cache
            .as_ref()
            .map(|n| Arc::new(near_cache::Cache::new(n.max_entries, n.max_entry_life)));
        let conn =
            sentinel::SentinelConn::new(nodes, service, &config, near.clone()).map_err(map_err)?;
        let conn = Arc::new(conn);
        sentinel::SentinelConn::watch(&conn);
        tokio::time::timeout(config.connect_timeout.saturating_mul(4), conn.connection())
            .await
            .map_err(|_| StoreError::msg(StoreErrorKind::Timeout, "connecting to Redis timed out"))?
            .map_err(map_err)?;
        let probe = config.use_set_ifeq;
        let store = RedisStore {
            inner: Arc::new(Inner {
                wait_for_replicas: config.wait_for_replicas,
                prefix: config.prefix,
                command_timeout: config.command_timeout,
                scripts: Scripts::new(),
                v2: v2::Scripts::new(near.is_some(), true),
                bases: v2::bases::Bases::default(),
                set_ifeq: v2::ifeq::SetIfeq::default(),
                cluster: false,
                near,
            }),
            conn: Conn::Sentinel(conn),
        };
        if probe {
            store.probe_set_ifeq().await;
        }
        Ok(store)
    }

    /// The Redis key of `owner`'s index (a sorted set).
    fn index_key(&self, owner: &str) -> String {
        format!(
            "{}o:{}",
            self.inner.prefix,
            sha1_smol::Sha1::from(owner).digest()
        )
    }

    /// The mode+prefix script argument (see `setmode` in the scripts).
    fn mode_prefix(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.inner.prefix.len() + 1);
        v.push(if self.inner.cluster { b'0' } else { b'1' });
        v.extend_from_slice(self.inner.prefix.as_bytes());
        v
    }

    /// Runs the owner index operations a script deferred (Cluster mode). Not atomic with
    /// the session write that came before: see the crate docs.
    async fn run_index_ops(
        &self,
        reply: &RValue,
        now: Timestamp,
        pre_added: Option<(&str, &str)>,
    ) -> Result<(), StoreError> {
        for op in codec::index_ops(reply)? {
            if op.add {
                if pre_added == Some((op.owner.as_str(), op.member.as_str())) {
                    continue;
                }
                self.index_add(&op.owner, &op.member, &op.score, now)
                    .await?;
            } else {
                let idx = self.index_key(&op.owner);
                self.send(redis::cmd("ZREM").arg(&idx).arg(op.member))
                    .await?;
            }
        }
        Ok(())
    }

    /// Adds `member` to `owner`'s index (Cluster mode).
    async fn index_add(
        &self,
        owner: &str,
        member: &str,
        score: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let idx = self.index_key(owner);
        let args = vec![
            member.as_bytes().to_vec(),
            score.as_bytes().to_vec(),
            now.as_millis().to_string().into_bytes(),
        ];
        self.eval(&self.inner.scripts.index_add, &[&idx], &args)
            .await?;
        Ok(())
    }

    /// A write script's reply: the outcome, after running deferred index operations.
    async fn finish_write(
        &self,
        reply: RValue,
        now: Timestamp,
        pre_added: Option<(&str, &str)>,
    ) -> Result<WriteOutcome, StoreError> {
        let outcome = codec::decode_outcome(&reply)?;
        if self.inner.cluster {
            self.run_index_ops(&reply, now, pre_added).await?;
        }
        Ok(outcome)
    }

    /// The key prefix of this store.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The Redis key of the session value under `key` (for tests and operators).
    pub fn session_key(&self, key: &StoreKey) -> String {
        // Built in one presized string: this runs on every command of every request.
        let prefix = &self.inner.prefix;
        let mut k = String::with_capacity(prefix.len() + 2 + 64);
        k.push_str(prefix);
        k.push_str("s:");
        key.push_hex(&mut k);
        k
    }

    /// The Redis key of the renewal forward record left at `key` (standalone and
    /// Sentinel; `src/v2/forward.rs`): `{prefix}f:{hex}`, the same hex as the session
    /// key's.
    pub fn forward_key(&self, key: &StoreKey) -> String {
        let prefix = &self.inner.prefix;
        let mut k = String::with_capacity(prefix.len() + 2 + 64);
        k.push_str(prefix);
        k.push_str("f:");
        key.push_hex(&mut k);
        k
    }

    /// Sends one command, bounded by the command timeout.
    async fn send(&self, cmd: &Cmd) -> Result<RValue, StoreError> {
        // Only the standalone connection's future is held inline: the others are boxed,
        // because every future of this store nests this one (several times over in the
        // write loop), and the largest variant sets the size of all of them.
        let fut = async {
            match self.conn.clone() {
                Conn::Single(mut c) => c.send_packed_command(cmd).await,
                Conn::Cluster(mut c) => {
                    redis::aio::ConnectionLike::req_packed_command(&mut c, cmd).await
                }
                Conn::Sentinel(s) => Box::pin(async move { s.send(cmd).await }).await,
                Conn::Tracked(t) => Box::pin(async move { t.send(cmd).await }).await,
            }
        };
        connect::bounded(self.inner.command_timeout, fut).await
    }

    /// Runs `script` with `EVALSHA`, loading it with `EVAL` if the server lacks it.
    async fn eval(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[Vec<u8>],
    ) -> Result<RValue, StoreError> {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&script.sha).arg(keys.len()).arg(keys).arg(args);
        match self.send(&cmd).await {
            Err(e) if is_noscript(&e) => {
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(&script.body).arg(keys.len()).arg(keys).arg(args);
                self.send(&cmd).await
            }
            other => other,
        }
    }

    /// Writes `record` under `key` in **layout v1** (one hash per session), with the v1
    /// `create` script, as satchel-redis up to this version did. Only for tests of the
    /// migration (a v1 record must load and be rewritten in v2 by its next write): not
    /// part of the supported API.
    ///
    /// # Errors
    /// As [`SessionStore::create`].
    #[doc(hidden)]
    pub async fn create_v1_for_tests(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let member = key.to_hex();
        let mut args = self.header(now, &member, "");
        codec::push_record(&mut args, record);
        let k = self.session_key(key);
        let pre_added = match (&record.meta.owner, self.inner.cluster) {
            (Some(owner), true) => {
                let score = record.meta.absolute_deadline.as_millis().to_string();
                self.index_add(owner, &member, &score, now).await?;
                Some((owner.as_str(), member.as_str()))
            }
            _ => None,
        };
        let reply = self.eval(&self.inner.scripts.create, &[&k], &args).await?;
        self.finish_write(reply, now, pre_added).await
    }

    fn header(&self, now: Timestamp, member: &str, old_member: &str) -> Vec<Vec<u8>> {
        vec![
            now.as_millis().to_string().into_bytes(),
            self.mode_prefix(),
            member.as_bytes().to_vec(),
            old_member.as_bytes().to_vec(),
        ]
    }
}

fn is_noscript(e: &StoreError) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<redis::RedisError>())
        .is_some_and(|r| r.kind() == redis::ErrorKind::NoScriptError)
}

/// Layout v2's seam under the near cache (`v2/mod.rs`): one `GET`, and the
/// version-checked write on the cached version as its base.
impl near_cache::VersionedBackend for RedisStore {
    async fn get_versioned(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<v2::Loaded>, StoreError> {
        let loaded = self.load_versioned(key, now).await?;
        // The cache may not keep it (full, or invalidated in flight): the bases still give
        // the write that usually follows its version, so a cache miss costs the same
        // round trips as no cache at all (`GET`, then the write), not a second `GET`.
        if let Some(v2::Loaded {
            token: v2::Token::V2 { value, .. },
            ..
        }) = &loaded
        {
            self.inner.bases.put_stored(key, value.clone());
        }
        Ok(loaded)
    }

    async fn write_on_base(
        &self,
        key: &StoreKey,
        base: Option<Arc<v2::Loaded>>,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<(WriteOutcome, Option<v2::Loaded>), StoreError> {
        // A cached base first (the freshest this store can know); else what the last load
        // left in the bases. Either is only a guess the write checks at Redis.
        let base = match base {
            Some(b) => {
                self.inner.bases.forget(key);
                Some(v2::BaseRef::Shared(b))
            }
            None => self.inner.bases.take(key).map(v2::BaseRef::Owned),
        };
        self.apply_on(key, base, patch, now).await
    }
}

impl RedisStore {
    /// After a write of this store other than `apply` (which the cache tracks itself):
    /// forget the keys it touched, whatever its result (a timed-out write may have
    /// happened). The tracking connection runs in `NOLOOP` mode, so Redis will not.
    fn forget(&self, keys: &[&StoreKey]) {
        if let Some(cache) = &self.inner.near {
            for key in keys {
                cache.invalidate(self.session_key(key).as_bytes());
            }
        }
    }

    /// Offers the cached version of `key` (if any) to layout v2 as the base of a touch or
    /// rotation, so that a warm session needs no `GET` first. A stale one costs a retry
    /// at Redis, never a wrong write.
    fn seed_base(&self, key: &StoreKey) {
        if let Some(cache) = &self.inner.near {
            if let Some(cached) = cache.get(self.session_key(key).as_bytes()) {
                self.inner.bases.put(key, v2::Loaded::clone(&cached));
            }
        }
    }

    /// The near cache's counters, or `None` when the cache is off.
    pub fn near_cache_stats(&self) -> Option<NearCacheStats> {
        self.inner.near.as_deref().map(near_cache::stats)
    }

    /// Whether the near cache holds `key` now (for tests and the staleness tool).
    pub fn near_cache_holds(&self, key: &StoreKey) -> bool {
        self.inner
            .near
            .as_ref()
            .is_some_and(|c| c.contains(self.session_key(key).as_bytes()))
    }

    /// Round trip on the tracking connection (`PING`): when it returns, every
    /// invalidation Redis queued for this store before it has been applied. A no-op
    /// without the near cache.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn sync_near_cache(&self) -> Result<(), StoreError> {
        if self.inner.near.is_some() {
            self.send(&redis::cmd("PING")).await?;
        }
        Ok(())
    }
}

impl SessionStore for RedisStore {
    fn load<'s, 'k>(
        &'s self,
        key: &'k StoreKey,
        now: Timestamp,
    ) -> impl std::future::Future<Output = Result<Option<Record>, StoreError>> + Send + use<'s, 'k>
    {
        // A near-cache hit is answered before any future is built. The engine boxes the
        // future this returns on every request, and a load that talks to Redis is ~1.7 KB
        // (redis-rs's command future, the timeout): past glibc's fast path for small
        // allocations (tcache, <= 1 KiB), so a hit would pay a slow allocation for a
        // round trip it never makes. The round trip is boxed on its own instead: the
        // outer box stays small, and a load that goes to Redis allocates as before, plus
        // one small box.
        use futures_util::future::{BoxFuture, Either};
        let key = *key;
        if let Some(cache) = &self.inner.near {
            let k = self.session_key(&key);
            if let Some(answer) = near_cache::load_cached(cache, k.as_bytes(), now) {
                return Either::Left(std::future::ready(Ok(answer)));
            }
            let miss: BoxFuture<'s, _> =
                Box::pin(
                    async move { near_cache::load(cache, self, k.as_bytes(), &key, now).await },
                );
            return Either::Right(miss);
        }
        let load: BoxFuture<'s, _> = Box::pin(async move { self.load_v2(&key, now).await });
        Either::Right(load)
    }

    async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let result = self.create_v2(key, record, now).await;
        self.forget(&[key]);
        result
    }

    async fn apply(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        if let Some(cache) = &self.inner.near {
            // Writes to one session from this process still go one at a time.
            let _lane = self.inner.bases.lane(key).await;
            let k = self.session_key(key);
            return near_cache::apply(cache, self, k.as_bytes(), key, patch, now).await;
        }
        self.apply_v2(key, patch, now).await
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let result = if self.inner.cluster {
            self.rotate_across_slots(old, new, patch, now).await
        } else {
            self.seed_base(old);
            self.rotate_v2(old, new, patch, now).await
        };
        self.forget(&[old, new]);
        result
    }

    async fn renew(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        forward: &[u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        if self.inner.cluster {
            // The two session keys (and the forward key) are in different slots: no
            // atomic renewal, so none at all (`capabilities().renewal` is false).
            return Err(StoreError::unsupported(
                "id renewal on Redis Cluster (no atomic cross-slot move)",
            ));
        }
        self.seed_base(old);
        let result = self
            .renew_v2(old, new, patch, forward, grace_until, now)
            .await;
        self.forget(&[old, new]);
        result
    }

    async fn load_forward(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if self.inner.cluster {
            // This store never renews on a Cluster, so it never leaves a forward there.
            return Ok(None);
        }
        self.load_forward_v2(key, now).await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        let result = self.delete_v2(key).await;
        self.forget(&[key]);
        result?;
        self.wait_for_replicas().await
    }

    async fn touch(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Expires>, StoreError> {
        self.seed_base(key);
        let result = self.touch_v2(key, now).await;
        self.forget(&[key]);
        result
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::NONE;
        c.owner_index = true;
        c.atomic_patch = true;
        // One script on a server; across Cluster slots a load, create and delete.
        c.atomic_rotate = !self.inner.cluster;
        // One script on a server (the move and the forward together); never across
        // Cluster slots, so an engine configured with a renewal interval refuses a
        // Cluster store at construction (see the crate docs).
        c.renewal = !self.inner.cluster;
        // Redis expires sessions by itself (PXAT at the earlier deadline).
        c.purge = false;
        c
    }

    async fn sessions_of(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.sessions_of_v2(owner, now).await
    }

    async fn revoke_owner(&self, owner: &str, keep: Option<&StoreKey>) -> Result<u64, StoreError> {
        let result = match self.revoke_v2(owner, keep).await {
            Ok(n) => self.wait_for_replicas().await.map(|()| n),
            Err(e) => Err(e),
        };
        // The sessions it deleted are not all known here, and Redis sends this store no
        // invalidation for its own writes: forget everything (revocation is rare).
        if let Some(cache) = &self.inner.near {
            cache.flush();
        }
        result
    }
}

/// Cluster mode: the operations whose keys live in several slots. None of these is atomic
/// as a whole; each step is (one script on one key). See the crate docs for the failure
/// cases.
impl RedisStore {
    /// Load, check and patch, create under `new`, delete `old`. A crash between the create
    /// and the delete leaves both ids valid until `old` expires; a write to `old` that
    /// lands between the load and the delete is lost (the request that made it saw
    /// success).
    async fn rotate_across_slots(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let Some(mut record) = self.load(old, now).await? else {
            return Ok(WriteOutcome::Gone);
        };
        let conflicts = patch.conflicts(&record.data);
        if !conflicts.is_empty() {
            return Ok(WriteOutcome::Conflict(conflicts));
        }
        if patch.too_large(&record.data) {
            return Ok(WriteOutcome::TooLarge);
        }
        patch.apply_to(&mut record, now);
        let outcome = self.create(new, &record, now).await?;
        if matches!(outcome, WriteOutcome::Applied(_)) {
            self.delete(old).await?;
        }
        Ok(outcome)
    }
}
