//! What survives a failover or a full Redis: waiting for replicas after a revocation
//! ([`WaitForReplicas`], SEC-43) and the startup check of the server's eviction policy
//! ([`eviction_policy_risk`], SEC-44). See `docs/reliability.md`.
//!
//! Redis replication is asynchronous: a logout the primary acknowledged can still be
//! missing on the replica a failover promotes a moment later, and the logged-out cookie
//! then works again. With [`RedisConfig::wait_for_replicas`] set, `delete` (logout) and
//! `revoke_owner` ("log out everywhere") end with `WAIT replicas timeout` on the store's
//! own connection (WAIT covers every earlier write of the connection it is sent on, so
//! it must be that one) and fail with `Backend` when fewer replicas confirmed in time:
//! the logout is then not acknowledged (503, the cookie is kept) instead of acknowledged
//! and later undone. The user's retry finds the session gone (on the old primary or the
//! new one) and waits again. Not `Unavailable`: the primary answered, and that kind
//! would open the engine's circuit breaker, failing every request (not only logouts)
//! while a replica is missing.
//!
//! The cost: the store multiplexes every request over one connection, and Redis answers
//! a connection's commands in order, so requests queued behind a `WAIT` wait for it too:
//! one replication round trip per logout normally (well under a millisecond on one
//! host), up to `timeout` while no replica answers. Hence off by default.

use std::time::Duration;

use redis::Value as RValue;
use satchel::{StoreError, StoreErrorKind};

use crate::{RedisConfig, RedisStore};

/// `WAIT replicas timeout` after each revoking write (logout, `revoke_owner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitForReplicas {
    /// How many replicas must have the revocation before it is acknowledged (1 for a
    /// primary with one replica; on a Cluster, per primary).
    pub replicas: u32,
    /// How long to wait for them. Keep it below [`RedisConfig::command_timeout`]: past
    /// that the call fails with `Timeout` instead, which opens the engine's circuit
    /// breaker.
    pub timeout: Duration,
}

impl WaitForReplicas {
    /// Wait for `replicas` replicas, at most `timeout`.
    pub fn new(replicas: u32, timeout: Duration) -> Self {
        WaitForReplicas { replicas, timeout }
    }
}

impl RedisStore {
    /// Runs the configured `WAIT` (a no-op without [`RedisConfig::wait_for_replicas`]).
    pub(crate) async fn wait_for_replicas(&self) -> Result<(), StoreError> {
        let Some(wait) = self.inner.wait_for_replicas else {
            return Ok(());
        };
        let millis = u64::try_from(wait.timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let reply = self
            .send(redis::cmd("WAIT").arg(wait.replicas).arg(millis))
            .await?;
        let acked = match reply {
            RValue::Int(n) => n,
            _ => {
                return Err(StoreError::msg(
                    StoreErrorKind::Backend,
                    "WAIT answered something other than a number",
                ))
            }
        };
        if acked < i64::from(wait.replicas) {
            return Err(StoreError::msg(
                StoreErrorKind::Backend,
                "the revocation reached fewer replicas than RedisConfig::wait_for_replicas \
                 asks for; not acknowledged",
            ));
        }
        Ok(())
    }
}

/// Why `policy` (a `maxmemory-policy` value) is risky for a session store, or `None` when
/// it is not.
///
/// - `noeviction`: a full Redis refuses writes (`OOM`, the integrations answer 503):
///   nothing is lost silently. Not risky.
/// - `volatile-ttl`: evicts the keys closest to their expiry first. Every session key
///   carries its deadline as TTL and an owner's index expires with the last of its
///   sessions, so sessions go before the index that lists them: evicted users are logged
///   out (a fresh anonymous session), nothing else. Not risky.
/// - `allkeys-lru`, `allkeys-lfu`, `allkeys-random`, `volatile-lru`, `volatile-lfu`,
///   `volatile-random`: can evict an owner's index (read only on login and on "log out
///   everywhere", so it looks cold) while the sessions it lists live on, and then
///   `revoke_owner` misses them: a device the user logged out stays logged in. Risky.
pub fn eviction_policy_risk(policy: &str) -> Option<&'static str> {
    match policy {
        "allkeys-lru" | "allkeys-lfu" | "volatile-lru" | "volatile-lfu" => Some(
            "it can evict an owner index (cold: read only on login and revoke) while its \
             sessions live, so \"log out everywhere\" misses them",
        ),
        "allkeys-random" | "volatile-random" => Some(
            "it can evict an owner index while its sessions live, so \"log out \
             everywhere\" misses them",
        ),
        _ => None,
    }
}

/// At connect: read `maxmemory-policy` (`INFO memory`, which needs no `CONFIG` rights) of
/// the server(s) in `url` and warn (target `satchel`) when it is risky. Never fails the
/// connect: a server that cannot be asked is the connect's own business.
pub(crate) async fn warn_on_risky_eviction_policy(url: &str, config: &RedisConfig) {
    let nodes: Vec<String> = if let Some(nodes) = url.strip_prefix("redis+cluster://") {
        nodes
            .split(',')
            .filter(|n| !n.is_empty())
            .map(|n| format!("redis://{n}"))
            .collect()
    } else if url.starts_with("redis+sentinel://") {
        // The primary is found through the sentinels: the Sentinel connection checks each
        // primary it connects to (at connect, and again after a failover).
        return;
    } else {
        vec![url.to_owned()]
    };
    for node in nodes {
        if let Some(policy) = eviction_policy(&node, config.connect_timeout).await {
            warn_if_risky(&policy);
        }
    }
}

/// Logs the warning for `policy` if it is risky.
pub(crate) fn warn_if_risky(policy: &str) {
    if let Some(why) = eviction_policy_risk(policy) {
        tracing::warn!(
            target: "satchel",
            maxmemory_policy = policy,
            "Redis maxmemory-policy is risky for sessions: {why}; use volatile-ttl or noeviction (docs/reliability.md)"
        );
    }
}

/// The `maxmemory_policy` field of `INFO memory` on `url`, or `None` when it cannot be
/// read in `timeout`.
async fn eviction_policy(url: &str, timeout: Duration) -> Option<String> {
    let client = redis::Client::open(url).ok()?;
    let ask = async {
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        policy_on(&mut conn, timeout).await
    };
    tokio::time::timeout(timeout, ask).await.ok().flatten()
}

/// The `maxmemory_policy` field of `INFO memory` asked on `conn`, or `None` when it
/// cannot be read in `timeout`.
pub(crate) async fn policy_on(
    conn: &mut impl redis::aio::ConnectionLike,
    timeout: Duration,
) -> Option<String> {
    let ask = async {
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(conn)
            .await
            .ok()?;
        policy_in(&info)
    };
    tokio::time::timeout(timeout, ask).await.ok().flatten()
}

/// The `maxmemory_policy` field of an `INFO memory` reply.
fn policy_in(info: &str) -> Option<String> {
    info.lines()
        .filter_map(|l| l.trim_end().split_once(':'))
        .find(|(k, _)| *k == "maxmemory_policy")
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        for safe in ["noeviction", "volatile-ttl", ""] {
            assert_eq!(eviction_policy_risk(safe), None, "{safe}");
        }
        for risky in [
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
        ] {
            assert!(eviction_policy_risk(risky).is_some(), "{risky}");
        }
    }
}
