//! Store options, and the validation that makes table and schema names safe to put in SQL.

use std::fmt;
use std::time::Duration;

/// The table name used unless [`SqlOptions::with_table`] says otherwise.
pub const DEFAULT_TABLE: &str = "satchel_sessions";

/// Longest accepted table or schema name: PostgreSQL truncates identifiers at 63 bytes and
/// MySQL at 64, and companion names add a suffix to the table's (`_expires_at`,
/// `_migrations`; the longest, `_revocations_migrations` and `_forwards_migrations`, give
/// at most 63 and 60 bytes).
const MAX_NAME: usize = 40;

/// A table or schema name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName {
    name: String,
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid SQL name {:?}: use 1-{MAX_NAME} characters from a-z, 0-9 and _, not starting with a digit",
            self.name
        )
    }
}

impl std::error::Error for InvalidName {}

/// A validated identifier: lower-case ASCII letters, digits and `_`, not starting with a
/// digit, at most 40 bytes. Such a name means the same thing quoted or not on every backend,
/// so it can be spliced into statements (quoted) without any escaping question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ident(String);

impl Ident {
    pub(crate) fn new(name: &str) -> Result<Self, InvalidName> {
        let ok = (1..=MAX_NAME).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if ok {
            Ok(Ident(name.to_owned()))
        } else {
            Err(InvalidName {
                name: name.chars().take(80).collect(),
            })
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// How the background cleanup runs (see [`SqlOptions::with_cleanup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupOptions {
    /// Time between two cleanup runs (default 60 s). A run deletes batches until one comes
    /// back short, so a backlog drains within one run.
    pub interval: Duration,
    /// Rows deleted per statement (default 1,000): each batch is one short statement, so
    /// requests are never blocked behind a long delete.
    pub batch_size: usize,
    /// Pause between two batches of one run (default 10 ms), leaving the database to
    /// requests in between.
    pub pause: Duration,
}

impl Default for CleanupOptions {
    fn default() -> Self {
        CleanupOptions {
            interval: Duration::from_secs(60),
            batch_size: 1_000,
            pause: Duration::from_millis(10),
        }
    }
}

/// Options shared by every SQL store.
#[derive(Debug, Clone)]
pub struct SqlOptions {
    pub(crate) table: Ident,
    pub(crate) schema: Option<Ident>,
    pub(crate) max_connections: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) statement_timeout: Duration,
    pub(crate) ping_after_idle: Option<Duration>,
    pub(crate) cleanup: Option<CleanupOptions>,
}

impl Default for SqlOptions {
    fn default() -> Self {
        SqlOptions {
            table: Ident(DEFAULT_TABLE.to_owned()),
            schema: None,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
            ping_after_idle: Some(Duration::from_secs(1)),
            cleanup: Some(CleanupOptions::default()),
        }
    }
}

impl SqlOptions {
    /// The table to keep sessions in (default [`DEFAULT_TABLE`]); the migrations table is
    /// `<table>_migrations`, the indexes `<table>_expires_at` and `<table>_owner`, and the
    /// renewal forwards table `<table>_forwards` (index `<table>_forwards_grace_until`,
    /// migrations table `<table>_forwards_migrations`).
    ///
    /// # Errors
    /// Unless the name is 1–40 characters from `a-z`, `0-9` and `_`, not starting with a
    /// digit.
    pub fn with_table(mut self, table: &str) -> Result<Self, InvalidName> {
        self.table = Ident::new(table)?;
        Ok(self)
    }

    /// PostgreSQL only: the schema holding the table (default: the connection's
    /// `search_path`, usually `public`). `migrate()` creates it if it does not exist.
    /// Ignored by SQLite and MySQL, where the URL's database is the namespace.
    ///
    /// # Errors
    /// As for [`SqlOptions::with_table`].
    pub fn with_schema(mut self, schema: &str) -> Result<Self, InvalidName> {
        self.schema = Some(Ident::new(schema)?);
        Ok(self)
    }

    /// The most connections the store's pool opens (default 10).
    pub fn with_max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long an operation waits for a pooled connection, including connecting, before
    /// it fails with `StoreErrorKind::Timeout` (default 3 s).
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long one statement may run (default 5 s): the server cancels it after that where
    /// the backend can (PostgreSQL `statement_timeout`, MariaDB `max_statement_time`, SQLite
    /// busy timeout), and the store gives up on the answer shortly after in any case.
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Pools the store builds itself check a pooled connection with a ping before using
    /// it only if it sat idle at least this long (default 1 s; `None`: never).
    ///
    /// sqlx's default pings on *every* acquire, one extra round trip per statement that
    /// the measured load benchmark shows costing about as much as the statement itself
    /// (docs/benchmarks.md). Under steady traffic connections are never idle that long,
    /// so statements go straight out; after a quiet period, when a restarted server may
    /// have dropped them unnoticed, the ping finds out and the pool reconnects. A
    /// connection that breaks while busy fails that one statement (the request gets the
    /// store error, 503 through the integrations) and is not reused.
    pub fn with_ping_after_idle(mut self, idle: Option<Duration>) -> Self {
        self.ping_after_idle = idle;
        self
    }

    /// The background cleanup (on by default with [`CleanupOptions::default`]); `None`
    /// turns it off, e.g. when an external job runs `satchel purge`.
    pub fn with_cleanup(mut self, cleanup: Option<CleanupOptions>) -> Self {
        self.cleanup = cleanup.map(|mut c| {
            c.batch_size = c.batch_size.max(1);
            c.interval = c.interval.max(Duration::from_millis(1));
            c
        });
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        self.table.as_str()
    }

    /// The schema name, if one was set.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_ref().map(Ident::as_str)
    }

    /// The pool settings every store's own pool starts from: size, acquire timeout, and
    /// the ping policy of [`SqlOptions::with_ping_after_idle`].
    #[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
    pub(crate) fn pool_options<DB: sqlx::Database>(&self) -> sqlx::pool::PoolOptions<DB> {
        let pool = sqlx::pool::PoolOptions::<DB>::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .test_before_acquire(false);
        match self.ping_after_idle {
            None => pool,
            Some(idle) => pool.before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= idle {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            }),
        }
    }

    /// The longest a whole store operation may take before it is abandoned as a timeout:
    /// waiting for a connection plus running its statements.
    pub(crate) fn operation_timeout(&self) -> Duration {
        self.acquire_timeout + self.statement_timeout * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in ["sessions", "s", "_x", "satchel_sessions_2", &"a".repeat(40)] {
            assert!(Ident::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "Sessions",
            "a-b",
            "a b",
            "a\"b",
            "a;drop",
            "é",
            &"a".repeat(41),
        ] {
            assert!(Ident::new(bad).is_err(), "{bad}");
        }
        let err = SqlOptions::default()
            .with_table("x\"; --")
            .expect_err("refused");
        assert!(err.to_string().contains("invalid SQL name"));
    }
}
