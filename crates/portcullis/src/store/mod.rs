//! All persistent state, behind one [`Store`] type.
//!
//! The store speaks in records and domain types; SQL lives only here. Times
//! are stored as milliseconds since the Unix epoch and ids as text in both
//! databases, so no backend's time type leaks into the rest of the code and
//! the two schemas have the same tables with the same column types.
//!
//! Every operation is bounded in time ([`StoreError::Timeout`]): a database
//! that has gone silent (a cut network, not a refused connection) must turn
//! into a prompt 503, not into requests that hang until TCP gives up.
//!
//! # One text per query
//!
//! sqlx's SQLite driver takes PostgreSQL's `$1` placeholders, and every
//! statement the store sends is valid in both dialects (`CAST($1 AS TEXT)`
//! types a parameter that PostgreSQL could not infer, `IS DISTINCT FROM`,
//! `ON CONFLICT` and `RETURNING` exist in both), so each operation is one
//! method of [`Store`], written once in the file of what it touches:
//! `users.rs`, `sessions.rs`, `keys.rs`, `throttle.rs`, `audit.rs`,
//! `email.rs`, `mfa.rs`, `passkeys.rs`, `outbox.rs`, `secrets.rs`, `identities.rs`. Its
//! body is passed to the
//! `on_backend!` macro, which expands it once per backend, with that
//! backend's concrete pool type, inside the store's time limit.
//!
//! Why a macro over the body rather than the alternatives:
//! - `sqlx::Any` decides types at run time: it decodes a `bool` only from a
//!   boolean column, which SQLite does not have; it opens SQLite from a URL
//!   alone, without WAL or a busy timeout; and it would be one more driver
//!   layer to build and to trust.
//! - Functions generic over `sqlx::Database` need a higher-ranked bound for
//!   every type bound or decoded (`for<'q> i64: Encode<'q, DB> + Type<DB>`,
//!   `for<'r> UserRow: FromRow<'r, DB::Row>` …), which Rust does not imply
//!   from a trait, and `Store` would still repeat each signature to dispatch.
//! - Shared `const` strings would leave the binding code written twice.
//!
//! What it costs: a mistake in a body is reported once per backend.
//!
//! What really differs lives in `sqlite.rs` and `postgres.rs`: connecting and
//! migrating, how a transaction that must not interleave with another takes
//! its lock, how a unique violation names its constraint (all three behind
//! the `Dialect` trait), and on PostgreSQL the notifications of other
//! instances' changes ([`changes`]).

pub mod changes;
mod postgres;
mod records;
mod sqlite;

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::error::DatabaseError;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Database, Transaction};

pub use keys::KeyRevocation;
pub use records::{
    AuditEntry, AuditFilter, AuditRecord, KeyRecord, NewSession, NewUser, RevokeReason, Rotation,
    SessionRecord, TokenRecord, Unique, UserRecord,
};

use crate::config::DatabaseConfig;

/// Runs `$body` with `$x` bound to the value `$value` holds for whichever
/// backend is in use. The body is written once and compiled once per
/// backend, each time against that backend's concrete types.
macro_rules! each_backend {
    ($value:expr, |$x:ident| $body:expr) => {
        match $value {
            Backend::Sqlite($x) => $body,
            Backend::Postgres($x) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the store's pool, within the store's
/// time limit: the body of one store operation.
macro_rules! on_backend {
    ($store:ident, |$pool:ident| $body:expr) => {
        $store
            .bounded(async { each_backend!(&$store.pool, |$pool| $body) })
            .await
    };
}

mod audit;
mod email;
mod identities;
mod keys;
mod mfa;
mod outbox;
mod passkeys;
mod secrets;
mod sessions;
mod throttle;
mod users;

pub use email::{EmailTokenRecord, NewEmailToken, Reset, TokenPurpose, Verified};
pub use identities::{FlowRecord, IdentityRecord, NewFlow, NewIdentity, PendingLink, Unlinked};
pub use mfa::{PendingRecord, TotpRecord};
pub use outbox::{MailRecord, NewMail};
pub use passkeys::{CeremonyRecord, PasskeyDeletion, PasskeyRecord};

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A username or e-mail address is already taken.
    #[error("the {0} is already taken")]
    Conflict(Unique),
    /// The database could not be reached or refused the operation; nothing was
    /// written.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The schema could not be brought up to date at start.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row holds a value this version cannot read.
    #[error("corrupt {0} in the database")]
    Corrupt(&'static str),
    /// The database URL names a backend this build cannot use, or the
    /// operation needs a backend feature this one lacks.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The operation did not finish within the configured time; if it was a
    /// write, its transaction either committed whole or not at all.
    #[error("the database did not answer in time")]
    Timeout,
    /// The connection that listens for notifications was lost; some may have
    /// been missed.
    #[error("lost the notification connection")]
    Disconnected,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

/// How busy the connection pool is, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open.
    pub size: u32,
    /// Of those, connections not in use.
    pub idle: u32,
    /// The most the pool may open.
    pub max: u32,
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// The handle to the database: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Store {
    /// The pool of whichever database the configuration names.
    pool: Backend<SqlitePool, PgPool>,
    /// The longest one operation may take, waiting for a connection included.
    limit: Duration,
}

/// One value per backend, of which a store holds the one in use: its pool,
/// or a connection inside a transaction ([`Conn`]). [`each_backend!`] runs
/// the same code on either.
#[derive(Clone, Debug)]
enum Backend<S, P> {
    /// One file, for a single instance.
    Sqlite(S),
    /// A server that several instances share.
    Postgres(P),
}

/// A connection inside the caller's transaction, for the steps that several
/// operations share.
type Conn<'c> = Backend<&'c mut SqliteConnection, &'c mut PgConnection>;

impl<'c> From<&'c mut SqliteConnection> for Conn<'c> {
    fn from(conn: &'c mut SqliteConnection) -> Self {
        Backend::Sqlite(conn)
    }
}

impl<'c> From<&'c mut PgConnection> for Conn<'c> {
    fn from(conn: &'c mut PgConnection) -> Self {
        Backend::Postgres(conn)
    }
}

/// What the backends do differently beneath the shared SQL, and nothing
/// else; each implementation says why it does what it does.
trait Dialect {
    /// The sqlx driver.
    type Db: Database;

    /// Begins a transaction that decides what to write from what it reads
    /// (a refresh-token rotation), such that of two at once on the same rows
    /// only one can act on what it read.
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Self::Db>>;

    /// Begins a transaction that changes the signing keys, serialised
    /// against every other such transaction of any instance: two at once
    /// would each retire only the keys they saw and leave two keys signing,
    /// or both create a "first" key.
    async fn begin_key_change(&self) -> sqlx::Result<Transaction<'static, Self::Db>>;

    /// Which unique value of a user a unique violation collided on.
    fn collision(error: &dyn DatabaseError) -> Option<Unique>;

    /// What a `SELECT` that picks a row for one worker of several to claim
    /// ends with, so that workers claiming at once take different rows.
    fn skip_locked(&self) -> &'static str;

    /// `error` as a [`StoreError::Conflict`] when it is a collision on a
    /// user's unique values.
    fn conflict(&self, error: sqlx::Error) -> StoreError {
        error
            .as_database_error()
            .filter(|db| db.is_unique_violation())
            .and_then(Self::collision)
            .map_or(StoreError::Database(error), StoreError::Conflict)
    }
}

impl Store {
    /// Connects (creating a SQLite file if needed) and applies migrations.
    pub async fn connect(config: &DatabaseConfig) -> StoreResult<Self> {
        let url = config.url.expose_secret();
        let pool = if url.starts_with("sqlite:") {
            Backend::Sqlite(sqlite::connect(url, config).await?)
        } else if config.is_postgres() {
            Backend::Postgres(postgres::connect(url, config).await?)
        } else {
            return Err(StoreError::Unsupported(
                "the database URL must start with sqlite:, postgres:// or postgresql://",
            ));
        };
        Ok(Store {
            pool,
            limit: config.acquire_timeout + config.statement_timeout,
        })
    }

    /// Runs one operation within the time limit. Dropping a sqlx future
    /// mid-transaction rolls the transaction back, so a timeout never leaves
    /// half a write behind.
    async fn bounded<T>(&self, operation: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        tokio::time::timeout(self.limit, operation)
            .await
            .unwrap_or(Err(StoreError::Timeout))
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        })
    }

    /// Closes every connection, waiting for those in use.
    pub async fn close(&self) {
        each_backend!(&self.pool, |pool| pool.close().await);
    }

    /// The connection pool's current use; no query is sent.
    pub async fn pool_status(&self) -> StoreResult<PoolStatus> {
        each_backend!(&self.pool, |pool| Ok(PoolStatus {
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }))
    }
}
