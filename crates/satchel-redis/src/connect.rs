//! Connecting to one Redis server and mapping redis-rs errors to satchel's kinds: the one
//! implementation [`RedisStore`](crate::RedisStore) and satchel-connect's Node-format
//! stores (connect-redis, koa-redis) share, so a failure means the same thing (and gets
//! the same 503 or 500) whichever store met it.
//!
//! Doc-hidden: an interface between workspace crates, not part of satchel-redis's API.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Value as RValue;
use satchel::{StoreError, StoreErrorKind};

/// Maps a redis-rs error to a store error of the right kind, keeping it as the source:
/// timeouts are `Timeout`; a `WRONGTYPE` (something other than a string under a session
/// key) is `Corrupt`; a lost or refused connection, a server still loading, a Cluster or
/// primary that is down, a read-only replica and `OOM` are `Unavailable` (the request is
/// worth retrying later); everything else is `Backend`, `NOREPLICAS` included on purpose
/// (a primary with `min-replicas-to-write` and too few replicas, e.g. the old primary of a
/// failover once its replica is promoted): the server answered and reads still work, so
/// it must not open the engine's circuit breaker, as for a failed `WAIT` (`durability.rs`).
pub fn store_error(e: redis::RedisError) -> StoreError {
    use redis::ErrorKind as K;
    let kind = if e.is_timeout() {
        StoreErrorKind::Timeout
    } else if e.code() == Some("WRONGTYPE") {
        StoreErrorKind::Corrupt
    } else if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || matches!(
            e.kind(),
            K::BusyLoadingError
                | K::TryAgain
                | K::ClusterDown
                | K::MasterDown
                | K::ReadOnly
                | K::ClusterConnectionNotFound
        )
        || e.code() == Some("OOM")
    {
        StoreErrorKind::Unavailable
    } else {
        StoreErrorKind::Backend
    };
    StoreError::new(kind, e)
}

/// The error for a connection that was not established in time.
pub fn connect_timed_out() -> StoreError {
    StoreError::msg(StoreErrorKind::Timeout, "connecting to Redis timed out")
}

/// A multiplexed, self-reconnecting connection to one server: each attempt bounded by
/// `connect_timeout`, each reply by `command_timeout`, two quick retries and then
/// reconnection in the background on later calls; the whole setup bounded by four
/// connection attempts.
///
/// # Errors
/// [`store_error`]'s kinds, or `Timeout` when the server did not answer in time.
pub async fn connection_manager(
    client: redis::Client,
    connect_timeout: Duration,
    command_timeout: Duration,
) -> Result<ConnectionManager, StoreError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(connect_timeout)
        .set_response_timeout(command_timeout)
        // Reconnect quickly and keep trying in the background on later calls.
        .set_number_of_retries(2)
        .set_max_delay(500);
    tokio::time::timeout(
        connect_timeout.saturating_mul(4),
        ConnectionManager::new_with_config(client, config),
    )
    .await
    .map_err(|_| connect_timed_out())?
    .map_err(store_error)
}

/// `fut` (one command) bounded by `command_timeout`, an error reply turned into an error,
/// and errors mapped by [`store_error`].
///
/// # Errors
/// As [`store_error`], or `Timeout` past `command_timeout`.
pub fn bounded(
    command_timeout: Duration,
    fut: impl Future<Output = redis::RedisResult<RValue>>,
) -> impl Future<Output = Result<RValue, StoreError>> {
    // A combinator, not an `async fn`: an `async fn` would keep `fut` as its argument and
    // again inside the awaited `Timeout`, doubling the size of every command's future
    // (and of every store future that nests it, boxed and copied per call by the engine).
    futures_util::FutureExt::map(tokio::time::timeout(command_timeout, fut), |r| match r {
        Ok(reply) => reply.and_then(RValue::extract_error).map_err(store_error),
        Err(_) => Err(StoreError::msg(
            StoreErrorKind::Timeout,
            "Redis did not answer in time",
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bounded` adds the timer, not a second copy of the command's future.
    #[tokio::test]
    async fn a_bounded_command_holds_its_future_once() {
        async fn command() -> redis::RedisResult<RValue> {
            let state = [1u8; 4096];
            tokio::task::yield_now().await;
            Ok(RValue::Int(i64::from(state[4095])))
        }
        let inner = std::mem::size_of_val(&command());
        let fut = bounded(Duration::from_secs(5), command());
        let size = std::mem::size_of_val(&fut);
        assert!(
            size < inner + 256,
            "bounded {size} bytes around a {inner}-byte command"
        );
        assert_eq!(fut.await.expect("answered"), RValue::Int(1));
    }
}
