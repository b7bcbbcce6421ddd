//! The operator sees why the SQL store failed (issue 14, item 1): the engine's one report
//! of a failed request carries the sqlx cause (an unreachable server, a missing table),
//! not only "session store failure". Needs no service: PostgreSQL is dialled on a free
//! loopback port nothing listens on, SQLite is a temporary file.
#![cfg(all(feature = "postgres", feature = "sqlite"))]

mod common;

#[path = "../../satchel/tests/common/log_capture.rs"]
mod log_capture;

use std::time::Duration;

use log_capture::{logs, start_capture, SERIAL};
use satchel::{Engine, SessionConfig, SessionStore};
use satchel_sql::{PostgresStore, SqlOptions, SqliteStore};

/// The engine's failure reports logged since `from` (a length of [`logs`]).
fn reports_since(from: usize) -> Vec<String> {
    logs()[from..]
        .lines()
        .filter(|l| l.contains("session store failure; answering with an error"))
        .map(str::to_owned)
        .collect()
}

/// One request that writes a new session through an engine over `store` (no breaker:
/// every request reaches the store); its error.
async fn write_one(store: impl SessionStore) -> satchel::SessionError {
    let config = SessionConfig::builder()
        .no_store_circuit_breaker()
        .build()
        .expect("config");
    let engine = Engine::new(store, config);
    let session = engine.begin(None);
    session.insert("n", &1).expect("insert");
    engine
        .finish(&session, 200)
        .await
        .error
        .expect("the store fails")
}

#[tokio::test]
async fn an_unreachable_postgres_reaches_the_log() {
    let _serial = SERIAL.lock().await;
    start_capture();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port(); // closed again: nothing listens there
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy(&format!("postgres://satchel@127.0.0.1:{port}/none"))
        .expect("lazy pool");
    let store = PostgresStore::from_pool(pool, SqlOptions::default().with_cleanup(None));
    let from = logs().len();
    let err = write_one(store).await;
    assert_eq!(err.default_status(), 503);
    let reports = reports_since(from);
    assert_eq!(reports.len(), 1, "logged once: {}", logs());
    // sqlx's pool retries refused connects until its acquire timeout and then reports
    // only that (it keeps no connect error): that is the cause there is to log.
    assert!(
        reports[0].contains(
            "session store failure: session store timed out: pool timed out while waiting for an open connection"
        ),
        "{}",
        reports[0]
    );
}

#[tokio::test]
async fn a_missing_sqlite_table_reaches_the_log() {
    let _serial = SERIAL.lock().await;
    start_capture();
    let file = std::env::temp_dir().join(format!("{}.sqlite", common::unique_name()));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let store = SqliteStore::connect_with(&url, SqlOptions::default().with_cleanup(None))
        .await
        .expect("open");
    // No `migrate`: the table is missing, a failure no retry fixes.
    let from = logs().len();
    let err = write_one(store).await;
    let reports = reports_since(from);
    assert_eq!(reports.len(), 1, "logged once: {}", logs());
    assert!(
        reports[0].contains("no such table"),
        "{} (status {})",
        reports[0],
        err.default_status()
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
