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
use crate::server::{spawn_axum, RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "satchel-redis",
    summary: "axum 0.8 + satchel-axum SessionLayer, satchel-redis RedisStore on local Redis ($SATCHEL_REDIS_URL), connection driven by a separate thread; Secure off, default 30 min idle timeout",
    sessions: true,
    spawn,
};

/// Connects on a thread that keeps running the connection afterwards.
fn connect(url: &str) -> anyhow::Result<RedisStore> {
    let url = url.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("satchel-redis-io".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(anyhow::Error::from(e)));
                    return;
                }
            };
            rt.block_on(async move {
                let store =
                    RedisStore::connect(&url, RedisConfig::with_prefix("satchel-bench:satchel:"))
                        .await
                        .map_err(anyhow::Error::from);
                let _ = tx.send(store);
                std::future::pending::<()>().await;
            });
        })?;
    rx.recv()?
}

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .map_err(|e| anyhow::anyhow!("satchel config: {e:?}"))?;
    let url = redis_url();
    let store = connect(&url)
        .with_context(|| format!("satchel-redis needs Redis at {url} ($SATCHEL_REDIS_URL)"))?;
    spawn_axum(VARIANT.name, opts, move || {
        super::satchel_memory::router(store, config)
    })
}
