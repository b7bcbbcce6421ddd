//! A connection to the primary of a Sentinel-monitored service that finds the new primary
//! by itself after a failover.
//!
//! Two ways to notice a failover: a command fails in a way that means "not the primary"
//! (`READONLY`, broken connection), or a background task, polling the sentinels every
//! [`POLL`], sees that they name another primary. The second matters: after a manual or
//! partitioned failover the old primary keeps accepting writes until the sentinels
//! reconfigure it, and those writes would be lost.
//!
//! With a near cache, each new connection is a tracking one (RESP3, `CLIENT TRACKING on
//! NOLOOP`, see `near_cache::tracked_conn`), and forgetting a connection (failover,
//! broken connection) flushes the cache: the new primary has never tracked anything for
//! this store, and invalidations from the old one may be lost.

/// How often the sentinels are asked which node is primary.
const POLL: Duration = Duration::from_millis(500);

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{AsyncConnectionConfig, Cmd, ErrorKind, RedisResult, Value};

use crate::near_cache::{tracked_conn, Cache};
use crate::RedisConfig;

/// The sentinels, and the current connection to the primary (if any).
pub(crate) struct SentinelConn {
    sentinels: tokio::sync::Mutex<SentinelClient>,
    /// The primary's address and a connection to it.
    current: Mutex<Option<(String, MultiplexedConnection)>>,
    config: AsyncConnectionConfig,
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
        let client = SentinelClient::build(
            nodes.to_vec(),
            service.to_owned(),
            None,
            SentinelServerType::Master,
        )?;
        Ok(SentinelConn {
            sentinels: tokio::sync::Mutex::new(client),
            current: Mutex::new(None),
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(config.connect_timeout)
                .set_response_timeout(config.command_timeout),
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

    /// Starts the task that polls the sentinels; it ends when the store is dropped.
    pub(crate) fn watch(this: &Arc<Self>) {
        let weak: Weak<Self> = Arc::downgrade(this);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(POLL).await;
                let Some(me) = weak.upgrade() else { return };
                let named = {
                    let mut sentinels = me.sentinels.lock().await;
                    tokio::time::timeout(POLL, sentinels.async_get_client()).await
                };
                let Ok(Ok(client)) = named else { continue };
                let addr = client.get_connection_info().addr.to_string();
                let stale = me
                    .current
                    .lock()
                    .ok()
                    .is_some_and(|c| c.as_ref().is_some_and(|(a, _)| *a != addr));
                if stale {
                    me.forget();
                }
            }
        });
    }

    /// The current connection, or a new one to whichever node the sentinels name primary.
    pub(crate) async fn connection(&self) -> RedisResult<MultiplexedConnection> {
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let mut sentinels = self.sentinels.lock().await;
        // Another call may have reconnected while this one waited for the lock.
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let client = sentinels.async_get_client().await?;
        let addr = client.get_connection_info().addr.to_string();
        let conn = match &self.near {
            None => {
                client
                    .get_multiplexed_async_connection_with_config(&self.config)
                    .await?
            }
            Some(cache) => tracked_conn::connect(&client, &self.config, cache, |_| {}).await?,
        };
        if let Ok(mut current) = self.current.lock() {
            *current = Some((addr, conn.clone()));
        }
        Ok(conn)
    }

    /// Sends `cmd`; on an error that means "not the primary (any more)" or a broken
    /// connection, forgets the connection so that the next call asks the sentinels again.
    pub(crate) async fn send(&self, cmd: &Cmd) -> RedisResult<Value> {
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
