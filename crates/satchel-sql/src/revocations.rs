//! [`Revocations`] in SQL: the sealed-session deny-list shared by every instance and kept
//! across restarts, on PostgreSQL, SQLite or MariaDB/MySQL.
//!
//! # Schema
//! One table, `<table>_revocations` (next to the session table of the same
//! [`SqlOptions`]), with its own migrations in `<table>_revocations_migrations`:
//! `entry` (32 bytes: the SHA-256 of a session id, or of a domain-separated owner name, so
//! neither raw ids nor owner names are stored), `not_before` and `until_ms` (milliseconds).
//! A revoke is one upsert that only ever raises both times (`GREATEST`/`MAX`), so a later
//! revoke with an earlier cut-off or deadline never lowers them; a lookup is one `SELECT`
//! of at most two rows by primary key that also compares `until_ms` with the engine's
//! `now`.
//!
//! # Bound
//! Every row is dead at its `until_ms` (the session's absolute deadline, or an owner's
//! longest cookie lifetime), so the table holds the revocations of one absolute session
//! lifetime plus what cleanup has not reached yet. Cleanup is bounded and needs no task:
//! every [`SqlRevocations::PURGE_EVERY`]th revoke deletes at most
//! [`SqlRevocations::PURGE_BATCH`] dead rows through the `until_ms` index, so deletions
//! outpace insertions; [`SqlRevocations::purge_expired`] is there for a scheduled job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use satchel::sealed::Revocations;
use satchel::store::BoxFuture;
use satchel::{StoreError, StoreKey, Timestamp};
use sha2::{Digest, Sha256};

use crate::codec::ms;
use crate::error::store_error;
use crate::migrate::{self, MigrateError, Migration, MigrationReport};
use crate::{SqlOptions, SqlStore};

/// The SQL a backend runs, rendered once for the configured table.
#[derive(Debug)]
struct Statements {
    lookup: String,
    raise: String,
    purge: String,
}

/// The pool of whichever backend the URL named.
#[derive(Debug, Clone)]
enum Pool {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

/// Runs `$call` on whichever backend's pool this is (sqlx's pools share no type, so the
/// same statement code is expanded once per backend, as `any.rs`'s `each!` does).
macro_rules! on_pool {
    ($pool:expr, $p:ident => $call:expr) => {
        match $pool {
            #[cfg(feature = "postgres")]
            Pool::Postgres($p) => $call,
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($p) => $call,
            #[cfg(feature = "mysql")]
            Pool::MySql($p) => $call,
        }
    };
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    /// Quoted (and, on PostgreSQL, schema-qualified) revocations table.
    table: String,
    /// The bare table name, for index names.
    name: String,
    /// Quoted migrations table.
    migrations: String,
    sql: Statements,
    revokes: AtomicU64,
}

/// A SQL-backed [`Revocations`] store. Cheap to clone (clones share the pool).
#[derive(Debug, Clone)]
pub struct SqlRevocations {
    inner: Arc<Inner>,
}

impl SqlRevocations {
    /// A cleanup batch runs after this many revokes.
    pub const PURGE_EVERY: u64 = 64;
    /// The most dead rows one cleanup batch deletes.
    pub const PURGE_BATCH: usize = 256;

    /// Connects to `url` (`postgres://`, `sqlite:`, `mysql://`/`mariadb://`, as
    /// [`SqlStore::connect`]) and keeps revocations next to `options`' session table (its
    /// schema, pool size and timeouts apply; its background cleanup does not, see the
    /// module docs). Run [`SqlRevocations::migrate`] once before use.
    ///
    /// # Errors
    /// As [`SqlStore::connect`].
    pub async fn connect(url: &str, options: SqlOptions) -> Result<Self, StoreError> {
        let store = SqlStore::connect(url, options.clone().with_cleanup(None)).await?;
        let pool = match &store {
            #[cfg(feature = "postgres")]
            SqlStore::Postgres(s) => Pool::Postgres(s.pool().clone()),
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite(s) => Pool::Sqlite(s.pool().clone()),
            #[cfg(feature = "mysql")]
            SqlStore::MySql(s) => Pool::MySql(s.pool().clone()),
        };
        Ok(Self::on(pool, &options))
    }

    fn on(pool: Pool, options: &SqlOptions) -> Self {
        let name = format!("{}_revocations", options.table());
        let quoted = |n: &str| match &pool {
            #[cfg(feature = "mysql")]
            Pool::MySql(_) => format!("`{n}`"),
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => match options.schema() {
                Some(s) => format!("\"{s}\".\"{n}\""),
                None => format!("\"{n}\""),
            },
            #[allow(unreachable_patterns)]
            _ => format!("\"{n}\""),
        };
        let table = quoted(&name);
        let migrations = quoted(&format!("{name}_migrations"));
        let sql = statements(&pool, &table);
        SqlRevocations {
            inner: Arc::new(Inner {
                pool,
                table,
                name,
                migrations,
                sql,
                revokes: AtomicU64::new(0),
            }),
        }
    }

    /// The revocations table, quoted as it appears in statements.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// Creates or upgrades the revocations table. Idempotent; concurrent callers are
    /// serialised (PostgreSQL: an advisory lock in one transaction; SQLite: `BEGIN
    /// IMMEDIATE`; MySQL: `GET_LOCK`, each migration one `CREATE … IF NOT EXISTS`).
    ///
    /// # Errors
    /// The database failed, or it holds migrations this build does not know.
    pub async fn migrate(&self) -> Result<MigrationReport, MigrateError> {
        let inner = &*self.inner;
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {} (version BIGINT PRIMARY KEY, \
             description TEXT NOT NULL, checksum VARCHAR(64) NOT NULL, applied_at BIGINT NOT NULL)",
            inner.migrations
        );
        let select = format!(
            "SELECT version, checksum FROM {} ORDER BY version",
            inner.migrations
        );
        match &inner.pool {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                let insert = format!(
                    "INSERT INTO {} (version, description, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                    inner.migrations
                );
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(format!("satchel-sql:{}", inner.table))
                    .execute(&mut *tx)
                    .await?;
                let report = migrate::run_migrations!(
                    tx,
                    set: POSTGRES,
                    create: create,
                    select: select,
                    insert: insert,
                    table: &inner.table,
                    name: &inner.name,
                );
                tx.commit().await?;
                Ok(report)
            }
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                let insert = format!(
                    "INSERT INTO {} (version, description, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
                    inner.migrations
                );
                let mut conn = pool.acquire().await?;
                sqlx::Executor::execute(&mut *conn, "BEGIN IMMEDIATE").await?;
                let result = async {
                    Ok::<_, MigrateError>(migrate::run_migrations!(
                        conn,
                        set: SQLITE,
                        create: create,
                        select: select,
                        insert: insert,
                        table: &inner.table,
                        name: &inner.name,
                    ))
                }
                .await;
                let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
                let ended = sqlx::Executor::execute(&mut *conn, end).await;
                let report = result?;
                ended?;
                Ok(report)
            }
            #[cfg(feature = "mysql")]
            Pool::MySql(pool) => {
                let insert = format!(
                    "INSERT INTO {} (version, description, checksum, applied_at) VALUES (?, ?, ?, ?)",
                    inner.migrations
                );
                let mut conn = pool.acquire().await?;
                let lock = format!("satchel-sql:{}", inner.name);
                let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 30)")
                    .bind(&lock)
                    .fetch_one(&mut *conn)
                    .await?;
                if got != Some(1) {
                    return Err(MigrateError::Store(StoreError::msg(
                        satchel::StoreErrorKind::Timeout,
                        "another process holds the migration lock",
                    )));
                }
                let result = async {
                    Ok::<_, MigrateError>(migrate::run_migrations!(
                        conn,
                        set: MYSQL,
                        create: create,
                        select: select,
                        insert: insert,
                        table: &inner.table,
                        name: &inner.name,
                    ))
                }
                .await;
                let released = sqlx::query("SELECT RELEASE_LOCK(?)")
                    .bind(&lock)
                    .execute(&mut *conn)
                    .await;
                let report = result?;
                released?;
                Ok(report)
            }
        }
    }

    /// Deletes up to `limit` entries dead at `now`; returns how many.
    ///
    /// # Errors
    /// A store error.
    pub async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        let sql = &self.inner.sql.purge;
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let done = on_pool!(&self.inner.pool, p => sqlx::query(sql)
            .bind(ms(now))
            .bind(limit)
            .execute(p)
            .await
            .map(|r| r.rows_affected()));
        done.map_err(store_error)
    }

    async fn raise(
        &self,
        entry: &[u8],
        not_before: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = &self.inner.sql.raise;
        let (nb, until) = (ms(not_before), ms(until));
        let done = on_pool!(&self.inner.pool, p => sqlx::query(sql)
            .bind(entry)
            .bind(nb)
            .bind(until)
            .execute(p)
            .await
            .map(drop));
        done.map_err(store_error)?;
        let n = self.inner.revokes.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(Self::PURGE_EVERY) {
            // Housekeeping: the revoke itself has landed, so a failure here is only logged.
            if let Err(err) = self.purge_expired(now, Self::PURGE_BATCH).await {
                tracing::warn!(target: "satchel", error = %err, "revocation cleanup batch failed");
            }
        }
        Ok(())
    }

    async fn lookup(
        &self,
        session: &StoreKey,
        owner: Option<&str>,
        issued_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let sql = &self.inner.sql.lookup;
        let session_entry = &session.as_bytes()[..];
        let owner_entry = owner.map(owner_entry);
        let second = owner_entry.as_ref().map_or(session_entry, |o| &o[..]);
        let rows: Vec<(Vec<u8>, i64, i64)> = on_pool!(&self.inner.pool, p => sqlx::query_as(sql)
            .bind(session_entry)
            .bind(second)
            .fetch_all(p)
            .await)
        .map_err(store_error)?;
        let (now, issued_at) = (ms(now), ms(issued_at));
        Ok(rows.iter().any(|(entry, not_before, until)| {
            *until > now
                && (entry.as_slice() == session_entry
                    || (owner_entry
                        .as_ref()
                        .is_some_and(|o| entry.as_slice() == &o[..])
                        && issued_at <= *not_before))
        }))
    }
}

/// The entry of `owner`'s cut-off: a SHA-256 that cannot equal a session's (those hash a
/// raw 32-byte id; this hashes a prefix that is no id).
fn owner_entry(owner: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"satchel-sql owner cut-off\0");
    h.update(owner.as_bytes());
    h.finalize().into()
}

fn statements(pool: &Pool, table: &str) -> Statements {
    match pool {
        #[cfg(feature = "postgres")]
        Pool::Postgres(_) => Statements {
            lookup: format!(
                "SELECT entry, not_before, until_ms FROM {table} WHERE entry = $1 OR entry = $2"
            ),
            raise: format!(
                "INSERT INTO {table} AS r (entry, not_before, until_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (entry) DO UPDATE SET \
                 not_before = GREATEST(r.not_before, EXCLUDED.not_before), \
                 until_ms = GREATEST(r.until_ms, EXCLUDED.until_ms)"
            ),
            purge: format!(
                "DELETE FROM {table} WHERE entry IN \
                 (SELECT entry FROM {table} WHERE until_ms <= $1 LIMIT $2)"
            ),
        },
        #[cfg(feature = "sqlite")]
        Pool::Sqlite(_) => Statements {
            lookup: format!(
                "SELECT entry, not_before, until_ms FROM {table} WHERE entry = ?1 OR entry = ?2"
            ),
            raise: format!(
                "INSERT INTO {table} (entry, not_before, until_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (entry) DO UPDATE SET \
                 not_before = MAX(not_before, excluded.not_before), \
                 until_ms = MAX(until_ms, excluded.until_ms)"
            ),
            purge: format!(
                "DELETE FROM {table} WHERE entry IN \
                 (SELECT entry FROM {table} WHERE until_ms <= ?1 LIMIT ?2)"
            ),
        },
        #[cfg(feature = "mysql")]
        Pool::MySql(_) => Statements {
            lookup: format!(
                "SELECT entry, not_before, until_ms FROM {table} WHERE entry = ? OR entry = ?"
            ),
            // Assignments run left to right and each sees the row as updated so far; the
            // two columns are independent, so the order does not matter.
            raise: format!(
                "INSERT INTO {table} (entry, not_before, until_ms) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE \
                 not_before = GREATEST(not_before, VALUES(not_before)), \
                 until_ms = GREATEST(until_ms, VALUES(until_ms))"
            ),
            purge: format!("DELETE FROM {table} WHERE until_ms <= ? ORDER BY until_ms LIMIT ?"),
        },
    }
}

#[cfg(feature = "postgres")]
const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    description: "sealed-session revocations table and expiry index",
    template: include_str!("../migrations/postgres/revocations/0001_revocations.sql"),
}];
#[cfg(feature = "sqlite")]
const SQLITE: &[Migration] = &[Migration {
    version: 1,
    description: "sealed-session revocations table and expiry index",
    template: include_str!("../migrations/sqlite/revocations/0001_revocations.sql"),
}];
#[cfg(feature = "mysql")]
const MYSQL: &[Migration] = &[Migration {
    version: 1,
    description: "sealed-session revocations table and expiry index",
    template: include_str!("../migrations/mysql/revocations/0001_revocations.sql"),
}];

impl Revocations for SqlRevocations {
    fn is_revoked<'a>(
        &'a self,
        session: &'a StoreKey,
        owner: Option<&'a str>,
        issued_at: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.lookup(session, owner, issued_at, now))
    }

    fn revoke_session<'a>(
        &'a self,
        session: &'a StoreKey,
        until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if until <= now {
                return Ok(()); // the cookie is dead already
            }
            self.raise(&session.as_bytes()[..], Timestamp::EPOCH, until, now)
                .await
        })
    }

    fn revoke_owner<'a>(
        &'a self,
        owner: &'a str,
        not_before: Timestamp,
        until: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.raise(&owner_entry(owner), not_before, until, not_before)
                .await
        })
    }
}
