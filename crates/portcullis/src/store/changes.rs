//! Changes other instances make, pushed by PostgreSQL `LISTEN/NOTIFY`.
//!
//! The notifications are sent by triggers (`migrations/postgres/0002_notify.sql`),
//! not by the code that revokes: every revocation — from any instance, an
//! admin command, or an operator's own `UPDATE` — notifies, in the same
//! transaction, so a listener hears about exactly the committed ones.
//!
//! PostgreSQL delivers notifications in commit order. That is what makes the
//! heartbeat useful: an instance notifies its own private channel with the time
//! it sent the heartbeat; when the heartbeat comes back, every revocation
//! committed before that time has already come through the same connection.
//! A notification sent while the listener was disconnected is lost for good,
//! so a new feed must be followed by a reload from the tables.

use sqlx::postgres::{PgListener, PgNotification, PgPool};
use time::OffsetDateTime;

use super::{Backend, Store, StoreError, StoreResult};
use crate::clock::from_unix_millis;
use crate::domain::{SessionId, UserId};

/// Channel of revocations; payload `<session id> <revoked_at in ms>`.
const REVOCATIONS: &str = "portcullis_revocations";
/// Channel of signing-key changes; no payload.
const KEYS: &str = "portcullis_keys";
/// Channel of changes to a user that `GET /api/auth/session` shows or
/// depends on; payload `<user id>`.
const USERS: &str = "portcullis_users";
/// Prefix of each instance's private heartbeat channel.
const HEARTBEAT_PREFIX: &str = "portcullis_heartbeat_";

/// What a SQLite store answers when asked for notifications.
const UNSUPPORTED: StoreError =
    StoreError::Unsupported("SQLite has no notifications; poll instead");

impl Store {
    /// Whether other instances' changes are pushed to this one
    /// ([`Store::subscribe`]); otherwise they must be polled for.
    pub fn pushes_changes(&self) -> bool {
        matches!(self.pool, Backend::Postgres(_))
    }

    /// Starts listening for other instances' changes and for this instance's
    /// heartbeats on `heartbeat`; PostgreSQL only.
    pub async fn subscribe(&self, heartbeat: HeartbeatChannel) -> StoreResult<ChangeFeed> {
        match &self.pool {
            Backend::Postgres(pool) => self.bounded(ChangeFeed::subscribe(pool, heartbeat)).await,
            Backend::Sqlite(_) => Err(UNSUPPORTED),
        }
    }

    /// Sends a heartbeat that the feed subscribed with `channel` will return
    /// as [`Change::Heartbeat`]; PostgreSQL only.
    pub async fn send_heartbeat(&self, channel: &HeartbeatChannel, mark: u64) -> StoreResult<()> {
        match &self.pool {
            Backend::Postgres(pool) => self.bounded(send_heartbeat(pool, channel, mark)).await,
            Backend::Sqlite(_) => Err(UNSUPPORTED),
        }
    }
}

/// One change announced by the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A session was revoked at this time.
    Revoked(SessionId, OffsetDateTime),
    /// A signing key was added, retired or removed.
    KeysChanged,
    /// A user was changed (name, address, its verification, disabled, the
    /// sessions it still accepts) or deleted.
    UserChanged(UserId),
    /// This instance's heartbeat came back, with the mark it was sent with.
    Heartbeat(u64),
}

/// An instance's private heartbeat channel: a random name, so that no other
/// instance receives (or can be confused by) its heartbeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatChannel(String);

impl HeartbeatChannel {
    /// A new channel name, unique to this process.
    pub fn random() -> Self {
        // 21 + 32 characters: within PostgreSQL's 63-byte identifiers.
        Self(format!(
            "{HEARTBEAT_PREFIX}{}",
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// The channel name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A live subscription. Any error from [`ChangeFeed::next`] means the
/// connection is gone and notifications may have been lost: drop the feed,
/// subscribe again, and reload.
pub struct ChangeFeed {
    listener: PgListener,
    heartbeat: HeartbeatChannel,
}

impl ChangeFeed {
    /// Listens on the shared channels and on `heartbeat`, on a connection
    /// taken from `pool` (and held for as long as the feed lives).
    async fn subscribe(pool: &PgPool, heartbeat: HeartbeatChannel) -> StoreResult<Self> {
        let mut listener = PgListener::connect_with(pool).await?;
        // Reconnecting behind our back would hide lost notifications; the
        // caller reconnects itself and reloads.
        listener.eager_reconnect(false);
        listener
            .listen_all([REVOCATIONS, KEYS, USERS, heartbeat.as_str()])
            .await?;
        Ok(Self {
            listener,
            heartbeat,
        })
    }

    /// The next change; waits as long as it takes.
    pub async fn next(&mut self) -> StoreResult<Change> {
        loop {
            let notification = self
                .listener
                .try_recv()
                .await?
                .ok_or(StoreError::Disconnected)?;
            match self.parse(&notification) {
                Some(change) => return Ok(change),
                None => tracing::warn!(
                    channel = notification.channel(),
                    payload = notification.payload(),
                    "ignored a malformed notification"
                ),
            }
        }
    }

    fn parse(&self, notification: &PgNotification) -> Option<Change> {
        let payload = notification.payload();
        match notification.channel() {
            REVOCATIONS => {
                let (id, at) = payload.split_once(' ')?;
                Some(Change::Revoked(
                    id.parse().ok()?,
                    from_unix_millis(at.parse().ok()?),
                ))
            }
            KEYS => Some(Change::KeysChanged),
            USERS => payload.parse().ok().map(Change::UserChanged),
            channel if channel == self.heartbeat.as_str() => {
                payload.parse().ok().map(Change::Heartbeat)
            }
            _ => None,
        }
    }
}

/// Sends a heartbeat carrying `mark` to `channel`.
async fn send_heartbeat(pool: &PgPool, channel: &HeartbeatChannel, mark: u64) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel.as_str())
        .bind(mark.to_string())
        .execute(pool)
        .await?;
    Ok(())
}
