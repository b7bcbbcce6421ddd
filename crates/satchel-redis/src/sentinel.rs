//! A connection to the primary of a Sentinel-monitored service that moves to the new
//! primary by itself after a failover.
//!
//! Three ways to notice a failover, fastest first:
//!
//! 1. The sentinels' Pub/Sub: one subscription per sentinel (only the sentinel that leads
//!    a failover publishes its steps; the others publish `+switch-master` when they learn
//!    the new configuration), re-subscribed after a reconnect, each checked with a `PING`
//!    every [`watch::PING`] (`watch.rs`). On the leader's `+elected-leader` or
//!    `+selected-slave` (a failover of this service is starting and the replica is about to
//!    be promoted) the store **fences**: commands wait (within their timeout) instead of
//!    going to the primary that is about to be demoted. On the first `+switch-master` it
//!    moves to the address the message names and lifts the fence; an abort
//!    (`-failover-abort-*`, `+failover-end-for-timeout`) or [`FENCE_MAX`] lifts it too.
//! 2. A command fails in a way that means "not the primary (any more)" (`READONLY`,
//!    broken connection): the next call asks the sentinels again.
//! 3. The fallback poll: every [`POLL`] every sentinel is asked (`SENTINEL MASTER`), for
//!    when an event was missed (a subscription being re-established, a sentinel
//!    partitioned from us).
//!
//! Why this matters: after a manual or partitioned failover the old primary keeps
//! accepting writes until the sentinels reconfigure it, and loses them when it resyncs as
//! a replica. `+switch-master` alone comes too late: the leader publishes it once it has
//! seen the replica answer as a primary (its next `INFO`, up to a second after the
//! promotion), and writes in between are lost; hence the fence, which starts before the
//! promotion. The fence depends on receiving the leader's events: with a subscription
//! down, or a partition, only a server-side guard closes the window
//! (`min-replicas-to-write`, see `docs/reliability.md`).
//!
//! Sentinels do not all learn a new configuration at once, so answers are ordered by the
//! configuration epoch (`config-epoch` of `SENTINEL MASTER`): the store never moves back
//! to an address named under an older epoch than the one it follows, and ignores a
//! sentinel that is in the middle of a failover (its epoch is new, its address not yet).
//!
//! With a near cache, each new connection is a tracking one (RESP3, `CLIENT TRACKING on
//! NOLOOP`, see `near_cache::tracked_conn`), and forgetting a connection (failover,
//! broken connection) flushes the cache: the new primary has never tracked anything for
//! this store, and invalidations from the old one may be lost.
//!
//! Each primary the store connects to for the first time has its `maxmemory-policy`
//! checked (`durability::warn_if_risky`), so a risky policy is logged at connect and
//! again after a failover to a differently configured node.

#[cfg(test)]
mod tests;
mod watch;

/// How often every sentinel is asked which node is primary (the fallback of the
/// `+switch-master` subscription).
const POLL: Duration = Duration::from_millis(500);

/// The longest a fence holds without a `+switch-master` or an abort (a leader that died
/// mid-failover, a lost subscription): then commands go to whichever node the sentinels
/// name again.
const FENCE_MAX: Duration = Duration::from_secs(10);

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, RedisResult, Value,
};

use crate::near_cache::{tracked_conn, Cache};
use crate::RedisConfig;

/// A primary as a sentinel names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Named {
    host: String,
    port: u16,
    /// The sentinel's configuration epoch for the service (higher is newer).
    epoch: u64,
}

impl Named {
    fn same_node(&self, host: &str, port: u16) -> bool {
        self.host == host && self.port == port
    }
}

/// The sentinels, and the current connection to the primary (if any).
pub(crate) struct SentinelConn {
    /// One client per sentinel, in the order given.
    sentinels: Vec<redis::Client>,
    service: String,
    /// The newest primary the sentinels named.
    named: Mutex<Option<Named>>,
    /// The primary's address and a connection to it.
    current: Mutex<Option<((String, u16), MultiplexedConnection)>>,
    /// Serialises reconnects, so concurrent calls after a failover open one connection.
    connecting: tokio::sync::Mutex<()>,
    /// While a failover of the service is under way: until when commands wait.
    fence: Mutex<Option<Instant>>,
    /// Wakes the commands waiting on the fence when it is lifted.
    lifted: tokio::sync::Notify,
    /// The last primary whose eviction policy was checked.
    policy_checked: Mutex<Option<(String, u16)>>,
    config: AsyncConnectionConfig,
    /// Bounds one question to a sentinel (connect + reply).
    ask_timeout: Duration,
    /// The fallback poll's period; `None` (tests only) runs no poll.
    poll: Option<Duration>,
    /// The near cache, when configured.
    near: Option<Arc<Cache>>,
}

impl SentinelConn {
    pub(crate) fn new(
        nodes: &[String],
        service: &str,
        config: &RedisConfig,
        near: Option<Arc<Cache>>,
    ) -> RedisResult<Self> {
        Self::with_poll(nodes, service, config, near, Some(POLL))
    }

    fn with_poll(
        nodes: &[String],
        service: &str,
        config: &RedisConfig,
        near: Option<Arc<Cache>>,
        poll: Option<Duration>,
    ) -> RedisResult<Self> {
        let sentinels = nodes
            .iter()
            .map(|n| redis::Client::open(n.as_str()))
            .collect::<RedisResult<Vec<_>>>()?;
        if sentinels.is_empty() {
            return Err(redis::RedisError::from((
                ErrorKind::InvalidClientConfig,
                "no sentinel given",
            )));
        }
        Ok(SentinelConn {
            sentinels,
            service: service.to_owned(),
            named: Mutex::new(None),
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            fence: Mutex::new(None),
            lifted: tokio::sync::Notify::new(),
            policy_checked: Mutex::new(None),
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(config.connect_timeout)
                .set_response_timeout(config.command_timeout),
            ask_timeout: config.connect_timeout.max(Duration::from_millis(100)),
            poll,
            near,
        })
    }

    fn cached(&self) -> Option<MultiplexedConnection> {
        self.current
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|(_, conn)| conn.clone()))
    }

    fn forget(&self) {
        if let Ok(mut current) = self.current.lock() {
            *current = None;
        }
        if let Some(cache) = &self.near {
            cache.flush();
        }
    }

    /// Starts the background tasks (one subscriber per sentinel, the poll); they end
    /// when the store is dropped.
    pub(crate) fn watch(this: &Arc<Self>) {
        watch::start(this);
    }

    /// Takes `n` as the primary if it is newer than what the store follows (or `force`:
    /// a `+switch-master` whose epoch could not be read), and drops the connection to
    /// any other node.
    fn observe(&self, n: Named, force: bool) {
        let Ok(mut named) = self.named.lock() else {
            return;
        };
        let take = match &*named {
            None => true,
            Some(k) => n.epoch > k.epoch || force,
        };
        if !take {
            return;
        }
        let stale = self
            .current
            .lock()
            .ok()
            .is_some_and(|c| c.as_ref().is_some_and(|((h, p), _)| !n.same_node(h, *p)));
        // Forget under the `named` lock, so no one sees the new primary named while the
        // old one's connection is still handed out.
        let moved = named
            .as_ref()
            .is_some_and(|k| !k.same_node(&n.host, n.port));
        if stale {
            self.forget();
        }
        *named = Some(n);
        drop(named);
        if moved {
            self.lift();
        }
    }

    /// A failover is starting: commands wait until it ends (at most [`FENCE_MAX`]).
    fn raise_fence(&self) {
        if let Ok(mut fence) = self.fence.lock() {
            *fence = Some(Instant::now() + FENCE_MAX);
        }
    }

    /// The failover ended (switched or aborted): commands go on.
    fn lift(&self) {
        if let Ok(mut fence) = self.fence.lock() {
            *fence = None;
        }
        self.lifted.notify_waiters();
    }

    /// Waits while the fence is up (the caller's timeout bounds it).
    async fn pass_fence(&self) {
        loop {
            // Created before the check, so a lift in between is not missed.
            let lifted = self.lifted.notified();
            let left = self
                .fence
                .lock()
                .ok()
                .and_then(|f| *f)
                .and_then(|until| until.checked_duration_since(Instant::now()));
            let Some(left) = left else { return };
            let _ = tokio::time::timeout(left, lifted).await;
        }
    }

    /// The epoch the store follows (0 before any answer).
    fn known_epoch(&self) -> u64 {
        self.named
            .lock()
            .ok()
            .and_then(|n| n.as_ref().map(|n| n.epoch))
            .unwrap_or(0)
    }

    /// What sentinel `i` names, or `None` (no answer in time, in the middle of a
    /// failover, or an answer that is not a primary's description).
    async fn ask(&self, i: usize) -> Option<Named> {
        let client = self.sentinels.get(i)?;
        let question = async {
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&self.config)
                .await
                .ok()?;
            let fields: Vec<String> = redis::cmd("SENTINEL")
                .arg("MASTER")
                .arg(&self.service)
                .query_async(&mut conn)
                .await
                .ok()?;
            parse_master(&fields)
        };
        tokio::time::timeout(self.ask_timeout, question)
            .await
            .ok()
            .flatten()
    }

    /// Asks every sentinel at once and takes the newest answer.
    async fn ask_all(&self) {
        let answers =
            futures_util::future::join_all((0..self.sentinels.len()).map(|i| self.ask(i))).await;
        if let Some(best) = answers.into_iter().flatten().max_by_key(|n| n.epoch) {
            self.observe(best, false);
        }
    }

    /// The current connection, or a new one to whichever node the sentinels name primary.
    pub(crate) async fn connection(&self) -> RedisResult<MultiplexedConnection> {
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let _connecting = self.connecting.lock().await;
        // Another call may have reconnected while this one waited for the lock.
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        self.ask_all().await;
        let Some(target) = self.named.lock().ok().and_then(|n| n.clone()) else {
            return Err(redis::RedisError::from((
                ErrorKind::MasterDown,
                "no sentinel named a primary",
            )));
        };
        let client = redis::Client::open(ConnectionInfo {
            addr: ConnectionAddr::Tcp(target.host.clone(), target.port),
            redis: Default::default(),
        })?;
        let mut conn = match &self.near {
            None => {
                client
                    .get_multiplexed_async_connection_with_config(&self.config)
                    .await?
            }
            Some(cache) => tracked_conn::connect(&client, &self.config, cache, |_| {}).await?,
        };
        let addr = (target.host, target.port);
        self.check_policy(&addr, &mut conn).await;
        if let Ok(mut current) = self.current.lock() {
            *current = Some((addr, conn.clone()));
        }
        Ok(conn)
    }

    /// Warns about a risky `maxmemory-policy` of a primary the store has not checked yet
    /// (the one found at connect, then each new one after a failover).
    async fn check_policy(&self, addr: &(String, u16), conn: &mut MultiplexedConnection) {
        let fresh = self
            .policy_checked
            .lock()
            .is_ok_and(|mut c| c.replace(addr.clone()).as_ref() != Some(addr));
        if fresh {
            if let Some(policy) = crate::durability::policy_on(conn, self.ask_timeout).await {
                crate::durability::warn_if_risky(&policy);
            }
        }
    }

    /// Sends `cmd`; on an error that means "not the primary (any more)" or a broken
    /// connection, forgets the connection so that the next call asks the sentinels again.
    pub(crate) async fn send(&self, cmd: &Cmd) -> RedisResult<Value> {
        self.pass_fence().await;
        let mut conn = self.connection().await?;
        let result = conn
            .req_packed_command(cmd)
            .await
            .and_then(Value::extract_error);
        if let Err(e) = &result {
            if e.is_io_error()
                || e.is_connection_dropped()
                || e.is_connection_refusal()
                || e.is_timeout()
                || e.kind() == ErrorKind::ReadOnly
                || e.kind() == ErrorKind::MasterDown
            {
                self.forget();
            }
        }
        result
    }
}

/// The primary described by a `SENTINEL MASTER` reply (field, value, field, value...),
/// or `None` when a field is missing or the sentinel is in the middle of a failover (it
/// has raised the epoch but not changed the address yet).
fn parse_master(fields: &[String]) -> Option<Named> {
    let get = |name: &str| {
        fields
            .chunks_exact(2)
            .find(|kv| kv[0] == name)
            .map(|kv| kv[1].as_str())
    };
    if get("flags")?
        .split(',')
        .any(|f| f == "failover_in_progress")
    {
        return None;
    }
    Some(Named {
        host: get("ip")?.to_owned(),
        port: get("port")?.parse().ok()?,
        epoch: get("config-epoch")?.parse().ok()?,
    })
}

/// Whether a sentinel event's payload is about `service`: `master <name> <ip> <port>…`
/// for the primary's own events, `<type> <name> <ip> <port> @ <master> <ip> <port>` for
/// the events of its replicas.
fn about(payload: &str, service: &str) -> bool {
    let words: Vec<&str> = payload.split(' ').collect();
    match words.as_slice() {
        ["master", name, ..] if *name == service => true,
        _ => words
            .iter()
            .position(|w| *w == "@")
            .and_then(|at| words.get(at + 1))
            .is_some_and(|name| *name == service),
    }
}

/// The new primary of `service` in a `+switch-master` payload (`name old-ip old-port
/// new-ip new-port`), or `None` for another service or a payload of another shape.
fn parse_switch(payload: &str, service: &str) -> Option<(String, u16)> {
    let parts: Vec<&str> = payload.split(' ').collect();
    match parts.as_slice() {
        [name, _, _, ip, port] if *name == service => Some(((*ip).to_owned(), port.parse().ok()?)),
        _ => None,
    }
}
