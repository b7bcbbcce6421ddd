//! Embedded, versioned migrations and the plan of which to run.
//!
//! Why not sqlx's `Migrator`: it records every migration in one `_sqlx_migrations` table per
//! database, which the application's own sqlx migrations use too (our version 1 would be
//! mistaken for theirs, or theirs for ours), and its migrations are fixed text while ours
//! name a configurable table. So each backend keeps its templates in
//! `migrations/<backend>/NNNN_*.sql`, renders them with the validated table name, and records
//! them in `<table>_migrations` (version, description, checksum of the template, time),
//! all under a lock so that instances starting together migrate once.

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
    MigrationReport { applied, version }
}

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
}
