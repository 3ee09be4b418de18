//! What only SQLite does: one file, created and migrated at start, in which
//! one connection at a time may write.

use std::str::FromStr;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::{Dialect, StoreResult, Unique};
use crate::config::DatabaseConfig;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Opens the file (creating it if needed) and brings its schema up to date.
pub(super) async fn connect(url: &str, config: &DatabaseConfig) -> StoreResult<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        // WAL lets readers go on while one connection writes.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .acquire_timeout(config.acquire_timeout)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

impl Dialect for SqlitePool {
    type Db = Sqlite;

    /// `BEGIN IMMEDIATE` takes the write lock up front. A deferred
    /// transaction would take it only at its first write, and fail with
    /// `SQLITE_BUSY` if another connection held it by then: `busy_timeout`
    /// cannot help a transaction that must upgrade a lock it already holds.
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }

    /// The write lock that `BEGIN IMMEDIATE` holds from the first read to the
    /// commit already serialises every writer of the file, whichever
    /// instance it belongs to.
    async fn begin_key_change(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        self.begin_write().await
    }

    /// Nothing: SQLite has one writer at a time, so the claiming statement
    /// already runs alone.
    fn skip_locked(&self) -> &'static str {
        ""
    }

    /// SQLite names no constraint; its message names the column:
    /// `UNIQUE constraint failed: users.username_key`.
    fn collision(error: &dyn DatabaseError) -> Option<Unique> {
        let message = error.message();
        if message.contains("users.username_key") {
            Some(Unique::Username)
        } else if message.contains("users.email_key") {
            Some(Unique::Email)
        } else {
            None
        }
    }
}
