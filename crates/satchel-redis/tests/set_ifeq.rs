//! The script-free write path (`src/v2/ifeq.rs`): on Valkey ≥ 8.1 a plain write is one
//! `SET … IFEQ … GET`, no Lua, and falls back to the script where it must (a large base, a
//! server that refuses the option, `use_set_ifeq: false`). Counted from `INFO
//! commandstats` on private servers this test starts, so nobody else's traffic counts.
//! The conformance suite, the cross-instance races and the v1 upgrade run on Valkey too
//! (`SATCHEL_VALKEY_URL` in `conformance.rs`, `versioned_writes.rs`, `v1_records.rs`).

mod common;

use std::collections::HashMap;

use satchel::{Engine, Patch, SessionConfig, SessionId, SessionStore, Timestamp, WriteOutcome};
use satchel_redis::{RedisConfig, RedisStore};

/// Calls per command name so far.
async fn calls(conn: &mut redis::aio::MultiplexedConnection) -> HashMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .expect("INFO");
    info.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let n = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), n))
        })
        .collect()
}

/// What changed between two [`calls`] snapshots (names with a zero delta left out).
fn delta(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> HashMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0 && k != "info").then(|| (k.clone(), d))
        })
        .collect()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().expect("pair").to_owned()
}

/// A new session holding `n = 0`: its cookie pair.
async fn new_session(engine: &Engine) -> String {
    let s = engine.begin(std::iter::empty::<&[u8]>());
    s.insert("n", &0u64).expect("insert");
    cookie_pair(&engine.finish(&s, 200).await.set_cookie.expect("cookie"))
}

/// One read-then-write request (`n += 1`) on `cookie`: the commands Redis received for it.
async fn increment(
    engine: &Engine,
    cookie: &str,
    obs: &mut redis::aio::MultiplexedConnection,
) -> HashMap<String, u64> {
    let before = calls(obs).await;
    let s = engine.begin([cookie.as_bytes()]);
    let n: u64 = s.get("n").await.expect("get").expect("n");
    s.insert("n", &(n + 1)).expect("insert");
    let finish = engine.finish(&s, 200).await;
    assert!(finish.error.is_none(), "{:?}", finish.error);
    delta(&before, &calls(obs).await)
}

async fn observer(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("observer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_valkey_a_read_then_write_is_a_get_and_a_set_ifeq() {
    let Some(server) = common::RedisChild::start_valkey() else {
        return;
    };
    let mut obs = observer(&server.url()).await;
    let store = RedisStore::connect(&server.url(), RedisConfig::default())
        .await
        .expect("connect");
    let engine = Engine::new(store, SessionConfig::default());

    let cookie = new_session(&engine).await;

    for expected in 1..=3u64 {
        let d = increment(&engine, &cookie, &mut obs).await;
        assert_eq!(
            d,
            HashMap::from([("get".to_owned(), 1), ("set".to_owned(), 1)]),
            "read-then-write number {expected}: one GET, one SET, no script"
        );
        let s = engine.begin([cookie.as_bytes()]);
        assert_eq!(s.get::<u64>("n").await.expect("get"), Some(expected));
        engine.finish(&s, 200).await;
    }
}

/// With the near cache on Valkey, a read-then-write of a warm session is one round trip
/// of two commands, `SET … IFEQ` and the `GETRANGE` that keeps the key tracked, and no
/// script; the version written stays cached and tracked (another store's write
/// invalidates it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_valkey_a_warm_near_cache_write_is_a_set_ifeq_and_a_tracking_read() {
    let Some(server) = common::RedisChild::start_valkey() else {
        return;
    };
    let mut obs = observer(&server.url()).await;
    let cached = RedisConfig {
        near_cache: Some(satchel_redis::NearCacheConfig::default()),
        ..RedisConfig::default()
    };
    let store = RedisStore::connect(&server.url(), cached.clone())
        .await
        .expect("connect");
    let other = RedisStore::connect(&server.url(), cached)
        .await
        .expect("connect");
    let engine = Engine::new(store.clone(), SessionConfig::default());

    let cookie = new_session(&engine).await;
    // Warm it: the create is not cached, the first read is.
    let s = engine.begin([cookie.as_bytes()]);
    assert_eq!(s.get::<u64>("n").await.expect("get"), Some(0));
    engine.finish(&s, 200).await;

    for expected in 1..=3u64 {
        let d = increment(&engine, &cookie, &mut obs).await;
        assert_eq!(
            d,
            HashMap::from([("set".to_owned(), 1), ("getrange".to_owned(), 1)]),
            "warm read-then-write number {expected}: no GET, no script"
        );
    }
    let id = SessionId::parse(cookie.split_once('=').expect("pair").1).expect("id");
    let key = id.store_key();
    assert!(
        store.near_cache_holds(&key),
        "the written version is cached"
    );
    let now = Timestamp::now();
    let patch = Patch {
        set: vec![("n".into(), satchel::Value::from_json("100").expect("json"))],
        ..Patch::default()
    };
    assert!(matches!(
        other.apply(&key, &patch, now).await.expect("apply"),
        WriteOutcome::Applied(_)
    ));
    store.sync_near_cache().await.expect("sync");
    assert!(
        !store.near_cache_holds(&key),
        "the other store's write invalidated the cached version"
    );
    let s = engine.begin([cookie.as_bytes()]);
    assert_eq!(s.get::<u64>("n").await.expect("get"), Some(100));
    engine.finish(&s, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_serves_large_bases_and_stores_told_not_to_use_set_ifeq() {
    let Some(server) = common::RedisChild::start_valkey() else {
        return;
    };
    let mut obs = observer(&server.url()).await;
    let scripted = RedisStore::connect(
        &server.url(),
        RedisConfig {
            use_set_ifeq: false,
            ..RedisConfig::with_prefix("a:")
        },
    )
    .await
    .expect("connect");
    let plain = RedisStore::connect(&server.url(), RedisConfig::with_prefix("b:"))
        .await
        .expect("connect");
    let now = Timestamp::now();
    let big = format!("\"{}\"", "x".repeat(5000));
    for (store, value, script) in [
        (&scripted, "1".to_owned(), true),
        (&plain, big.clone(), true),
        (&plain, "1".to_owned(), false),
    ] {
        let key = SessionId::generate().store_key();
        let record = satchel::Record {
            data: [(
                "v".to_owned(),
                satchel::Value::from_json(value.clone()).expect("json"),
            )]
            .into_iter()
            .collect(),
            meta: satchel::Meta::new(
                now,
                std::time::Duration::from_secs(60),
                std::time::Duration::from_secs(600),
            ),
        };
        assert_eq!(
            store.create(&key, &record, now).await.expect("create"),
            WriteOutcome::Applied(record.meta.expires())
        );
        store.load(&key, now).await.expect("load").expect("live");
        let before = calls(&mut obs).await;
        let patch = Patch {
            set: vec![("w".into(), satchel::Value::from_json("true").expect("json"))],
            ..Patch::default()
        };
        assert!(matches!(
            store.apply(&key, &patch, now).await.expect("apply"),
            WriteOutcome::Applied(_)
        ));
        let d = delta(&before, &calls(&mut obs).await);
        assert_eq!(
            d.contains_key("evalsha") || d.contains_key("eval"),
            script,
            "{} bytes, use_set_ifeq {}: {d:?}",
            value.len(),
            !std::ptr::eq(store, &scripted)
        );
        let r = store.load(&key, now).await.expect("load").expect("live");
        assert_eq!(r.data["v"].get(), value, "the value is intact");
        assert_eq!(r.data["w"].get(), "true");
    }
}

/// A store that found `SET … IFEQ` at connect and then reaches a server without it (here:
/// Valkey replaced by Redis 7 on the same port, as a failover to an older server would)
/// writes with the script from then on, without failing the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_set_ifeq_later_gets_the_script() {
    let Some(mut valkey) = common::RedisChild::start_valkey() else {
        return;
    };
    let port = valkey.port;
    let url = valkey.url();
    let store = RedisStore::connect(&url, RedisConfig::default())
        .await
        .expect("connect");
    valkey.kill();
    let Some(_redis) = common::RedisChild::start_on(port) else {
        return;
    };
    let now = Timestamp::now();
    let key = SessionId::generate().store_key();
    let record = satchel::Record {
        data: [(
            "n".to_owned(),
            satchel::Value::from_json("0").expect("json"),
        )]
        .into_iter()
        .collect(),
        meta: satchel::Meta::new(
            now,
            std::time::Duration::from_secs(60),
            std::time::Duration::from_secs(600),
        ),
    };
    // The reconnection takes a moment: the first calls may fail as unavailable.
    let mut created = None;
    for _ in 0..100 {
        match store.create(&key, &record, now).await {
            Ok(outcome) => {
                created = Some(outcome);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    assert!(
        matches!(created, Some(WriteOutcome::Applied(_))),
        "{created:?}"
    );
    store.load(&key, now).await.expect("load").expect("live");
    for n in 1..=2u64 {
        let patch = Patch {
            set: vec![(
                "n".into(),
                satchel::Value::from_json(n.to_string()).expect("json"),
            )],
            ..Patch::default()
        };
        assert!(matches!(
            store.apply(&key, &patch, now).await.expect("apply"),
            WriteOutcome::Applied(_)
        ));
        let r = store.load(&key, now).await.expect("load").expect("live");
        assert_eq!(r.data["n"].get(), n.to_string());
    }
}
