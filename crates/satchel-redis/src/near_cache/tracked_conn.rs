//! The tracking connection: one RESP3 multiplexed connection with `CLIENT TRACKING on
//! NOLOOP`, re-enabled on every reconnect, whose invalidation pushes are applied to the
//! cache inside the connection's read loop.
//!
//! redis-rs's `ConnectionManager` reconnects by itself but cannot run a command on the new
//! connection before handing it out (it only replays pub/sub subscriptions), so a
//! reconnect there would silently leave the cache untracked. This wrapper reconnects on
//! the next call instead, and publishes a connection only after Redis accepted `CLIENT
//! TRACKING` on it and the cache was flushed.
//!
//! Ordering: redis-rs calls the push sender synchronously in the read loop, in socket
//! order. An invalidation Redis queued before a reply is therefore applied before that
//! reply reaches its caller; once a `PING` sent on this connection has answered, every
//! invalidation Redis queued for it before the `PING` has been applied.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Cmd, PushInfo, PushKind, RedisResult, Value};

use super::Cache;

/// After a failed connection attempt, calls fail at once for this long instead of each
/// trying again (Redis down: answer fast).
const RETRY_AFTER: Duration = Duration::from_millis(100);

#[derive(Clone)]
struct Live {
    id: u64,
    conn: MultiplexedConnection,
}

type Slot = Mutex<Option<Live>>;

pub(crate) struct TrackedConn {
    client: redis::Client,
    cache: Arc<Cache>,
    config: AsyncConnectionConfig,
    live: Arc<Slot>,
    /// One connection attempt at a time.
    connecting: tokio::sync::Mutex<Option<Instant>>,
    next_id: AtomicU64,
}

fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, Option<Live>> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens a tracking connection with `client` (switched to RESP3): invalidation pushes go
/// to `cache`, a disconnection flushes it and calls `on_disconnect`; `CLIENT TRACKING on
/// NOLOOP` is accepted before it returns, and the cache is flushed (whatever was cached
/// before was not tracked by this connection).
pub(crate) async fn connect(
    client: &redis::Client,
    config: &AsyncConnectionConfig,
    cache: &Arc<Cache>,
    on_disconnect: impl Fn(&Cache) + Send + Sync + 'static,
) -> RedisResult<MultiplexedConnection> {
    let mut info = client.get_connection_info().clone();
    info.redis.protocol = redis::ProtocolVersion::RESP3;
    let client = redis::Client::open(info)?;
    let for_pushes = cache.clone();
    let config = config.clone().set_push_sender(
        move |info: PushInfo| -> Result<(), std::convert::Infallible> {
            on_push(&for_pushes, info, &on_disconnect);
            Ok(())
        },
    );
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .arg("NOLOOP")
        .exec_async(&mut conn)
        .await?;
    cache.flush();
    Ok(conn)
}

/// Applies one push to the cache.
fn on_push(cache: &Cache, info: PushInfo, on_disconnect: &impl Fn(&Cache)) {
    match info.kind {
        PushKind::Invalidate => match info.data.first() {
            Some(Value::Array(keys)) => {
                for key in keys {
                    match key {
                        Value::BulkString(k) => cache.invalidate(k),
                        // Not a key name: flushing is the only safe reading.
                        _ => cache.flush(),
                    }
                }
            }
            // A null key list: FLUSHALL/FLUSHDB on the server.
            _ => cache.flush(),
        },
        PushKind::Disconnection => {
            // Pushes may have been lost with the connection.
            cache.flush();
            on_disconnect(cache);
        }
        _ => {}
    }
}

impl TrackedConn {
    pub(crate) fn new(
        client: redis::Client,
        cache: Arc<Cache>,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Self {
        TrackedConn {
            client,
            cache,
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(connect_timeout)
                .set_response_timeout(command_timeout),
            live: Arc::new(Mutex::new(None)),
            connecting: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }

    /// The live connection, connecting (and enabling tracking) first if there is none.
    async fn connection(&self) -> RedisResult<Live> {
        if let Some(live) = lock(&self.live).clone() {
            return Ok(live);
        }
        let mut last_failure = self.connecting.lock().await;
        if let Some(live) = lock(&self.live).clone() {
            return Ok(live);
        }
        if last_failure.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
            return Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "Redis unreachable (retrying shortly)",
            )));
        }
        match self.connect().await {
            Ok(live) => {
                *last_failure = None;
                Ok(live)
            }
            Err(e) => {
                *last_failure = Some(Instant::now());
                Err(e)
            }
        }
    }

    async fn connect(&self) -> RedisResult<Live> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot: Weak<Slot> = Arc::downgrade(&self.live);
        let conn = connect(&self.client, &self.config, &self.cache, move |_| {
            if let Some(slot) = slot.upgrade() {
                let mut live = lock(&slot);
                if live.as_ref().is_some_and(|l| l.id == id) {
                    *live = None;
                }
            }
        })
        .await?;
        let live = Live { id, conn };
        *lock(&self.live) = Some(live.clone());
        Ok(live)
    }

    /// Connects once now (at startup: an unreachable Redis or a refused `CLIENT TRACKING`
    /// is an error the caller reports).
    pub(crate) async fn start(&self) -> RedisResult<()> {
        self.connect().await.map(|_| ())
    }

    /// Sends one command on the tracking connection. A connection error retires the
    /// connection (and flushes the cache); the next call reconnects.
    pub(crate) async fn send(&self, cmd: &Cmd) -> RedisResult<Value> {
        let live = self.connection().await?;
        let mut conn = live.conn.clone();
        let result = conn.send_packed_command(cmd).await;
        if let Err(e) = &result {
            if e.is_unrecoverable_error() || e.is_connection_dropped() || e.is_io_error() {
                self.cache.flush();
                let mut slot = lock(&self.live);
                if slot.as_ref().is_some_and(|l| l.id == live.id) {
                    *slot = None;
                }
            }
        }
        result
    }
}
