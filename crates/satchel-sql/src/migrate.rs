//! Embedded, versioned migrations and the plan of which to run.
//!
//! Why not sqlx's `Migrator`: it records every migration in one `_sqlx_migrations` table per
//! database, which the application's own sqlx migrations use too (our version 1 would be
//! mistaken for theirs, or theirs for ours), and its migrations are fixed text while ours
//! name a configurable table. So each backend keeps its templates in
//! `migrations/<backend>/NNNN_*.sql`, renders them with the validated table name, and records
//! them in `<table>_migrations` (version, description, checksum of the template, time),
//! all under a lock so that instances starting together migrate once.
//!
//! The renewal forwards table (SEC-49) has a migration set and a ledger of its own,
//! `<table>_forwards_migrations` (as `SqlRevocations` has `<table>_revocations_migrations`),
//! run by the store's `migrate()` after the sessions' set under the same lock: the sessions'
//! ledger stays at version 1, so an older build's `migrate()`, which refuses versions it
//! does not know, still accepts a database the newer build migrated.

use std::fmt;

use satchel::StoreError;
use sha2::{Digest, Sha256};

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) description: &'static str,
    /// The template: `{table}` is the quoted, qualified table, `{name}` the bare table name
    /// (for index names), `{forwards}` the table's forwards table (see [`forwards_table`]).
    pub(crate) template: &'static str,
}

impl Migration {
    /// The SHA-256 of the template, in hex: detects an edited migration.
    pub(crate) fn checksum(&self) -> String {
        Sha256::digest(self.template.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The SQL to run.
    pub(crate) fn render(&self, table: &str, name: &str) -> String {
        self.template
            .replace("{forwards}", &forwards_table(table))
            .replace("{table}", table)
            .replace("{name}", name)
    }
}

/// The renewal forwards table (SEC-49) of the sessions table `table`, quoted and qualified
/// the same way: `"s"."t"` → `"s"."t_forwards"`, `` `t` `` → `` `t_forwards` ``. (Table
/// names are validated identifiers of at most 40 bytes, so the suffixed name and its index
/// name `<table>_forwards_grace_until` stay within every backend's identifier limit.)
pub(crate) fn forwards_table(table: &str) -> String {
    match table.char_indices().last() {
        Some((at, quote)) if quote == '"' || quote == '`' => {
            format!("{}_forwards{quote}", &table[..at])
        }
        _ => format!("{table}_forwards"),
    }
}

/// What `migrate()` did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationReport {
    /// The versions applied by this call, in order (empty: the schema was up to date).
    pub applied: Vec<i64>,
    /// The schema version now.
    pub version: i64,
    /// The session stores only: the versions of the renewal forwards table's own migration
    /// set (recorded in `<table>_forwards_migrations`) applied by this call, in order.
    /// Always empty for `SqlRevocations`.
    pub forwards_applied: Vec<i64>,
    /// The session stores only: the forwards table's version now (0 for `SqlRevocations`).
    pub forwards_version: i64,
}

/// Why `migrate()` failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum MigrateError {
    /// The database failed.
    Store(StoreError),
    /// A migration recorded as applied has different SQL than this build embeds.
    Modified {
        /// The migration's version.
        version: i64,
    },
    /// The database was migrated by a newer satchel than this one.
    Newer {
        /// The newest version recorded in the database.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrateError::Store(_) => f.write_str("migrating the session table failed"),
            MigrateError::Modified { version } => write!(
                f,
                "session table migration {version} was applied with different SQL than this build has"
            ),
            MigrateError::Newer { found, known } => write!(
                f,
                "the session table is at version {found}, newer than this build knows ({known}); upgrade satchel"
            ),
        }
    }
}

impl std::error::Error for MigrateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MigrateError::Store(err) => Some(err),
            _ => None,
        }
    }
}

impl From<StoreError> for MigrateError {
    fn from(err: StoreError) -> Self {
        MigrateError::Store(err)
    }
}

impl From<sqlx::Error> for MigrateError {
    fn from(err: sqlx::Error) -> Self {
        MigrateError::Store(crate::error::store_error(err))
    }
}

/// The migrations of `known` not yet in `recorded` (version, checksum), in order, after
/// checking that the recorded ones are ours and unchanged.
pub(crate) fn plan<'m>(
    known: &'m [Migration],
    recorded: &[(i64, String)],
) -> Result<Vec<&'m Migration>, MigrateError> {
    let newest = known.iter().map(|m| m.version).max().unwrap_or(0);
    for (version, checksum) in recorded {
        match known.iter().find(|m| m.version == *version) {
            Some(m) if m.checksum() == *checksum => {}
            Some(_) => return Err(MigrateError::Modified { version: *version }),
            None => {
                return Err(MigrateError::Newer {
                    found: *version,
                    known: newest,
                })
            }
        }
    }
    Ok(known
        .iter()
        .filter(|m| !recorded.iter().any(|(v, _)| *v == m.version))
        .collect())
}

/// The report once `applied` ran on top of `recorded`.
pub(crate) fn report(recorded: &[(i64, String)], applied: Vec<i64>) -> MigrationReport {
    let version = recorded
        .iter()
        .map(|(v, _)| *v)
        .chain(applied.iter().copied())
        .max()
        .unwrap_or(0);
    MigrationReport {
        applied,
        version,
        forwards_applied: Vec::new(),
        forwards_version: 0,
    }
}

/// A migrations table ("ledger") and the backend's statements on it.
pub(crate) struct Ledger {
    /// The table, quoted (and qualified) as in statements.
    pub(crate) table: String,
    /// `CREATE TABLE IF NOT EXISTS` of the ledger.
    pub(crate) create: String,
    /// `SELECT version, checksum … ORDER BY version`.
    pub(crate) select: String,
    /// `INSERT` of (version, description, checksum, applied_at), the backend's placeholders.
    pub(crate) insert: String,
}

impl Ledger {
    /// The ledger `table` with the backend's column types (`int`: `BIGINT` or `INTEGER`;
    /// `checksum`: its type; `suffix`: table options) and placeholders.
    pub(crate) fn new(
        table: String,
        int: &str,
        checksum: &str,
        suffix: &str,
        placeholders: [&str; 4],
    ) -> Self {
        let [a, b, c, d] = placeholders;
        Ledger {
            create: format!(
                "CREATE TABLE IF NOT EXISTS {table} (version {int} PRIMARY KEY, \
                 description TEXT NOT NULL, checksum {checksum} NOT NULL, \
                 applied_at {int} NOT NULL){suffix}"
            ),
            select: format!("SELECT version, checksum FROM {table} ORDER BY version"),
            insert: format!(
                "INSERT INTO {table} (version, description, checksum, applied_at) \
                 VALUES ({a}, {b}, {c}, {d})"
            ),
            table,
        }
    }
}

/// Runs a session store's migrations on one connection, locked by the caller as for
/// [`run_migrations`]: the sessions' set (`$set`, ledger `$sessions`), then the forwards
/// table's set (`$forwards_set`, ledger `$forwards`). Evaluates to the combined
/// [`MigrationReport`].
///
/// First it adopts what a pre-release build of SEC-49 left: that build created the
/// forwards table as sessions migration **2** (the same template, so the same checksum, as
/// forwards migration 1 now). Such a record moves to the forwards ledger (its description,
/// checksum and time kept) and leaves the sessions' ledger, so the sessions are at version 1
/// again (what an older build's `migrate()` accepts); the table itself is kept. A version 2
/// with any other checksum is not ours and stays (the sessions' plan answers `Newer`).
macro_rules! migrate_store {
    ($conn:expr, sessions: $sessions:expr, forwards: $forwards:expr, set: $set:expr, forwards_set: $forwards_set:expr, table: $table:expr, name: $name:expr $(,)?) => {{
        let (sessions, forwards): (&$crate::migrate::Ledger, &$crate::migrate::Ledger) =
            ($sessions, $forwards);
        let forwards_set: &[$crate::migrate::Migration] = $forwards_set;
        sqlx::Executor::execute(&mut *$conn, sessions.create.as_str()).await?;
        let branch: Option<(String, String, i64)> = sqlx::query_as(&format!(
            "SELECT description, checksum, applied_at FROM {} WHERE version = 2",
            sessions.table
        ))
        .fetch_optional(&mut *$conn)
        .await?;
        if let Some((description, checksum, applied_at)) = branch {
            if forwards_set.first().map(|m| (m.version, m.checksum())) == Some((1, checksum.clone())) {
                sqlx::Executor::execute(&mut *$conn, forwards.create.as_str()).await?;
                let recorded: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT version FROM {} WHERE version = 1",
                    forwards.table
                ))
                .fetch_optional(&mut *$conn)
                .await?;
                if recorded.is_none() {
                    sqlx::query(forwards.insert.as_str())
                        .bind(1_i64)
                        .bind(description)
                        .bind(checksum)
                        .bind(applied_at)
                        .execute(&mut *$conn)
                        .await?;
                }
                sqlx::Executor::execute(
                    &mut *$conn,
                    format!("DELETE FROM {} WHERE version = 2", sessions.table).as_str(),
                )
                .await?;
            }
        }
        let mut report = $crate::migrate::run_migrations!(
            $conn,
            set: $set,
            create: sessions.create,
            select: sessions.select,
            insert: sessions.insert,
            table: $table,
            name: $name,
        );
        let forwarded = $crate::migrate::run_migrations!(
            $conn,
            set: forwards_set,
            create: forwards.create,
            select: forwards.select,
            insert: forwards.insert,
            table: $table,
            name: $name,
        );
        report.forwards_applied = forwarded.applied;
        report.forwards_version = forwarded.version;
        report
    }};
}
pub(crate) use migrate_store;

/// Runs a migration set on one connection, already locked against concurrent migrators
/// by the caller (each backend locks its own way): creates the migrations table
/// (`$create`), reads what it records (`$select`: version, checksum), applies what
/// [`plan`] says is missing, rendered for `$table` / `$name`, and records each one
/// (`$insert`: the backend's `INSERT` with its own placeholders). Evaluates to the
/// [`MigrationReport`]; `?` returns a [`MigrateError`] from the enclosing function.
///
/// A macro rather than a function: the three sqlx connection types share no executor
/// type, and the loop is identical for each (the stores and `SqlRevocations` run it).
macro_rules! run_migrations {
    ($conn:expr, set: $set:expr, create: $create:expr, select: $select:expr, insert: $insert:expr, table: $table:expr, name: $name:expr $(,)?) => {{
        sqlx::Executor::execute(&mut *$conn, AsRef::<str>::as_ref(&$create)).await?;
        let recorded: Vec<(i64, String)> = sqlx::query_as(AsRef::<str>::as_ref(&$select))
            .fetch_all(&mut *$conn)
            .await?;
        let mut applied = Vec::new();
        for m in $crate::migrate::plan($set, &recorded)? {
            let sql = m.render($table, $name);
            sqlx::Executor::execute(&mut *$conn, sql.as_str()).await?;
            sqlx::query(AsRef::<str>::as_ref(&$insert))
                .bind(m.version)
                .bind(m.description)
                .bind(m.checksum())
                .bind($crate::codec::ms(satchel::Timestamp::now()))
                .execute(&mut *$conn)
                .await?;
            applied.push(m.version);
        }
        $crate::migrate::report(&recorded, applied)
    }};
}
pub(crate) use run_migrations;

#[cfg(test)]
mod tests {
    use super::*;

    const M: [Migration; 2] = [
        Migration {
            version: 1,
            description: "one",
            template: "CREATE TABLE {table} (x INT); CREATE INDEX {name}_x ON {table} (x)",
        },
        Migration {
            version: 2,
            description: "two",
            template: "ALTER TABLE {table} ADD y INT",
        },
    ];

    #[test]
    fn plans_what_is_missing() {
        assert_eq!(plan(&M, &[]).expect("plan").len(), 2);
        let one = [(1, M[0].checksum())];
        let todo = plan(&M, &one).expect("plan");
        assert_eq!(todo.iter().map(|m| m.version).collect::<Vec<_>>(), [2]);
        assert!(matches!(
            plan(&M, &[(1, "x".into())]),
            Err(MigrateError::Modified { version: 1 })
        ));
        assert!(matches!(
            plan(&M, &[(3, "x".into())]),
            Err(MigrateError::Newer { found: 3, known: 2 })
        ));
        assert_eq!(report(&one, vec![2]).version, 2);
        assert_eq!(forwards_table("\"s\".\"t\""), "\"s\".\"t_forwards\"");
        assert_eq!(forwards_table("`t`"), "`t_forwards`");
        assert_eq!(forwards_table("t"), "t_forwards");
        assert_eq!(
            M[0].render("\"s\".\"t\"", "t"),
            "CREATE TABLE \"s\".\"t\" (x INT); CREATE INDEX t_x ON \"s\".\"t\" (x)"
        );
    }

    /// Each backend's forwards migration 1 is the pre-release build's sessions migration 2
    /// verbatim: `migrate_store!` adopts that record by its checksum, so the template must
    /// never change (nor may any applied template: `Modified`).
    #[test]
    fn the_forwards_templates_are_the_pre_release_migration_2() {
        for (template, checksum) in [
            (
                include_str!("../migrations/postgres/forwards/0001_forwards.sql"),
                "e24a5a5405fbd5bce95004af71b342aa1eebcd75a368676c159fde312206b6c4",
            ),
            (
                include_str!("../migrations/sqlite/forwards/0001_forwards.sql"),
                "d0e0509f7f710af6c55a22413eb2cf6b83035db11d26b561d385fbf011e27f38",
            ),
            (
                include_str!("../migrations/mysql/forwards/0001_forwards.sql"),
                "7b625bf926c1f53867ce08ed8e65b933581821c9d248dedea970063b416fbe76",
            ),
        ] {
            let m = Migration {
                version: 1,
                description: "",
                template,
            };
            assert_eq!(m.checksum(), checksum);
        }
    }
}
