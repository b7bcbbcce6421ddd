//! [`PostgresStore`]: sessions in a PostgreSQL table (feature `postgres`).
//!
//! Every operation is one statement (see `sql.rs`): `load` one indexed SELECT that only
//! matches a live row; `create` an `INSERT … ON CONFLICT DO UPDATE … WHERE <expired>`;
//! `apply` and `rotate` one guarded `UPDATE` that merges the patch into the JSONB in place
//! (`data - removed || set`), checks each expected key with
//! `data -> k IS DISTINCT FROM expected::jsonb`, and reports why it matched nothing from the
//! same statement. No explicit row lock is taken: under READ COMMITTED an `UPDATE` re-checks
//! its `WHERE` on the newest version of a row another transaction just changed, which is
//! exactly the atomic compare-and-patch the contract asks for, and the happy path costs one
//! round trip and one row version. `renew` is the rotate statement with one more CTE, an
//! `INSERT` of the forward row into `<table>_forwards` that selects from the `UPDATE`'s
//! `RETURNING` (so it writes exactly when the move did, in the same statement); `create`
//! is guarded by `NOT EXISTS` (live forward), and `delete` removes a forward in the same
//! statement (a writable CTE).
//!
//! Every key and value travels as a bind parameter; only the validated table name is
//! spliced into the statements.

mod sql;

use std::str::FromStr;
use std::sync::Arc;

use satchel::{
    Capabilities, Expires, Patch, Record, SessionInfo, SessionStore, StoreError, StoreErrorKind,
    StoreKey, Timestamp, WriteOutcome,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgRow};
use sqlx::Row as _;

use crate::cleanup::{self, CleanupGuard, CleanupHandle, PurgeBatch};
use crate::codec::{self, dur_ms, key_bytes, ms, Row};
use crate::config::SqlOptions;
use crate::error::{bounded, is_unique_violation, raced, store_error};
use crate::migrate::{self, MigrateError, Migration, MigrationReport};
use sql::Statements;

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "sessions table, expiry and owner indexes",
    template: include_str!("../../migrations/postgres/0001_sessions.sql"),
}];

/// The renewal forwards table's own set, recorded in `<table>_forwards_migrations`.
const FORWARDS_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "renewal forwards table and its grace_until index",
    template: include_str!("../../migrations/postgres/forwards/0001_forwards.sql"),
}];

/// How often `apply` re-runs when a concurrent commit landed between its snapshot and its
/// update (see `sql.rs`); each run sees newer data, so more than one is already rare.
const RACE_RETRIES: usize = 5;

/// A session store on PostgreSQL. Cheap to clone: clones share the pool and the cleanup
/// task, which stops when the last clone is dropped.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    sql: Statements,
    options: SqlOptions,
    table: String,
    cleanup: Option<CleanupGuard>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.inner.table)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects with default [`SqlOptions`].
    ///
    /// # Errors
    /// A malformed URL, or the server cannot be reached within the acquire timeout.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, SqlOptions::default()).await
    }

    /// Connects (one connection is opened now, to fail early) with `options`: the pool gets
    /// the acquire timeout and every connection `statement_timeout`.
    ///
    /// # Errors
    /// A malformed URL, or the server cannot be reached within the acquire timeout.
    pub async fn connect_with(url: &str, options: SqlOptions) -> Result<Self, StoreError> {
        let pool = options
            .pool_options()
            .connect_with(Self::connect_options(url, &options)?)
            .await
            .map_err(store_error)?;
        Ok(Self::from_pool(pool, options))
    }

    /// Like [`PostgresStore::connect_with`] without connecting now: the pool opens its
    /// connections on first use, so this needs no `.await` (but, with cleanup on, a tokio
    /// runtime). Useful where the store is built synchronously, e.g. in a router factory.
    ///
    /// # Errors
    /// A malformed URL.
    pub fn connect_lazy_with(url: &str, options: SqlOptions) -> Result<Self, StoreError> {
        let pool = options
            .pool_options()
            .connect_lazy_with(Self::connect_options(url, &options)?);
        Ok(Self::from_pool(pool, options))
    }

    /// The URL's connection options plus ours: an application name and the server-side
    /// `statement_timeout`.
    fn connect_options(url: &str, options: &SqlOptions) -> Result<PgConnectOptions, StoreError> {
        Ok(PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::new(StoreErrorKind::Backend, e))?
            .application_name("satchel")
            .options([(
                "statement_timeout",
                options.statement_timeout.as_millis().to_string(),
            )]))
    }

    /// A store on an existing pool (its timeouts are then the pool's: give it an acquire
    /// timeout and a `statement_timeout`). Starts the cleanup task if `options` ask for one,
    /// so it must be called inside a tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime when `options` enable the cleanup task (the default):
    /// call it from async code, or disable cleanup with `with_cleanup(None)`.
    pub fn from_pool(pool: PgPool, options: SqlOptions) -> Self {
        let table = match &options.schema {
            Some(schema) => format!("\"{}\".\"{}\"", schema.as_str(), options.table.as_str()),
            None => format!("\"{}\"", options.table.as_str()),
        };
        let cleanup_options = options.cleanup;
        let inner = Arc::new_cyclic(|weak| Inner {
            pool,
            sql: Statements::new(&table),
            cleanup: cleanup_options.map(|c| cleanup::spawn(weak.clone(), c)),
            options,
            table,
        });
        PostgresStore { inner }
    }

    /// The pool, e.g. to share it with the application.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The table, quoted and qualified as it appears in statements.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The background cleanup task, if enabled.
    pub fn cleanup(&self) -> Option<CleanupHandle> {
        self.inner.cleanup.as_ref().map(|g| g.0.clone())
    }

    /// Creates or upgrades the table (and the schema, if one was configured and is
    /// missing). Idempotent; concurrent callers are serialised by an advisory lock, and
    /// everything runs in one transaction.
    ///
    /// # Errors
    /// The database failed, or it holds migrations this build does not know.
    pub async fn migrate(&self) -> Result<MigrationReport, MigrateError> {
        let inner = &self.inner;
        let ledger = |suffix: &str| {
            let table = match &inner.options.schema {
                Some(s) => format!(
                    "\"{}\".\"{}{suffix}\"",
                    s.as_str(),
                    inner.options.table.as_str()
                ),
                None => format!("\"{}{suffix}\"", inner.options.table.as_str()),
            };
            migrate::Ledger::new(table, "BIGINT", "TEXT", "", ["$1", "$2", "$3", "$4"])
        };
        let sessions = ledger("_migrations");
        let forwards = ledger("_forwards_migrations");
        let lock = format!("satchel-sql:{}", inner.table);
        let create_schema = inner.options.schema.as_ref().map(|s| {
            (
                s.as_str().to_owned(),
                format!("CREATE SCHEMA \"{}\"", s.as_str()),
            )
        });
        let mut tx = inner.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(&lock)
            .execute(&mut *tx)
            .await?;
        if let Some((schema, create)) = &create_schema {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                    .bind(schema)
                    .fetch_one(&mut *tx)
                    .await?;
            if !exists {
                sqlx::Executor::execute(&mut *tx, AsRef::<str>::as_ref(create)).await?;
            }
        }
        let report = migrate::migrate_store!(
            tx,
            sessions: &sessions,
            forwards: &forwards,
            set: MIGRATIONS,
            forwards_set: FORWARDS_MIGRATIONS,
            table: &inner.table,
            name: inner.options.table.as_str(),
        );
        tx.commit().await?;
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
        let sql = match (new_key, forward) {
            (Some(_), Some(_)) => &self.inner.sql.renew,
            (Some(_), None) => &self.inner.sql.rotate,
            (None, _) => &self.inner.sql.apply,
        };
        let set = codec::object(patch.set.iter().map(|(k, v)| (k.as_str(), v)));
        let remove: Vec<&str> = patch.remove.iter().map(String::as_str).collect();
        let exp_keys: Vec<&str> = patch.expect.iter().map(|(k, _)| k.as_str()).collect();
        let exp_vals: Vec<Option<&str>> = patch
            .expect
            .iter()
            .map(|(_, v)| v.as_ref().map(satchel::Value::get))
            .collect();
        let max = patch.max_data_bytes.map(codec::limit);
        let expiry = patch.expiry;
        for _ in 0..RACE_RETRIES {
            let mut q = sqlx::query(sql)
                .bind(key_bytes(key))
                .bind(ms(now))
                .bind(patch.clear)
                .bind(&remove)
                .bind(&set)
                .bind(&exp_keys)
                .bind(&exp_vals)
                .bind(max)
                .bind(expiry.map(|e| dur_ms(e.idle_timeout)))
                .bind(expiry.map(|e| ms(e.absolute_deadline)))
                .bind(expiry.map(|e| e.persistent))
                .bind(patch.owner.is_some())
                .bind(patch.owner.clone().flatten());
            if let Some(new_key) = new_key {
                q = q.bind(key_bytes(new_key));
                if let Some((bytes, grace_until)) = forward {
                    q = q.bind(bytes).bind(grace_until);
                }
            }
            let row = q.fetch_optional(&self.inner.pool).await;
            let row = match row {
                Err(err) if new_key.is_some() && is_unique_violation(&err) => {
                    // The new key is taken: by a live row (KeyTaken), or by an expired one,
                    // which may be replaced.
                    let freed = sqlx::query(&self.inner.sql.delete_expired_key)
                        .bind(new_key.map(key_bytes))
                        .bind(ms(now))
                        .execute(&self.inner.pool)
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
            let Some(row) = row else {
                return Ok(WriteOutcome::Gone);
            };
            let outcome: i32 = row.try_get(0).map_err(store_error)?;
            return Ok(match outcome {
                1 => WriteOutcome::Applied(Expires {
                    at: codec::ts(row.try_get(1).map_err(store_error)?),
                    persistent: row.try_get(2).map_err(store_error)?,
                }),
                2 => WriteOutcome::Gone,
                3 => return Err(StoreError::corrupt("session row is not a satchel record")),
                4 => WriteOutcome::Conflict(row.try_get(3).map_err(store_error)?),
                5 => WriteOutcome::TooLarge,
                _ => continue,
            });
        }
        raced(patch)
    }
}

fn decode_row(row: &PgRow) -> Result<Row, sqlx::Error> {
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

crate::shared_store::shared_session_store!(PostgresStore);
