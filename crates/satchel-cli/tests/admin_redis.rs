//! `satchel sessions | stats | purge` on Redis: standalone (also reading layout-v1
//! hashes), Cluster (every primary scanned) and Sentinel, each under a key prefix of its
//! own.

mod admin_support;

use std::time::Duration;

use admin_support::{key, record, satchel_json, scenario, unique, url};
use satchel::{SessionStore, StoreKey, Timestamp};
use satchel_redis::{RedisConfig, RedisStore};

const PURGED: &str = "removed 1 dead owner-index entry";

async fn open(url: &str, prefix: &str) -> RedisStore {
    RedisStore::connect(url, RedisConfig::with_prefix(prefix))
        .await
        .expect("connect to Redis")
}

/// Members of `owner`'s index (sorted set `{prefix}o:{sha1(owner)}`), read straight from
/// a standalone server.
async fn index_members(url: &str, prefix: &str, owner: &str) -> Vec<String> {
    let client = redis::Client::open(url).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let idx = format!("{prefix}o:{}", sha1_smol::Sha1::from(owner).digest());
    redis::cmd("ZRANGE")
        .arg(&idx)
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .expect("ZRANGE")
}

/// Deletes every key under `prefix` (standalone; the test's own keys only).
async fn clean(url: &str, prefix: &str) {
    let client = redis::Client::open(url).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    for k in keys {
        let _: () = redis::cmd("DEL")
            .arg(&k)
            .query_async(&mut conn)
            .await
            .expect("DEL");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_work_on_redis_standalone_and_keep_the_owner_index() {
    let Some(url) = url("SATCHEL_REDIS_URL") else {
        return;
    };
    let prefix = format!("{}:", unique("satchel-admin-test"));
    let store = open(&url, &prefix).await;
    let args = ["--store", url.as_str(), "--prefix", prefix.as_str()];
    let seeded = scenario(&store, &args, PURGED).await;
    // Revocations went through the store: the indexes hold exactly what is left.
    assert!(index_members(&url, &prefix, "bob").await.is_empty());
    assert_eq!(
        index_members(&url, &prefix, "alice").await,
        vec![seeded.alice[2].to_hex()],
        "the dead entry was purged, the revoked ones removed"
    );

    // A session in layout v1 (one hash), as earlier versions of satchel-redis wrote.
    let now = Timestamp::now();
    let v1: StoreKey = key(0x44);
    let r = record(
        now,
        Some("carol"),
        Duration::from_secs(600),
        Duration::from_secs(3_600),
    );
    store
        .create_v1_for_tests(&v1, &r, now)
        .await
        .expect("v1 create");
    let ls = satchel_json(&[&["sessions", "ls", "--owner", "carol"][..], &args].concat());
    assert_eq!(ls["total"], 1, "{ls}");
    assert_eq!(ls["sessions"][0]["ref"], v1.short(), "{ls}");
    let ls = satchel_json(&[&["sessions", "ls"][..], &args].concat());
    assert_eq!(ls["total"], 3, "{ls}");
    let shown = satchel_json(&[&["sessions", "show", &v1.short()][..], &args].concat());
    assert_eq!(shown["owner"], "carol", "{shown}");
    let revoked = satchel_json(&[&["sessions", "revoke", &v1.short()][..], &args].concat());
    assert_eq!(revoked["revoked"][0], v1.short(), "{revoked}");
    assert!(store.load(&v1, now).await.expect("load").is_none());
    assert!(index_members(&url, &prefix, "carol").await.is_empty());
    clean(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_scan_every_cluster_primary() {
    let Some(url) = url("SATCHEL_REDIS_CLUSTER_URL") else {
        return;
    };
    let prefix = format!("{}:", unique("satchel-admin-test"));
    let store = open(&url, &prefix).await;
    let args = ["--store", url.as_str(), "--prefix", prefix.as_str()];
    let seeded = scenario(&store, &args, PURGED).await;
    // Clean up through the store itself (keys live on several nodes).
    for k in [seeded.alice[2], seeded.anonymous] {
        store.delete(&k).await.expect("delete");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_work_through_sentinel() {
    let Some(url) = url("SATCHEL_REDIS_SENTINEL_URL") else {
        return;
    };
    let prefix = format!("{}:", unique("satchel-admin-test"));
    let store = open(&url, &prefix).await;
    let args = ["--store", url.as_str(), "--prefix", prefix.as_str()];
    let seeded = scenario(&store, &args, PURGED).await;
    for k in [seeded.alice[2], seeded.anonymous] {
        store.delete(&k).await.expect("delete");
    }
}
