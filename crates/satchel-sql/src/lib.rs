//! # satchel-sql: SQL session stores for satchel, on sqlx
//!
//! [`PostgresStore`] (feature `postgres`), [`SqliteStore`] (feature `sqlite`) and
//! [`MySqlStore`] (feature `mysql`, MariaDB ≥ 10.7 or MySQL ≥ 8.0) implement
//! [`satchel::SessionStore`] with every optional capability (owner index, purge, atomic
//! patches, id renewal). [`SqlStore`] picks one of them from a URL, for tools and configuration files.
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use satchel::{Engine, SessionConfig};
//! use satchel_sql::{PostgresStore, SqlOptions};
//!
//! let options = SqlOptions::default().with_table("sessions")?;
//! let store = PostgresStore::connect_with("postgres://app@db/app", options).await?;
//! store.migrate().await?; // idempotent; run it at start-up or from `satchel migrate`
//! let engine = Engine::new(store, SessionConfig::default());
//! # let _ = engine; Ok(()) }
//! ```
//!
//! ## Schema
//! One table (default `satchel_sessions`, see [`SqlOptions::with_table`]) keyed by the
//! SHA-256 of the session id (`id_hash`, 32 bytes), with the data as one JSON object
//! (`JSONB` on PostgreSQL, JSON text elsewhere), a format version, the creation time, the
//! idle timeout, the idle and absolute deadlines (BIGINT milliseconds since the epoch), the
//! persistent flag and the owner. Two indexes: `owner` (for listing and revoking a user's
//! sessions) and `expires_at`, the earlier deadline rounded **up** to the whole minute. The
//! rounding means an ordinary write moves the indexed column only once a minute per
//! session, so most writes leave every index alone (on PostgreSQL they are HOT updates);
//! loads compare the exact deadlines, so rounding never makes an expired session visible.
//!
//! There is no version column: the contract detects conflicts per key (each patch carries
//! the values it read), and every write is one statement guarded by those values. See
//! each backend's module docs for the exact statements.
//!
//! A second table, `<table>_forwards` (`id_hash`, `forward` bytes, `grace_until`, indexed
//! on `grace_until`), holds the forward records of periodic id renewal (see
//! [Renewal](#renewal-sec-49)).
//!
//! ## Migrations
//! Embedded, versioned SQL (`migrations/<backend>/NNNN_*.sql`), run by
//! [`PostgresStore::migrate`] (and friends) or `satchel migrate --store URL`. They are
//! recorded in a table of their own, `<table>_migrations`, not in sqlx's
//! `_sqlx_migrations`, so they never mix with the application's own sqlx migrations.
//! The forwards table has its own set (`migrations/<backend>/forwards/`) and its own
//! record, `<table>_forwards_migrations`, run by the same `migrate()` after the sessions'
//! set (as [`SqlRevocations`] records its table in `<table>_revocations_migrations`): a
//! component added later never moves the sessions' version, which older builds check.
//! [`MigrationReport::applied`] / [`MigrationReport::version`] are the sessions' set,
//! [`MigrationReport::forwards_applied`] / [`MigrationReport::forwards_version`] the
//! forwards table's.
//!
//! ## Cleanup
//! On by default: a tokio task deletes expired rows in bounded batches through the
//! `expires_at` index every [`CleanupOptions::interval`] and stops when the last clone of
//! the store is dropped (or on [`CleanupHandle::shutdown`]). Anonymous visitors who store
//! nothing never reach the table in the first place.
//!
//! ## Renewal (SEC-49)
//! Every store claims [`satchel::Capabilities::renewal`], so an engine configured with
//! `renew_id_after` accepts it (`docs/id-renewal.md`).
//!
//! - **Where forwards live**: in `<table>_forwards`, never in the sessions table, so no
//!   session statement can read a forward as a session: `load`, `apply`, `touch`,
//!   `rotate`, `renew` on an old key find no row (absent / `Gone`), `sessions_of` and the
//!   admin listings never list one, and the owner column and index only ever hold
//!   sessions. Those statements are unchanged; the hot paths (`load`, `apply`, `touch`)
//!   cost what they did.
//! - **`renew`**: the rotate `UPDATE` (same guards, same `Gone` / `Conflict` / `KeyTaken`
//!   / `TooLarge` diagnosis) plus an upsert of the forward under the old key, atomically:
//!   PostgreSQL one statement (the `INSERT` selects from the `UPDATE`'s `RETURNING`, so it
//!   writes exactly when the move did); SQLite a transaction of `UPDATE … RETURNING` and
//!   `INSERT` (2 statements); MySQL/MariaDB a transaction of `UPDATE`, the read-back of the
//!   deadline and `INSERT` (3 statements plus `BEGIN`/`COMMIT`). Concurrent renewals of
//!   one key: the row lock lets one move it, the others find it gone. A cancelled renewal
//!   rolls back (nothing moved, no forward).
//! - **`load_forward`**: one primary-key `SELECT … WHERE grace_until > now`; the bytes go
//!   to the engine as stored (SQLite reads any value as bytes): a malformed forward is the
//!   engine's to refuse (absent, one `bad_forward` anomaly), never an error here.
//! - **`create`**: still one statement; a live forward under the key makes it
//!   `KeyTaken` (`INSERT … SELECT … WHERE NOT EXISTS`, a primary-key probe).
//! - **`delete`**: removes the session and the forward under the key: one statement on
//!   PostgreSQL (writable CTE) and MySQL (multi-table `DELETE`), two on SQLite.
//! - **Expiry**: a forward is dead at `grace_until` for every read; cleanup and
//!   `purge_expired` (so `satchel purge`) delete dead forwards after the expired sessions,
//!   within the same batch limit.
//!
//! **Deployment.** The forwards table is additive and recorded apart: its migration is
//! version 1 of `<table>_forwards_migrations`, and the sessions' `<table>_migrations` stays
//! at version 1 (the sessions table is unchanged). So:
//! 1. *Migration order*: run `migrate()` (or `satchel migrate`) **before** this code
//!    serves: its `create`, `delete`, purge, `renew` and `load_forward` name the forwards
//!    table and fail (`Backend` error) on a database without it. Migrating while older
//!    instances serve is safe: their statements never name the new table, and their own
//!    `migrate()` still finds only version 1 in `<table>_migrations` (it never reads the
//!    forwards ledger), so an older instance that migrates at start-up keeps starting,
//!    mid-rollout or after a rollback. Rolling back needs nothing: the forwards table and
//!    its ledger may stay (migrating again later keeps them).
//! 2. *Forwards under older code*: an older instance never reads the forwards table, so
//!    it never mistakes a forward for a session (nothing to decode, nothing to corrupt);
//!    to it an old id inside the grace window is simply unknown (anonymous, cookie
//!    removed), as without renewal. Its `delete` and cleanup leave forwards alone (newer
//!    instances' cleanup removes them). So turn renewal on (`renew_id_after`) only once
//!    every instance runs this code; until then nothing is renewed and nothing changes.
//!
//! A database migrated by a pre-release build of this feature, which recorded the forwards
//! table as **version 2 of `<table>_migrations`**, is taken over by `migrate()`: that
//! record (recognised by its checksum: the template is the same) moves to
//! `<table>_forwards_migrations` with its original time, the forwards table and its rows
//! stay, and `<table>_migrations` is back at version 1, so older builds start on it again.
//! Any other version 2 there is not satchel's and `migrate()` answers
//! [`MigrateError::Newer`], as before.
//!
//! Left as they are: the admin listing and `satchel stats` never show forwards (they are
//! not sessions), while `satchel purge` counts the dead forwards it deletes among its
//! rows; `revoke_owner` leaves forwards to the revoked sessions until their deadline (they
//! lead to a session that no longer exists, so the old id is unknown anyway).
//!
//! ## Values
//! Values are JSON text. PostgreSQL's JSONB normalises it (`{"a":[1,2]}` comes back as
//! `{"a": [1, 2]}`, key order and duplicate keys are normalised); MariaDB and SQLite keep
//! the compact text. Either way `Value::deserialize` gives back the same value, and the
//! conflict check compares values as JSON (PostgreSQL: JSONB equality; MariaDB:
//! `JSON_EQUALS`; SQLite: the minified text). Sizes for `Patch::max_data_bytes` are measured
//! on the stored text of each value, so they can differ by a few bytes from the engine's
//! count for values that JSONB re-formats.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
// Without a backend feature only the shared plumbing is compiled, and nothing uses it.
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite", feature = "mysql")),
    allow(dead_code, unused_imports, unused_macros)
)]

mod cleanup;
mod codec;
mod config;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
mod dynamic;
mod error;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
mod held;
mod migrate;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod shared_store;

#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod admin;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod any;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod revocations;

#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub use any::{SqlStore, SqlUrlError};
pub use cleanup::{CleanupHandle, CleanupStats};
pub use config::{CleanupOptions, InvalidName, SqlOptions, DEFAULT_TABLE};
pub use migrate::{MigrateError, MigrationReport};
#[cfg(feature = "mysql")]
pub use mysql::MySqlStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub use revocations::SqlRevocations;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// The granularity of the indexed `expires_at` column, in milliseconds (see the crate docs).
pub const EXPIRY_BUCKET_MS: i64 = 60_000;
