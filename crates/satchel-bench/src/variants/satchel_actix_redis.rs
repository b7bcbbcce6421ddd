//! `satchel-actix-redis`: actix-web 4 + satchel-actix over satchel-redis on the Redis at
//! `$SATCHEL_REDIS_URL`, keys under `satchel-bench:satchel-actix:`: the counterpart of
//! `actix-session-redis`. The store connects when the worker builds its services, on the
//! worker's runtime, so its connection is driven by the measured thread.

use actix_web::App;
use satchel::SessionConfig;
use satchel_actix::SessionMiddleware;
use satchel_redis::{RedisConfig, RedisStore};

use super::actix_session_redis::{redis_url, OnWorker};
use super::bare_actix::spawn_actix;
use super::satchel_actix_memory::routes;
use super::Variant;
use crate::redis_keys::RedisKeys;
use crate::server::{RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "satchel-actix-redis",
    summary: "actix-web 4 + satchel-actix SessionMiddleware, satchel-redis on local Redis ($SATCHEL_REDIS_URL); Secure off, default 30 min idle timeout",
    sessions: true,
    redis: Some(RedisKeys {
        db: None,
        prefix: PREFIX,
        read_before_measuring: false,
    }),
    spawn,
};

/// Where this variant's keys live (every key satchel-redis writes starts with its prefix).
pub const PREFIX: &str = "satchel-bench:satchel-actix:";

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    let url = redis_url();
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .map_err(|e| anyhow::anyhow!("satchel config: {e:?}"))?;
    spawn_actix(VARIANT.name, opts, move || {
        let (url, config) = (url.clone(), config.clone());
        App::new()
            .wrap(OnWorker(move || {
                let (url, config) = (url.clone(), config.clone());
                async move {
                    let store = RedisStore::connect(&url, RedisConfig::with_prefix(PREFIX))
                        .await
                        .unwrap_or_else(|e| {
                            panic!("satchel-actix-redis needs Redis at {url}: {e}")
                        });
                    SessionMiddleware::new(store, config)
                }
            }))
            .configure(routes)
    })
}
