//! One pooled connection for one guarded write, inside a transaction when the write is a
//! renewal (SQLite and MySQL/MariaDB move the row and write the forward in one
//! transaction; PostgreSQL does both in one statement and needs none of this).

use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool, Transaction};

/// A connection held for the statements of one write attempt.
pub(crate) enum Held<DB: Database> {
    /// Autocommit: each statement stands alone (apply, rotate).
    Plain(PoolConnection<DB>),
    /// A renewal: the move and the forward commit together or not at all. Dropped without
    /// [`Held::end`] (a cancelled request), sqlx rolls it back.
    Tx(Transaction<'static, DB>),
}

impl<DB: Database> Held<DB> {
    /// A connection from `pool`, in a transaction if `tx`.
    pub(crate) async fn open(pool: &Pool<DB>, tx: bool) -> Result<Self, sqlx::Error> {
        Ok(if tx {
            Held::Tx(pool.begin().await?)
        } else {
            Held::Plain(pool.acquire().await?)
        })
    }

    /// The connection, to run a statement on.
    pub(crate) fn conn(&mut self) -> &mut DB::Connection {
        match self {
            Held::Plain(conn) => conn,
            Held::Tx(tx) => tx,
        }
    }

    /// Ends the attempt: commits the transaction if `commit`, else rolls it back (a plain
    /// connection just goes back to the pool).
    pub(crate) async fn end(self, commit: bool) -> Result<(), sqlx::Error> {
        match self {
            Held::Plain(_) => Ok(()),
            Held::Tx(tx) if commit => tx.commit().await,
            Held::Tx(tx) => tx.rollback().await,
        }
    }
}
