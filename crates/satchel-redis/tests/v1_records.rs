//! Records written in layout v1 (one hash per session, as satchel-redis wrote them before
//! layout v2) still load, and their next write rewrites them as a v2 string, keeping
//! every value and the owner index. The v1 record is written by the v1 `create` script
//! itself (`RedisStore::create_v1_for_tests`).

mod common;

use std::time::Duration;

use satchel::{Meta, Patch, Record, SessionId, SessionStore, Timestamp, Value, WriteOutcome};
use satchel_redis::RedisStore;

fn json(s: &str) -> Value {
    Value::from_json(s).expect("json")
}

/// Standalone and (when configured) Cluster stores with fresh prefixes, each with the URL.
async fn stores() -> Vec<(RedisStore, String)> {
    let mut out = Vec::new();
    for var in [
        "SATCHEL_REDIS_URL",
        "SATCHEL_REDIS_CLUSTER_URL",
        "SATCHEL_VALKEY_URL",
    ] {
        if let Some(url) = common::url(var) {
            let store = RedisStore::connect(
                &url,
                satchel_redis::RedisConfig::with_prefix(common::prefix()),
            )
            .await
            .expect("connect");
            out.push((store, url));
        }
    }
    out
}

/// The Redis type of the key of `key` (`hash`, `string`, `none`).
async fn key_type(url: &str, store: &RedisStore, key: &satchel::StoreKey) -> String {
    let k = store.session_key(key);
    if let Some(nodes) = url.strip_prefix("redis+cluster://") {
        let nodes: Vec<String> = nodes.split(',').map(|n| format!("redis://{n}")).collect();
        let client = redis::cluster::ClusterClient::new(nodes).expect("nodes");
        let mut conn = client.get_async_connection().await.expect("connect");
        return redis::cmd("TYPE")
            .arg(&k)
            .query_async(&mut conn)
            .await
            .expect("type");
    }
    let client = redis::Client::open(url).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    redis::cmd("TYPE")
        .arg(&k)
        .query_async(&mut conn)
        .await
        .expect("type")
}

fn v1_record(now: Timestamp) -> Record {
    let mut meta = Meta::new(now, Duration::from_secs(1800), Duration::from_secs(86_400));
    meta.owner = Some("alice".into());
    Record {
        data: [
            ("user".to_owned(), json("\"alice\"")),
            ("n".to_owned(), json("41")),
            ("cart".to_owned(), json("[1,2]")),
        ]
        .into_iter()
        .collect(),
        meta,
    }
}

#[tokio::test]
async fn a_v1_record_loads_and_its_next_write_rewrites_it_in_v2() {
    for (store, url) in stores().await {
        let now = Timestamp::now();
        let key = SessionId::generate().store_key();
        let record = v1_record(now);
        let outcome = store
            .create_v1_for_tests(&key, &record, now)
            .await
            .expect("v1 create");
        assert!(matches!(outcome, WriteOutcome::Applied(_)), "{outcome:?}");
        assert_eq!(key_type(&url, &store, &key).await, "hash", "{url}");

        // Loads as the same record.
        let loaded = store.load(&key, now).await.expect("load").expect("live");
        assert_eq!(loaded, record, "{url}");
        let listed = store.sessions_of("alice", now).await.expect("list");
        assert_eq!(listed.len(), 1, "{url}");

        // A read-then-write with a conflict check, as the engine sends it.
        let later = now.saturating_add(Duration::from_secs(5));
        let patch = Patch {
            set: vec![("n".into(), json("42"))],
            expect: vec![("n".into(), Some(json("41")))],
            ..Patch::default()
        };
        let outcome = store.apply(&key, &patch, later).await.expect("apply");
        assert!(matches!(outcome, WriteOutcome::Applied(_)), "{outcome:?}");
        assert_eq!(key_type(&url, &store, &key).await, "string", "{url}");

        let mut want = record.clone();
        patch.apply_to(&mut want, later);
        let back = store.load(&key, later).await.expect("load").expect("live");
        assert_eq!(back, want, "{url}");
        // The owner index still finds it, and revoking works on the v2 record.
        let listed = store.sessions_of("alice", later).await.expect("list");
        assert_eq!(listed.len(), 1, "{url}");
        assert_eq!(listed[0].key, key);
        assert_eq!(store.revoke_owner("alice", None).await.expect("revoke"), 1);
        assert!(store.load(&key, later).await.expect("load").is_none());
    }
}

#[tokio::test]
async fn a_stale_expectation_on_a_v1_record_is_a_conflict_and_changes_nothing() {
    for (store, url) in stores().await {
        let now = Timestamp::now();
        let key = SessionId::generate().store_key();
        let record = v1_record(now);
        store
            .create_v1_for_tests(&key, &record, now)
            .await
            .expect("v1 create");
        let patch = Patch {
            set: vec![("n".into(), json("1"))],
            expect: vec![("n".into(), Some(json("40")))],
            ..Patch::default()
        };
        let outcome = store.apply(&key, &patch, now).await.expect("apply");
        assert_eq!(outcome, WriteOutcome::Conflict(vec!["n".into()]), "{url}");
        assert_eq!(
            store.load(&key, now).await.expect("load").expect("live"),
            record
        );
    }
}

#[tokio::test]
async fn v1_records_can_be_touched_rotated_renewed_and_deleted() {
    for (store, url) in stores().await {
        let now = Timestamp::now();
        let record = v1_record(now);
        // Touch: rewritten in v2 with the new idle deadline.
        let key = SessionId::generate().store_key();
        store
            .create_v1_for_tests(&key, &record, now)
            .await
            .expect("v1 create");
        let later = now.saturating_add(Duration::from_secs(60));
        let expires = store
            .touch(&key, later)
            .await
            .expect("touch")
            .expect("live");
        assert_eq!(expires.at, later.saturating_add(Duration::from_secs(1800)));
        let back = store.load(&key, later).await.expect("load").expect("live");
        assert_eq!(back.data, record.data, "{url}");
        assert_eq!(back.meta.idle_deadline, expires.at);

        // Rotate: the new key holds the record, the old one nothing.
        let old = SessionId::generate().store_key();
        let new = SessionId::generate().store_key();
        store
            .create_v1_for_tests(&old, &record, now)
            .await
            .expect("v1 create");
        let outcome = store
            .rotate(&old, &new, &Patch::default(), now)
            .await
            .expect("rotate");
        assert!(matches!(outcome, WriteOutcome::Applied(_)), "{outcome:?}");
        assert!(
            store.load(&old, now).await.expect("load").is_none(),
            "{url}"
        );
        assert_eq!(
            store
                .load(&new, now)
                .await
                .expect("load")
                .expect("live")
                .data,
            record.data
        );

        // Renew (standalone only; a Cluster does not claim it): the v1 hash is rewritten
        // in v2 first, then moved; the owner index follows, the forward is left.
        if store.capabilities().renewal {
            let (old, new) = (
                SessionId::generate().store_key(),
                SessionId::generate().store_key(),
            );
            store
                .create_v1_for_tests(&old, &record, now)
                .await
                .expect("v1 create");
            let until = now.saturating_add(Duration::from_secs(30));
            let outcome = store
                .renew(&old, &new, &Patch::default(), b"fwd", until, now)
                .await
                .expect("renew");
            assert!(matches!(outcome, WriteOutcome::Applied(_)), "{outcome:?}");
            assert!(store.load(&old, now).await.expect("load").is_none());
            assert_eq!(
                store.load_forward(&old, now).await.expect("forward"),
                Some(b"fwd".to_vec())
            );
            let moved = store.load(&new, now).await.expect("load").expect("live");
            assert_eq!(moved.data, record.data, "{url}");
            let listed = store.sessions_of("alice", now).await.expect("list");
            assert!(listed.iter().any(|s| s.key == new), "{url}");
            assert!(listed.iter().all(|s| s.key != old), "{url}");
        }

        // Delete: gone, and gone from the owner index.
        let gone = SessionId::generate().store_key();
        store
            .create_v1_for_tests(&gone, &record, now)
            .await
            .expect("v1 create");
        store.delete(&gone).await.expect("delete");
        assert!(store.load(&gone, now).await.expect("load").is_none());
        let listed = store.sessions_of("alice", now).await.expect("list");
        assert!(listed.iter().all(|s| s.key != gone), "{url}");
    }
}
