//! `satchel-redis`: axum 0.8 + satchel's `SessionLayer` over satchel-redis's `RedisStore`
//! (redis-rs `ConnectionManager`, one multiplexed connection) on the Redis at
//! `$SATCHEL_REDIS_URL` (default `redis://127.0.0.1:6379`), keys under
//! `satchel-bench:satchel:`. Same routes and session policy as `satchel-memory`.
//!
//! `RedisStore::connect` is async and the router is built synchronously, so the store is
//! connected on a small runtime thread of its own, which then keeps driving the
//! connection's I/O (unlike `actix-session-redis`, whose connection runs on the measured
//! worker thread). Noted in the report line.

use anyhow::Context as _;
use satchel::SessionConfig;
use satchel_redis::{RedisConfig, RedisStore};

use super::actix_session_redis::redis_url;
use super::Variant;
use crate::redis_keys::RedisKeys;
use crate::server::{spawn_axum_async, RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "satchel-redis",
    summary: "axum 0.8 + satchel-axum SessionLayer, satchel-redis RedisStore on local Redis ($SATCHEL_REDIS_URL), its connection driven by the server thread; Secure off, default 30 min idle timeout",
    sessions: true,
    redis: Some(RedisKeys {
        db: None,
        prefix: PREFIX,
        read_before_measuring: false,
    }),
    spawn,
};

/// Where this variant's keys live (every key satchel-redis writes starts with its prefix).
pub const PREFIX: &str = "satchel-bench:satchel:";

/// Connects on a thread that keeps running the connection afterwards.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .map_err(|e| anyhow::anyhow!("satchel config: {e:?}"))?;
    let url = redis_url();
    spawn_axum_async(VARIANT.name, opts, move || async move {
        // Connected on the server's runtime, so the measured thread drives the connection,
        // as the actix-session Redis variant's does.
        let store = RedisStore::connect(&url, RedisConfig::with_prefix(PREFIX))
            .await
            .with_context(|| format!("satchel-redis needs Redis at {url} ($SATCHEL_REDIS_URL)"))?;
        Ok(super::satchel_memory::router(store, config))
    })
}
