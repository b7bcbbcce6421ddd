//! What is not atomic across Cluster slots, and what happens when it breaks halfway.
//!
//! A session hash and its owner index live in different slots (the index is per owner,
//! the session key derives from a random id), as do the old and new keys of a rotation.
//! So on a Cluster the store runs the owner index update as a second command after the
//! session script, and a rotation as create-new then delete-old. These tests simulate a
//! process dying between the two steps and check that the damage is bounded:
//! - `create` of an owned session writes the index entry first: dying in between leaves
//!   an entry without a session, never listed or counted, pruned on read. (A direct
//!   `apply` that changes the owner updates the index after the session: dying in between
//!   leaves a session `revoke_owner` cannot find until it expires. The engine changes
//!   owners only while rotating, which on a Cluster is a `create`.)
//! - session deleted, index removal lost: a stale entry, never listed, pruned on read;
//! - rotation created the new key but died before deleting the old: both ids work until
//!   the old one expires or is deleted.

mod common;

use std::time::Duration;

use satchel::{Meta, Patch, Record, SessionId, SessionStore, Timestamp, WriteOutcome};
use satchel_redis::{RedisConfig, RedisStore};

async fn cluster() -> Option<(RedisStore, redis::cluster_async::ClusterConnection)> {
    let url = common::url("SATCHEL_REDIS_CLUSTER_URL")?;
    let store = RedisStore::connect(&url, RedisConfig::with_prefix(common::prefix()))
        .await
        .expect("connect");
    let nodes: Vec<String> = url
        .trim_start_matches("redis+cluster://")
        .split(',')
        .map(|n| format!("redis://{n}"))
        .collect();
    let raw = redis::cluster::ClusterClient::new(nodes)
        .expect("nodes")
        .get_async_connection()
        .await
        .expect("raw connection");
    Some((store, raw))
}

fn owned(now: Timestamp, owner: &str) -> Record {
    let mut meta = Meta::new(now, Duration::from_secs(1800), Duration::from_secs(3600));
    meta.owner = Some(owner.to_owned());
    Record {
        data: satchel::Data::new(),
        meta,
    }
}

fn index_key(store: &RedisStore, owner: &str) -> String {
    format!(
        "{}o:{}",
        store.prefix(),
        sha1_smol::Sha1::from(owner).digest()
    )
}

#[tokio::test]
async fn index_entry_without_session_is_never_listed() {
    let Some((store, mut raw)) = cluster().await else {
        return;
    };
    let now = Timestamp::now();
    let k = SessionId::generate().store_key();
    // `create` indexes first: the process died before the session script ran.
    let far = now.saturating_add(Duration::from_secs(3600)).as_millis();
    let _: () = redis::cmd("ZADD")
        .arg(index_key(&store, "alice"))
        .arg(far)
        .arg(k.to_hex())
        .query_async(&mut raw)
        .await
        .expect("zadd");
    assert!(store
        .sessions_of("alice", now)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(store.revoke_owner("alice", None).await.expect("revoke"), 0);
    // A session created normally is indexed (before it is written).
    store
        .create(&k, &owned(now, "alice"), now)
        .await
        .expect("create");
    assert_eq!(
        store.sessions_of("alice", now).await.expect("list").len(),
        1
    );
}

#[tokio::test]
async fn lost_index_removal_leaves_a_stale_entry_that_is_pruned() {
    let Some((store, mut raw)) = cluster().await else {
        return;
    };
    let now = Timestamp::now();
    let k = SessionId::generate().store_key();
    store
        .create(&k, &owned(now, "bob"), now)
        .await
        .expect("create");
    // The session went away without its index entry (died between the two steps).
    let _: () = redis::cmd("DEL")
        .arg(store.session_key(&k))
        .query_async(&mut raw)
        .await
        .expect("del");
    assert!(store
        .sessions_of("bob", now)
        .await
        .expect("list")
        .is_empty());
    let left: u64 = redis::cmd("ZCARD")
        .arg(index_key(&store, "bob"))
        .query_async(&mut raw)
        .await
        .expect("zcard");
    assert_eq!(left, 0, "listing prunes the stale entry");
}

#[tokio::test]
async fn rotation_is_create_then_delete() {
    let Some((store, _raw)) = cluster().await else {
        return;
    };
    let now = Timestamp::now();
    let (old, new) = (
        SessionId::generate().store_key(),
        SessionId::generate().store_key(),
    );
    store
        .create(&old, &owned(now, "carol"), now)
        .await
        .expect("create");
    // Step 1 of a rotation without step 2, as if the process died in between.
    let mut record = store.load(&old, now).await.expect("load").expect("live");
    Patch::default().apply_to(&mut record, now);
    assert!(matches!(
        store.create(&new, &record, now).await.expect("create"),
        WriteOutcome::Applied(_)
    ));
    assert!(store.load(&old, now).await.expect("load").is_some());
    assert!(store.load(&new, now).await.expect("load").is_some());
    // Both are indexed, so "log out everywhere" still reaches both.
    assert_eq!(
        store.sessions_of("carol", now).await.expect("list").len(),
        2
    );
    assert_eq!(store.revoke_owner("carol", None).await.expect("revoke"), 2);
    // A complete rotation leaves exactly one.
    let (a, b) = (
        SessionId::generate().store_key(),
        SessionId::generate().store_key(),
    );
    store
        .create(&a, &owned(now, "dave"), now)
        .await
        .expect("create");
    assert!(matches!(
        store
            .rotate(&a, &b, &Patch::default(), now)
            .await
            .expect("rotate"),
        WriteOutcome::Applied(_)
    ));
    assert!(store.load(&a, now).await.expect("load").is_none());
    let listed = store.sessions_of("dave", now).await.expect("list");
    assert_eq!(listed.iter().map(|s| s.key).collect::<Vec<_>>(), [b]);
}
