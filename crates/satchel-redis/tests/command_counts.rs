//! Counts the commands Redis actually receives per request, through satchel's `Engine`
//! on a real `RedisStore` (no `Instrumented` wrapper), from `INFO commandstats` deltas on
//! a private redis-server this test starts (so nobody else's traffic is counted).

mod common;

use std::time::Duration;

use satchel::{Engine, SessionConfig, SessionStore, TestClock, Timestamp};
use satchel_redis::{NearCacheConfig, RedisConfig, RedisStore};

/// Commands that only the Lua scripts run (they appear in `INFO commandstats` too but
/// never travel over the network) and the observer's own `INFO`. The client sends only
/// `GET` (loads), `EVALSHA`/`EVAL` (writes) and `ZREM` (a logout of an owned session);
/// `GET` also runs inside the write script when a base is stale, which this sequential
/// test never makes.
const NOT_RECEIVED: &[&str] = &[
    "info",
    "getrange",
    "set",
    "setrange",
    "hmget",
    "hget",
    "hset",
    "hdel",
    "exists",
    "pexpireat",
    "persist",
    "zadd",
    "zrem",
    "zrange",
    "zremrangebyscore",
    "hkeys",
    "hvals",
    "type",
    "del",
    "rename",
    // A near cache's connection setup (before any request is counted).
    "hello",
    "client|tracking",
];

/// Sum of calls of every command a client sent (see `NOT_RECEIVED`).
async fn received(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .expect("INFO");
    info.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            if NOT_RECEIVED.contains(&name) {
                return None;
            }
            let calls = rest.strip_prefix("calls=")?.split(',').next()?;
            calls.parse::<u64>().ok()
        })
        .sum()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().expect("pair").to_owned()
}

/// A private server, an observer connection on it (whose commands `received` leaves out
/// only by taking differences), and a store with `config`; `None` when the test is skipped.
async fn private_store(
    config: RedisConfig,
) -> Option<(
    common::RedisChild,
    redis::aio::MultiplexedConnection,
    RedisStore,
)> {
    let server = common::RedisChild::start()?;
    let observer = redis::Client::open(server.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("observer");
    let store = RedisStore::connect(&server.url(), config)
        .await
        .expect("connect");
    Some((server, observer, store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cost_zero_one_or_two_commands() {
    let Some((server, mut observer, store)) = private_store(RedisConfig::default()).await else {
        return;
    };
    let mut engine = Engine::new(store, SessionConfig::default());

    // Request helper: run `f` on a session begun with `cookie`, finish it, and return the
    // commands Redis received meanwhile plus the Set-Cookie (if any).
    macro_rules! request {
        ($cookie:expr, |$s:ident| $body:expr) => {{
            let before = received(&mut observer).await;
            let cookie: Option<String> = $cookie;
            let $s = engine.begin(cookie.iter().map(|c| c.as_bytes()));
            $body;
            let finish = engine.finish(&$s, 200).await;
            assert!(finish.error.is_none(), "{:?}", finish.error);
            let after = received(&mut observer).await;
            (after - before, finish.set_cookie)
        }};
    }

    // A blind write creates the session: 1 command (plus an EVAL the first time, when the
    // server does not know the script yet).
    let (_, set) = request!(None, |s| s.insert("n", &0u64).expect("insert"));
    let cookie = Some(cookie_pair(&set.expect("cookie set")));
    // Warm the apply script.
    let _ = request!(cookie.clone(), |s| s.insert("w", &1u64).expect("insert"));

    let (n, _) = request!(cookie.clone(), |s| {
        let _ = &s;
    });
    assert_eq!(n, 0, "untouched request");

    let (n, _) = request!(cookie.clone(), |s| {
        let v: Option<u64> = s.get("n").await.expect("get");
        assert_eq!(v, Some(0));
    });
    assert_eq!(n, 1, "read-only request");

    let (n, _) = request!(cookie.clone(), |s| {
        let v: u64 = s.get("n").await.expect("get").expect("n");
        s.insert("n", &(v + 1)).expect("insert");
    });
    assert_eq!(n, 2, "read-then-write request");

    // A blind write (no read first) costs 1 when this store knows the session's current
    // version (it loaded or wrote it recently: layout v2 keeps that as the base of the
    // next write), as here.
    let (n, _) = request!(cookie.clone(), |s| s.insert("b", &true).expect("insert"));
    assert_eq!(n, 1, "blind write");

    let (n, _) = request!(None, |s| {
        let _ = &s;
    });
    assert_eq!(n, 0, "anonymous request that stores nothing");

    let (n, _) = request!(cookie.clone(), |s| {
        let v: u64 = s.get("n").await.expect("get").expect("n");
        assert_eq!(v, 1, "the write landed");
    });
    assert_eq!(n, 1);

    // A blind write through a process that never saw the session costs 2: layout v2
    // writes whole values, so the store reads the current one (`GET`) before its
    // version-checked write (under layout v1 the script merged fields in place: 1).
    let other = RedisStore::connect(&server.url(), RedisConfig::default())
        .await
        .expect("connect");
    engine = Engine::new(other, SessionConfig::default());
    let (n, _) = request!(cookie.clone(), |s| s.insert("c", &1u64).expect("insert"));
    assert_eq!(n, 2, "blind write without a known base");
}

/// With a warm near cache: 0 untouched, 0 read-only, 1 read-then-write, in steady state
/// (the version a write leaves is cached, so the next request is warm too).
/// A near cache that cannot serve an entry (here: zero entry life, as a full cache or an
/// invalidation in flight would leave it) costs what no cache costs: a read-then-write is
/// the `GET` and the write, not a second `GET` for the write's base.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_near_cache_costs_what_no_cache_costs() {
    let config = RedisConfig {
        near_cache: Some(NearCacheConfig {
            max_entry_life: std::time::Duration::ZERO,
            ..NearCacheConfig::default()
        }),
        ..RedisConfig::default()
    };
    let Some((_server, mut observer, store)) = private_store(config).await else {
        return;
    };
    let engine = Engine::new(store.clone(), SessionConfig::default());
    let s = engine.begin(std::iter::empty::<&[u8]>());
    s.insert("n", &0u64).expect("insert");
    let set = engine.finish(&s, 200).await.set_cookie.expect("cookie set");
    let cookie = cookie_pair(&set);
    for i in 0..4u64 {
        let before = received(&mut observer).await;
        let s = engine.begin([cookie.as_bytes()]);
        let v: u64 = s.get("n").await.expect("get").expect("n");
        assert_eq!(v, i);
        s.insert("n", &(v + 1)).expect("insert");
        let finish = engine.finish(&s, 200).await;
        assert!(finish.error.is_none(), "{:?}", finish.error);
        let n = received(&mut observer).await - before;
        // The first write also loads the script into Redis (`NOSCRIPT`, then `EVAL`).
        if i > 0 {
            assert_eq!(n, 2, "cold read-then-write request #{i}: GET + write");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_near_cache_costs_zero_zero_or_one_command() {
    let config = RedisConfig {
        near_cache: Some(NearCacheConfig::default()),
        ..RedisConfig::default()
    };
    let Some((server, mut observer, store)) = private_store(config).await else {
        return;
    };
    let engine = Engine::new(store.clone(), SessionConfig::default());

    macro_rules! request {
        ($cookie:expr, |$s:ident| $body:expr) => {{
            let before = received(&mut observer).await;
            let cookie: Option<String> = $cookie;
            let $s = engine.begin(cookie.iter().map(|c| c.as_bytes()));
            $body;
            let finish = engine.finish(&$s, 200).await;
            assert!(finish.error.is_none(), "{:?}", finish.error);
            let after = received(&mut observer).await;
            (after - before, finish.set_cookie)
        }};
    }

    let (_, set) = request!(None, |s| s.insert("n", &0u64).expect("insert"));
    let cookie = Some(cookie_pair(&set.expect("cookie set")));
    let _ = request!(cookie.clone(), |s| s.insert("w", &1u64).expect("insert"));

    // The warm-up write left its version in the cache (layout v2 writes return what
    // they stored), so the session is warm from here on.
    let (n, _) = request!(cookie.clone(), |s| {
        let _ = &s;
    });
    assert_eq!(n, 0, "untouched request");

    let (n, _) = request!(cookie.clone(), |s| {
        let v: Option<u64> = s.get("n").await.expect("get");
        assert_eq!(v, Some(0));
    });
    assert_eq!(n, 0, "warm read-only request");

    for i in 0..3u64 {
        let (n, _) = request!(cookie.clone(), |s| {
            let v: u64 = s.get("n").await.expect("get").expect("n");
            assert_eq!(v, i);
            s.insert("n", &(v + 1)).expect("insert");
        });
        assert_eq!(n, 1, "warm read-then-write request #{i}");
    }

    let (n, _) = request!(cookie.clone(), |s| {
        let v: u64 = s.get("n").await.expect("get").expect("n");
        assert_eq!(v, 3, "the writes landed and were cached");
    });
    assert_eq!(n, 0, "read-only after writes");

    let (n, _) = request!(cookie.clone(), |s| s.insert("b", &true).expect("insert"));
    assert_eq!(n, 1, "blind write on a warm session");

    // A touch and a rotation of a warm session start from the cached version: one
    // script each, no GET first. (Each script's first use on a server costs an EVAL
    // after the NOSCRIPT answer: use both once on another session first.)
    let now = satchel::Timestamp::now();
    let record = |n: u64| {
        let mut r = satchel::Record {
            data: Default::default(),
            meta: satchel::Meta::new(now, Duration::from_secs(600), Duration::from_secs(3600)),
        };
        let v = satchel::Value::from_serialize(&n).expect("json");
        r.data.insert("n".into(), v);
        r
    };
    let none = satchel::Patch::default();
    let other = satchel::SessionId::generate().store_key();
    store.create(&other, &record(0), now).await.expect("create");
    store.touch(&other, now).await.expect("touch");
    let gone = satchel::SessionId::generate().store_key();
    store
        .rotate(&other, &gone, &none, now)
        .await
        .expect("rotate");

    let id = cookie
        .as_deref()
        .and_then(|c| c.split_once('='))
        .and_then(|(_, v)| satchel::SessionId::parse(v))
        .expect("session id in the cookie");
    let key = id.store_key();
    let before = received(&mut observer).await;
    store.touch(&key, now).await.expect("touch").expect("live");
    assert_eq!(received(&mut observer).await - before, 1, "warm touch");

    let key2 = satchel::SessionId::generate().store_key();
    store.create(&key2, &record(7), now).await.expect("create");
    let _ = store.load(&key2, now).await.expect("load");
    let before = received(&mut observer).await;
    let new_key = satchel::SessionId::generate().store_key();
    let out = store
        .rotate(&key2, &new_key, &none, now)
        .await
        .expect("rotate");
    assert!(matches!(out, satchel::WriteOutcome::Applied(_)), "{out:?}");
    assert_eq!(received(&mut observer).await - before, 1, "warm rotation");

    // What Redis holds agrees with what the cache served: read it through an uncached
    // store.
    let plain = RedisStore::connect(&server.url(), RedisConfig::default())
        .await
        .expect("connect");
    let n_in =
        |r: satchel::Record| -> u64 { r.data.get("n").expect("n").deserialize().expect("number") };
    let stored = plain.load(&key, now).await.expect("load").expect("live");
    assert_eq!(n_in(stored), 3);
    let moved = plain
        .load(&new_key, now)
        .await
        .expect("load")
        .expect("live");
    assert_eq!(n_in(moved), 7);
}

/// With id renewal configured (SEC-49) the hot paths cost what they cost without it (a
/// read 1, a read-then-write 2); a due renewal is the load and one write (the renew
/// script, the rotation's round trip); the old id inside the grace window costs its
/// `GET` (nothing), one `GET` of the forward and the renewed session's `GET`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_costs_one_write_and_the_hot_paths_nothing_more() {
    let Some((_server, mut observer, store)) = private_store(RedisConfig::default()).await else {
        return;
    };
    const HOUR: Duration = Duration::from_secs(3600);
    let config = SessionConfig::builder()
        .idle_timeout(3 * HOUR)
        .renew_id_after(HOUR)
        .build()
        .expect("config");
    // Redis expires keys by its own clock: the test clock starts at the real time.
    let clock = TestClock::new(Timestamp::now());
    let engine = Engine::with_clock(store, config, clock.clone());

    macro_rules! request {
        ($cookie:expr, |$s:ident| $body:expr) => {{
            let before = received(&mut observer).await;
            let cookie: Option<String> = $cookie;
            let $s = engine.begin(cookie.iter().map(|c| c.as_bytes()));
            $body;
            let finish = engine.finish(&$s, 200).await;
            assert!(finish.error.is_none(), "{:?}", finish.error);
            let after = received(&mut observer).await;
            (after - before, finish.set_cookie.map(|c| cookie_pair(&c)))
        }};
    }
    macro_rules! read {
        ($cookie:expr) => {
            request!($cookie, |s| {
                let _: Option<u64> = s.get("n").await.expect("get");
            })
        };
    }

    // Two sessions; the first renewal also loads the renew script into Redis.
    let (_, a) = request!(None, |s| s.insert("n", &0u64).expect("insert"));
    let (_, b) = request!(None, |s| s.insert("n", &0u64).expect("insert"));
    let _ = request!(a.clone(), |s| s.insert("w", &1u64).expect("insert"));
    let (n, _) = read!(b.clone());
    assert_eq!(n, 1, "read-only request, renewal configured");
    let (n, _) = request!(b.clone(), |s| {
        let v: u64 = s.get("n").await.expect("get").expect("n");
        s.insert("n", &(v + 1)).expect("insert");
    });
    assert_eq!(n, 2, "read-then-write request, renewal configured");

    clock.advance(HOUR);
    let (_, renewed_a) = read!(a.clone());
    assert!(renewed_a.is_some(), "a renewed");
    let (n, renewed) = read!(b.clone());
    let renewed = renewed.expect("b renewed");
    assert_ne!(Some(&renewed), b.as_ref());
    assert_eq!(n, 2, "a due renewal: GET + the renew script");

    let (n, answered) = read!(b.clone());
    assert_eq!(
        answered.as_ref(),
        Some(&renewed),
        "the old id leads to the new"
    );
    assert_eq!(
        n, 3,
        "old id in the window: GET (nothing), GET forward, GET renewed"
    );

    let (n, set) = read!(Some(renewed.clone()));
    assert_eq!((n, set), (1, None), "the new id: a plain read");
    let (n, _) = request!(Some(renewed.clone()), |s| {
        let v: u64 = s.get("n").await.expect("get").expect("n");
        s.insert("n", &(v + 1)).expect("insert");
    });
    assert_eq!(n, 2, "the new id: a plain read-then-write");
}
