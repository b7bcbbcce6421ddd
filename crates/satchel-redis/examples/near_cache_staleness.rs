//! Measures the near cache's cross-instance staleness window on a real Redis: two stores
//! A and B, each with its own tracking connection, on one server; A writes, and the tool
//! measures the time from A's write reply until B has applied the invalidation (B's
//! cached entry is gone), and counts the reads on B, sent right after A's reply, that
//! still returned the old value.
//!
//! ```sh
//! eval "$(scripts/services start redis)"   # or export SATCHEL_REDIS_URL=redis://127.0.0.1:6379
//! cargo run --release -p satchel-redis --example near_cache_staleness -- 5000 8
//! ```
//! Arguments: cycles (default 5000), background tasks (default 0: each loops over its own
//! session doing a cached read on B and a write on a third, uncached store). Even cycles
//! measure the window, odd cycles count stale reads (a read that misses re-caches the key,
//! which would end a window measurement early). Timing figures depend on the machine's
//! load; the stale-read count after B synced is always 0 (`tests/near_cache.rs` asserts
//! it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use satchel::{Meta, Patch, Record, SessionId, SessionStore, Timestamp, Value};
use satchel_redis::{NearCacheConfig, RedisConfig, RedisStore};

fn record(now: Timestamp) -> Record {
    let mut r = Record {
        data: Default::default(),
        meta: Meta::new(now, Duration::from_secs(600), Duration::from_secs(3600)),
    };
    r.data
        .insert("n".into(), Value::from_serialize(&0u64).expect("json"));
    r
}

fn set_n(n: u64) -> Patch {
    let mut p = Patch::default();
    p.set
        .push(("n".into(), Value::from_serialize(&n).expect("json")));
    p
}

fn n_of(r: &Record) -> u64 {
    r.data
        .get("n")
        .and_then(|v| v.deserialize().ok())
        .unwrap_or(u64::MAX)
}

/// The `per_mille`-th quantile of `sorted` (nearest rank).
fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) * per_mille / 1000).min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let cycles: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let background: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0);
    let url =
        std::env::var("SATCHEL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("satchel-staleness:{:016x}:", rand::random::<u64>());
    let cached = || {
        let mut c = RedisConfig::with_prefix(prefix.clone());
        c.near_cache = Some(NearCacheConfig::default());
        c
    };
    let a = RedisStore::connect(&url, cached()).await?;
    let b = RedisStore::connect(&url, cached()).await?;
    let c = RedisStore::connect(&url, RedisConfig::with_prefix(prefix.clone())).await?;
    let now = Timestamp::now();

    let stop = Arc::new(AtomicBool::new(false));
    let background_ops = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..background {
        let (b, c, stop, ops) = (b.clone(), c.clone(), stop.clone(), background_ops.clone());
        tasks.push(tokio::spawn(async move {
            let key = SessionId::generate().store_key();
            let _ = c.create(&key, &record(now), now).await;
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let _ = b.load(&key, now).await;
                let _ = c.apply(&key, &set_n(i), now).await;
                ops.fetch_add(2, Ordering::Relaxed);
            }
            let _ = c.delete(&key).await;
        }));
    }

    let key = SessionId::generate().store_key();
    a.create(&key, &record(now), now).await?;
    let mut windows = Vec::new();
    let (mut stale, mut stale_checks, mut stale_after_sync, mut not_warm) =
        (0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    for i in 1..=cycles {
        // Warm B on the current value.
        b.sync_near_cache().await?;
        let warm = b.load(&key, now).await?.map(|r| n_of(&r));
        if warm != Some(i - 1) {
            stale_after_sync += 1;
        }
        if !b.near_cache_holds(&key) {
            not_warm += 1;
            continue;
        }
        a.apply(&key, &set_n(i), now).await?;
        let replied = Instant::now();
        if i % 2 == 0 {
            while b.near_cache_holds(&key) {
                if replied.elapsed() > Duration::from_secs(5) {
                    return Err("B never applied the invalidation".into());
                }
                tokio::task::yield_now().await;
            }
            windows.push(replied.elapsed());
        } else {
            stale_checks += 1;
            let seen = b.load(&key, now).await?.map(|r| n_of(&r));
            if seen != Some(i) {
                stale += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let _ = a.delete(&key).await;

    windows.sort();
    let stats = b.near_cache_stats().expect("cache on");
    println!(
        "cycles: {cycles}, background tasks: {background} ({} background ops, {:.0} ops/s)",
        background_ops.load(Ordering::Relaxed),
        background_ops.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "staleness window (A's write reply -> B's invalidation applied), {} samples: p50 {:?}, p99 {:?}, max {:?}",
        windows.len(),
        percentile(&windows, 500),
        percentile(&windows, 990),
        windows.last().copied().unwrap_or_default()
    );
    println!(
        "reads on B right after A's reply that returned the old value: {stale} of {stale_checks}"
    );
    println!("stale reads on B after it synced its invalidations: {stale_after_sync} (must be 0)");
    println!("cycles skipped because B's read was not cached: {not_warm}");
    let ratio = stats.hits as f64 / (stats.hits + stats.misses).max(1) as f64;
    println!("B's cache: {stats:?}, hit ratio {ratio:.3}");
    if stale_after_sync > 0 {
        return Err("stale read after sync".into());
    }
    Ok(())
}
