//! The PostgreSQL backend, for several instances sharing one database.
//!
//! Concurrency between instances is settled in the database, never in memory:
//! a refresh-token rotation is a conditional `UPDATE ... WHERE generation = $n`
//! (PostgreSQL re-checks the condition on the row it waited for, so of two
//! instances rotating at once exactly one matches), and key creation and
//! rotation serialise on an advisory lock so that two instances starting
//! together cannot both create a "first" key.
//!
//! Revocations and key changes are announced by triggers (see
//! [`super::changes`]), so no method here has to remember to notify.

use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use time::OffsetDateTime;

use super::records::{AuditRow, KeyRow, RevokedRow, SessionRow, TokenRow, UserRow, convert_all};
use super::{
    AuditEntry, AuditFilter, AuditRecord, KeyRecord, NewSession, NewUser, PoolStatus, RevokeReason,
    Rotation, SessionRecord, StoreError, StoreResult, TokenRecord, Unique, UserRecord,
};
use crate::clock::{from_unix_millis, unix_millis};
use crate::config::DatabaseConfig;
use crate::domain::{LoginName, SessionId, UserId};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const USER_COLUMNS: &str = "id, username, email, password_hash, disabled, created_at";
const SESSION_COLUMNS: &str = "id, user_id, created_at, refreshed_at, expires_at, generation, \
     successor_seal, revoked_at, user_agent, client_addr";
const KEY_COLUMNS: &str =
    "kid, algorithm, private_key, public_key, created_at, signs_from, retired_at, verify_until";

/// The advisory lock that serialises changes to `signing_keys` ("PCKEYS" in
/// ASCII): taken in the transaction, released at its end.
const KEYS_LOCK: i64 = 0x5043_4B45_5953;

#[derive(Clone, Debug)]
pub(super) struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub(super) async fn connect(url: &str, config: &DatabaseConfig) -> StoreResult<Self> {
        let base = PgConnectOptions::from_str(url)?.application_name("portcullis");
        migrate(&base, config.acquire_timeout).await?;
        let millis = config.statement_timeout.as_millis().to_string();
        // The server enforces the limits too, so that a query or transaction
        // abandoned by a timed-out client stops holding locks.
        let options = base.options([
            ("statement_timeout", millis.as_str()),
            ("idle_in_transaction_session_timeout", millis.as_str()),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .min_connections(config.min_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
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
            "SELECT {USER_COLUMNS} FROM users WHERE {column} = $1"
        ))
        .bind(login.key())
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    pub(super) async fn user_by_id(&self, id: UserId) -> StoreResult<Option<UserRecord>> {
        let row: Option<UserRow> =
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
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
        let done = sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
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
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
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
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    pub(super) async fn refresh_token(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenRecord>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT session_id, generation FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(&hash[..])
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    pub(super) async fn rotate(&self, r: Rotation<'_>) -> StoreResult<bool> {
        let now = unix_millis(r.now);
        let mut tx = self.pool.begin().await?;
        // Under READ COMMITTED a concurrent rotation makes this statement wait
        // for the row, then re-evaluate the WHERE clause on the committed
        // version: the loser matches nothing and sees `false`.
        let advanced = sqlx::query(
            "UPDATE sessions SET generation = generation + 1, refreshed_at = $1, \
             successor_seal = $2 WHERE id = $3 AND generation = $4 AND revoked_at IS NULL",
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
             VALUES ($1, $2, $3, $4)",
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
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, successor_seal = NULL \
             WHERE id = $3 AND revoked_at IS NULL AND ($4::text IS NULL OR user_id = $4)",
        )
        .bind(unix_millis(now))
        .bind(reason.as_str())
        .bind(id.to_string())
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
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, successor_seal = NULL \
             WHERE user_id = $3 AND revoked_at IS NULL AND id IS DISTINCT FROM $4::text \
             RETURNING id",
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
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 AND refreshed_at > $3 ORDER BY created_at DESC, id"
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
            sqlx::query_as("SELECT id, revoked_at FROM sessions WHERE revoked_at >= $1")
                .bind(unix_millis(since))
                .fetch_all(&self.pool)
                .await?;
        convert_all(rows)
    }

    pub(super) async fn purge_sessions(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(unix_millis(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn signing_keys(&self, now: OffsetDateTime) -> StoreResult<Vec<KeyRecord>> {
        let rows: Vec<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys \
             WHERE retired_at IS NULL OR verify_until > $1 ORDER BY signs_from, kid"
        ))
        .bind(unix_millis(now))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(KeyRecord::from).collect())
    }

    pub(super) async fn insert_first_key(&self, key: &KeyRecord) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // Without the lock, two instances starting at once would both see no
        // key (neither sees the other's uncommitted insert) and both insert.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(KEYS_LOCK)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at, \
             signs_from) SELECT $1, $2, $3, $4, $5, $6 \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(key.private_key.expose_secret())
        .bind(&key.public_key)
        .bind(unix_millis(key.created_at))
        .bind(unix_millis(key.signs_from))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn rotate_keys(
        &self,
        key: &KeyRecord,
        verify_until: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        lock_keys(&mut tx).await?;
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
        let mut tx = self.pool.begin().await?;
        // Under the lock, a second instance checking at the same moment sees
        // this rotation and does nothing.
        lock_keys(&mut tx).await?;
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
            "SELECT failures, last_failure_at FROM login_failures WHERE account_key = $1",
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
            "INSERT INTO login_failures (account_key, failures, last_failure_at) \
             VALUES ($1, 1, $2) \
             ON CONFLICT (account_key) DO UPDATE SET \
             failures = CASE WHEN login_failures.last_failure_at < $3 THEN 1 \
                             ELSE login_failures.failures + 1 END, \
             last_failure_at = EXCLUDED.last_failure_at \
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
        sqlx::query("DELETE FROM login_failures WHERE account_key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (at, kind, user_id, session_id, client_addr, user_agent, \
             detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
             FROM audit_events WHERE ($1::text IS NULL OR user_id = $2) \
             AND at >= $3 AND at < $4 ORDER BY id DESC LIMIT $5",
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

/// Applies migrations on a connection of its own, without the pool's
/// statement timeout (a migration may legitimately take longer). sqlx's
/// migrator takes an advisory lock, so instances starting together migrate
/// one after the other.
async fn migrate(options: &PgConnectOptions, connect_timeout: Duration) -> StoreResult<()> {
    let mut conn: PgConnection = tokio::time::timeout(connect_timeout, options.connect())
        .await
        .map_err(|_| StoreError::Timeout)??;
    MIGRATOR.run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

async fn insert_user_on(conn: &mut PgConnection, user: &NewUser<'_>) -> StoreResult<UserRow> {
    let now = unix_millis(user.now);
    sqlx::query_as(&format!(
        "INSERT INTO users (id, username, username_key, email, email_key, password_hash, \
         disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7) \
         RETURNING {USER_COLUMNS}"
    ))
    .bind(user.id.to_string())
    .bind(user.username.as_str())
    .bind(user.username.key())
    .bind(user.email.as_str())
    .bind(user.email.key())
    .bind(user.password_hash)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(conflict)
}

/// The session row and its first refresh token; the caller's transaction
/// makes the two one.
async fn insert_session_on(conn: &mut PgConnection, s: &NewSession<'_>) -> StoreResult<()> {
    let now = unix_millis(s.now);
    sqlx::query(
        "INSERT INTO sessions (id, user_id, created_at, refreshed_at, expires_at, generation, \
         user_agent, client_addr) VALUES ($1, $2, $3, $3, $4, 0, $5, $6)",
    )
    .bind(s.id.to_string())
    .bind(s.user_id.to_string())
    .bind(now)
    .bind(unix_millis(s.expires_at))
    .bind(s.user_agent)
    .bind(s.client_addr)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, generation, issued_at) \
         VALUES ($1, $2, 0, $3)",
    )
    .bind(&s.token_hash[..])
    .bind(s.id.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Maps a unique-constraint violation to the field that collided, by the
/// names PostgreSQL gives the `UNIQUE` constraints of
/// `migrations/postgres/0001_initial.sql` (`<table>_<column>_key`).
fn conflict(e: sqlx::Error) -> StoreError {
    if let Some(db) = e.as_database_error()
        && db.is_unique_violation()
    {
        match db.constraint() {
            Some("users_username_key_key") => return StoreError::Conflict(Unique::Username),
            Some("users_email_key_key") => return StoreError::Conflict(Unique::Email),
            _ => {}
        }
    }
    StoreError::Database(e)
}

/// Serialises every change to `signing_keys` (first key, rotations): two at
/// once would each retire only the keys they saw and leave two keys signing.
async fn lock_keys(tx: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEYS_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Retires every unretired key at `key.signs_from` (published until
/// `verify_until`) and adds `key`, inside the caller's transaction.
async fn replace_signing_key(
    tx: &mut PgConnection,
    key: &KeyRecord,
    verify_until: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE signing_keys SET retired_at = $1, verify_until = $2 WHERE retired_at IS NULL",
    )
    .bind(unix_millis(key.signs_from))
    .bind(unix_millis(verify_until))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at, \
         signs_from) VALUES ($1, $2, $3, $4, $5, $6)",
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
