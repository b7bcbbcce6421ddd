//! A Sentinel failover under load (`SATCHEL_REDIS_SENTINEL_URL`,
//! `redis+sentinel://host:port,.../mymaster`): requests fail fast (never hang, never
//! panic) while the primary moves, then succeed again on the same store, on the new
//! primary, without a restart.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use satchel::{Meta, Patch, Record, SessionId, SessionStore, StoreErrorKind, Timestamp, Value};
use satchel_redis::{RedisConfig, RedisStore};

async fn primary(sentinel: &str, service: &str) -> Option<(String, String)> {
    let client = redis::Client::open(format!("redis://{sentinel}")).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(service)
        .query_async(&mut conn)
        .await
        .ok()
}

fn record(now: Timestamp) -> Record {
    Record {
        data: satchel::Data::new(),
        meta: Meta::new(now, Duration::from_secs(600), Duration::from_secs(3600)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_under_load_recovers_without_restart() {
    let Some(url) = common::url("SATCHEL_REDIS_SENTINEL_URL") else {
        return;
    };
    let rest = url.trim_start_matches("redis+sentinel://");
    let (nodes, service) = rest.split_once('/').expect("service name in URL");
    let sentinel = nodes.split(',').next().expect("a sentinel").to_owned();
    let store = RedisStore::connect(
        &url,
        RedisConfig {
            command_timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_millis(500),
            ..RedisConfig::with_prefix(common::prefix())
        },
    )
    .await
    .expect("connect through Sentinel");
    let before = primary(&sentinel, service).await.expect("primary");

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, stop, ok, failed) = (store.clone(), stop.clone(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let key = SessionId::generate().store_key();
            let mut created = false;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let now = Timestamp::now();
                let started = Instant::now();
                let result = if created {
                    n += 1;
                    let patch = Patch {
                        set: vec![("n".into(), Value::from_serialize(&n).expect("json"))],
                        ..Patch::default()
                    };
                    store.apply(&key, &patch, now).await.map(|_| ())
                } else {
                    store
                        .create(&key, &record(now), now)
                        .await
                        .map(|_| created = true)
                };
                assert!(
                    started.elapsed() < Duration::from_secs(3),
                    "a call took {:?}",
                    started.elapsed()
                );
                match result {
                    Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        assert!(
                            matches!(
                                e.kind(),
                                StoreErrorKind::Unavailable | StoreErrorKind::Timeout
                            ),
                            "unexpected error kind during failover: {e}"
                        );
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        ok.load(Ordering::Relaxed) > 0,
        "load runs before the failover"
    );

    // Sentinel refuses (or aborts) a failover while the replica is not ready, e.g. right
    // after a previous failover: ask again every few seconds until the primary moves.
    let client = redis::Client::open(format!("redis://{sentinel}")).expect("sentinel url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("sentinel");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut next_ask = Instant::now();
    loop {
        let now = primary(&sentinel, service).await;
        if now.is_some() && now.as_ref() != Some(&before) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the failover did not happen in 60 s"
        );
        if Instant::now() >= next_ask {
            let asked: redis::RedisResult<()> = redis::cmd("SENTINEL")
                .arg("FAILOVER")
                .arg(service)
                .query_async(&mut conn)
                .await;
            if let Err(e) = asked {
                eprintln!("SENTINEL FAILOVER refused for now: {e}");
            }
            next_ask = Instant::now() + Duration::from_secs(3);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Fresh writes land on the new primary once the store has noticed the switch (it
    // polls the sentinels every 500 ms; until then the old primary may still accept
    // writes, which Redis loses when it is reconfigured: see the crate docs).
    let (host, port) = primary(&sentinel, service).await.expect("primary");
    let direct = redis::Client::open(format!("redis://{host}:{port}")).expect("url");
    let mut direct = direct
        .get_multiplexed_async_connection()
        .await
        .expect("primary");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = Timestamp::now();
        let key = SessionId::generate().store_key();
        if store.create(&key, &record(now), now).await.is_ok() {
            let exists: bool = redis::cmd("EXISTS")
                .arg(store.session_key(&key))
                .query_async(&mut direct)
                .await
                .expect("exists");
            if exists {
                assert!(store.load(&key, now).await.expect("load").is_some());
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "writes did not reach the new primary within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the load recovered: a run of successes after the switch.
    let mark = ok.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ok.load(Ordering::Relaxed) < mark + 100 {
        assert!(
            Instant::now() < deadline,
            "requests did not recover after the failover ({} ok, {} failed)",
            ok.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("no panic in the load tasks");
    }
    eprintln!(
        "failover: {} calls ok, {} failed fast while the primary moved",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
}
