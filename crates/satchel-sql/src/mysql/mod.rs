//! [`MySqlStore`]: sessions in a MariaDB (≥ 10.7) or MySQL (≥ 8.0) table (feature `mysql`).
//!
//! InnoDB row locks make each `UPDATE` atomic: `apply` and `rotate` are one guarded
//! `UPDATE` that edits the JSON text in place (`JSON_REMOVE` / `JSON_SET`, keys addressed by
//! JSON path, passed as bind arguments; MariaDB keeps it compact with `JSON_COMPACT`) and
//! only matches if the row is live, sound, holds every expected value (`JSON_EQUALS` on
//! MariaDB, JSON `=` on MySQL) and stays under the size limit. It then reads the new
//! deadline back from session variables it set (MySQL has no `UPDATE … RETURNING`): two
//! round trips on one connection, one row lock. When it matched nothing, a read-only
//! statement says why. `create` is a plain `INSERT`; a duplicate key whose row has expired
//! is deleted and the insert retried; a live forward under the key inserts nothing
//! (`INSERT … SELECT … WHERE NOT EXISTS`, `KeyTaken`). `renew` runs the guarded `UPDATE`,
//! the read-back and the `INSERT` of the forward row (into `<table>_forwards`) in one
//! transaction per attempt; `delete` removes the session and the forward in one
//! multi-table `DELETE`.
//!
//! Connections get `max_statement_time` (MariaDB) or `max_execution_time` (MySQL) and
//! `innodb_lock_wait_timeout` from the statement timeout. Only MariaDB is tested by this
//! repository's CI; the MySQL spellings follow MySQL 8.0's documentation.

mod sql;

use std::str::FromStr;
use std::sync::Arc;

use satchel::{
    Capabilities, Expires, Patch, Record, SessionInfo, SessionStore, StoreError, StoreErrorKind,
    StoreKey, Timestamp, WriteOutcome,
};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlRow};
use sqlx::Row as _;

use crate::cleanup::{self, CleanupGuard, CleanupHandle, PurgeBatch};
use crate::codec::{self, dur_ms, key_bytes, ms, Row};
use crate::config::SqlOptions;
use crate::dynamic::{bind_all, diagnose, Diagnosis, Paths};
use crate::error::{bounded, is_unique_violation, raced, store_error};
use crate::held::Held;
use crate::migrate::{self, MigrateError, Migration, MigrationReport};
use sql::{Fixed, Flavor, Write};

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "sessions table, expiry and owner indexes",
    template: include_str!("../../migrations/mysql/0001_sessions.sql"),
}];

/// The renewal forwards table's own set, recorded in `<table>_forwards_migrations`.
const FORWARDS_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "renewal forwards table and its grace_until index",
    template: include_str!("../../migrations/mysql/forwards/0001_forwards.sql"),
}];

/// How often a write re-runs when another write landed between its guarded UPDATE and the
/// diagnostic read, or an expired row had to be cleared from the key first.
const RACE_RETRIES: usize = 5;

/// A session store on MariaDB or MySQL. Cheap to clone: clones share the pool and the
/// cleanup task, which stops when the last clone is dropped.
#[derive(Clone)]
pub struct MySqlStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: MySqlPool,
    sql: Fixed,
    flavor: Flavor,
    options: SqlOptions,
    table: String,
    cleanup: Option<CleanupGuard>,
}

impl std::fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlStore")
            .field("table", &self.inner.table)
            .field("flavor", &self.inner.flavor)
            .finish_non_exhaustive()
    }
}

impl MySqlStore {
    /// Connects with default [`SqlOptions`] (`mysql://user:pass@host/db`).
    ///
    /// # Errors
    /// A malformed URL, or the server cannot be reached within the acquire timeout.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, SqlOptions::default()).await
    }

    /// Connects with `options` (see the module docs for the session settings).
    ///
    /// # Errors
    /// A malformed URL, or the server cannot be reached within the acquire timeout.
    pub async fn connect_with(url: &str, options: SqlOptions) -> Result<Self, StoreError> {
        let connect = MySqlConnectOptions::from_str(url)
            .map_err(|e| StoreError::new(StoreErrorKind::Backend, e))?;
        let timeout = options.statement_timeout;
        let pool = options
            .pool_options::<sqlx::MySql>()
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    // Our own numbers, not input: formatting them into SET is safe.
                    let secs = timeout.as_secs_f64();
                    let whole = timeout.as_secs().max(1);
                    let mariadb = format!("SET SESSION max_statement_time = {secs:.3}");
                    if sqlx::Executor::execute(&mut *conn, mariadb.as_str())
                        .await
                        .is_err()
                    {
                        let mysql =
                            format!("SET SESSION max_execution_time = {}", timeout.as_millis());
                        sqlx::Executor::execute(&mut *conn, mysql.as_str()).await?;
                    }
                    let lock = format!("SET SESSION innodb_lock_wait_timeout = {whole}");
                    sqlx::Executor::execute(&mut *conn, lock.as_str()).await?;
                    Ok(())
                })
            })
            .connect_with(connect)
            .await
            .map_err(store_error)?;
        Self::from_pool(pool, options).await
    }

    /// A store on an existing pool (asks the server whether it is MariaDB or MySQL).
    /// Starts the cleanup task if `options` ask for one.
    ///
    /// # Errors
    /// The server cannot be reached.
    pub async fn from_pool(pool: MySqlPool, options: SqlOptions) -> Result<Self, StoreError> {
        let version: String = sqlx::query_scalar("SELECT VERSION()")
            .fetch_one(&pool)
            .await
            .map_err(store_error)?;
        let flavor = if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        };
        let table = format!("`{}`", options.table.as_str());
        let cleanup_options = options.cleanup;
        let inner = Arc::new_cyclic(|weak| Inner {
            pool,
            sql: Fixed::new(&table, flavor),
            flavor,
            cleanup: cleanup_options.map(|c| cleanup::spawn(weak.clone(), c)),
            options,
            table,
        });
        Ok(MySqlStore { inner })
    }

    /// The pool.
    pub fn pool(&self) -> &MySqlPool {
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

    /// Creates or upgrades the table. MySQL DDL is not transactional, so concurrent callers
    /// are serialised by `GET_LOCK` instead, and each migration is one `CREATE … IF NOT
    /// EXISTS` that makes all of its table or nothing. Idempotent.
    ///
    /// # Errors
    /// The database failed, or it holds migrations this build does not know.
    pub async fn migrate(&self) -> Result<MigrationReport, MigrateError> {
        let mut conn = self.inner.pool.acquire().await?;
        let lock = format!("satchel-sql:{}", self.inner.options.table.as_str());
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 30)")
            .bind(&lock)
            .fetch_one(&mut *conn)
            .await?;
        if got != Some(1) {
            return Err(MigrateError::Store(StoreError::msg(
                StoreErrorKind::Timeout,
                "another process holds the migration lock",
            )));
        }
        let result = self.migrate_in(&mut conn).await;
        let released = sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(&lock)
            .execute(&mut *conn)
            .await;
        let report = result?;
        released?;
        Ok(report)
    }

    async fn migrate_in(
        &self,
        conn: &mut sqlx::MySqlConnection,
    ) -> Result<MigrationReport, MigrateError> {
        let name = self.inner.options.table.as_str();
        let ledger = |suffix: &str| {
            migrate::Ledger::new(
                format!("`{name}{suffix}`"),
                "BIGINT",
                "VARCHAR(64)",
                " ENGINE = InnoDB DEFAULT CHARSET = utf8mb4",
                ["?", "?", "?", "?"],
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

    /// Frees `key` if the row under it has expired; whether it did.
    async fn free_expired(&self, key: &StoreKey, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(&self.inner.sql.delete_expired_key)
            .bind(key_bytes(key))
            .bind(ms(now))
            .bind(ms(now))
            .execute(&self.inner.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn run_apply(
        &self,
        key: &StoreKey,
        new_key: Option<&StoreKey>,
        patch: &Patch,
        forward: Option<(&[u8], i64)>,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let paths = Paths::new(patch, false);
        let write = Write {
            table: &self.inner.table,
            flavor: self.inner.flavor,
            key: key_bytes(key),
            new_key: new_key.map(key_bytes),
            patch,
            paths: &paths,
            now: ms(now),
        };
        let update = write.apply();
        for _ in 0..RACE_RETRIES {
            // A renewal runs in a transaction: the UPDATE moves the row (and holds its
            // lock), the forward is inserted under the old key, and both commit together.
            // Each attempt is a transaction of its own, so its reads are never older
            // than the attempt.
            let mut held = Held::open(&self.inner.pool, forward.is_some())
                .await
                .map_err(store_error)?;
            let done = bind_all!(sqlx::query(&update.sql), &update.args)
                .execute(held.conn())
                .await;
            let done = match (done, new_key) {
                (Err(err), Some(new_key)) if is_unique_violation(&err) => {
                    held.end(false).await.map_err(store_error)?;
                    if !self.free_expired(new_key, now).await? {
                        return Ok(WriteOutcome::KeyTaken);
                    }
                    continue;
                }
                (other, _) => other.map_err(store_error)?,
            };
            if done.rows_affected() > 0 {
                let (idle, persistent): (Option<i64>, Option<i64>) =
                    sqlx::query_as(self.inner.sql.read_back)
                        .fetch_one(held.conn())
                        .await
                        .map_err(store_error)?;
                let idle = idle.ok_or_else(|| StoreError::corrupt("no deadline read back"))?;
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
                return Ok(WriteOutcome::Applied(Expires {
                    at: codec::ts(idle),
                    persistent: persistent.unwrap_or(0) != 0,
                }));
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
                    .try_get::<Option<i64>, _>(i)
                    .map_err(store_error)?
                    .is_some_and(|v| v != 0))
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

fn decode_row(row: &MySqlRow) -> Result<Row, sqlx::Error> {
    Ok(Row {
        data: row.try_get(0)?,
        format: i64::from(row.try_get::<i16, _>(1)?),
        created_at: row.try_get(2)?,
        idle_timeout: row.try_get(3)?,
        idle_deadline: row.try_get(4)?,
        absolute_deadline: row.try_get(5)?,
        persistent: row.try_get(6)?,
        owner: row.try_get(7)?,
    })
}

crate::shared_store::shared_purge_batch!();

impl SessionStore for MySqlStore {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        bounded(self.inner.options.operation_timeout(), async {
            let row = sqlx::query(&self.inner.sql.load)
                .bind(key_bytes(key))
                .bind(ms(now))
                .bind(ms(now))
                .fetch_optional(&self.inner.pool)
                .await
                .map_err(store_error)?;
            match row {
                None => Ok(None),
                Some(row) => decode_row(&row)
                    .map_err(store_error)?
                    .into_record()
                    .map(Some),
            }
        })
        .await
    }

    async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        bounded(self.inner.options.operation_timeout(), async {
            let meta = &record.meta;
            let data = codec::encode_data(&record.data);
            for _ in 0..RACE_RETRIES {
                let done = sqlx::query(&self.inner.sql.insert)
                    .bind(key_bytes(key))
                    .bind(&data)
                    .bind(ms(meta.created_at))
                    .bind(dur_ms(meta.idle_timeout))
                    .bind(ms(meta.idle_deadline))
                    .bind(ms(meta.absolute_deadline))
                    .bind(codec::expiry_bucket(meta))
                    .bind(meta.persistent)
                    .bind(meta.owner.as_deref())
                    .bind(key_bytes(key))
                    .bind(ms(now))
                    .execute(&self.inner.pool)
                    .await;
                match done {
                    // Nothing inserted: a live forward holds the key.
                    Ok(done) if done.rows_affected() == 0 => return Ok(WriteOutcome::KeyTaken),
                    Ok(_) => return Ok(WriteOutcome::Applied(meta.expires())),
                    Err(err) if is_unique_violation(&err) => {
                        if !self.free_expired(key, now).await? {
                            return Ok(WriteOutcome::KeyTaken);
                        }
                    }
                    Err(err) => return Err(store_error(err)),
                }
            }
            Ok(WriteOutcome::KeyTaken)
        })
        .await
    }

    crate::shared_store::shared_write_methods!();

    async fn touch(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Expires>, StoreError> {
        bounded(self.inner.options.operation_timeout(), async {
            let mut conn = self.inner.pool.acquire().await.map_err(store_error)?;
            let done = sqlx::query(&self.inner.sql.touch)
                .bind(ms(now))
                .bind(ms(now))
                .bind(key_bytes(key))
                .bind(ms(now))
                .bind(ms(now))
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
            if done.rows_affected() == 0 {
                return Ok(None);
            }
            let (idle, persistent): (Option<i64>, Option<i64>) =
                sqlx::query_as(self.inner.sql.read_back)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(store_error)?;
            let idle = idle.ok_or_else(|| StoreError::corrupt("no deadline read back"))?;
            Ok(Some(Expires {
                at: codec::ts(idle),
                persistent: persistent.unwrap_or(0) != 0,
            }))
        })
        .await
    }

    async fn sessions_of(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        bounded(self.inner.options.operation_timeout(), async {
            let rows = sqlx::query(&self.inner.sql.sessions_of)
                .bind(owner)
                .bind(ms(now))
                .bind(ms(now))
                .fetch_all(&self.inner.pool)
                .await
                .map_err(store_error)?;
            rows.iter()
                .map(|row| {
                    let key: Vec<u8> = row.try_get(0).map_err(store_error)?;
                    Ok(SessionInfo {
                        key: codec::key_from(&key)?,
                        created_at: codec::ts(row.try_get(1).map_err(store_error)?),
                        idle_deadline: codec::ts(row.try_get(2).map_err(store_error)?),
                        absolute_deadline: codec::ts(row.try_get(3).map_err(store_error)?),
                    })
                })
                .collect()
        })
        .await
    }

    async fn revoke_owner(&self, owner: &str, keep: Option<&StoreKey>) -> Result<u64, StoreError> {
        bounded(self.inner.options.operation_timeout(), async {
            let keep = keep.map(key_bytes);
            let done = sqlx::query(&self.inner.sql.revoke)
                .bind(owner)
                .bind(keep)
                .bind(keep)
                .execute(&self.inner.pool)
                .await
                .map_err(store_error)?;
            Ok(done.rows_affected())
        })
        .await
    }
}
