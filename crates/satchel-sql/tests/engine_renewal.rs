//! Periodic id renewal (SEC-49, `docs/id-renewal.md`) through the engine, driven by a
//! `TestClock`, over each SQL store: SQLite (in memory) always, PostgreSQL and MariaDB
//! when `SATCHEL_POSTGRES_URL` / `SATCHEL_MYSQL_URL` are set (see `tests/common`). The
//! store-level contract is the conformance suite's; this is the engine's use of it.
#![cfg(all(feature = "postgres", feature = "sqlite", feature = "mysql"))]

mod common;

use std::sync::Arc;
use std::time::Duration;

use satchel::{
    Engine, Finish, Record, Session, SessionConfig, SessionId, SessionStore, TestClock, Timestamp,
    ID_ISSUED_AT_KEY,
};
use satchel_sql::{SqlOptions, SqlStore};

const HOUR: Duration = Duration::from_secs(3600);
const GRACE: Duration = Duration::from_secs(30);
const MS: Duration = Duration::from_millis(1);

fn config() -> SessionConfig {
    // An idle timeout longer than the interval, so the session lives to be renewed.
    SessionConfig::builder()
        .idle_timeout(3 * HOUR)
        .renew_id_after(HOUR)
        .renewal_grace(GRACE)
        .build()
        .expect("config")
}

/// One SQL store in a scratch table (SQLite: in memory; PostgreSQL: a schema of its own;
/// MariaDB: a table of its own in the test database), migrated.
struct Scratch {
    name: &'static str,
    store: SqlStore,
    drop_sql: Vec<String>,
}

impl Scratch {
    /// Every backend this run can reach.
    async fn all() -> Vec<Scratch> {
        let base = SqlOptions::default()
            .with_max_connections(8)
            .with_acquire_timeout(Duration::from_secs(10))
            .with_cleanup(None);
        let mut out = Vec::new();
        let lite = SqlStore::connect("sqlite::memory:", base.clone())
            .await
            .expect("sqlite");
        out.push(Scratch {
            name: "sqlite",
            store: lite,
            drop_sql: Vec::new(),
        });
        if let Some(url) = common::service_url("SATCHEL_POSTGRES_URL") {
            let schema = common::unique_name();
            let options = base.clone().with_schema(&schema).expect("schema");
            out.push(Scratch {
                name: "postgres",
                store: SqlStore::connect(&url, options).await.expect("postgres"),
                drop_sql: vec![format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")],
            });
        }
        if let Some(url) = common::service_url("SATCHEL_MYSQL_URL") {
            let table = common::unique_name();
            let options = base.clone().with_table(&table).expect("table");
            out.push(Scratch {
                name: "mariadb",
                store: SqlStore::connect(&url, options).await.expect("mariadb"),
                drop_sql: vec![format!(
                    "DROP TABLE IF EXISTS `{table}`, `{table}_forwards`, `{table}_migrations`, \
                     `{table}_forwards_migrations`"
                )],
            });
        }
        for s in &out {
            let report = s.store.migrate().await.expect("migrate");
            assert_eq!(
                (report.version, report.forwards_version),
                (1, 1),
                "{}",
                s.name
            );
        }
        out
    }

    async fn drop_tables(self) {
        for sql in &self.drop_sql {
            let done = match &self.store {
                SqlStore::Postgres(s) => sqlx::Executor::execute(s.pool(), sql.as_str())
                    .await
                    .map(|_| ()),
                SqlStore::MySql(s) => sqlx::Executor::execute(s.pool(), sql.as_str())
                    .await
                    .map(|_| ()),
                _ => Ok(()),
            };
            done.expect("drop scratch tables");
        }
    }

    /// Raw SQL on the store's pool, for what the tests plant or count past the store.
    async fn execute(&self, sql: &str) -> u64 {
        match &self.store {
            SqlStore::Postgres(s) => sqlx::Executor::execute(s.pool(), sql)
                .await
                .map(|d| d.rows_affected()),
            SqlStore::MySql(s) => sqlx::Executor::execute(s.pool(), sql)
                .await
                .map(|d| d.rows_affected()),
            SqlStore::Sqlite(s) => sqlx::Executor::execute(s.pool(), sql)
                .await
                .map(|d| d.rows_affected()),
            _ => unreachable!("no other SQL backend"),
        }
        .expect("raw SQL")
    }

    /// The sessions table's companion `<table><suffix>`, quoted as in statements.
    fn companion(&self, suffix: &str) -> String {
        let (table, _) = self.tables();
        let (body, quote) = table.split_at(table.len() - 1);
        format!("{body}{suffix}{quote}")
    }

    /// The sessions and the forwards table, quoted as in statements.
    fn tables(&self) -> (String, String) {
        let table = match &self.store {
            SqlStore::Postgres(s) => s.table().to_owned(),
            SqlStore::MySql(s) => s.table().to_owned(),
            SqlStore::Sqlite(s) => s.table().to_owned(),
            _ => unreachable!("no other SQL backend"),
        };
        let (body, quote) = table.split_at(table.len() - 1);
        let forwards = format!("{body}_forwards{quote}");
        (table, forwards)
    }

    /// How many rows `table` holds, live or not.
    async fn rows(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match &self.store {
            SqlStore::Postgres(s) => sqlx::query_scalar(&sql).fetch_one(s.pool()).await,
            SqlStore::MySql(s) => sqlx::query_scalar(&sql).fetch_one(s.pool()).await,
            SqlStore::Sqlite(s) => sqlx::query_scalar(&sql).fetch_one(s.pool()).await,
            _ => unreachable!("no other SQL backend"),
        }
        .expect("count")
    }

    /// What the migrations table `table` records: (version, checksum), in order.
    async fn ledger(&self, table: &str) -> Vec<(i64, String)> {
        let sql = format!("SELECT version, checksum FROM {table} ORDER BY version");
        match &self.store {
            SqlStore::Postgres(s) => sqlx::query_as(&sql).fetch_all(s.pool()).await,
            SqlStore::MySql(s) => sqlx::query_as(&sql).fetch_all(s.pool()).await,
            SqlStore::Sqlite(s) => sqlx::query_as(&sql).fetch_all(s.pool()).await,
            _ => unreachable!("no other SQL backend"),
        }
        .expect("ledger")
    }

    /// The backend's embedded templates: the sessions' migration 1 and the forwards
    /// table's migration 1.
    fn templates(&self) -> (&'static str, &'static str) {
        match self.name {
            "sqlite" => (
                include_str!("../migrations/sqlite/0001_sessions.sql"),
                include_str!("../migrations/sqlite/forwards/0001_forwards.sql"),
            ),
            "postgres" => (
                include_str!("../migrations/postgres/0001_sessions.sql"),
                include_str!("../migrations/postgres/forwards/0001_forwards.sql"),
            ),
            _ => (
                include_str!("../migrations/mysql/0001_sessions.sql"),
                include_str!("../migrations/mysql/forwards/0001_forwards.sql"),
            ),
        }
    }

    /// Asserts that the sessions' ledger holds exactly version 1 with the checksum of the
    /// sessions' migration 1: all an older build's `migrate()` checks (it refuses versions
    /// it does not know and edited templates), so it would start on this database.
    async fn assert_older_builds_accept(&self) {
        let (sessions, _) = self.templates();
        assert_eq!(
            self.ledger(&self.companion("_migrations")).await,
            [(1, checksum(sessions))],
            "{}: the sessions' ledger says version 1, unchanged",
            self.name
        );
    }

    /// The live sessions, as the admin listing sees them.
    async fn live_sessions(&self, now: Timestamp) -> usize {
        satchel::admin::SessionAdmin::list(&self.store, None, now, &|_| {})
            .await
            .expect("list")
            .len()
    }
}

/// The hex SHA-256 of a migration template, as the migrations tables record it.
fn checksum(template: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(template.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Keeps the session cookie like a browser: stores `name=value` from each `Set-Cookie`,
/// drops it on a removal, and sends it back on `begin`.
#[derive(Debug, Clone, Default)]
struct Browser {
    cookie: Option<String>,
}

impl Browser {
    fn id(&self) -> Option<&str> {
        self.cookie
            .as_deref()
            .and_then(|c| c.split_once('='))
            .map(|(_, v)| v)
    }

    fn begin(&self, engine: &Engine) -> Session {
        engine.begin(self.cookie.as_deref().map(str::as_bytes))
    }

    async fn finish(&mut self, engine: &Engine, session: &Session) -> Finish {
        let done = engine.finish(session, 200).await;
        if let Some(set) = &done.set_cookie {
            let pair = set.split(';').next().unwrap_or_default().trim();
            let value = pair.split_once('=').map_or("", |(_, v)| v);
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookie = None;
            } else {
                self.cookie = Some(pair.to_owned());
            }
        }
        done
    }

    /// One read-only request: the value of `n` and whether the response set a cookie.
    async fn read(&mut self, engine: &Engine) -> (Option<i64>, bool) {
        let session = self.begin(engine);
        let n = session.get::<i64>("n").await.expect("get");
        let done = self.finish(engine, &session).await;
        assert!(done.error.is_none(), "{:?}", done.error);
        (n, done.set_cookie.is_some())
    }
}

/// The live record for the cookie value `id`, read past the engine.
async fn record(store: &SqlStore, id: &str, now: Timestamp) -> Option<Record> {
    let id = SessionId::parse(id).expect("a session id");
    store.load(&id.store_key(), now).await.expect("load")
}

fn value(record: &Record, key: &str) -> Option<String> {
    record.data.get(key).map(|v| v.get().to_owned())
}

/// A browser holding a fresh session `{"n": 1}`.
async fn browser(engine: &Engine) -> Browser {
    let mut browser = Browser::default();
    let session = browser.begin(engine);
    session.insert("n", &1).expect("insert");
    let done = browser.finish(engine, &session).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    assert!(browser.id().is_some(), "a session was created");
    browser
}

/// Renewal due → a new id; inside the grace window the old id reaches the renewed session
/// only (reads and writes, answered with the new id's cookie, never renewed again, no
/// third id); at the deadline it is dead, the forward is purged and one session is left.
#[tokio::test]
async fn renewal_moves_the_id_and_the_old_one_lives_only_within_grace() {
    for s in Scratch::all().await {
        let b = s.name;
        let clock = TestClock::new(Timestamp::now());
        let engine = Engine::with_clock(s.store.clone(), config(), clock.clone());
        let mut tab1 = browser(&engine).await;
        let mut tab2 = tab1.clone();
        let old = tab1.id().expect("id").to_owned();

        clock.advance(HOUR - MS);
        assert_eq!(tab1.read(&engine).await, (Some(1), false), "{b}: not due");
        assert_eq!(tab1.id(), Some(old.as_str()), "{b}");

        clock.advance(MS);
        assert_eq!(tab1.read(&engine).await, (Some(1), true), "{b}: renewed");
        let new = tab1.id().expect("id").to_owned();
        assert_ne!(new, old, "{b}: a new id");
        let now = engine.now();
        assert!(record(&s.store, &old, now).await.is_none(), "{b}");
        let renewed = record(&s.store, &new, now).await.expect("renewed");
        let issued = value(&renewed, ID_ISSUED_AT_KEY);
        assert_eq!(issued, Some(now.as_millis().to_string()), "{b}");
        let old_key = SessionId::parse(&old).expect("id").store_key();
        assert!(
            s.store
                .load_forward(&old_key, now)
                .await
                .expect("load_forward")
                .is_some(),
            "{b}: the forward is stored"
        );

        // Inside the window: a write with the old id lands in the renewed session.
        clock.advance(GRACE - MS);
        let session = tab2.begin(&engine);
        assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1), "{b}");
        session.insert("tab2", &true).expect("insert");
        let done = tab2.finish(&engine, &session).await;
        assert!(done.error.is_none(), "{b}: {:?}", done.error);
        assert_eq!(tab2.id(), Some(new.as_str()), "{b}: the renewed id");
        let renewed = record(&s.store, &new, engine.now()).await.expect("renewed");
        assert_eq!(value(&renewed, "tab2"), Some("true".into()), "{b}");
        assert_eq!(value(&renewed, ID_ISSUED_AT_KEY), issued, "{b}: once");

        // A read with the old id: the same new id again, no third one.
        let mut tab3 = Browser {
            cookie: tab2.cookie.clone().map(|c| c.replace(&new, &old)),
        };
        assert_eq!(tab3.read(&engine).await, (Some(1), true), "{b}");
        assert_eq!(tab3.id(), Some(new.as_str()), "{b}");

        // At the deadline the old id is dead: anonymous, its cookie removed.
        clock.advance(MS);
        let mut late = Browser {
            cookie: tab3.cookie.clone().map(|c| c.replace(&new, &old)),
        };
        assert_eq!(late.read(&engine).await, (None, true), "{b}: dead");
        assert_eq!(late.id(), None, "{b}: the old cookie is removed");
        let now = engine.now();
        let (sessions, forwards) = s.tables();
        s.store.purge_expired(now, 1000).await.expect("purge");
        assert_eq!(s.rows(&forwards).await, 0, "{b}: the forward is purged");
        assert_eq!(s.rows(&sessions).await, 1, "{b}: one session, no fork");
        assert_eq!(s.live_sessions(now).await, 1, "{b}");
        assert!(record(&s.store, &new, now).await.is_some(), "{b}");
        s.drop_tables().await;
    }
}

/// Eight requests with the old id, all loaded before any saves (a barrier), on a
/// multi-threaded runtime: each writes its own key after the renewal is due. All succeed
/// on the same new id; every write is in the one renewed record; one session is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_the_old_id_land_on_one_new_id() {
    for s in Scratch::all().await {
        let b = s.name;
        let clock = TestClock::new(Timestamp::now());
        let engine = Arc::new(Engine::with_clock(s.store.clone(), config(), clock.clone()));
        let first = browser(&engine).await;
        clock.advance(HOUR);
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (engine, barrier, mut browser) =
                (Arc::clone(&engine), Arc::clone(&barrier), first.clone());
            tasks.push(tokio::spawn(async move {
                let session = browser.begin(&engine);
                assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1));
                barrier.wait().await;
                session.insert(&format!("k{i}"), &i).expect("insert");
                let done = browser.finish(&engine, &session).await;
                assert!(done.error.is_none(), "request {i}: {:?}", done.error);
                browser.id().expect("id").to_owned()
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.expect("task"));
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{b}: one new id for all: {ids:?}");
        assert_ne!(Some(ids[0].as_str()), first.id(), "{b}: renewed");
        let r = record(&s.store, &ids[0], engine.now())
            .await
            .expect("renewed");
        for i in 0..8 {
            assert_eq!(
                value(&r, &format!("k{i}")),
                Some(i.to_string()),
                "{b}: write {i} is in the renewed record"
            );
        }
        let after = engine.now().saturating_add(GRACE);
        s.store.purge_expired(after, 1000).await.expect("purge");
        let (sessions, forwards) = s.tables();
        assert_eq!(s.rows(&forwards).await, 0, "{b}: the forward is purged");
        assert_eq!(s.rows(&sessions).await, 1, "{b}: no fork");
        assert_eq!(s.live_sessions(after).await, 1, "{b}");
        s.drop_tables().await;
    }
}

/// A forward row whose bytes are not a forward (planted past the store: garbled, or not
/// even bytes on SQLite) is absent to the engine: the old id is anonymous, nothing fails,
/// nothing panics, and no session is created or adopted.
#[tokio::test]
async fn a_malformed_forward_is_an_unknown_id() {
    for s in Scratch::all().await {
        let b = s.name;
        let clock = TestClock::new(Timestamp::now());
        let engine = Engine::with_clock(s.store.clone(), config(), clock.clone());
        let (_, forwards) = s.tables();
        let until = engine.now().saturating_add(GRACE).as_millis();
        for (i, planted) in [
            "X'00'",
            "X'0102030405'",
            "'forty bytes of text, not a forward!!!!!'",
        ]
        .into_iter()
        .enumerate()
        {
            let id = SessionId::generate();
            let hex: String = id
                .store_key()
                .as_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let key = match s.name {
                "postgres" => format!("'\\x{hex}'::bytea"),
                _ => format!("X'{hex}'"),
            };
            let planted = match (s.name, planted.starts_with('\'')) {
                ("postgres", true) => format!("convert_to({planted}, 'UTF8')"),
                ("postgres", false) => format!("'\\x{}'::bytea", &planted[2..planted.len() - 1]),
                _ => planted.to_owned(),
            };
            s.execute(&format!(
                "INSERT INTO {forwards} (id_hash, forward, grace_until) VALUES ({key}, {planted}, {until})"
            ))
            .await;
            assert!(
                s.store
                    .load_forward(&id.store_key(), engine.now())
                    .await
                    .expect("load_forward")
                    .is_some(),
                "{b} #{i}: the store hands the bytes over; the engine refuses them"
            );
            let mut browser = Browser {
                cookie: Some(format!("id={}", id.encode())),
            };
            let session = browser.begin(&engine);
            assert_eq!(
                session.get::<i64>("n").await.expect("get"),
                None,
                "{b} #{i}: no session behind a malformed forward"
            );
            session.insert("n", &7).expect("insert");
            let done = browser.finish(&engine, &session).await;
            assert!(done.error.is_none(), "{b} #{i}: {:?}", done.error);
            assert_ne!(
                browser.id(),
                Some(id.encode().as_str()),
                "{b} #{i}: the old id is never adopted"
            );
        }
        s.drop_tables().await;
    }
}

/// A database at schema version 1 (as the previous satchel-sql left it: no forwards table,
/// version 1 recorded, no forwards migrations table) with sessions in it gains the forwards
/// table (its own migration 1, in `<table>_forwards_migrations`; nothing else changes),
/// keeps its sessions, renews them, and its sessions' ledger still says version 1, so an
/// older build's `migrate()` keeps accepting it (rollback, or an older instance restarting
/// mid-rollout).
#[tokio::test]
async fn a_version_1_database_migrates_and_keeps_its_sessions() {
    for s in Scratch::all().await {
        let b = s.name;
        let clock = TestClock::new(Timestamp::now());
        let engine = Engine::with_clock(s.store.clone(), config(), clock.clone());
        let mut browsers = Vec::new();
        for _ in 0..3 {
            browsers.push(browser(&engine).await);
        }
        // Back to what the previous satchel-sql left: the forwards table and its ledger go.
        let (sessions, forwards) = s.tables();
        let forwards_ledger = s.companion("_forwards_migrations");
        s.execute(&format!("DROP TABLE {forwards}")).await;
        s.execute(&format!("DROP TABLE {forwards_ledger}")).await;
        s.assert_older_builds_accept().await;
        assert_eq!(s.rows(&sessions).await, 3, "{b}");

        let report = s.store.migrate().await.expect("migrate");
        assert_eq!(
            (report.applied, report.version),
            (vec![], 1),
            "{b}: the sessions' schema is unchanged"
        );
        assert_eq!(
            (report.forwards_applied, report.forwards_version),
            (vec![1], 1),
            "{b}"
        );
        assert_eq!(
            s.rows(&forwards).await,
            0,
            "{b}: the forwards table is back"
        );
        s.assert_older_builds_accept().await;
        let (_, forwards_template) = s.templates();
        assert_eq!(
            s.ledger(&forwards_ledger).await,
            [(1, checksum(forwards_template))],
            "{b}"
        );
        let again = s.store.migrate().await.expect("again");
        assert!(
            again.applied.is_empty() && again.forwards_applied.is_empty(),
            "{b}: idempotent"
        );
        for browser in &mut browsers {
            assert_eq!(browser.read(&engine).await, (Some(1), false), "{b}: kept");
        }
        clock.advance(HOUR);
        for browser in &mut browsers {
            let old = browser.id().expect("id").to_owned();
            assert_eq!(browser.read(&engine).await, (Some(1), true), "{b}: renewed");
            assert_ne!(browser.id(), Some(old.as_str()), "{b}");
        }
        assert_eq!(s.rows(&forwards).await, 3, "{b}: one forward per renewal");
        assert_eq!(s.live_sessions(engine.now()).await, 3, "{b}");
        s.drop_tables().await;
    }
}

/// A database migrated by the pre-release SEC-49 build, which recorded the forwards table
/// as the sessions' migration 2 (same template): `migrate()` adopts it. The record moves to
/// `<table>_forwards_migrations` (its time kept), the sessions' ledger is back at version 1
/// (so older builds start again), the forwards table and the forwards in it stay and still
/// lead to their sessions. A version 2 that is not that migration stays `Newer`.
#[tokio::test]
async fn a_database_from_the_pre_release_migration_2_is_adopted() {
    for s in Scratch::all().await {
        let b = s.name;
        let clock = TestClock::new(Timestamp::now());
        let engine = Engine::with_clock(s.store.clone(), config(), clock.clone());
        let mut tab1 = browser(&engine).await;
        let mut tab2 = tab1.clone();
        clock.advance(HOUR);
        assert_eq!(tab1.read(&engine).await, (Some(1), true), "{b}: renewed");
        let (sessions, forwards) = s.tables();
        assert_eq!(s.rows(&forwards).await, 1, "{b}: one forward");
        // What the pre-release build's migrate() left: version 2 in the sessions' ledger,
        // no forwards ledger.
        let sessions_ledger = s.companion("_migrations");
        let forwards_ledger = s.companion("_forwards_migrations");
        let (_, forwards_template) = s.templates();
        let insert_v2 = |sum: &str| {
            format!(
                "INSERT INTO {sessions_ledger} (version, description, checksum, applied_at) \
                 VALUES (2, 'renewal forwards table and its grace_until index', '{sum}', 12345)"
            )
        };
        s.execute(&format!("DROP TABLE {forwards_ledger}")).await;
        s.execute(&insert_v2(&checksum(forwards_template))).await;

        let report = s.store.migrate().await.expect("migrate adopts version 2");
        assert_eq!((report.applied, report.version), (vec![], 1), "{b}");
        assert_eq!(
            (report.forwards_applied, report.forwards_version),
            (vec![], 1),
            "{b}: adopted, nothing to apply"
        );
        s.assert_older_builds_accept().await;
        assert_eq!(
            s.ledger(&forwards_ledger).await,
            [(1, checksum(forwards_template))],
            "{b}"
        );
        let kept = format!("SELECT applied_at FROM {forwards_ledger} WHERE version = 1");
        let applied_at: i64 = match &s.store {
            SqlStore::Postgres(st) => sqlx::query_scalar(&kept).fetch_one(st.pool()).await,
            SqlStore::MySql(st) => sqlx::query_scalar(&kept).fetch_one(st.pool()).await,
            SqlStore::Sqlite(st) => sqlx::query_scalar(&kept).fetch_one(st.pool()).await,
            _ => unreachable!("no other SQL backend"),
        }
        .expect("applied_at");
        assert_eq!(applied_at, 12345, "{b}: the record keeps its time");
        assert_eq!(s.rows(&forwards).await, 1, "{b}: the forward is kept");
        let again = s.store.migrate().await.expect("again");
        assert!(
            again.applied.is_empty() && again.forwards_applied.is_empty(),
            "{b}: idempotent"
        );
        // The old id still leads to the renewed session within grace.
        assert_eq!(
            tab2.read(&engine).await,
            (Some(1), true),
            "{b}: the forward still works"
        );
        assert_eq!(tab2.id(), tab1.id(), "{b}: to the new id");
        assert_eq!(s.rows(&sessions).await, 1, "{b}");

        // Some other version 2 is not ours: refused, the ledgers untouched.
        s.execute(&insert_v2("not-the-forwards-migration")).await;
        let err = s.store.migrate().await.expect_err("an unknown version 2");
        assert!(
            matches!(err, satchel_sql::MigrateError::Newer { found: 2, known: 1 }),
            "{b}: {err:?}"
        );
        assert_eq!(s.ledger(&forwards_ledger).await.len(), 1, "{b}");
        s.drop_tables().await;
    }
}
