//! MariaDB / MySQL: the conformance suite and the store's own behaviour, against the server
//! in `SATCHEL_MYSQL_URL`. Each store lives in its own database, dropped afterwards.
#![cfg(feature = "mysql")]

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use satchel::conformance::Harness;
use satchel::{
    Data, Meta, Patch, Record, SessionId, SessionStore, StoreErrorKind, StoreKey, Timestamp, Value,
    WriteOutcome,
};
use satchel_sql::{CleanupOptions, MySqlStore, SqlOptions};
use sqlx::Connection as _;

struct My {
    url: String,
    databases: Mutex<Vec<String>>,
}

impl My {
    fn new() -> Option<My> {
        common::service_url("SATCHEL_MYSQL_URL").map(|url| My {
            url,
            databases: Mutex::default(),
        })
    }

    /// A URL for a database of its own (created here, dropped with the harness).
    async fn database(&self) -> String {
        let name = common::unique_name();
        let mut conn = sqlx::MySqlConnection::connect(&self.url)
            .await
            .expect("connect to SATCHEL_MYSQL_URL");
        let create = format!("CREATE DATABASE `{name}`");
        sqlx::Executor::execute(&mut conn, AsRef::<str>::as_ref(&create))
            .await
            .expect("create database");
        self.databases.lock().expect("lock").push(name.clone());
        common::with_database(&self.url, &name)
    }

    fn options(&self) -> SqlOptions {
        SqlOptions::default()
            .with_max_connections(8)
            .with_acquire_timeout(Duration::from_secs(10))
            .with_cleanup(None)
    }

    async fn open(&self, options: SqlOptions) -> MySqlStore {
        let url = self.database().await;
        self.open_at(&url, options).await
    }

    async fn open_at(&self, url: &str, options: SqlOptions) -> MySqlStore {
        let store = MySqlStore::connect_with(url, options)
            .await
            .expect("connect to SATCHEL_MYSQL_URL");
        let report = store.migrate().await.expect("migrate");
        assert_eq!((report.version, report.forwards_version), (1, 1));
        store
    }
}

impl Drop for My {
    fn drop(&mut self) {
        let databases = std::mem::take(&mut *self.databases.lock().expect("lock"));
        if databases.is_empty() {
            return;
        }
        let url = self.url.clone();
        common::block_on_thread(async move {
            let Ok(mut conn) = sqlx::MySqlConnection::connect(&url).await else {
                return;
            };
            for db in databases {
                let drop = format!("DROP DATABASE IF EXISTS `{db}`");
                let _ = sqlx::Executor::execute(&mut conn, AsRef::<str>::as_ref(&drop)).await;
            }
        });
    }
}

impl Harness for My {
    type Store = MySqlStore;

    async fn store(&self) -> MySqlStore {
        self.open(self.options()).await
    }

    async fn corrupt(&self, store: &MySqlStore, key: &StoreKey) {
        let sql = format!(
            "UPDATE {} SET data = 'not JSON at all' WHERE id_hash = ?",
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

satchel::conformance_tests!(match My::new() {
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

async fn rows(store: &MySqlStore, condition: &str) -> i64 {
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
    let Some(h) = My::new() else { return };
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
    let Some(h) = My::new() else { return };
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
    let Some(h) = My::new() else { return };
    let options = h.options().with_table("my_sessions").expect("name");
    let store = h.open(options.clone()).await;
    let again = store.migrate().await.expect("migrate again");
    assert!(again.applied.is_empty());
    assert_eq!((again.version, again.forwards_version), (1, 1));
    assert!(again.forwards_applied.is_empty());
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM my_sessions_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await
            .expect("migrations table");
    assert_eq!(versions, [1], "the sessions' ledger stays at version 1");
    let forwards: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM my_sessions_forwards_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await
            .expect("forwards migrations table");
    assert_eq!(forwards, [1]);
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT CAST(index_name AS CHAR) FROM information_schema.statistics \
         WHERE table_schema = DATABASE() AND table_name = 'my_sessions'",
    )
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
    let err = MySqlStore::connect_with("mysql://satchel@127.0.0.1:1/none", options.clone())
        .await
        .expect_err("nothing listens on port 1");
    assert!(
        matches!(
            err.kind(),
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{err:?}"
    );
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("mysql://satchel@127.0.0.1:1/none")
        .expect("lazy pool");
    let err = MySqlStore::from_pool(pool, options)
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
    let Some(h) = My::new() else { return };
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
        "SELECT 1 FROM {} WHERE id_hash = ? FOR UPDATE",
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

#[tokio::test]
async fn cleanup_stops_when_the_store_is_dropped() {
    let Some(h) = My::new() else { return };
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
    let Some(h) = My::new() else { return };
    let options = h.options();
    let url = h.database().await;
    let setup = h.open_at(&url, options.clone()).await;
    let now = Timestamp::now();
    let past = i64::try_from(now.as_millis()).expect("ms") - 3_600_000;
    let started = Instant::now();
    let digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                  UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                  UNION ALL SELECT 8 UNION ALL SELECT 9)";
    sqlx::query(&format!(
        "INSERT INTO {} (id_hash, data, format, created_at, idle_timeout, idle_deadline, \
         absolute_deadline, expires_at, persistent, owner) \
         SELECT UNHEX(SHA2(g.n, 256)), '{{\"n\":1}}', 1, ? - 7200000, 1800000, ? - g.n, ? + 3600000, \
         ((? - g.n + 59999) DIV 60000) * 60000, 0, NULL FROM \
         (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 1 AS n \
          FROM {digits} a, {digits} b, {digits} c, {digits} e, {digits} f) AS g \
         WHERE g.n <= ?",
        setup.table()
    ))
    .bind(past)
    .bind(past)
    .bind(past)
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
        .open_at(
            &url,
            options.with_cleanup(Some(CleanupOptions {
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
