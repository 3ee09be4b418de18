//! All persistent state, behind one [`Store`] type.
//!
//! The store speaks in records and domain types; SQL lives only in the backend
//! files (`sqlite.rs`, and `postgres.rs` for deployments with several
//! instances), and each backend has its own migrations. Times are stored as
//! milliseconds since the Unix epoch in both, so no backend's time type leaks
//! into the rest of the code.
//!
//! Every operation is bounded in time ([`StoreError::Timeout`]): a database
//! that has gone silent (a cut network, not a refused connection) must turn
//! into a prompt 503, not into requests that hang until TCP gives up.
//!
//! On PostgreSQL the store also pushes what other instances change
//! ([`changes`]): revocations and key rotations arrive as notifications.

pub mod changes;
mod postgres;
mod records;
mod sqlite;

use std::time::Duration;

use secrecy::ExposeSecret;
use time::OffsetDateTime;

pub use records::{
    AuditEntry, AuditFilter, AuditRecord, KeyRecord, NewSession, NewUser, RevokeReason, Rotation,
    SessionRecord, TokenRecord, Unique, UserRecord,
};

use crate::config::DatabaseConfig;
use crate::domain::{LoginName, SessionId, UserId};

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
    backend: Backend,
    /// The longest one operation may take, waiting for a connection included.
    limit: Duration,
}

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// Calls the same method on whichever backend is configured, within the
/// store's time limit.
macro_rules! dispatch {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        $self
            .bounded(async {
                match &$self.backend {
                    Backend::Sqlite(s) => s.$method($($arg),*).await,
                    Backend::Postgres(s) => s.$method($($arg),*).await,
                }
            })
            .await
    };
}

impl Store {
    /// Connects (creating a SQLite file if needed) and applies migrations.
    pub async fn connect(config: &DatabaseConfig) -> StoreResult<Self> {
        let url = config.url.expose_secret();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite(sqlite::SqliteStore::connect(url, config).await?)
        } else if config.is_postgres() {
            Backend::Postgres(postgres::PgStore::connect(url, config).await?)
        } else {
            return Err(StoreError::Unsupported(
                "the database URL must start with sqlite:, postgres:// or postgresql://",
            ));
        };
        Ok(Store {
            backend,
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
        dispatch!(self.ping())
    }

    /// Closes every connection, waiting for those in use.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(s) => s.close().await,
            Backend::Postgres(s) => s.close().await,
        }
    }

    /// Whether other instances' changes are pushed to this one
    /// ([`Store::subscribe`]); otherwise they must be polled for.
    pub fn pushes_changes(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Starts listening for other instances' changes and for this instance's
    /// heartbeats on `heartbeat`; PostgreSQL only.
    pub async fn subscribe(
        &self,
        heartbeat: changes::HeartbeatChannel,
    ) -> StoreResult<changes::ChangeFeed> {
        match &self.backend {
            Backend::Postgres(s) => {
                self.bounded(changes::ChangeFeed::subscribe(s.pool(), heartbeat))
                    .await
            }
            Backend::Sqlite(_) => Err(StoreError::Unsupported(
                "SQLite has no notifications; poll instead",
            )),
        }
    }

    /// Sends a heartbeat that the feed subscribed with `channel` will return
    /// as [`changes::Change::Heartbeat`]; PostgreSQL only.
    pub async fn send_heartbeat(
        &self,
        channel: &changes::HeartbeatChannel,
        mark: u64,
    ) -> StoreResult<()> {
        match &self.backend {
            Backend::Postgres(s) => {
                self.bounded(changes::send_heartbeat(s.pool(), channel, mark))
                    .await
            }
            Backend::Sqlite(_) => Err(StoreError::Unsupported(
                "SQLite has no notifications; poll instead",
            )),
        }
    }

    /// Creates a user; [`StoreError::Conflict`] when the name or address is taken.
    pub async fn insert_user(&self, user: NewUser<'_>) -> StoreResult<UserRecord> {
        dispatch!(self.insert_user(user))
    }

    /// The user a sign-in name refers to.
    pub async fn user_by_login(&self, login: &LoginName) -> StoreResult<Option<UserRecord>> {
        dispatch!(self.user_by_login(login))
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: UserId) -> StoreResult<Option<UserRecord>> {
        dispatch!(self.user_by_id(id))
    }

    /// Every user, oldest first.
    pub async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        dispatch!(self.list_users())
    }

    /// Disables or re-enables a user; `false` when there is no such user.
    pub async fn set_user_disabled(
        &self,
        id: UserId,
        disabled: bool,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        dispatch!(self.set_user_disabled(id, disabled, now))
    }

    /// Replaces a user's password hash.
    pub async fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        dispatch!(self.set_password_hash(id, hash, now))
    }

    /// Creates a user and their first session in one transaction: both or
    /// neither. [`StoreError::Conflict`] when the name or address is taken.
    pub async fn insert_user_with_session(
        &self,
        user: NewUser<'_>,
        session: NewSession<'_>,
    ) -> StoreResult<UserRecord> {
        dispatch!(self.insert_user_with_session(user, session))
    }

    /// Starts a session with its first refresh token.
    pub async fn insert_session(&self, session: NewSession<'_>) -> StoreResult<()> {
        dispatch!(self.insert_session(session))
    }

    /// The session with this id, revoked or not.
    pub async fn session(&self, id: SessionId) -> StoreResult<Option<SessionRecord>> {
        dispatch!(self.session(id))
    }

    /// The session and generation a refresh-token hash was issued for.
    pub async fn refresh_token(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenRecord>> {
        dispatch!(self.refresh_token(hash))
    }

    /// Advances a live session by one generation, atomically: `false` when the
    /// session is no longer at `rotation.from_generation` (another request
    /// rotated it first) or was revoked.
    pub async fn rotate(&self, rotation: Rotation<'_>) -> StoreResult<bool> {
        dispatch!(self.rotate(rotation))
    }

    /// Revokes one session; `false` when it was already revoked or does not
    /// exist. `owner` restricts it to one user's sessions.
    pub async fn revoke_session(
        &self,
        id: SessionId,
        owner: Option<UserId>,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        dispatch!(self.revoke_session(id, owner, reason, now))
    }

    /// Revokes every live session of a user but `except`; returns their ids.
    pub async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<SessionId>> {
        dispatch!(self.revoke_user_sessions(user, except, reason, now))
    }

    /// A user's sessions that are neither revoked nor past `live_after`
    /// (refreshed after it) nor past their absolute end; newest first.
    pub async fn live_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
        refreshed_after: OffsetDateTime,
    ) -> StoreResult<Vec<SessionRecord>> {
        dispatch!(self.live_sessions(user, now, refreshed_after))
    }

    /// Sessions revoked at or after `since`, with their revocation time.
    pub async fn revoked_since(
        &self,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<(SessionId, OffsetDateTime)>> {
        dispatch!(self.revoked_since(since))
    }

    /// Deletes sessions (and their refresh tokens) that ended before `before`.
    pub async fn purge_sessions(&self, before: OffsetDateTime) -> StoreResult<u64> {
        dispatch!(self.purge_sessions(before))
    }

    /// Signing keys still published at `now`.
    pub async fn signing_keys(&self, now: OffsetDateTime) -> StoreResult<Vec<KeyRecord>> {
        dispatch!(self.signing_keys(now))
    }

    /// Adds `key` unless an unretired key already exists; `true` when added.
    pub async fn insert_first_key(&self, key: &KeyRecord) -> StoreResult<bool> {
        dispatch!(self.insert_first_key(key))
    }

    /// Adds `key` and retires every other unretired key at `key.signs_from`,
    /// keeping it published until `verify_until`.
    pub async fn rotate_keys(
        &self,
        key: &KeyRecord,
        verify_until: OffsetDateTime,
    ) -> StoreResult<()> {
        dispatch!(self.rotate_keys(key, verify_until))
    }

    /// Like [`Store::rotate_keys`], but only when no key was scheduled to
    /// sign at or after `due_before`: decided in the same transaction as the
    /// write, so instances checking at once rotate once. `true` when rotated.
    pub async fn rotate_keys_if_due(
        &self,
        key: &KeyRecord,
        verify_until: OffsetDateTime,
        due_before: OffsetDateTime,
    ) -> StoreResult<bool> {
        dispatch!(self.rotate_keys_if_due(key, verify_until, due_before))
    }

    /// The connection pool's current use; no query is sent.
    pub async fn pool_status(&self) -> StoreResult<PoolStatus> {
        dispatch!(self.pool_status())
    }

    /// The failed sign-ins recorded for an account name: count and last time.
    pub async fn login_failures(&self, key: &str) -> StoreResult<Option<(i64, OffsetDateTime)>> {
        dispatch!(self.login_failures(key))
    }

    /// Counts one more failed sign-in for an account name, starting over when
    /// the last one was before `forget_before`; returns the new count.
    pub async fn record_login_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> StoreResult<i64> {
        dispatch!(self.record_login_failure(key, now, forget_before))
    }

    /// Forgets an account name's failed sign-ins.
    pub async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        dispatch!(self.clear_login_failures(key))
    }

    /// Appends a security event to the audit log.
    pub async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        dispatch!(self.append_audit(entry))
    }

    /// Reads audit events, newest first.
    pub async fn audit_events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        dispatch!(self.audit_events(filter))
    }
}
