//! `tower-sessions-redis`: axum 0.8 + tower-sessions 0.14 over tower-sessions-redis-store
//! 0.16's `RedisStore` (its latest release, which implements tower-sessions-core 0.14's store
//! trait, hence 0.14 here as for `tower-sessions-postgres`), on the same Redis as
//! `satchel-redis` and `actix-session-redis` (`$SATCHEL_REDIS_URL`, default
//! `redis://127.0.0.1:6379`). The store has no key prefix (keys are the raw session ids), so it
//! gets a database of its own, [`DB`], instead of the URL's. Configured like the other
//! tower-sessions variants: `Secure` off, 30-minute expiry on inactivity.
//!
//! One fred 10 `Client` (one auto-pipelining connection) rather than the store's documented
//! `Pool` of 6: on this workload the single connection measured best. It is connected on the
//! server's own runtime (see [`spawn_axum_async`]), so, as with the other Redis variants, the
//! measured thread drives the connection. fred's other settings are its defaults.

use std::time::Duration;

use anyhow::Context as _;
use tower_sessions_redis_store::fred::prelude::{ClientLike as _, Config};
use tower_sessions_redis_store::fred::types::Builder;
use tower_sessions_redis_store::RedisStore;

use super::actix_session_redis::redis_url;
use super::Variant;
use crate::redis_keys::RedisKeys;
use crate::server::{spawn_axum_async, RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "tower-sessions-redis",
    summary: "axum 0.8 + tower-sessions 0.14, tower-sessions-redis-store 0.16 RedisStore on the same Redis (database 14), one fred 10 client connection driven by the server thread; Secure off, 30 min expiry on inactivity",
    sessions: true,
    // Raw session ids as keys: its database is its own, so every key there is its.
    redis: Some(RedisKeys {
        db: Some(DB),
        prefix: "",
        read_before_measuring: false,
    }),
    spawn,
};

/// The Redis database this variant's sessions live in (the store cannot prefix its keys).
pub const DB: u8 = 14;

/// How long start-up waits for the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    let url = redis_url();
    let mut config = Config::from_url(&url)
        .with_context(|| format!("tower-sessions-redis: bad $SATCHEL_REDIS_URL {url:?}"))?;
    config.database = Some(DB);
    let client = Builder::from_config(config)
        .build()
        .context("tower-sessions-redis: fred client")?;
    spawn_axum_async(VARIANT.name, opts, move || async move {
        // Connected on the server's runtime: fred spawns its connection task there, so the
        // measured thread drives it.
        tokio::time::timeout(CONNECT_TIMEOUT, client.init())
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r.map(drop).map_err(anyhow::Error::from))
            .with_context(|| {
                format!("tower-sessions-redis needs Redis at {url} ($SATCHEL_REDIS_URL)")
            })?;
        Ok(super::tower_sessions_postgres::router(RedisStore::new(
            client,
        )))
    })
}
