//! The SQLite backend: one file, created and migrated at start.
//!
//! Writes that read before they write (rotation, key rotation) run in
//! `BEGIN IMMEDIATE` transactions, which take the write lock up front: a
//! deferred transaction would fail with `SQLITE_BUSY` when it tried to upgrade
//! while another connection held the lock, and `busy_timeout` cannot help then.

use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use time::OffsetDateTime;

use super::records::{AuditRow, KeyRow, RevokedRow, SessionRow, TokenRow, UserRow, convert_all};
use super::{
    AuditEntry, AuditFilter, AuditRecord, KeyRecord, NewSession, NewUser, PoolStatus, RevokeReason,
    Rotation, SessionRecord, StoreError, StoreResult, TokenRecord, Unique, UserRecord,
};
use crate::clock::{from_unix_millis, unix_millis};
use crate::config::DatabaseConfig;
use crate::domain::{LoginName, SessionId, UserId};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const USER_COLUMNS: &str = "id, username, email, password_hash, disabled, created_at";
const SESSION_COLUMNS: &str = "id, user_id, created_at, refreshed_at, expires_at, generation, \
     successor_seal, revoked_at, user_agent, client_addr";
const KEY_COLUMNS: &str =
    "kid, algorithm, private_key, public_key, created_at, signs_from, retired_at, verify_until";

#[derive(Clone, Debug)]
pub(super) struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub(super) async fn connect(url: &str, config: &DatabaseConfig) -> StoreResult<Self> {
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
        Ok(Self { pool })
    }

    pub(super) async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }

    pub(super) async fn insert_user(&self, user: NewUser<'_>) -> StoreResult<UserRecord> {
        let mut conn = self.pool.acquire().await?;
        insert_user_on(&mut conn, &user).await?.try_into()
    }

    pub(super) async fn insert_user_with_session(
        &self,
        user: NewUser<'_>,
        session: NewSession<'_>,
    ) -> StoreResult<UserRecord> {
        let mut tx = self.pool.begin().await?;
        let user = insert_user_on(&mut tx, &user).await?.try_into()?;
        insert_session_on(&mut tx, &session).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub(super) async fn user_by_login(&self, login: &LoginName) -> StoreResult<Option<UserRecord>> {
        let column = match login {
            LoginName::Email(_) => "email_key",
            LoginName::Username(_) => "username_key",
        };
        let row: Option<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {column} = ?"
        ))
        .bind(login.key())
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    pub(super) async fn user_by_id(&self, id: UserId) -> StoreResult<Option<UserRecord>> {
        let row: Option<UserRow> =
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.map(TryInto::try_into).transpose()
    }

    pub(super) async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        let rows: Vec<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        convert_all(rows)
    }

    pub(super) async fn set_user_disabled(
        &self,
        id: UserId,
        disabled: bool,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?")
            .bind(disabled)
            .bind(unix_millis(now))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
            .bind(hash)
            .bind(unix_millis(now))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn insert_session(&self, s: NewSession<'_>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_session_on(&mut tx, &s).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn session(&self, id: SessionId) -> StoreResult<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    pub(super) async fn refresh_token(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenRecord>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT session_id, generation FROM refresh_tokens WHERE token_hash = ?",
        )
        .bind(&hash[..])
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    pub(super) async fn rotate(&self, r: Rotation<'_>) -> StoreResult<bool> {
        let now = unix_millis(r.now);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let advanced = sqlx::query(
            "UPDATE sessions SET generation = generation + 1, refreshed_at = ?, successor_seal = ? \
             WHERE id = ? AND generation = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&r.successor_seal[..])
        .bind(r.session_id.to_string())
        .bind(r.from_generation)
        .execute(&mut *tx)
        .await?;
        if advanced.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, generation, issued_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&r.token_hash[..])
        .bind(r.session_id.to_string())
        .bind(r.from_generation + 1)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn revoke_session(
        &self,
        id: SessionId,
        owner: Option<UserId>,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ?, successor_seal = NULL \
             WHERE id = ? AND revoked_at IS NULL AND (? IS NULL OR user_id = ?)",
        )
        .bind(unix_millis(now))
        .bind(reason.as_str())
        .bind(id.to_string())
        .bind(owner.map(|u| u.to_string()))
        .bind(owner.map(|u| u.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<SessionId>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ?, successor_seal = NULL \
             WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ? RETURNING id",
        )
        .bind(unix_millis(now))
        .bind(reason.as_str())
        .bind(user.to_string())
        .bind(except.map(|s| s.to_string()))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id,)| id.parse().map_err(|_| StoreError::Corrupt("session id")))
            .collect()
    }

    pub(super) async fn live_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
        refreshed_after: OffsetDateTime,
    ) -> StoreResult<Vec<SessionRecord>> {
        let rows: Vec<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND revoked_at IS NULL \
             AND expires_at > ? AND refreshed_at > ? ORDER BY created_at DESC, id"
        ))
        .bind(user.to_string())
        .bind(unix_millis(now))
        .bind(unix_millis(refreshed_after))
        .fetch_all(&self.pool)
        .await?;
        convert_all(rows)
    }

    pub(super) async fn revoked_since(
        &self,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<(SessionId, OffsetDateTime)>> {
        let rows: Vec<RevokedRow> =
            sqlx::query_as("SELECT id, revoked_at FROM sessions WHERE revoked_at >= ?")
                .bind(unix_millis(since))
                .fetch_all(&self.pool)
                .await?;
        convert_all(rows)
    }

    pub(super) async fn purge_sessions(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
            .bind(unix_millis(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn signing_keys(&self, now: OffsetDateTime) -> StoreResult<Vec<KeyRecord>> {
        let rows: Vec<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys \
             WHERE retired_at IS NULL OR verify_until > ? ORDER BY signs_from, kid"
        ))
        .bind(unix_millis(now))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(KeyRecord::from).collect())
    }

    pub(super) async fn insert_first_key(&self, key: &KeyRecord) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at, \
             signs_from) SELECT ?, ?, ?, ?, ?, ? \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(key.private_key.expose_secret())
        .bind(&key.public_key)
        .bind(unix_millis(key.created_at))
        .bind(unix_millis(key.signs_from))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn rotate_keys(
        &self,
        key: &KeyRecord,
        verify_until: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        replace_signing_key(&mut tx, key, verify_until).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn rotate_keys_if_due(
        &self,
        key: &KeyRecord,
        verify_until: OffsetDateTime,
        due_before: OffsetDateTime,
    ) -> StoreResult<bool> {
        // IMMEDIATE: the write lock is held from the check to the commit, so a
        // second instance checking at the same moment sees this rotation.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (newest,): (Option<i64>,) = sqlx::query_as("SELECT MAX(signs_from) FROM signing_keys")
            .fetch_one(&mut *tx)
            .await?;
        if newest.is_some_and(|newest| newest >= unix_millis(due_before)) {
            return Ok(false);
        }
        replace_signing_key(&mut tx, key, verify_until).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn pool_status(&self) -> StoreResult<PoolStatus> {
        Ok(PoolStatus {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        })
    }

    pub(super) async fn login_failures(
        &self,
        key: &str,
    ) -> StoreResult<Option<(i64, OffsetDateTime)>> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT failures, last_failure_at FROM login_failures WHERE account_key = ?",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(n, at)| (n, from_unix_millis(at))))
    }

    pub(super) async fn record_login_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> StoreResult<i64> {
        let (failures,): (i64,) = sqlx::query_as(
            "INSERT INTO login_failures (account_key, failures, last_failure_at) VALUES (?, 1, ?) \
             ON CONFLICT (account_key) DO UPDATE SET \
             failures = CASE WHEN login_failures.last_failure_at < ? THEN 1 \
                             ELSE login_failures.failures + 1 END, \
             last_failure_at = excluded.last_failure_at \
             RETURNING failures",
        )
        .bind(key)
        .bind(unix_millis(now))
        .bind(unix_millis(forget_before))
        .fetch_one(&self.pool)
        .await?;
        Ok(failures)
    }

    pub(super) async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE account_key = ?")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (at, kind, user_id, session_id, client_addr, user_agent, \
             detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(unix_millis(e.at))
        .bind(e.kind)
        .bind(e.user_id.map(|u| u.to_string()))
        .bind(e.session_id.map(|s| s.to_string()))
        .bind(e.client_addr.as_deref())
        .bind(e.user_agent.as_deref())
        .bind(e.detail.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn audit_events(&self, f: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, at, kind, user_id, session_id, client_addr, user_agent, detail \
             FROM audit_events WHERE (? IS NULL OR user_id = ?) \
             AND at >= ? AND at < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(f.user_id.map(|u| u.to_string()))
        .bind(f.user_id.map(|u| u.to_string()))
        .bind(f.since.map_or(i64::MIN, unix_millis))
        .bind(f.until.map_or(i64::MAX, unix_millis))
        .bind(i64::from(f.limit))
        .fetch_all(&self.pool)
        .await?;
        convert_all(rows)
    }
}

/// Retires every unretired key at `key.signs_from` (published until
/// `verify_until`) and adds `key`, inside the caller's transaction.
async fn replace_signing_key(
    tx: &mut sqlx::SqliteConnection,
    key: &KeyRecord,
    verify_until: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE signing_keys SET retired_at = ?, verify_until = ? WHERE retired_at IS NULL",
    )
    .bind(unix_millis(key.signs_from))
    .bind(unix_millis(verify_until))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at, \
         signs_from) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&key.kid)
    .bind(&key.algorithm)
    .bind(key.private_key.expose_secret())
    .bind(&key.public_key)
    .bind(unix_millis(key.created_at))
    .bind(unix_millis(key.signs_from))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn insert_user_on(conn: &mut SqliteConnection, user: &NewUser<'_>) -> StoreResult<UserRow> {
    let now = unix_millis(user.now);
    sqlx::query_as(&format!(
        "INSERT INTO users (id, username, username_key, email, email_key, password_hash, \
         disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) \
         RETURNING {USER_COLUMNS}"
    ))
    .bind(user.id.to_string())
    .bind(user.username.as_str())
    .bind(user.username.key())
    .bind(user.email.as_str())
    .bind(user.email.key())
    .bind(user.password_hash)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(conflict)
}

/// The session row and its first refresh token; the caller's transaction
/// makes the two one.
async fn insert_session_on(conn: &mut SqliteConnection, s: &NewSession<'_>) -> StoreResult<()> {
    let now = unix_millis(s.now);
    sqlx::query(
        "INSERT INTO sessions (id, user_id, created_at, refreshed_at, expires_at, generation, \
         user_agent, client_addr) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
    )
    .bind(s.id.to_string())
    .bind(s.user_id.to_string())
    .bind(now)
    .bind(now)
    .bind(unix_millis(s.expires_at))
    .bind(s.user_agent)
    .bind(s.client_addr)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, generation, issued_at) \
         VALUES (?, ?, 0, ?)",
    )
    .bind(&s.token_hash[..])
    .bind(s.id.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Maps a unique-constraint violation to the field that collided.
fn conflict(e: sqlx::Error) -> StoreError {
    if let Some(db) = e.as_database_error()
        && db.is_unique_violation()
    {
        if db.message().contains("users.username_key") {
            return StoreError::Conflict(Unique::Username);
        }
        if db.message().contains("users.email_key") {
            return StoreError::Conflict(Unique::Email);
        }
    }
    StoreError::Database(e)
}
