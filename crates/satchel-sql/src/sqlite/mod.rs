//! [`SqliteStore`]: sessions in a SQLite database file, or in memory (feature `sqlite`).
//!
//! SQLite runs one writer at a time, so every write statement is atomic by itself. `apply`
//! and `rotate` are one `UPDATE … RETURNING` that edits the JSON text in place with
//! `json_remove` / `json_set` (keys addressed by JSON path, passed as bind arguments) and is
//! guarded by the expected values (`data -> path IS json(expected)`, both rendered minified
//! by SQLite) and the size limit. Only when it matches nothing does a second, read-only
//! statement say why (gone, corrupt, which keys conflict, too large). `renew` runs that
//! `UPDATE` and the `INSERT` of the forward row (into `<table>_forwards`) in one
//! transaction; `delete` is two statements (the session, then the forward), each of which
//! stands alone.
//!
//! File databases use WAL mode (readers never wait for the writer) with
//! `synchronous = NORMAL` (a power cut may lose the last commits, never corrupts), and the
//! statement timeout as SQLite's busy timeout. `sqlite::memory:` databases live as long as
//! the store: the pool keeps its single connection open.

mod sql;

use std::str::FromStr;
use std::sync::Arc;

use satchel::{
    Capabilities, Expires, Patch, Record, SessionInfo, SessionStore, StoreError, StoreErrorKind,
    StoreKey, Timestamp, WriteOutcome,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteRow, SqliteSynchronous,
};
use sqlx::Row as _;

use crate::cleanup::{self, CleanupGuard, CleanupHandle, PurgeBatch};
use crate::codec::{self, dur_ms, key_bytes, ms, Row};
use crate::config::SqlOptions;
use crate::dynamic::{bind_all, diagnose, Diagnosis, Paths};
use crate::error::{bounded, is_unique_violation, raced, store_error};
use crate::held::Held;
use crate::migrate::{self, MigrateError, Migration, MigrationReport};
use sql::{Fixed, Write};

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "sessions table, expiry and owner indexes",
    template: include_str!("../../migrations/sqlite/0001_sessions.sql"),
}];

/// The renewal forwards table's own set, recorded in `<table>_forwards_migrations`.
const FORWARDS_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "renewal forwards table and its grace_until index",
    template: include_str!("../../migrations/sqlite/forwards/0001_forwards.sql"),
}];

/// How often a write re-runs when another connection's write landed between its guarded
/// UPDATE and the diagnostic read.
const RACE_RETRIES: usize = 5;

/// A session store on SQLite. Cheap to clone: clones share the pool and the cleanup task,
/// which stops when the last clone is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    sql: Fixed,
    options: SqlOptions,
    table: String,
    cleanup: Option<CleanupGuard>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.inner.table)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens `url` with default [`SqlOptions`]: `sqlite://path/to/file.sqlite?mode=rwc`
    /// (`rwc` creates the file), or `sqlite::memory:`.
    ///
    /// # Errors
    /// A malformed URL, or the database cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, SqlOptions::default()).await
    }

    /// Opens `url` with `options` (see the module docs for the connection settings).
    ///
    /// # Errors
    /// A malformed URL, or the database cannot be opened.
    pub async fn connect_with(url: &str, options: SqlOptions) -> Result<Self, StoreError> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::new(StoreErrorKind::Backend, e))?
            .busy_timeout(options.statement_timeout);
        if !memory {
            connect = connect
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
        }
        let pool = options.pool_options::<sqlx::Sqlite>();
        let pool = if memory {
            // The database dies with its last connection: keep exactly one, forever.
            pool.max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            pool
        };
        let pool = pool.connect_with(connect).await.map_err(store_error)?;
        Ok(Self::from_pool(pool, options))
    }

    /// A store on an existing pool. Starts the cleanup task if `options` ask for one, so
    /// it must be called inside a tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime when `options` enable the cleanup task (the default):
    /// call it from async code, or disable cleanup with `with_cleanup(None)`.
    pub fn from_pool(pool: SqlitePool, options: SqlOptions) -> Self {
        let table = format!("\"{}\"", options.table.as_str());
        let cleanup_options = options.cleanup;
        let inner = Arc::new_cyclic(|weak| Inner {
            pool,
            sql: Fixed::new(&table),
            cleanup: cleanup_options.map(|c| cleanup::spawn(weak.clone(), c)),
            options,
            table,
        });
        SqliteStore { inner }
    }

    /// The pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    /// The table, quoted as it appears in statements.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The background cleanup task, if enabled.
    pub fn cleanup(&self) -> Option<CleanupHandle> {
        self.inner.cleanup.as_ref().map(|g| g.0.clone())
    }

    /// Creates or upgrades the table, in one `BEGIN IMMEDIATE` transaction (which also
    /// serialises concurrent callers). Idempotent.
    ///
    /// # Errors
    /// The database failed, or it holds migrations this build does not know.
    pub async fn migrate(&self) -> Result<MigrationReport, MigrateError> {
        let inner = &self.inner;
        let mut conn = inner.pool.acquire().await?;
        sqlx::Executor::execute(&mut *conn, "BEGIN IMMEDIATE").await?;
        let result = self.migrate_in(&mut conn).await;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = sqlx::Executor::execute(&mut *conn, end).await;
        let report = result?;
        ended?;
        Ok(report)
    }

    async fn migrate_in(
        &self,
        conn: &mut sqlx::SqliteConnection,
    ) -> Result<MigrationReport, MigrateError> {
        let name = self.inner.options.table.as_str();
        let ledger = |suffix: &str| {
            migrate::Ledger::new(
                format!("\"{name}{suffix}\""),
                "INTEGER",
                "TEXT",
                "",
                ["?1", "?2", "?3", "?4"],
            )
        };
        let sessions = ledger("_migrations");
        let forwards = ledger("_forwards_migrations");
        let report = migrate::migrate_store!(
            conn,
            sessions: &sessions,
            forwards: &forwards,
            set: MIGRATIONS,
            forwards_set: FORWARDS_MIGRATIONS,
            table: &self.inner.table,
            name: name,
        );
        Ok(report)
    }

    async fn run_apply(
        &self,
        key: &StoreKey,
        new_key: Option<&StoreKey>,
        patch: &Patch,
        forward: Option<(&[u8], i64)>,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let paths = Paths::new(patch, true);
        let write = Write {
            table: &self.inner.table,
            key: key_bytes(key),
            new_key: new_key.map(key_bytes),
            patch,
            paths: &paths,
            now: ms(now),
        };
        let update = write.apply();
        let pool = &self.inner.pool;
        for _ in 0..RACE_RETRIES {
            // A renewal runs in a transaction: the UPDATE moves the row, the forward is
            // inserted under the old key, and both commit together.
            let mut held = Held::open(pool, forward.is_some())
                .await
                .map_err(store_error)?;
            let row = bind_all!(sqlx::query(&update.sql), &update.args)
                .fetch_optional(held.conn())
                .await;
            let row = match row {
                Err(err) if new_key.is_some() && is_unique_violation(&err) => {
                    held.end(false).await.map_err(store_error)?;
                    let freed = sqlx::query(&self.inner.sql.delete_expired_key)
                        .bind(new_key.map(key_bytes))
                        .bind(ms(now))
                        .execute(pool)
                        .await
                        .map_err(store_error)?
                        .rows_affected();
                    if freed == 0 {
                        return Ok(WriteOutcome::KeyTaken);
                    }
                    continue;
                }
                other => other.map_err(store_error)?,
            };
            if let Some(row) = row {
                let expires = Expires {
                    at: codec::ts(row.try_get(0).map_err(store_error)?),
                    persistent: row.try_get(1).map_err(store_error)?,
                };
                if let Some((bytes, grace_until)) = forward {
                    sqlx::query(&self.inner.sql.insert_forward)
                        .bind(key_bytes(key))
                        .bind(bytes)
                        .bind(grace_until)
                        .execute(held.conn())
                        .await
                        .map_err(store_error)?;
                }
                held.end(true).await.map_err(store_error)?;
                return Ok(WriteOutcome::Applied(expires));
            }
            let check = write.diagnose();
            let row = bind_all!(sqlx::query(&check.sql), &check.args)
                .fetch_optional(held.conn())
                .await
                .map_err(store_error)?;
            held.end(false).await.map_err(store_error)?;
            let Some(row) = row else {
                return Ok(WriteOutcome::Gone);
            };
            let flag = |i: usize| -> Result<bool, StoreError> {
                Ok(row
                    .try_get::<Option<bool>, _>(i)
                    .map_err(store_error)?
                    .unwrap_or(false))
            };
            let n = patch.expect.len();
            let matches = (0..n).map(|i| flag(2 + i)).collect::<Result<Vec<_>, _>>()?;
            match diagnose(flag(0)?, flag(1)?, &matches, flag(2 + n)?, &patch.expect) {
                Diagnosis::Gone => return Ok(WriteOutcome::Gone),
                Diagnosis::Corrupt => {
                    return Err(StoreError::corrupt("session row is not a satchel record"))
                }
                Diagnosis::Conflict(keys) => return Ok(WriteOutcome::Conflict(keys)),
                Diagnosis::TooLarge => return Ok(WriteOutcome::TooLarge),
                Diagnosis::Raced => continue,
            }
        }
        raced(patch)
    }
}

fn decode_row(row: &SqliteRow) -> Result<Row, sqlx::Error> {
    Ok(Row {
        data: row.try_get(0)?,
        format: row.try_get(1)?,
        created_at: row.try_get(2)?,
        idle_timeout: row.try_get(3)?,
        idle_deadline: row.try_get(4)?,
        absolute_deadline: row.try_get(5)?,
        persistent: row.try_get(6)?,
        owner: row.try_get(7)?,
    })
}

crate::shared_store::shared_session_store!(SqliteStore);
