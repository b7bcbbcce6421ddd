//! SQLite: the conformance suite on a database file (each store in its own temporary
//! directory, removed afterwards) and in memory, plus the store's own behaviour.
#![cfg(feature = "sqlite")]

mod common;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use satchel::conformance::Harness;
use satchel::{
    Data, Meta, Patch, Record, SessionId, SessionStore, StoreErrorKind, StoreKey, Timestamp, Value,
    WriteOutcome,
};
use satchel_sql::{CleanupOptions, SqlOptions, SqliteStore};

/// Stores on database files, one temporary directory per store.
#[derive(Default)]
struct File {
    dirs: Mutex<Vec<PathBuf>>,
}

impl File {
    fn url(&self) -> String {
        let dir = std::env::temp_dir().join(common::unique_name());
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.join("sessions.sqlite").display()
        );
        self.dirs.lock().expect("lock").push(dir);
        url
    }

    async fn open(&self, url: &str, options: SqlOptions) -> SqliteStore {
        let store = SqliteStore::connect_with(url, options).await.expect("open");
        store.migrate().await.expect("migrate");
        store
    }
}

impl Drop for File {
    fn drop(&mut self) {
        for dir in self.dirs.lock().expect("lock").drain(..) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn options() -> SqlOptions {
    SqlOptions::default()
        .with_acquire_timeout(Duration::from_secs(10))
        .with_cleanup(None)
}

async fn corrupt(store: &SqliteStore, key: &StoreKey) {
    let sql = format!(
        "UPDATE {} SET data = 'not JSON at all' WHERE id_hash = ?1",
        store.table()
    );
    let done = sqlx::query(&sql)
        .bind(&key.as_bytes()[..])
        .execute(store.pool())
        .await
        .expect("corrupt");
    assert_eq!(done.rows_affected(), 1);
}

impl Harness for File {
    type Store = SqliteStore;

    async fn store(&self) -> SqliteStore {
        let url = self.url();
        self.open(&url, options()).await
    }

    async fn corrupt(&self, store: &SqliteStore, key: &StoreKey) {
        corrupt(store, key).await;
    }
}

/// Stores in memory (`sqlite::memory:`): one private database per store.
struct Memory;

impl Harness for Memory {
    type Store = SqliteStore;

    async fn store(&self) -> SqliteStore {
        let store = SqliteStore::connect_with("sqlite::memory:", options())
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        store
    }

    async fn corrupt(&self, store: &SqliteStore, key: &StoreKey) {
        corrupt(store, key).await;
    }
}

mod file {
    satchel::conformance_tests!(super::File::default());
}

mod memory {
    satchel::conformance_tests!(super::Memory);
}

fn key() -> StoreKey {
    SessionId::generate().store_key()
}

fn record(now: Timestamp, pairs: &[(&str, &str)]) -> Record {
    Record {
        data: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from_json(*v).expect("json")))
            .collect::<Data>(),
        meta: Meta::new(
            now,
            Duration::from_secs(1800),
            Duration::from_secs(8 * 3600),
        ),
    }
}

async fn rows(store: &SqliteStore, condition: &str) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {} WHERE {condition}",
        store.table()
    ))
    .fetch_one(store.pool())
    .await
    .expect("count")
}

#[tokio::test]
async fn sessions_survive_reopening_the_file() {
    let h = File::default();
    let url = h.url();
    let now = Timestamp::now();
    let k = key();
    {
        let store = h.open(&url, options()).await;
        store
            .create(&k, &record(now, &[("n", "2")]), now)
            .await
            .expect("create");
        store.pool().close().await;
    }
    let store = h.open(&url, options()).await;
    let r = store
        .load(&k, now)
        .await
        .expect("load")
        .expect("still there");
    assert_eq!(r.data["n"].get(), "2");
}

#[tokio::test]
async fn expired_rows_never_load_even_before_cleanup() {
    let h = File::default();
    let store = h.open(&h.url(), options()).await;
    let now = Timestamp::now();
    let k = key();
    let mut r = record(now, &[("a", "1")]);
    r.meta.idle_deadline = Timestamp::from_millis(now.as_millis() - 1);
    let _ = store.create(&k, &r, now).await.expect("create");
    assert_eq!(rows(&store, "1").await, 1, "the expired row is still there");
    assert!(store.load(&k, now).await.expect("load").is_none());
    assert!(store
        .load(&k, Timestamp::now())
        .await
        .expect("load")
        .is_none());
    assert_eq!(store.purge_expired(now, 10).await.expect("purge"), 1);
}

#[tokio::test]
async fn unknown_format_versions_and_non_objects_are_corrupt() {
    let h = File::default();
    let store = h.open(&h.url(), options()).await;
    let now = Timestamp::now();
    let (k1, k2) = (key(), key());
    for k in [&k1, &k2] {
        store
            .create(k, &record(now, &[("a", "1")]), now)
            .await
            .expect("create");
    }
    let table = store.table();
    sqlx::query(&format!(
        "UPDATE {table} SET format = 99 WHERE id_hash = ?1"
    ))
    .bind(&k1.as_bytes()[..])
    .execute(store.pool())
    .await
    .expect("update");
    sqlx::query(&format!(
        "UPDATE {table} SET data = '[1,2]' WHERE id_hash = ?1"
    ))
    .bind(&k2.as_bytes()[..])
    .execute(store.pool())
    .await
    .expect("update");
    for k in [&k1, &k2] {
        let err = store.load(k, now).await.expect_err("corrupt");
        assert_eq!(err.kind(), StoreErrorKind::Corrupt);
        let err = store
            .apply(k, &Patch::default(), now)
            .await
            .expect_err("corrupt");
        assert_eq!(err.kind(), StoreErrorKind::Corrupt);
    }
}

#[tokio::test]
async fn migrate_is_idempotent_and_the_table_name_is_configurable() {
    let h = File::default();
    let url = h.url();
    let store = h
        .open(&url, options().with_table("other_sessions").expect("name"))
        .await;
    assert!(store.migrate().await.expect("again").applied.is_empty());
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name LIKE 'other%' ORDER BY name",
    )
    .fetch_all(store.pool())
    .await
    .expect("tables");
    assert_eq!(
        tables,
        [
            "other_sessions",
            "other_sessions_expires_at",
            "other_sessions_forwards",
            "other_sessions_forwards_grace_until",
            "other_sessions_forwards_migrations",
            "other_sessions_migrations",
            "other_sessions_owner"
        ]
    );
}

/// 100,000 expired rows: the cleanup task removes them in batches of at most 1,000 while
/// a concurrent loop keeps loading and writing a live session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_drains_a_large_backlog_in_bounded_batches() {
    const BATCH: usize = 1_000;
    let h = File::default();
    let url = h.url();
    let setup = h.open(&url, options()).await;
    let now = Timestamp::now();
    let past = i64::try_from(now.as_millis()).expect("ms") - 3_600_000;
    sqlx::query(&format!(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100000) \
         INSERT INTO {} (id_hash, data, format, created_at, idle_timeout, idle_deadline, \
         absolute_deadline, expires_at, persistent, owner) \
         SELECT randomblob(32), '{{\"n\":1}}', 1, ?1 - 7200000, 1800000, ?1 - n, ?1 + 3600000, \
         ((?1 - n + 59999) / 60000) * 60000, 0, NULL FROM g",
        setup.table()
    ))
    .bind(past)
    .execute(setup.pool())
    .await
    .expect("bulk insert");
    let live = key();
    setup
        .create(&live, &record(now, &[("n", "0")]), now)
        .await
        .expect("create live");
    let store = h
        .open(
            &url,
            options().with_cleanup(Some(CleanupOptions {
                interval: Duration::from_millis(100),
                batch_size: BATCH,
                pause: Duration::from_millis(2),
            })),
        )
        .await;
    let cleanup = store.cleanup().expect("cleanup on");
    let server = store.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_flag = std::sync::Arc::clone(&stop);
    let serving = tokio::spawn(async move {
        let mut calls = 0u64;
        while !stop_flag.load(std::sync::atomic::Ordering::SeqCst) {
            let now = Timestamp::now();
            let r = server.load(&live, now).await.expect("load").expect("live");
            let n: u64 = r.data["n"].deserialize().expect("n");
            let mut patch = Patch {
                set: vec![("n".into(), Value::from_serialize(&(n + 1)).expect("json"))],
                ..Patch::default()
            };
            patch.expect.push(("n".into(), Some(r.data["n"].clone())));
            let outcome = server.apply(&live, &patch, now).await.expect("apply");
            assert!(matches!(outcome, WriteOutcome::Applied(_)), "{outcome:?}");
            calls += 2;
        }
        calls
    });
    let started = Instant::now();
    let expired = format!(
        "min(idle_deadline, absolute_deadline) <= {}",
        now.as_millis()
    );
    while rows(&store, &expired).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "backlog not drained: {:?}",
            cleanup.stats()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let calls = serving.await.expect("serving loop");
    let stats = cleanup.stats();
    eprintln!(
        "drained in {:?}: {stats:?}; {calls} store calls served meanwhile",
        started.elapsed()
    );
    assert!(stats.purged >= 100_000, "{stats:?}");
    assert!(stats.largest_batch <= BATCH as u64, "{stats:?}");
    assert!(stats.batches >= 100, "{stats:?}");
    assert!(calls > 0);
    assert!(store
        .load(&live, Timestamp::now())
        .await
        .expect("load")
        .is_some());
    cleanup.shutdown().await;
    assert!(cleanup.is_finished());
}

/// Rows satchel cannot decode (issue 20), each set with plain SQL: through the engine
/// (default settings) each is no session: a read is anonymous, a write starts a fresh id
/// holding only its own data, no request fails, and the row is deleted.
#[tokio::test]
async fn malformed_rows_are_no_session_through_the_engine() {
    let h = File::default();
    let store = h.open(&h.url(), options()).await;
    let engine = satchel::Engine::new(store.clone(), satchel::SessionConfig::default());
    let table = store.table();
    let shapes = [
        (
            "data not JSON",
            format!("UPDATE {table} SET data = 'not JSON' WHERE id_hash = ?1"),
        ),
        (
            "data truncated",
            format!("UPDATE {table} SET data = '{{\"n\":' WHERE id_hash = ?1"),
        ),
        (
            "data an array",
            format!("UPDATE {table} SET data = '[1,2]' WHERE id_hash = ?1"),
        ),
        (
            "data a string",
            format!("UPDATE {table} SET data = '\"x\"' WHERE id_hash = ?1"),
        ),
        (
            "format 99",
            format!("UPDATE {table} SET format = 99 WHERE id_hash = ?1"),
        ),
    ];
    let key_of = |set_cookie: &str| {
        let id = set_cookie
            .split(';')
            .next()
            .and_then(|p| p.split_once('='))
            .map(|(_, v)| v)
            .unwrap_or_default();
        SessionId::parse(id).expect("a native id").store_key()
    };
    for (shape, sql) in &shapes {
        for write in [false, true] {
            let session = engine.begin(None);
            session.insert("n", &1).expect("insert");
            let set_cookie = engine
                .finish(&session, 200)
                .await
                .set_cookie
                .expect("cookie");
            let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
            let key = key_of(&set_cookie);
            let done = sqlx::query(sql)
                .bind(&key.as_bytes()[..])
                .execute(store.pool())
                .await
                .expect("plant");
            assert_eq!(done.rows_affected(), 1, "{shape}");
            assert!(store.load(&key, engine.now()).await.is_err(), "{shape}");

            let session = engine.begin([cookie.as_bytes()]);
            assert_eq!(session.get::<i64>("n").await.expect(shape), None, "{shape}");
            if write {
                session.insert("m", &2).expect("insert");
            }
            let done = engine.finish(&session, 200).await;
            assert!(done.error.is_none(), "{shape}: {:?}", done.error);
            if write {
                let fresh = key_of(&done.set_cookie.expect("a fresh session"));
                assert_ne!(fresh, key, "{shape}");
                let record = store.load(&fresh, engine.now()).await.expect("load");
                assert_eq!(record.expect("fresh").data.len(), 1, "{shape}");
            }
            let left = store.load(&key, engine.now()).await.expect("deleted");
            assert!(left.is_none(), "{shape}: not deleted");
        }
    }
}
