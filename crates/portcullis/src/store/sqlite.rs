//! What only SQLite does: one file, created (private to its owner) and
//! migrated at start, in which one connection at a time may write.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::{Dialect, StoreResult, Unique};
use crate::config::DatabaseConfig;
use crate::private_files::{self, Audience};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// What the database file holds, for the warning about its mode.
const HOLDS: &str = "the signing keys and password hashes";

/// Opens the file (creating it, mode 0600, if needed) and brings its schema
/// up to date.
pub(super) async fn connect(url: &str, config: &DatabaseConfig) -> StoreResult<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?;
    let file = on_disk(url, &options);
    if let Some(file) = &file {
        prepare(file);
    }
    let options = options
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
    if let Some(file) = &file {
        check_companions(file);
    }
    Ok(pool)
}

/// The database file, unless the URL names an in-memory database.
fn on_disk(url: &str, options: &SqliteConnectOptions) -> Option<PathBuf> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    (!in_memory).then(|| options.get_filename().to_owned())
}

/// Creates the file private to its owner, or reports an existing one that
/// others may read. A failure to create it is left for SQLite to report
/// (a missing directory, say) when it opens the file.
fn prepare(file: &Path) {
    match private_files::create_private(file) {
        Ok(true) => tracing::info!(path = %file.display(), "created the database file"),
        Ok(false) => private_files::warn_if_exposed(file, HOLDS, Audience::Owner),
        Err(e) => {
            tracing::debug!(path = %file.display(), error = %e, "could not create the database file")
        }
    }
}

/// SQLite creates `-wal` and `-shm` with the database file's mode; ones left
/// over from before (a crash while the file was readable by others) keep
/// theirs. Those are brought down to the file's own mode when it is private;
/// otherwise the warning about the file stands for them too.
fn check_companions(file: &Path) {
    let Some(mode) = private_files::mode(file) else {
        return;
    };
    if mode & 0o077 != 0 {
        return;
    }
    for suffix in ["-wal", "-shm"] {
        let mut companion = file.as_os_str().to_owned();
        companion.push(suffix);
        let companion = PathBuf::from(companion);
        if private_files::mode(&companion).is_some_and(|m| m & 0o077 != 0)
            && !private_files::restrict(&companion, mode)
        {
            private_files::warn_if_exposed(&companion, HOLDS, Audience::Owner);
        }
    }
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
