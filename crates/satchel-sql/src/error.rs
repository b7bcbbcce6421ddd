//! sqlx errors to `StoreError`s, keeping the sqlx error as the source (never a string).

use std::future::Future;
use std::time::Duration;

use satchel::{StoreError, StoreErrorKind};

/// The kind of store failure a sqlx error means.
pub(crate) fn kind_of(err: &sqlx::Error) -> StoreErrorKind {
    use sqlx::Error as E;
    match err {
        E::PoolTimedOut => StoreErrorKind::Timeout,
        E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => StoreErrorKind::Unavailable,
        E::ColumnDecode { .. } | E::Decode(_) => StoreErrorKind::Corrupt,
        E::Database(db) => database_kind(db.as_ref()),
        _ => StoreErrorKind::Backend,
    }
}

/// Errors the server reported: those that mean "try again later" rather than "broken".
#[allow(unused_variables)] // with no backend feature there is nothing to look at
fn database_kind(db: &dyn sqlx::error::DatabaseError) -> StoreErrorKind {
    #[cfg(feature = "postgres")]
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return postgres_kind(pg.code());
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return mysql_kind(my.number());
    }
    #[cfg(feature = "sqlite")]
    if let Some(lite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
        let code = sqlx::error::DatabaseError::code(lite)
            .and_then(|c| c.parse::<u32>().ok())
            .unwrap_or(0);
        return sqlite_kind(code);
    }
    StoreErrorKind::Backend
}

/// PostgreSQL SQLSTATEs.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn postgres_kind(code: &str) -> StoreErrorKind {
    match code {
        // query_canceled (statement_timeout), lock_not_available.
        "57014" | "55P03" => StoreErrorKind::Timeout,
        // admin/crash shutdown, cannot connect now, read-only transaction, insufficient
        // resources (too many connections, out of memory or disk).
        "57P01" | "57P02" | "57P03" | "25006" => StoreErrorKind::Unavailable,
        c if c.starts_with("53") || c.starts_with("08") => StoreErrorKind::Unavailable,
        _ => StoreErrorKind::Backend,
    }
}

/// MySQL / MariaDB error numbers.
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
fn mysql_kind(number: u16) -> StoreErrorKind {
    match number {
        // lock wait timeout, MariaDB max_statement_time, MySQL max_execution_time.
        1205 | 1969 | 3024 => StoreErrorKind::Timeout,
        // too many connections, read-only, shutdown in progress, out of memory, disk full.
        1040 | 1290 | 1836 | 1053 | 1037 | 1021 => StoreErrorKind::Unavailable,
        _ => StoreErrorKind::Backend,
    }
}

/// SQLite (extended) result codes: the primary code is the low byte.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn sqlite_kind(code: u32) -> StoreErrorKind {
    match code & 0xff {
        // BUSY, LOCKED: the busy timeout passed.
        5 | 6 => StoreErrorKind::Timeout,
        // READONLY, IOERR, FULL, CANTOPEN.
        8 | 10 | 13 | 14 => StoreErrorKind::Unavailable,
        _ => StoreErrorKind::Backend,
    }
}

/// A `StoreError` of the right kind, caused by `err`.
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    StoreError::new(kind_of(&err), err)
}

/// Whether `err` is a unique-key violation (a row already has that key).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A guarded write whose row kept changing under every attempt: the expected keys are
/// reported as conflicting (nothing was written), or, with no expectations, a backend error.
pub(crate) fn raced(patch: &satchel::Patch) -> Result<satchel::WriteOutcome, StoreError> {
    if patch.expect.is_empty() {
        Err(StoreError::msg(
            StoreErrorKind::Backend,
            "the session row kept changing under the write",
        ))
    } else {
        Ok(satchel::WriteOutcome::Conflict(
            patch.expect.iter().map(|(k, _)| k.clone()).collect(),
        ))
    }
}

/// The operation gave up waiting: neither the pool nor the server answered in time.
#[derive(Debug)]
pub(crate) struct OperationTimedOut(pub(crate) Duration);

impl std::fmt::Display for OperationTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no answer from the database within {:?}", self.0)
    }
}

impl std::error::Error for OperationTimedOut {}

/// Runs one store operation under a client-side deadline, on top of the pool's acquire
/// timeout and the server's statement timeout (a silent network partition answers neither).
pub(crate) async fn bounded<T>(
    limit: Duration,
    op: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, op).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::new(
            StoreErrorKind::Timeout,
            OperationTimedOut(limit),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(postgres_kind("57014"), StoreErrorKind::Timeout);
        assert_eq!(postgres_kind("08006"), StoreErrorKind::Unavailable);
        assert_eq!(postgres_kind("53300"), StoreErrorKind::Unavailable);
        assert_eq!(postgres_kind("23505"), StoreErrorKind::Backend);
        assert_eq!(mysql_kind(1969), StoreErrorKind::Timeout);
        assert_eq!(mysql_kind(1040), StoreErrorKind::Unavailable);
        assert_eq!(mysql_kind(1062), StoreErrorKind::Backend);
        assert_eq!(sqlite_kind(5), StoreErrorKind::Timeout);
        assert_eq!(sqlite_kind(517), StoreErrorKind::Timeout); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(sqlite_kind(13), StoreErrorKind::Unavailable);
        assert_eq!(sqlite_kind(19), StoreErrorKind::Backend);
        assert_eq!(kind_of(&sqlx::Error::PoolTimedOut), StoreErrorKind::Timeout);
        assert_eq!(
            kind_of(&sqlx::Error::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused
            ))),
            StoreErrorKind::Unavailable
        );
    }
}
