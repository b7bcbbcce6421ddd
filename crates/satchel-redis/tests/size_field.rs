//! The data size field `z`: the scripts keep it equal to the data's real size through
//! every kind of write, so the size limit needs no scan, and a record written before the
//! field existed (no `z`) is measured once by a scan and then carries it.

mod common;

use std::time::Duration;

use satchel::{Meta, Patch, Record, SessionId, SessionStore, Timestamp, Value, WriteOutcome};
use satchel_redis::RedisStore;

fn json(s: &str) -> Value {
    Value::from_json(s).expect("json")
}

/// A store with a fresh prefix and a plain connection to the same Redis, or `None` (a
/// loud skip) without `SATCHEL_REDIS_URL`.
async fn setup() -> Option<(RedisStore, redis::aio::MultiplexedConnection)> {
    let url = common::url("SATCHEL_REDIS_URL")?;
    let store = common::store().await.expect("store");
    let conn = redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    Some((store, conn))
}

/// The stored `z`, and the size of the data as the load returns it.
async fn sizes(
    store: &RedisStore,
    conn: &mut redis::aio::MultiplexedConnection,
    key: &satchel::StoreKey,
    now: Timestamp,
) -> (Option<u64>, u64) {
    let z: Option<u64> = redis::cmd("HGET")
        .arg(store.session_key(key))
        .arg("z")
        .query_async(conn)
        .await
        .expect("hget");
    let record = store.load(key, now).await.expect("load").expect("live");
    let real = record
        .data
        .iter()
        .map(|(k, v)| (k.len() + v.get().len()) as u64)
        .sum();
    (z, real)
}

fn patch(set: &[(&str, &str)], remove: &[&str], clear: bool, max: Option<usize>) -> Patch {
    Patch {
        clear,
        set: set
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json(v)))
            .collect(),
        remove: remove.iter().map(|k| (*k).to_owned()).collect(),
        max_data_bytes: max,
        ..Patch::default()
    }
}

#[tokio::test]
async fn the_size_field_follows_every_kind_of_write() {
    let Some((store, mut conn)) = setup().await else {
        return;
    };
    let now = Timestamp::now();
    let key = SessionId::generate().store_key();
    let mut record = Record {
        data: satchel::Data::new(),
        meta: Meta::new(now, Duration::from_secs(600), Duration::from_secs(3600)),
    };
    record.data.insert("user".to_owned(), json("\"alice\""));
    record.data.insert("".to_owned(), json("1"));
    assert!(matches!(
        store.create(&key, &record, now).await.expect("create"),
        WriteOutcome::Applied(_)
    ));
    let (z, real) = sizes(&store, &mut conn, &key, now).await;
    assert_eq!(z, Some(real));

    let steps = [
        patch(&[("n", "1")], &[], false, None),
        patch(&[("n", "12345"), ("m", "[1,2]")], &[], false, None),
        patch(&[("m", "[]")], &["n", "absent"], false, None),
        patch(
            &[("k", "true"), ("k", "\"longer value\"")],
            &["k"],
            false,
            None,
        ),
        patch(&[("after", "{\"a\":1}")], &["user"], true, None),
        patch(&[], &["after"], false, None),
    ];
    for (i, p) in steps.iter().enumerate() {
        let outcome = store.apply(&key, p, now).await.expect("apply");
        assert!(matches!(outcome, WriteOutcome::Applied(_)), "step {i}");
        let (z, real) = sizes(&store, &mut conn, &key, now).await;
        assert_eq!(z, Some(real), "step {i}");
    }

    // Rotation carries the field to the new key.
    let new = SessionId::generate().store_key();
    let outcome = store
        .rotate(&key, &new, &patch(&[("r", "1")], &[], false, None), now)
        .await
        .expect("rotate");
    assert!(matches!(outcome, WriteOutcome::Applied(_)));
    let (z, real) = sizes(&store, &mut conn, &new, now).await;
    assert_eq!(z, Some(real));

    // The limit is checked against the kept size: exactly at it passes, one byte over not.
    let at_limit = usize::try_from(real).expect("small") + "pad".len() + "\"x\"".len();
    let fits = patch(&[("pad", "\"x\"")], &[], false, Some(at_limit));
    assert!(matches!(
        store.apply(&new, &fits, now).await.expect("apply"),
        WriteOutcome::Applied(_)
    ));
    let over = patch(&[("pad", "\"xy\"")], &[], false, Some(at_limit));
    assert_eq!(
        store.apply(&new, &over, now).await.expect("apply"),
        WriteOutcome::TooLarge
    );
}

#[tokio::test]
async fn a_record_without_the_size_field_is_measured_once_then_kept() {
    let Some((store, mut conn)) = setup().await else {
        return;
    };
    let now = Timestamp::now();
    let key = SessionId::generate().store_key();
    let ms = now.as_millis();
    // A record as written before `z` existed: metadata and two values, no size field.
    let _: () = redis::cmd("HSET")
        .arg(store.session_key(&key))
        .arg(&[
            ("v", "1".to_owned()),
            ("c", ms.to_string()),
            ("i", "600000".to_owned()),
            ("d", (ms + 600_000).to_string()),
            ("a", (ms + 3_600_000).to_string()),
            ("p", "0".to_owned()),
            (".user", "\"alice\"".to_owned()),
            (".n", "41".to_owned()),
        ])
        .query_async(&mut conn)
        .await
        .expect("hset");
    let (z, real) = sizes(&store, &mut conn, &key, now).await;
    assert_eq!((z, real), (None, 4 + 7 + 1 + 2));

    // Over the limit by the scan's measure: refused, nothing written.
    let too_big = patch(&[("n", "42")], &[], false, Some(13));
    assert_eq!(
        store.apply(&key, &too_big, now).await.expect("apply"),
        WriteOutcome::TooLarge
    );
    assert_eq!(sizes(&store, &mut conn, &key, now).await.0, None);

    let ok = patch(&[("n", "42")], &[], false, Some(14));
    assert!(matches!(
        store.apply(&key, &ok, now).await.expect("apply"),
        WriteOutcome::Applied(_)
    ));
    let (z, real) = sizes(&store, &mut conn, &key, now).await;
    assert_eq!((z, real), (Some(14), 14));
}
