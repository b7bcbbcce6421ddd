//! [`SessionAdmin`] for the SQL stores: what the `satchel sessions`, `stats` and `purge`
//! commands read. Administration only, never on a request path.
//!
//! - `list` walks the table in primary-key order, [`PAGE`] rows per statement (keyset
//!   pagination on `id_hash`: each statement is short, whatever the table's size, so none
//!   runs into `statement_timeout`), reading only the deadline, owner and flag columns,
//!   never the data; one owner's sessions come through the `owner` index.
//! - `resolve` turns a hex prefix into a range of `id_hash` (the primary key):
//!   `id_hash BETWEEN prefix000… AND prefixfff…`, an index range scan.
//! - `purge` is the stores' own [`SessionStore::purge_expired`], batch after batch.
//!
//! Liveness is the load path's: both exact deadlines after `now` (not the rounded
//! `expires_at`).

use std::time::Duration;

use satchel::admin::{reference_range, Progress, PurgeReport, SessionAdmin, SessionSummary};
use satchel::{SessionStore, StoreError, StoreKey, Timestamp};
use sqlx::Row as _;

use crate::codec::{self, key_bytes, ms};
use crate::error::{bounded, store_error};

/// Rows per `list` statement.
const PAGE: usize = 1_000;

/// How long one admin statement may take (the stores' own operation timeout is sized for
/// request paths).
const STATEMENT_LIMIT: Duration = Duration::from_secs(30);

/// The columns a summary needs, in [`summary`]'s order (`{owner}`: the owner column as
/// text; MariaDB reports a `utf8mb4_bin` column as binary).
const COLUMNS: &str = "id_hash, {owner}, created_at, idle_deadline, absolute_deadline, persistent";

/// The admin statements for one table, with `$n` placeholders (PostgreSQL) or `?`.
struct Statements {
    first_page: String,
    next_page: String,
    of_owner: String,
    resolve: String,
}

impl Statements {
    fn new(table: &str, numbered: bool, owner: &str) -> Self {
        let columns = COLUMNS.replace("{owner}", owner);
        let live = "idle_deadline > $L1 AND absolute_deadline > $L2";
        let fix = |sql: String| {
            let mut n = 0;
            let mut out = String::with_capacity(sql.len());
            let mut rest = sql.as_str();
            while let Some(at) = rest.find('$') {
                out.push_str(&rest[..at]);
                n += 1;
                if numbered {
                    out.push_str(&format!("${n}"));
                } else {
                    out.push('?');
                }
                // Skip the placeholder's name (`$L1`, `$K`…).
                let tail = &rest[at + 1..];
                let len = tail
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(tail.len());
                rest = &tail[len..];
            }
            out.push_str(rest);
            out
        };
        Statements {
            first_page: fix(format!(
                "SELECT {columns} FROM {table} WHERE {live} ORDER BY id_hash LIMIT $N"
            )),
            next_page: fix(format!(
                "SELECT {columns} FROM {table} WHERE id_hash > $K AND {live} ORDER BY id_hash LIMIT $N"
            )),
            of_owner: fix(format!(
                "SELECT {columns} FROM {table} WHERE owner = $O AND {live} ORDER BY created_at"
            )),
            resolve: fix(format!(
                "SELECT id_hash FROM {table} WHERE id_hash >= $LO AND id_hash <= $HI AND {live} \
                 ORDER BY id_hash LIMIT $N"
            )),
        }
    }
}

/// A summary from a row of [`COLUMNS`].
fn summary<R: sqlx::Row>(row: &R) -> Result<SessionSummary, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let key: Vec<u8> = row.try_get(0).map_err(store_error)?;
    Ok(SessionSummary {
        key: codec::key_from(&key)?,
        owner: row.try_get(1).map_err(store_error)?,
        created_at: codec::ts(row.try_get(2).map_err(store_error)?),
        idle_deadline: codec::ts(row.try_get(3).map_err(store_error)?),
        absolute_deadline: codec::ts(row.try_get(4).map_err(store_error)?),
        persistent: row.try_get(5).map_err(store_error)?,
    })
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `SessionAdmin` for one backend: the same statements, its own pool type and placeholder
/// style.
macro_rules! sql_admin {
    ($store:ty, $numbered:expr, $owner:expr) => {
        impl SessionAdmin for $store {
            async fn list(
                &self,
                owner: Option<&str>,
                now: Timestamp,
                progress: Progress<'_>,
            ) -> Result<Vec<SessionSummary>, StoreError> {
                let sql = Statements::new(self.table(), $numbered, $owner);
                let now = ms(now);
                if let Some(owner) = owner {
                    let rows = bounded(STATEMENT_LIMIT, async {
                        sqlx::query(&sql.of_owner)
                            .bind(owner)
                            .bind(now)
                            .bind(now)
                            .fetch_all(self.pool())
                            .await
                            .map_err(store_error)
                    })
                    .await?;
                    progress(count(rows.len()));
                    return rows.iter().map(summary).collect();
                }
                let mut out: Vec<SessionSummary> = Vec::new();
                loop {
                    let rows = bounded(STATEMENT_LIMIT, async {
                        let query = match out.last() {
                            None => sqlx::query(&sql.first_page),
                            Some(last) => {
                                sqlx::query(&sql.next_page).bind(key_bytes(&last.key).to_vec())
                            }
                        };
                        query
                            .bind(now)
                            .bind(now)
                            .bind(limit(PAGE))
                            .fetch_all(self.pool())
                            .await
                            .map_err(store_error)
                    })
                    .await?;
                    let n = rows.len();
                    for row in &rows {
                        out.push(summary(row)?);
                    }
                    progress(count(n));
                    if n < PAGE {
                        return Ok(out);
                    }
                }
            }

            async fn resolve(
                &self,
                prefix: &str,
                now: Timestamp,
                max: usize,
            ) -> Result<Vec<StoreKey>, StoreError> {
                let Some((low, high)) = reference_range(prefix) else {
                    return Ok(Vec::new());
                };
                let sql = Statements::new(self.table(), $numbered, $owner);
                let now = ms(now);
                let rows = bounded(STATEMENT_LIMIT, async {
                    sqlx::query(&sql.resolve)
                        .bind(key_bytes(&low).to_vec())
                        .bind(key_bytes(&high).to_vec())
                        .bind(now)
                        .bind(now)
                        .bind(limit(max.max(1)))
                        .fetch_all(self.pool())
                        .await
                        .map_err(store_error)
                })
                .await?;
                rows.iter()
                    .map(|row| {
                        let key: Vec<u8> = row.try_get(0).map_err(store_error)?;
                        codec::key_from(&key)
                    })
                    .collect()
            }

            async fn purge(
                &self,
                now: Timestamp,
                batch: usize,
                progress: Progress<'_>,
            ) -> Result<PurgeReport, StoreError> {
                let batch = batch.max(1);
                let mut report = PurgeReport::default();
                loop {
                    let n = self.purge_expired(now, batch).await?;
                    report.sessions += n;
                    progress(n);
                    if n < count(batch) {
                        return Ok(report);
                    }
                }
            }
        }
    };
}

#[cfg(feature = "postgres")]
sql_admin!(crate::PostgresStore, true, "owner");
#[cfg(feature = "sqlite")]
sql_admin!(crate::SqliteStore, false, "owner");
#[cfg(feature = "mysql")]
sql_admin!(crate::MySqlStore, false, "CONVERT(owner USING utf8mb4)");

/// Forwards to whichever store this is.
impl SessionAdmin for crate::SqlStore {
    async fn list(
        &self,
        owner: Option<&str>,
        now: Timestamp,
        progress: Progress<'_>,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        match self {
            #[cfg(feature = "postgres")]
            crate::SqlStore::Postgres(s) => s.list(owner, now, progress).await,
            #[cfg(feature = "sqlite")]
            crate::SqlStore::Sqlite(s) => s.list(owner, now, progress).await,
            #[cfg(feature = "mysql")]
            crate::SqlStore::MySql(s) => s.list(owner, now, progress).await,
        }
    }

    async fn resolve(
        &self,
        prefix: &str,
        now: Timestamp,
        max: usize,
    ) -> Result<Vec<StoreKey>, StoreError> {
        match self {
            #[cfg(feature = "postgres")]
            crate::SqlStore::Postgres(s) => s.resolve(prefix, now, max).await,
            #[cfg(feature = "sqlite")]
            crate::SqlStore::Sqlite(s) => s.resolve(prefix, now, max).await,
            #[cfg(feature = "mysql")]
            crate::SqlStore::MySql(s) => s.resolve(prefix, now, max).await,
        }
    }

    async fn purge(
        &self,
        now: Timestamp,
        batch: usize,
        progress: Progress<'_>,
    ) -> Result<PurgeReport, StoreError> {
        match self {
            #[cfg(feature = "postgres")]
            crate::SqlStore::Postgres(s) => s.purge(now, batch, progress).await,
            #[cfg(feature = "sqlite")]
            crate::SqlStore::Sqlite(s) => s.purge(now, batch, progress).await,
            #[cfg(feature = "mysql")]
            crate::SqlStore::MySql(s) => s.purge(now, batch, progress).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let pg = Statements::new("\"t\"", true, "owner");
        assert_eq!(
            pg.next_page,
            "SELECT id_hash, owner, created_at, idle_deadline, absolute_deadline, persistent \
             FROM \"t\" WHERE id_hash > $1 AND idle_deadline > $2 AND absolute_deadline > $3 \
             ORDER BY id_hash LIMIT $4"
        );
        let my = Statements::new("`t`", false, "CONVERT(owner USING utf8mb4)");
        assert!(my
            .resolve
            .contains("id_hash >= ? AND id_hash <= ? AND idle_deadline > ?"));
        assert!(my.resolve.ends_with("LIMIT ?"));
        assert!(!my.of_owner.contains('$'));
        assert!(my
            .of_owner
            .starts_with("SELECT id_hash, CONVERT(owner USING utf8mb4), created_at"));
    }
}
