//! The near cache on real Redis: two stores with their own connections on one server stay
//! consistent (item 6's exact invariants), the cache is flushed on a disconnect and on a
//! `FLUSHALL`, tracking comes back after a reconnect, and the topologies it cannot serve
//! refuse it clearly. The read/invalidate race itself is tested without Redis in
//! `src/near_cache` (an invalidation is injected between ticket and reply).

mod common;

use std::time::{Duration, Instant};

use satchel::{
    Meta, Patch, Record, SessionId, SessionStore, StoreKey, Timestamp, Value, WriteOutcome,
};
use satchel_redis::{NearCacheConfig, RedisConfig, RedisStore};

fn cached_config(prefix: &str) -> RedisConfig {
    let mut c = RedisConfig::with_prefix(prefix);
    c.near_cache = Some(NearCacheConfig::default());
    c
}

fn record(now: Timestamp, n: u64) -> Record {
    let mut r = Record {
        data: Default::default(),
        meta: Meta::new(now, Duration::from_secs(3600), Duration::from_secs(7200)),
    };
    r.data
        .insert("n".into(), Value::from_serialize(&n).expect("json"));
    r
}

fn n_of(r: &Record) -> u64 {
    r.data
        .get("n")
        .expect("n")
        .deserialize::<u64>()
        .expect("number")
}

/// Sets `n` to `value`, optionally expecting it to hold `expected` (a read-then-write).
fn set_n(value: u64, expected: Option<u64>) -> Patch {
    let mut p = Patch::default();
    p.set
        .push(("n".into(), Value::from_serialize(&value).expect("json")));
    if let Some(e) = expected {
        p.expect
            .push(("n".into(), Some(Value::from_serialize(&e).expect("json"))));
    }
    p
}

/// Two stores (A, B), each with its own tracking connection, on `url` under one prefix.
async fn pair(url: &str) -> (RedisStore, RedisStore) {
    let prefix = common::prefix();
    let a = RedisStore::connect(url, cached_config(&prefix))
        .await
        .expect("connect A");
    let b = RedisStore::connect(url, cached_config(&prefix))
        .await
        .expect("connect B");
    (a, b)
}

/// Item 6, the exact part: thousands of A-write → B-read cycles; once B has processed its
/// pending invalidations (`sync_near_cache`), B never returns an old value; a stale cache
/// in B never lets B's own write or logout skip Redis's checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_stay_consistent() {
    consistency("SATCHEL_REDIS_URL", 2000, 0).await;
}

/// The same on Valkey ≥ 8.1, where the writes are `SET … IFEQ` and a `GETRANGE` that
/// re-tracks the key (no script).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_stay_consistent_on_valkey() {
    consistency("SATCHEL_VALKEY_URL", 2000, 0).await;
}

/// The same while other tasks keep B's connection and runtime busy (cached reads on B,
/// writes through a third, uncached store, on their own sessions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_stay_consistent_under_background_load() {
    consistency("SATCHEL_REDIS_URL", 1000, 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_stay_consistent_under_background_load_on_valkey() {
    consistency("SATCHEL_VALKEY_URL", 1000, 6).await;
}

async fn consistency(var: &str, cycles: u64, background: usize) {
    let Some(url) = common::url(var) else {
        return;
    };
    let (a, b) = pair(&url).await;
    let now = Timestamp::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..background {
        let c = RedisStore::connect(&url, RedisConfig::with_prefix(b.prefix()))
            .await
            .expect("connect C");
        let (b, stop) = (b.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let key = SessionId::generate().store_key();
            c.create(&key, &record(now, 0), now).await.expect("create");
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                b.load(&key, now).await.expect("background read");
                c.apply(&key, &set_n(i, None), now)
                    .await
                    .expect("background write");
            }
        }));
    }
    let key = SessionId::generate().store_key();
    assert!(matches!(
        a.create(&key, &record(now, 0), now).await,
        Ok(WriteOutcome::Applied(_))
    ));

    let mut early_stale = 0u64;
    for i in 1..=cycles {
        // B is warm (its previous read after sync cached the current value).
        let r = b.load(&key, now).await.expect("B load").expect("live");
        assert_eq!(n_of(&r), i - 1, "warm B before A's write");
        let out = a
            .apply(&key, &set_n(i, Some(i - 1)), now)
            .await
            .expect("A write");
        assert!(matches!(out, WriteOutcome::Applied(_)), "{out:?}");
        // Without waiting, B may still be inside the staleness window: allowed, counted.
        let early = b.load(&key, now).await.expect("B load").expect("live");
        if n_of(&early) != i {
            early_stale += 1;
        }
        // After B caught up with its socket, the new value is the only answer.
        b.sync_near_cache().await.expect("sync");
        let r = b.load(&key, now).await.expect("B load").expect("live");
        assert_eq!(
            n_of(&r),
            i,
            "stale read on B after its invalidations were applied"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.expect("background task");
    }
    let stats = b.near_cache_stats().expect("cache on");
    assert!(
        stats.hits >= cycles,
        "B served warm reads from its cache: {stats:?}"
    );
    eprintln!("early (in-window) stale reads on B: {early_stale} of {cycles}");

    // B's cache is stale (A writes again, B has not synced): B's read-then-write built on
    // the old value is refused by Redis, not applied over A's write.
    let r = b.load(&key, now).await.expect("load").expect("live");
    let seen = n_of(&r);
    a.apply(&key, &set_n(seen + 100, None), now)
        .await
        .expect("A write");
    let out = b
        .apply(&key, &set_n(seen + 1, Some(seen)), now)
        .await
        .expect("B write");
    assert!(matches!(out, WriteOutcome::Conflict(_)), "{out:?}");

    // Logout through A; B's next read after catching up finds nothing, and B's write or
    // rotation with the old cookie is refused by Redis even before B caught up.
    b.load(&key, now).await.expect("load"); // warm again (or not: both must hold)
    a.delete(&key).await.expect("A logout");
    let out = b.apply(&key, &set_n(1, None), now).await.expect("B write");
    assert_eq!(
        out,
        WriteOutcome::Gone,
        "a write on a logged-out session is refused"
    );
    let new_key = SessionId::generate().store_key();
    let out = b
        .rotate(&key, &new_key, &Patch::default(), now)
        .await
        .expect("B rotate");
    assert_eq!(out, WriteOutcome::Gone);
    b.sync_near_cache().await.expect("sync");
    assert_eq!(
        b.load(&key, now).await.expect("load"),
        None,
        "old cookie on B"
    );
    assert_eq!(b.load(&new_key, now).await.expect("load"), None);
}

/// A write through the caching store itself is visible to it at once, and the cached
/// version is the one Redis holds (the next read-then-write, checked at Redis, succeeds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_are_cached_and_stay_tracked() {
    own_writes("SATCHEL_REDIS_URL").await;
}

/// The same on Valkey, where the tracking read after the write is a `GETRANGE` of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_are_cached_and_stay_tracked_on_valkey() {
    own_writes("SATCHEL_VALKEY_URL").await;
}

async fn own_writes(var: &str) {
    let Some(url) = common::url(var) else {
        return;
    };
    let (a, b) = pair(&url).await;
    let now = Timestamp::now();
    let key = SessionId::generate().store_key();
    a.create(&key, &record(now, 0), now).await.expect("create");
    a.load(&key, now).await.expect("load");
    assert!(a.near_cache_holds(&key));
    for i in 1..=50u64 {
        let r = a.load(&key, now).await.expect("load").expect("live");
        assert_eq!(n_of(&r), i - 1);
        let out = a
            .apply(&key, &set_n(i, Some(i - 1)), now)
            .await
            .expect("write");
        assert!(matches!(out, WriteOutcome::Applied(_)), "{out:?}");
        assert!(a.near_cache_holds(&key), "A caches the version it wrote");
    }
    // A is still tracked on the key after its own writes: B's write invalidates A.
    b.apply(&key, &set_n(1000, None), now)
        .await
        .expect("B write");
    a.sync_near_cache().await.expect("sync");
    assert!(!a.near_cache_holds(&key));
    let r = a.load(&key, now).await.expect("load").expect("live");
    assert_eq!(n_of(&r), 1000);
}

/// The session's deadlines hold on cached records, against the caller's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_records_expire_at_their_deadlines() {
    let Some(url) = common::url("SATCHEL_REDIS_URL") else {
        return;
    };
    let (a, _b) = pair(&url).await;
    let now = Timestamp::now();
    let key = SessionId::generate().store_key();
    a.create(&key, &record(now, 0), now).await.expect("create");
    assert!(a.load(&key, now).await.expect("load").is_some());
    assert!(a.near_cache_holds(&key));
    let later = now.saturating_add(Duration::from_secs(3601));
    assert_eq!(
        a.load(&key, later).await.expect("load"),
        None,
        "idle deadline passed"
    );
}

/// Revocation through one store: every session of the owner is gone for both stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_both_caches() {
    let Some(url) = common::url("SATCHEL_REDIS_URL") else {
        return;
    };
    let (a, b) = pair(&url).await;
    let now = Timestamp::now();
    let owner = format!("user-{:x}", rand::random::<u64>());
    let keys: Vec<StoreKey> = (0..3).map(|_| SessionId::generate().store_key()).collect();
    for k in &keys {
        let mut r = record(now, 0);
        r.meta.owner = Some(owner.clone());
        a.create(k, &r, now).await.expect("create");
        a.load(k, now).await.expect("load");
        b.load(k, now).await.expect("load");
    }
    assert_eq!(a.revoke_owner(&owner, None).await.expect("revoke"), 3);
    b.sync_near_cache().await.expect("sync");
    for k in &keys {
        assert_eq!(a.load(k, now).await.expect("load"), None);
        assert_eq!(b.load(k, now).await.expect("load"), None);
    }
}

/// Waits (bounded generously) until `f` holds.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A lost connection may have lost invalidations: the cache is flushed, and tracking is
/// enabled again on the new connection (a later write by someone else still invalidates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_flushes_and_reconnect_tracks_again() {
    let Some(mut server) = common::RedisChild::start() else {
        return;
    };
    let (a, b) = pair(&server.url()).await;
    let now = Timestamp::now();
    let key = SessionId::generate().store_key();
    a.create(&key, &record(now, 7), now).await.expect("create");
    a.load(&key, now).await.expect("load");
    assert!(a.near_cache_holds(&key));

    server.kill();
    eventually("the cache is flushed on disconnect", || {
        !a.near_cache_holds(&key)
    })
    .await;
    // While Redis is down, loads fail (nothing stale is served).
    assert!(a.load(&key, now).await.is_err());

    server.restart();
    // The restarted server is empty (no persistence).
    let start = Instant::now();
    let reloaded = loop {
        match a.load(&key, now).await {
            Ok(r) => break r,
            Err(_) if start.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no recovery: {e}"),
        }
    };
    assert_eq!(reloaded, None);
    a.create(&key, &record(now, 8), now)
        .await
        .expect("create again");
    assert_eq!(
        n_of(&a.load(&key, now).await.expect("load").expect("live")),
        8
    );
    assert!(a.near_cache_holds(&key));
    // B (reconnected too) writes: A must hear about it on its new connection.
    let start = Instant::now();
    while b.apply(&key, &set_n(9, None), now).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "B never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.sync_near_cache().await.expect("sync");
    assert_eq!(
        n_of(&a.load(&key, now).await.expect("load").expect("live")),
        9
    );
}

/// `FLUSHALL` sends a null invalidation: everything cached goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushall_empties_the_cache() {
    let Some(server) = common::RedisChild::start() else {
        return;
    };
    let (a, _b) = pair(&server.url()).await;
    let now = Timestamp::now();
    let keys: Vec<StoreKey> = (0..5).map(|_| SessionId::generate().store_key()).collect();
    for k in &keys {
        a.create(k, &record(now, 1), now).await.expect("create");
        a.load(k, now).await.expect("load");
        assert!(a.near_cache_holds(k));
    }
    let client = redis::Client::open(server.url()).expect("url");
    let mut other = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut other)
        .await
        .expect("flushall");
    a.sync_near_cache().await.expect("sync");
    for k in &keys {
        assert!(!a.near_cache_holds(k));
        assert_eq!(a.load(k, now).await.expect("load"), None);
    }
}

/// A Cluster (no per-node tracking in redis-rs 0.32), and servers that refuse tracking,
/// are clear configuration errors at connect time.
#[tokio::test]
async fn unsupported_setups_are_configuration_errors() {
    let config = cached_config("satchel-test:nc:");
    let e = RedisStore::connect("redis+cluster://127.0.0.1:1", config.clone())
        .await
        .expect_err("cluster");
    assert!(e.to_string().contains("near_cache"), "{e}");

    // A server without CLIENT (as some managed services restrict it).
    let Some(server) = common::RedisChild::start_with(&[
        "--rename-command".into(),
        "CLIENT".into(),
        "\"\"".into(),
    ]) else {
        return;
    };
    let e = RedisStore::connect(&server.url(), config)
        .await
        .expect_err("no tracking");
    assert!(e.to_string().contains("CLIENT TRACKING"), "{e}");
}

async fn sentinel_primary(sentinel: &str, service: &str) -> Option<(String, String)> {
    let client = redis::Client::open(format!("redis://{sentinel}")).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(service)
        .query_async(&mut conn)
        .await
        .ok()
}

/// Through Sentinel: two caching stores stay consistent, and a failover flushes the cache
/// (the new primary never tracked this store's reads); afterwards tracking works on the
/// new primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_flushes_the_cache() {
    let Some(url) = common::url("SATCHEL_REDIS_SENTINEL_URL") else {
        return;
    };
    let rest = url.trim_start_matches("redis+sentinel://");
    let (nodes, service) = rest.split_once('/').expect("service name in URL");
    let sentinel = nodes.split(',').next().expect("a sentinel").to_owned();
    let (a, b) = pair(&url).await;
    let now = Timestamp::now();
    let key = SessionId::generate().store_key();
    a.create(&key, &record(now, 1), now).await.expect("create");
    assert_eq!(
        n_of(&b.load(&key, now).await.expect("load").expect("live")),
        1
    );
    a.apply(&key, &set_n(2, None), now).await.expect("write");
    b.sync_near_cache().await.expect("sync");
    assert_eq!(
        n_of(&b.load(&key, now).await.expect("load").expect("live")),
        2
    );
    assert!(b.near_cache_holds(&key));

    let before = sentinel_primary(&sentinel, service).await.expect("primary");
    let client = redis::Client::open(format!("redis://{sentinel}")).expect("sentinel url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("sentinel");
    // Another test may be failing over right now: then ours is refused, theirs counts.
    let _: Result<(), _> = redis::cmd("SENTINEL")
        .arg("FAILOVER")
        .arg(service)
        .query_async(&mut conn)
        .await;
    let start = Instant::now();
    while sentinel_primary(&sentinel, service).await.as_ref() == Some(&before) {
        assert!(start.elapsed() < Duration::from_secs(30), "no failover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eventually("B leaves the old primary and flushes", || {
        !b.near_cache_holds(&key)
    })
    .await;

    // Both stores recover on the new primary; B is tracked there again.
    let start = Instant::now();
    loop {
        let read = b.load(&key, now).await;
        let wrote = a.apply(&key, &set_n(3, None), now).await;
        if matches!(read, Ok(Some(_))) && matches!(wrote, Ok(WriteOutcome::Applied(_))) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no recovery: {read:?} {wrote:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.sync_near_cache().await.expect("sync");
    let r = b.load(&key, now).await.expect("load").expect("live");
    assert_eq!(n_of(&r), 3, "B is invalidated by writes on the new primary");
}

/// A layout-v1 record under the cache: it loads, its first write (through A) rewrites it
/// in v2, and B, which had cached the v1 version, is invalidated by that rewrite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_records_load_and_upgrade_through_the_cache() {
    let Some(url) = common::url("SATCHEL_REDIS_URL") else {
        return;
    };
    let (a, b) = pair(&url).await;
    let writer = RedisStore::connect(&url, RedisConfig::with_prefix(a.prefix()))
        .await
        .expect("connect");
    let now = Timestamp::now();
    let key = SessionId::generate().store_key();
    writer
        .create_v1_for_tests(&key, &record(now, 5), now)
        .await
        .expect("v1 create");
    assert_eq!(
        n_of(&b.load(&key, now).await.expect("load").expect("live")),
        5
    );
    assert!(b.near_cache_holds(&key));
    assert_eq!(
        n_of(&a.load(&key, now).await.expect("load").expect("live")),
        5
    );
    let out = a.apply(&key, &set_n(6, Some(5)), now).await.expect("write");
    assert!(matches!(out, WriteOutcome::Applied(_)), "{out:?}");
    b.sync_near_cache().await.expect("sync");
    assert!(!b.near_cache_holds(&key));
    assert_eq!(
        n_of(&b.load(&key, now).await.expect("load").expect("live")),
        6
    );
    assert_eq!(
        n_of(&a.load(&key, now).await.expect("load").expect("live")),
        6
    );
    // Stored as v2 now: a plain string.
    let client = redis::Client::open(url.as_str()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let kind: String = redis::cmd("TYPE")
        .arg(a.session_key(&key))
        .query_async(&mut conn)
        .await
        .expect("type");
    assert_eq!(kind, "string");
}

/// Redis's tracking-table entries (keys some tracking connection read and nobody changed
/// since), from `INFO stats`.
async fn tracked_keys(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(conn)
        .await
        .expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix("tracking_total_keys:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("tracking_total_keys")
}

/// A create reads nothing it does not write: the forward key it checks (renewal) must not
/// stay in Redis's tracking table, where an entry lives until its key changes, which a
/// fresh session's forward key never does (one leaked entry per session created).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_leave_nothing_tracked() {
    let Some(server) = common::RedisChild::start() else {
        return;
    };
    let mut obs = redis::Client::open(server.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("observer");
    let store = RedisStore::connect(&server.url(), cached_config("c:"))
        .await
        .expect("connect");
    let now = Timestamp::now();
    let before = tracked_keys(&mut obs).await;
    for i in 0..100 {
        let key = SessionId::generate().store_key();
        store
            .create(&key, &record(now, i), now)
            .await
            .expect("create");
    }
    let after = tracked_keys(&mut obs).await;
    assert!(
        after <= before + 1,
        "100 creates left {} tracked keys",
        after - before
    );
}
