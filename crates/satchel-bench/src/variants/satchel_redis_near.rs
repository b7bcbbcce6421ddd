//! `satchel-redis-near-warm` and `satchel-redis-near-cold`: `satchel-redis` (axum 0.8 +
//! satchel's `SessionLayer` over satchel-redis) with satchel-redis's near cache on
//! (`RedisConfig::near_cache`, invalidated by `CLIENT TRACKING`), each under a prefix of its
//! own on the Redis at `$SATCHEL_REDIS_URL`.
//!
//! - warm: room for every seeded session ([`warm_cache`]) and each read once after seeding,
//!   so every load of the window can be answered in process;
//! - cold: the smallest cache ([`cold_cache`]), so with cookies picked uniformly among the
//!   seeded sessions almost no load hits, while every load still pays for tracking and the
//!   cache's bookkeeping.
//!
//! The report shows the hit ratio each measured (the store's `near_cache_stats`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use satchel::SessionConfig;
use satchel_redis::{NearCacheConfig, RedisConfig, RedisStore};

use super::actix_session_redis::redis_url;
use super::Variant;
use crate::redis_keys::RedisKeys;
use crate::server::{spawn_axum_async, CacheCounts, RunningServer, ServerOptions};

/// The warm variant.
pub const WARM: Variant = Variant {
    name: "satchel-redis-near-warm",
    summary: "satchel-redis with its near cache on, warm: room for 100,000 sessions, entries served up to 1 h, every seeded session read once before measuring",
    sessions: true,
    redis: Some(RedisKeys {
        db: None,
        prefix: WARM_PREFIX,
        read_before_measuring: true,
    }),
    spawn: spawn_warm,
};

/// The cold variant.
pub const COLD: Variant = Variant {
    name: "satchel-redis-near-cold",
    summary: "satchel-redis with its near cache on, cold: max_entries 1 (one entry per cache shard), cookies picked uniformly among all seeded sessions, so the hit ratio is about 0",
    sessions: true,
    redis: Some(RedisKeys {
        db: None,
        prefix: COLD_PREFIX,
        read_before_measuring: false,
    }),
    spawn: spawn_cold,
};

/// Where the warm variant's keys live.
pub const WARM_PREFIX: &str = "satchel-bench:satchel-near-warm:";
/// Where the cold variant's keys live.
pub const COLD_PREFIX: &str = "satchel-bench:satchel-near-cold:";

/// Room for every seeded session (10,000 by default) and a maximum life longer than a whole
/// run (5 rounds of every variant take minutes), so no entry ages out between the read pass
/// and a window.
pub fn warm_cache() -> NearCacheConfig {
    NearCacheConfig {
        max_entries: 100_000,
        max_entry_life: Duration::from_secs(3600),
    }
}

/// The smallest cache the store accepts.
pub fn cold_cache() -> NearCacheConfig {
    NearCacheConfig {
        max_entries: 1,
        ..NearCacheConfig::default()
    }
}

/// `prefix` with the near cache configured as `cache`.
pub fn config(prefix: &str, cache: NearCacheConfig) -> RedisConfig {
    RedisConfig {
        near_cache: Some(cache),
        ..RedisConfig::with_prefix(prefix)
    }
}

/// The counters of the store put in `slot` once it is connected.
pub(crate) fn counts(slot: Arc<OnceLock<RedisStore>>) -> CacheCounts {
    CacheCounts::new(move || {
        let stats = slot.get()?.near_cache_stats()?;
        Some((stats.hits, stats.misses))
    })
}

fn spawn_warm(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    spawn(WARM.name, opts, config(WARM_PREFIX, warm_cache()))
}

fn spawn_cold(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    spawn(COLD.name, opts, config(COLD_PREFIX, cold_cache()))
}

/// Like `satchel-redis`: connected on the server's runtime, so the measured thread drives the
/// connection (and applies the invalidations).
fn spawn(
    name: &'static str,
    opts: &ServerOptions,
    redis: RedisConfig,
) -> anyhow::Result<RunningServer> {
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .map_err(|e| anyhow::anyhow!("satchel config: {e:?}"))?;
    let url = redis_url();
    let slot: Arc<OnceLock<RedisStore>> = Arc::default();
    let store_slot = Arc::clone(&slot);
    let server = spawn_axum_async(name, opts, move || async move {
        let store = RedisStore::connect(&url, redis)
            .await
            .with_context(|| format!("{name} needs Redis at {url} ($SATCHEL_REDIS_URL)"))?;
        let _ = store_slot.set(store.clone());
        Ok(super::satchel_memory::router(store, config))
    })?;
    Ok(server.with_cache_counts(counts(slot)))
}
