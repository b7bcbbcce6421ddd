//! `satchel-actix-redis-near`: `satchel-actix-redis` with satchel-redis's near cache on and
//! warm (as `satchel-redis-near-warm`: room for every seeded session, each read once before
//! measuring), keys under `satchel-bench:satchel-actix-near:`. The store connects when the
//! worker builds its services, on the worker's runtime (one worker), so the measured thread
//! drives its connection and applies the invalidations.

use std::sync::{Arc, OnceLock};

use actix_web::App;
use satchel::SessionConfig;
use satchel_actix::SessionMiddleware;
use satchel_redis::RedisStore;

use super::actix_session_redis::{redis_url, OnWorker};
use super::bare_actix::spawn_actix;
use super::satchel_actix_memory::routes;
use super::satchel_redis_near::{config, counts, warm_cache};
use super::Variant;
use crate::redis_keys::RedisKeys;
use crate::server::{RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "satchel-actix-redis-near",
    summary: "satchel-actix-redis with its near cache on, warm: room for 100,000 sessions, entries served up to 1 h, every seeded session read once before measuring",
    sessions: true,
    redis: Some(RedisKeys {
        db: None,
        prefix: PREFIX,
        read_before_measuring: true,
    }),
    spawn,
};

/// Where this variant's keys live.
pub const PREFIX: &str = "satchel-bench:satchel-actix-near:";

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    let url = redis_url();
    let session = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .map_err(|e| anyhow::anyhow!("satchel config: {e:?}"))?;
    let slot: Arc<OnceLock<RedisStore>> = Arc::default();
    let store_slot = Arc::clone(&slot);
    let server = spawn_actix(VARIANT.name, opts, move || {
        let (url, session, store_slot) = (url.clone(), session.clone(), Arc::clone(&store_slot));
        App::new()
            .wrap(OnWorker(move || {
                let (url, session, store_slot) =
                    (url.clone(), session.clone(), Arc::clone(&store_slot));
                async move {
                    let store = RedisStore::connect(&url, config(PREFIX, warm_cache()))
                        .await
                        .unwrap_or_else(|e| {
                            panic!("satchel-actix-redis-near needs Redis at {url}: {e}")
                        });
                    let _ = store_slot.set(store.clone());
                    SessionMiddleware::new(store, session)
                }
            }))
            .configure(routes)
    })?;
    Ok(server.with_cache_counts(counts(slot)))
}
