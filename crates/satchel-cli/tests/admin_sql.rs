//! `satchel sessions | stats | purge` on the SQL stores (SQLite file, PostgreSQL, MariaDB),
//! each in a table of its own.

mod admin_support;
mod common;

use admin_support::{scenario, unique, url};
use satchel_sql::{SqlOptions, SqlStore};

async fn open(url: &str, table: &str) -> SqlStore {
    let options = SqlOptions::default()
        .with_cleanup(None)
        .with_table(table)
        .expect("table name");
    let store = SqlStore::connect(url, options).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

/// Drops the test's own table (and its migrations and renewal forwards tables).
async fn drop_table(url: &str, table: &str) {
    use sqlx::Executor as _;
    let statements = [
        format!("DROP TABLE IF EXISTS {table}"),
        format!("DROP TABLE IF EXISTS {table}_migrations"),
        format!("DROP TABLE IF EXISTS {table}_forwards"),
        format!("DROP TABLE IF EXISTS {table}_forwards_migrations"),
    ];
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        for s in &statements {
            pool.execute(s.as_str()).await.expect("drop");
        }
    } else {
        let pool = sqlx::MySqlPool::connect(url).await.expect("connect");
        for s in &statements {
            pool.execute(s.as_str()).await.expect("drop");
        }
    }
}

const PURGED: &str = "deleted 1 expired session(s)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_work_on_sqlite() {
    let dir = common::TempDir::new();
    let url = format!("sqlite://{}?mode=rwc", dir.0.join("admin.sqlite").display());
    let table = unique("admin");
    let store = open(&url, &table).await;
    scenario(&store, &["--store", &url, "--table", &table], PURGED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_work_on_postgres() {
    let Some(url) = url("SATCHEL_POSTGRES_URL") else {
        return;
    };
    let table = unique("admin");
    let store = open(&url, &table).await;
    scenario(&store, &["--store", &url, "--table", &table], PURGED).await;
    drop(store);
    drop_table(&url, &table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_work_on_mariadb() {
    let Some(url) = url("SATCHEL_MYSQL_URL") else {
        return;
    };
    let table = unique("admin");
    let store = open(&url, &table).await;
    scenario(&store, &["--store", &url, "--table", &table], PURGED).await;
    drop(store);
    drop_table(&url, &table).await;
}
