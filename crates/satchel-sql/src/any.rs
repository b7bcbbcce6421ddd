//! [`SqlStore`]: whichever SQL store a URL names, behind one type.

use satchel::{
    Capabilities, Expires, Patch, Record, SessionInfo, SessionStore, StoreError, StoreErrorKind,
    StoreKey, Timestamp, WriteOutcome,
};

use crate::cleanup::CleanupHandle;
use crate::config::SqlOptions;
use crate::migrate::{MigrateError, MigrationReport};

/// One of the SQL stores, chosen by URL scheme: `postgres://` / `postgresql://`,
/// `sqlite:` and `mysql://` / `mariadb://` (each needs its cargo feature).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SqlStore {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(crate::PostgresStore),
    /// SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(crate::SqliteStore),
    /// MySQL or MariaDB.
    #[cfg(feature = "mysql")]
    MySql(crate::MySqlStore),
}

/// A URL no SQL store of this build can open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlUrlError {
    /// Not a SQL scheme.
    UnknownScheme,
    /// A SQL scheme whose backend feature this build lacks.
    NotBuilt(&'static str),
}

impl std::fmt::Display for SqlUrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlUrlError::UnknownScheme => {
                f.write_str("not a SQL store URL (expected postgres://, sqlite: or mysql://)")
            }
            SqlUrlError::NotBuilt(feature) => {
                write!(f, "satchel-sql was built without the `{feature}` feature")
            }
        }
    }
}

impl std::error::Error for SqlUrlError {}

/// The backend feature a URL needs, by scheme.
fn backend(url: &str) -> Result<&'static str, SqlUrlError> {
    let scheme = url
        .split_once(':')
        .map_or("", |(s, _)| s)
        .to_ascii_lowercase();
    let feature = match scheme.as_str() {
        "postgres" | "postgresql" => "postgres",
        "sqlite" => "sqlite",
        "mysql" | "mariadb" => "mysql",
        _ => return Err(SqlUrlError::UnknownScheme),
    };
    let built = (feature == "postgres" && cfg!(feature = "postgres"))
        || (feature == "sqlite" && cfg!(feature = "sqlite"))
        || (feature == "mysql" && cfg!(feature = "mysql"));
    if built {
        Ok(feature)
    } else {
        Err(SqlUrlError::NotBuilt(feature))
    }
}

impl SqlStore {
    /// Checks that this build can open `url` (scheme and feature), without connecting.
    ///
    /// # Errors
    /// An unknown scheme, or a backend not built in.
    pub fn check_url(url: &str) -> Result<(), SqlUrlError> {
        backend(url).map(|_| ())
    }

    /// Connects to the store `url` names.
    ///
    /// # Errors
    /// As [`SqlStore::check_url`] (kind `Unsupported`), or the backend's connect error.
    pub async fn connect(url: &str, options: SqlOptions) -> Result<Self, StoreError> {
        let feature = backend(url).map_err(|e| StoreError::new(StoreErrorKind::Unsupported, e))?;
        match feature {
            #[cfg(feature = "postgres")]
            "postgres" => Ok(SqlStore::Postgres(
                crate::PostgresStore::connect_with(url, options).await?,
            )),
            #[cfg(feature = "sqlite")]
            "sqlite" => Ok(SqlStore::Sqlite(
                crate::SqliteStore::connect_with(url, options).await?,
            )),
            #[cfg(feature = "mysql")]
            "mysql" => Ok(SqlStore::MySql(
                crate::MySqlStore::connect_with(url, options).await?,
            )),
            _ => {
                let _ = options;
                Err(StoreError::msg(
                    StoreErrorKind::Unsupported,
                    "backend not built",
                ))
            }
        }
    }

    /// Runs the backend's migrations (see the crate docs).
    ///
    /// # Errors
    /// As the backend's `migrate`.
    pub async fn migrate(&self) -> Result<MigrationReport, MigrateError> {
        match self {
            #[cfg(feature = "postgres")]
            SqlStore::Postgres(s) => s.migrate().await,
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite(s) => s.migrate().await,
            #[cfg(feature = "mysql")]
            SqlStore::MySql(s) => s.migrate().await,
        }
    }

    /// The background cleanup task, if enabled.
    pub fn cleanup(&self) -> Option<CleanupHandle> {
        match self {
            #[cfg(feature = "postgres")]
            SqlStore::Postgres(s) => s.cleanup(),
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite(s) => s.cleanup(),
            #[cfg(feature = "mysql")]
            SqlStore::MySql(s) => s.cleanup(),
        }
    }

    /// A short name of the backend: `postgres`, `sqlite` or `mysql`.
    pub fn backend(&self) -> &'static str {
        match self {
            #[cfg(feature = "postgres")]
            SqlStore::Postgres(_) => "postgres",
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite(_) => "sqlite",
            #[cfg(feature = "mysql")]
            SqlStore::MySql(_) => "mysql",
        }
    }

    /// Deletes every row expired at `now`, `batch` rows per statement; returns how many.
    ///
    /// # Errors
    /// A store error (rows deleted by earlier batches stay deleted).
    pub async fn purge_all_expired(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError> {
        let batch = batch.max(1);
        let mut total = 0;
        loop {
            let n = self.purge_expired(now, batch).await?;
            total += n;
            if n < u64::try_from(batch).unwrap_or(u64::MAX) {
                return Ok(total);
            }
        }
    }
}

/// Forwards one call to whichever store this is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            #[cfg(feature = "postgres")]
            SqlStore::Postgres($s) => $call,
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite($s) => $call,
            #[cfg(feature = "mysql")]
            SqlStore::MySql($s) => $call,
        }
    };
}

impl SessionStore for SqlStore {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        each!(self, s => s.load(key, now).await)
    }

    async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        each!(self, s => s.create(key, record, now).await)
    }

    async fn apply(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        each!(self, s => s.apply(key, patch, now).await)
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        each!(self, s => s.rotate(old, new, patch, now).await)
    }

    async fn renew(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        forward: &[u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        each!(self, s => s.renew(old, new, patch, forward, grace_until, now).await)
    }

    async fn load_forward(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        each!(self, s => s.load_forward(key, now).await)
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        each!(self, s => s.delete(key).await)
    }

    async fn touch(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Expires>, StoreError> {
        each!(self, s => s.touch(key, now).await)
    }

    fn capabilities(&self) -> Capabilities {
        each!(self, s => s.capabilities())
    }

    async fn sessions_of(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        each!(self, s => s.sessions_of(owner, now).await)
    }

    async fn revoke_owner(&self, owner: &str, keep: Option<&StoreKey>) -> Result<u64, StoreError> {
        each!(self, s => s.revoke_owner(owner, keep).await)
    }

    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        each!(self, s => s.purge_expired(now, limit).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_backends() {
        assert_eq!(
            SqlStore::check_url("redis://x"),
            Err(SqlUrlError::UnknownScheme)
        );
        assert_eq!(SqlStore::check_url("nope"), Err(SqlUrlError::UnknownScheme));
        let pg = SqlStore::check_url("postgres://h/db");
        assert_eq!(pg.is_ok(), cfg!(feature = "postgres"));
        let lite = SqlStore::check_url("sqlite://x.db");
        assert_eq!(lite.is_ok(), cfg!(feature = "sqlite"));
        let my = SqlStore::check_url("mariadb://h/db");
        assert_eq!(my.is_ok(), cfg!(feature = "mysql"));
    }
}
