//! PostgreSQL: the conformance suite and the store's own behaviour, against the server in
//! `SATCHEL_POSTGRES_URL`. Each store lives in its own schema, dropped afterwards.
#![cfg(feature = "postgres")]

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use satchel::conformance::Harness;
use satchel::{
    Data, Meta, Patch, Record, SessionId, SessionStore, StoreErrorKind, StoreKey, Timestamp, Value,
    WriteOutcome,
};
use satchel_sql::{CleanupOptions, PostgresStore, SqlOptions};
use sqlx::Connection as _;

struct Pg {
    url: String,
    schemas: Mutex<Vec<String>>,
}

impl Pg {
    fn new() -> Option<Pg> {
        common::service_url("SATCHEL_POSTGRES_URL").map(|url| Pg {
            url,
            schemas: Mutex::default(),
        })
    }

    /// Options for a store in a schema of its own (created by `migrate`).
    fn options(&self) -> SqlOptions {
        let schema = common::unique_name();
        self.schemas.lock().expect("lock").push(schema.clone());
        SqlOptions::default()
            .with_schema(&schema)
            .expect("schema name")
            .with_max_connections(8)
            .with_acquire_timeout(Duration::from_secs(10))
            .with_cleanup(None)
    }

    async fn open(&self, options: SqlOptions) -> PostgresStore {
        let store = PostgresStore::connect_with(&self.url, options)
            .await
            .expect("connect to SATCHEL_POSTGRES_URL");
        let report = store.migrate().await.expect("migrate");
        assert_eq!((report.version, report.forwards_version), (1, 1));
        store
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let schemas = std::mem::take(&mut *self.schemas.lock().expect("lock"));
        if schemas.is_empty() {
            return;
        }
        let url = self.url.clone();
        common::block_on_thread(async move {
            let Ok(mut conn) = sqlx::PgConnection::connect(&url).await else {
                return;
            };
            for schema in schemas {
                let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                let _ = sqlx::Executor::execute(&mut conn, AsRef::<str>::as_ref(&drop)).await;
            }
        });
    }
}

impl Harness for Pg {
    type Store = PostgresStore;

    async fn store(&self) -> PostgresStore {
        self.open(self.options()).await
    }

    async fn corrupt(&self, store: &PostgresStore, key: &StoreKey) {
        let sql = format!(
            "UPDATE {} SET data = '\"not a record\"'::jsonb WHERE id_hash = $1",
            store.table()
        );
        let done = sqlx::query(&sql)
            .bind(&key.as_bytes()[..])
            .execute(store.pool())
            .await
            .expect("corrupt");
        assert_eq!(done.rows_affected(), 1);
    }
}

satchel::conformance_tests!(match Pg::new() {
    Some(h) => h,
    None => return,
});

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

async fn rows(store: &PostgresStore, condition: &str) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {} WHERE {condition}",
        store.table()
    ))
    .fetch_one(store.pool())
    .await
    .expect("count")
}

#[tokio::test]
async fn expired_rows_never_load_even_before_cleanup() {
    let Some(h) = Pg::new() else { return };
    let store = h.open(h.options()).await;
    let now = Timestamp::now();
    let k = key();
    let mut r = record(now, &[("a", "1")]);
    r.meta.idle_deadline = Timestamp::from_millis(now.as_millis() - 1);
    let _ = store.create(&k, &r, now).await.expect("create");
    assert_eq!(
        rows(&store, "true").await,
        1,
        "the expired row is still there"
    );
    assert!(store.load(&k, now).await.expect("load").is_none());
    assert!(store
        .load(&k, Timestamp::now())
        .await
        .expect("load")
        .is_none());
    let live = key();
    store
        .create(&live, &record(now, &[("a", "1")]), now)
        .await
        .expect("create");
    let later = now.saturating_add(Duration::from_secs(1800));
    assert!(store.load(&live, later).await.expect("load").is_none());
    assert_eq!(
        rows(&store, "true").await,
        2,
        "nothing purged: load alone hides them"
    );
    assert_eq!(store.purge_expired(later, 10).await.expect("purge"), 2);
}

#[tokio::test]
async fn unknown_format_versions_are_corrupt() {
    let Some(h) = Pg::new() else { return };
    let store = h.open(h.options()).await;
    let now = Timestamp::now();
    let k = key();
    store
        .create(&k, &record(now, &[("a", "1")]), now)
        .await
        .expect("create");
    sqlx::query(&format!("UPDATE {} SET format = 99", store.table()))
        .execute(store.pool())
        .await
        .expect("update");
    let err = store.load(&k, now).await.expect_err("format 99");
    assert_eq!(err.kind(), StoreErrorKind::Corrupt);
    let err = store
        .apply(&k, &Patch::default(), now)
        .await
        .expect_err("apply on format 99");
    assert_eq!(err.kind(), StoreErrorKind::Corrupt);
}

#[tokio::test]
async fn migrate_is_idempotent_and_recorded() {
    let Some(h) = Pg::new() else { return };
    let options = h.options().with_table("my_sessions").expect("name");
    let store = h.open(options.clone()).await;
    let again = store.migrate().await.expect("migrate again");
    assert!(again.applied.is_empty());
    assert_eq!((again.version, again.forwards_version), (1, 1));
    assert!(again.forwards_applied.is_empty());
    let schema = options.schema().expect("schema");
    let versions: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT version FROM \"{schema}\".\"my_sessions_migrations\" ORDER BY version"
    ))
    .fetch_all(store.pool())
    .await
    .expect("migrations table");
    assert_eq!(versions, [1], "the sessions' ledger stays at version 1");
    let forwards: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT version FROM \"{schema}\".\"my_sessions_forwards_migrations\" ORDER BY version"
    ))
    .fetch_all(store.pool())
    .await
    .expect("forwards migrations table");
    assert_eq!(forwards, [1]);
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(store.pool())
    .await
    .expect("indexes");
    assert!(
        indexes.contains(&"my_sessions_expires_at".to_owned()),
        "{indexes:?}"
    );
    assert!(
        indexes.contains(&"my_sessions_owner".to_owned()),
        "{indexes:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_with_a_typed_error() {
    let options = SqlOptions::default()
        .with_acquire_timeout(Duration::from_millis(500))
        .with_cleanup(None);
    let started = Instant::now();
    let err = PostgresStore::connect_with("postgres://satchel@127.0.0.1:1/none", options.clone())
        .await
        .expect_err("nothing listens on port 1");
    assert!(
        matches!(
            err.kind(),
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{err:?}"
    );
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://satchel@127.0.0.1:1/none")
        .expect("lazy pool");
    let store = PostgresStore::from_pool(pool, options);
    let err = store
        .load(&key(), Timestamp::now())
        .await
        .expect_err("no server");
    assert!(
        matches!(
            err.kind(),
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{err:?}"
    );
    assert!(
        std::error::Error::source(&err).is_some(),
        "the sqlx error is kept"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_blocked_statement_times_out() {
    let Some(h) = Pg::new() else { return };
    let options = h
        .options()
        .with_statement_timeout(Duration::from_millis(300));
    let store = h.open(options).await;
    let now = Timestamp::now();
    let k = key();
    store
        .create(&k, &record(now, &[("a", "1")]), now)
        .await
        .expect("create");
    // Another transaction holds the row.
    let mut blocker = store.pool().begin().await.expect("begin");
    sqlx::query(&format!(
        "SELECT 1 FROM {} WHERE id_hash = $1 FOR UPDATE",
        store.table()
    ))
    .bind(&k.as_bytes()[..])
    .execute(&mut *blocker)
    .await
    .expect("lock");
    let started = Instant::now();
    let err = store
        .apply(&k, &Patch::default(), now)
        .await
        .expect_err("blocked");
    assert_eq!(err.kind(), StoreErrorKind::Timeout, "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    blocker.rollback().await.expect("rollback");
    assert!(matches!(
        store
            .apply(&k, &Patch::default(), now)
            .await
            .expect("apply"),
        WriteOutcome::Applied(_)
    ));
}

/// The pool pings a connection only after it sat idle (`with_ping_after_idle`): one
/// whose server process died while idle is found out and replaced, so the next operation
/// succeeds; with the ping off, that operation is the one that finds out, and fails.
#[tokio::test]
async fn a_connection_that_died_while_idle_is_replaced_after_the_ping() {
    let Some(h) = Pg::new() else { return };
    for ping in [Some(Duration::from_millis(50)), None] {
        let options = h
            .options()
            .with_max_connections(1)
            .with_ping_after_idle(ping);
        let store = h.open(options).await;
        let now = Timestamp::now();
        let k = key();
        store
            .create(&k, &record(now, &[("a", "1")]), now)
            .await
            .expect("create");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(store.pool())
            .await
            .expect("pid");
        let mut admin = sqlx::PgConnection::connect(&h.url).await.expect("admin");
        let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&mut admin)
            .await
            .expect("terminate");
        assert!(killed);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let first = store.load(&k, now).await;
        match ping {
            Some(_) => assert!(first.expect("reconnected").is_some()),
            None => {
                assert!(first.is_err(), "no ping: the dead connection is used");
                let again = store.load(&k, now).await.expect("a fresh connection");
                assert!(again.is_some());
            }
        }
    }
}

#[tokio::test]
async fn cleanup_stops_when_the_store_is_dropped() {
    let Some(h) = Pg::new() else { return };
    let options = h.options().with_cleanup(Some(CleanupOptions {
        interval: Duration::from_millis(20),
        ..CleanupOptions::default()
    }));
    let store = h.open(options).await;
    let handle = store.cleanup().expect("cleanup on");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(handle.stats().runs >= 1, "{:?}", handle.stats());
    let clone = store.clone();
    drop(store);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!handle.is_finished(), "a clone still holds the store");
    drop(clone);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !handle.is_finished() {
        assert!(Instant::now() < deadline, "cleanup task still running");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// 100,000 expired rows: the cleanup task removes them in batches of at most 1,000 while
/// a concurrent loop keeps loading and writing a live session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_drains_a_large_backlog_in_bounded_batches() {
    const BACKLOG: i64 = 100_000;
    const BATCH: usize = 1_000;
    let Some(h) = Pg::new() else { return };
    let options = h.options();
    let setup = h.open(options.clone()).await;
    let now = Timestamp::now();
    let past = i64::try_from(now.as_millis()).expect("ms") - 3_600_000;
    let started = Instant::now();
    sqlx::query(&format!(
        "INSERT INTO {} (id_hash, data, format, created_at, idle_timeout, idle_deadline, \
         absolute_deadline, expires_at, persistent, owner) \
         SELECT sha256(int8send(g)), '{{\"n\":1}}'::jsonb, 1, $1 - 7200000, 1800000, $1 - g, $1 + 3600000, \
         (($1 - g + 59999) / 60000) * 60000, false, NULL FROM generate_series(1, $2::bigint) AS g",
        setup.table()
    ))
    .bind(past)
    .bind(BACKLOG)
    .execute(setup.pool())
    .await
    .expect("bulk insert");
    eprintln!("inserted {BACKLOG} expired rows in {:?}", started.elapsed());
    let live = key();
    setup
        .create(&live, &record(now, &[("n", "0")]), now)
        .await
        .expect("create live");

    let store = h
        .open(options.with_cleanup(Some(CleanupOptions {
            interval: Duration::from_millis(100),
            batch_size: BATCH,
            pause: Duration::from_millis(2),
        })))
        .await;
    let cleanup = store.cleanup().expect("cleanup on");
    let server = store.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_flag = std::sync::Arc::clone(&stop);
    let serving = tokio::spawn(async move {
        let (mut requests, mut slowest) = (0u64, Duration::ZERO);
        while !stop_flag.load(std::sync::atomic::Ordering::SeqCst) {
            let t = Instant::now();
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
            requests += 2;
            slowest = slowest.max(t.elapsed());
        }
        (requests, slowest)
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let expired = format!(
        "LEAST(idle_deadline, absolute_deadline) <= {}",
        now.as_millis()
    );
    while rows(&store, &expired).await > 0 {
        assert!(
            Instant::now() < deadline,
            "backlog not drained: {:?}",
            cleanup.stats()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained_in = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (requests, slowest) = serving.await.expect("serving loop");
    let stats = cleanup.stats();
    eprintln!("drained in {drained_in:?}: {stats:?}; served {requests} store calls meanwhile, slowest pair {slowest:?}");
    assert!(stats.purged >= 100_000, "{stats:?}");
    assert!(stats.largest_batch <= BATCH as u64, "{stats:?}");
    assert!(stats.batches >= 100, "{stats:?}");
    assert!(requests > 0, "requests were served during the cleanup");
    assert!(store
        .load(&live, Timestamp::now())
        .await
        .expect("load")
        .is_some());
    cleanup.shutdown().await;
    assert!(cleanup.is_finished());
}
