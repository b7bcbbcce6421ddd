//! Version-checked writes across processes: two stores with their own connections on one
//! Redis (standalone and Cluster), as two app instances. Each keeps its own bases (the
//! versions it last read or wrote), so these cases make a base outdated on purpose: the
//! write must rebase when another instance changed other keys, report `Conflict` when it
//! changed a key the write read, and never bring back a deleted or expired session.

mod common;

use std::time::Duration;

use satchel::{Data, Meta, Patch, Record, SessionId, SessionStore, Timestamp, Value, WriteOutcome};
use satchel_redis::{RedisConfig, RedisStore};

fn json(s: &str) -> Value {
    Value::from_json(s).expect("json")
}

/// Two stores on the same prefix with separate connections, per configured topology.
async fn pairs() -> Vec<(RedisStore, RedisStore)> {
    let mut out = Vec::new();
    for var in [
        "SATCHEL_REDIS_URL",
        "SATCHEL_REDIS_CLUSTER_URL",
        "SATCHEL_VALKEY_URL",
    ] {
        if let Some(url) = common::url(var) {
            let prefix = common::prefix();
            let a = RedisStore::connect(&url, RedisConfig::with_prefix(prefix.clone()))
                .await
                .expect("connect a");
            let b = RedisStore::connect(&url, RedisConfig::with_prefix(prefix))
                .await
                .expect("connect b");
            out.push((a, b));
        }
    }
    out
}

fn record(now: Timestamp, pairs: &[(&str, &str)]) -> Record {
    Record {
        data: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json(v)))
            .collect::<Data>(),
        meta: Meta::new(now, Duration::from_secs(600), Duration::from_secs(3600)),
    }
}

/// Set `key` to `to`, having read `from`.
fn read_then_set(key: &str, from: &str, to: &str) -> Patch {
    Patch {
        set: vec![(key.into(), json(to))],
        expect: vec![(key.into(), Some(json(from)))],
        ..Patch::default()
    }
}

fn value(r: &Record, key: &str) -> String {
    r.data.get(key).expect("key").get().to_owned()
}

#[tokio::test]
async fn an_outdated_base_is_rebased_when_other_keys_changed() {
    for (a, b) in pairs().await {
        let now = Timestamp::now();
        let k = SessionId::generate().store_key();
        a.create(&k, &record(now, &[("x", "1"), ("y", "1")]), now)
            .await
            .expect("create");
        // A reads (its base), then B changes y, then A writes x.
        a.load(&k, now).await.expect("load").expect("live");
        b.load(&k, now).await.expect("load").expect("live");
        let out = b.apply(&k, &read_then_set("y", "1", "2"), now).await;
        assert!(matches!(out, Ok(WriteOutcome::Applied(_))), "{out:?}");
        let out = a.apply(&k, &read_then_set("x", "1", "2"), now).await;
        assert!(matches!(out, Ok(WriteOutcome::Applied(_))), "{out:?}");
        let r = b.load(&k, now).await.expect("load").expect("live");
        assert_eq!((value(&r, "x"), value(&r, "y")), ("2".into(), "2".into()));
    }
}

#[tokio::test]
async fn an_outdated_base_is_a_conflict_when_the_read_key_changed() {
    for (a, b) in pairs().await {
        let now = Timestamp::now();
        let k = SessionId::generate().store_key();
        a.create(&k, &record(now, &[("n", "1")]), now)
            .await
            .expect("create");
        a.load(&k, now).await.expect("load").expect("live");
        b.load(&k, now).await.expect("load").expect("live");
        let out = b.apply(&k, &read_then_set("n", "1", "2"), now).await;
        assert!(matches!(out, Ok(WriteOutcome::Applied(_))), "{out:?}");
        let out = a.apply(&k, &read_then_set("n", "1", "2"), now).await;
        assert_eq!(
            out.expect("apply"),
            WriteOutcome::Conflict(vec!["n".into()])
        );
        // A's next attempt, on what it now knows, succeeds.
        let out = a.apply(&k, &read_then_set("n", "2", "3"), now).await;
        assert!(matches!(out, Ok(WriteOutcome::Applied(_))), "{out:?}");
        let r = b.load(&k, now).await.expect("load").expect("live");
        assert_eq!(value(&r, "n"), "3");
    }
}

#[tokio::test]
async fn a_base_never_resurrects_a_deleted_or_expired_session() {
    for (a, b) in pairs().await {
        let now = Timestamp::now();
        let k = SessionId::generate().store_key();
        a.create(&k, &record(now, &[("n", "1")]), now)
            .await
            .expect("create");
        a.load(&k, now).await.expect("load").expect("live");
        b.delete(&k).await.expect("delete");
        let out = a.apply(&k, &read_then_set("n", "1", "2"), now).await;
        assert_eq!(out.expect("apply"), WriteOutcome::Gone);
        let blind = Patch {
            set: vec![("z".into(), json("1"))],
            ..Patch::default()
        };
        assert_eq!(
            a.apply(&k, &blind, now).await.expect("apply"),
            WriteOutcome::Gone
        );
        assert!(b.load(&k, now).await.expect("load").is_none());

        // Expired at the caller's `now`, with a base from before: gone, for the store's
        // check and the script's.
        let k = SessionId::generate().store_key();
        a.create(&k, &record(now, &[("n", "1")]), now)
            .await
            .expect("create");
        a.load(&k, now).await.expect("load").expect("live");
        let late = now.saturating_add(Duration::from_secs(601));
        assert_eq!(
            a.apply(&k, &blind, late).await.expect("apply"),
            WriteOutcome::Gone
        );
        assert_eq!(a.touch(&k, late).await.expect("touch"), None);
    }
}

#[tokio::test]
async fn two_instances_writing_different_keys_concurrently_lose_nothing() {
    for (a, b) in pairs().await {
        let now = Timestamp::now();
        let k = SessionId::generate().store_key();
        a.create(&k, &record(now, &[("base", "0")]), now)
            .await
            .expect("create");
        let mut tasks = Vec::new();
        for (i, store) in [a.clone(), b.clone()]
            .into_iter()
            .cycle()
            .take(32)
            .enumerate()
        {
            tasks.push(tokio::spawn(async move {
                let patch = Patch {
                    set: vec![(format!("k{i}"), json(&i.to_string()))],
                    ..Patch::default()
                };
                store.apply(&k, &patch, now).await.expect("apply")
            }));
        }
        for t in tasks {
            let out = t.await.expect("task");
            assert!(matches!(out, WriteOutcome::Applied(_)), "{out:?}");
        }
        let r = a.load(&k, now).await.expect("load").expect("live");
        assert_eq!(r.data.len(), 33, "every write survives");
    }
}

#[tokio::test]
async fn two_instances_incrementing_one_key_count_every_success_once() {
    for (a, b) in pairs().await {
        let now = Timestamp::now();
        let k = SessionId::generate().store_key();
        a.create(&k, &record(now, &[("n", "0")]), now)
            .await
            .expect("create");
        let mut tasks = Vec::new();
        for store in [a.clone(), b.clone()].into_iter().cycle().take(8) {
            tasks.push(tokio::spawn(async move {
                let mut ok = 0u64;
                for _ in 0..10 {
                    let r = store.load(&k, now).await.expect("load").expect("live");
                    let n: u64 = r.data["n"].deserialize().expect("n");
                    let patch = read_then_set("n", &n.to_string(), &(n + 1).to_string());
                    match store.apply(&k, &patch, now).await.expect("apply") {
                        WriteOutcome::Applied(_) => ok += 1,
                        WriteOutcome::Conflict(keys) => assert_eq!(keys, ["n"]),
                        other => panic!("unexpected {other:?}"),
                    }
                }
                ok
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("task");
        }
        let r = a.load(&k, now).await.expect("load").expect("live");
        let n: u64 = r.data["n"].deserialize().expect("n");
        assert_eq!(n, total);
        assert!(total > 0);
    }
}
