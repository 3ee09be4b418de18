//! Sessions and their refresh tokens: starting, rotating, revoking, purging.

use time::OffsetDateTime;

use super::outbox::{NewMail, insert_mail_row};
use super::records::{RevokedRow, SessionRow, TokenRow, convert_all};
use super::{
    Backend, Conn, Dialect, NewSession, RevokeReason, Rotation, SessionRecord, Store, StoreError,
    StoreResult, TokenRecord,
};
use crate::clock::unix_millis;
use crate::domain::{SessionId, UserId};

/// The columns of a [`SessionRow`].
const SESSION_COLUMNS: &str = "id, user_id, created_at, refreshed_at, expires_at, generation, \
     successor_seal, revoked_at, user_agent, client_addr, amr, reauthenticated_at, idp";

impl Store {
    /// Starts a session with its first refresh token.
    pub async fn insert_session(&self, session: NewSession<'_>) -> StoreResult<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            insert_session_rows((&mut *tx).into(), &session).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Starts a session and queues `mail` about it, in one transaction.
    pub async fn insert_session_with_mail(
        &self,
        session: NewSession<'_>,
        mail: &NewMail,
    ) -> StoreResult<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            insert_session_rows((&mut *tx).into(), &session).await?;
            insert_mail_row((&mut *tx).into(), mail).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The session with this id, revoked or not.
    pub async fn session(&self, id: SessionId) -> StoreResult<Option<SessionRecord>> {
        on_backend!(self, |pool| {
            let row: Option<SessionRow> = sqlx::query_as(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
            ))
            .bind(id.to_string())
            .fetch_optional(pool)
            .await?;
            row.map(TryInto::try_into).transpose()
        })
    }

    /// The session and generation a refresh-token hash was issued for.
    pub async fn refresh_token(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenRecord>> {
        on_backend!(self, |pool| {
            let row: Option<TokenRow> = sqlx::query_as(
                "SELECT session_id, generation FROM refresh_tokens WHERE token_hash = $1",
            )
            .bind(&hash[..])
            .fetch_optional(pool)
            .await?;
            row.map(TryInto::try_into).transpose()
        })
    }

    /// Advances a live session by one generation, atomically: `false` when the
    /// session is no longer at `rotation.from_generation` (another request
    /// rotated it first) or was revoked.
    pub async fn rotate(&self, rotation: Rotation<'_>) -> StoreResult<bool> {
        let now = unix_millis(rotation.now);
        on_backend!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            // The condition on the generation is what makes one of two
            // rotations from the same token lose.
            let advanced = sqlx::query(
                "UPDATE sessions SET generation = generation + 1, refreshed_at = $1, \
                 successor_seal = $2 WHERE id = $3 AND generation = $4 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(&rotation.successor_seal[..])
            .bind(rotation.session_id.to_string())
            .bind(rotation.from_generation)
            .execute(&mut *tx)
            .await?;
            if advanced.rows_affected() != 1 {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, session_id, generation, issued_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&rotation.token_hash[..])
            .bind(rotation.session_id.to_string())
            .bind(rotation.from_generation + 1)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
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
        on_backend!(self, |pool| {
            let mut conn = pool.acquire().await?;
            revoke_session_row((&mut *conn).into(), id, owner, reason, now).await
        })
    }

    /// Revokes one session and, if this revoked it, queues `notice` in the
    /// same transaction; `false` when it was already revoked or does not
    /// exist.
    pub async fn revoke_session_with_notice(
        &self,
        id: SessionId,
        reason: RevokeReason,
        now: OffsetDateTime,
        notice: &NewMail,
    ) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let revoked = revoke_session_row((&mut *tx).into(), id, None, reason, now).await?;
            if revoked {
                insert_mail_row((&mut *tx).into(), notice).await?;
            }
            tx.commit().await?;
            Ok(revoked)
        })
    }

    /// Revokes every live session of a user but `except`; returns their ids.
    pub async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<SessionId>> {
        on_backend!(self, |pool| {
            let mut conn = pool.acquire().await?;
            revoke_user_session_rows((&mut *conn).into(), user, except, reason, now).await
        })
    }

    /// A user's sessions that are neither revoked nor past `live_after`
    /// (refreshed after it) nor past their absolute end; newest first.
    pub async fn live_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
        refreshed_after: OffsetDateTime,
    ) -> StoreResult<Vec<SessionRecord>> {
        on_backend!(self, |pool| {
            let rows: Vec<SessionRow> = sqlx::query_as(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 \
                 AND revoked_at IS NULL AND expires_at > $2 AND refreshed_at > $3 \
                 ORDER BY created_at DESC, id"
            ))
            .bind(user.to_string())
            .bind(unix_millis(now))
            .bind(unix_millis(refreshed_after))
            .fetch_all(pool)
            .await?;
            convert_all(rows)
        })
    }

    /// Sessions revoked at or after `since`, with their revocation time.
    pub async fn revoked_since(
        &self,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<(SessionId, OffsetDateTime)>> {
        on_backend!(self, |pool| {
            let rows: Vec<RevokedRow> =
                sqlx::query_as("SELECT id, revoked_at FROM sessions WHERE revoked_at >= $1")
                    .bind(unix_millis(since))
                    .fetch_all(pool)
                    .await?;
            convert_all(rows)
        })
    }

    /// Deletes sessions (and their refresh tokens) that ended before `before`.
    pub async fn purge_sessions(&self, before: OffsetDateTime) -> StoreResult<u64> {
        on_backend!(self, |pool| {
            let done = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                .bind(unix_millis(before))
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }
}

/// Revokes one session on the caller's connection; `false` when it was
/// already revoked or does not exist.
pub(super) async fn revoke_session_row(
    conn: Conn<'_>,
    id: SessionId,
    owner: Option<UserId>,
    reason: RevokeReason,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    each_backend!(conn, |conn| {
        // The CAST gives PostgreSQL the type of a parameter it meets
        // first compared with NULL.
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, successor_seal = NULL \
             WHERE id = $3 AND revoked_at IS NULL \
             AND (CAST($4 AS TEXT) IS NULL OR user_id = $4)",
        )
        .bind(unix_millis(now))
        .bind(reason.as_str())
        .bind(id.to_string())
        .bind(owner.map(|u| u.to_string()))
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Revokes every live session of a user but `except` on the caller's
/// connection; returns their ids.
pub(super) async fn revoke_user_session_rows(
    conn: Conn<'_>,
    user: UserId,
    except: Option<SessionId>,
    reason: RevokeReason,
    now: OffsetDateTime,
) -> StoreResult<Vec<SessionId>> {
    each_backend!(conn, |conn| {
        let rows: Vec<(String,)> = sqlx::query_as(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, successor_seal = NULL \
             WHERE user_id = $3 AND revoked_at IS NULL \
             AND id IS DISTINCT FROM CAST($4 AS TEXT) RETURNING id",
        )
        .bind(unix_millis(now))
        .bind(reason.as_str())
        .bind(user.to_string())
        .bind(except.map(|s| s.to_string()))
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter()
            .map(|(id,)| id.parse().map_err(|_| StoreError::Corrupt("session id")))
            .collect()
    })
}

/// The session row and its first refresh token; the caller's transaction
/// makes the two one.
pub(super) async fn insert_session_rows(conn: Conn<'_>, s: &NewSession<'_>) -> StoreResult<()> {
    let now = unix_millis(s.now);
    each_backend!(conn, |conn| {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, refreshed_at, expires_at, \
             generation, user_agent, client_addr, amr, idp) \
             VALUES ($1, $2, $3, $3, $4, 0, $5, $6, $7, $8)",
        )
        .bind(s.id.to_string())
        .bind(s.user_id.to_string())
        .bind(now)
        .bind(unix_millis(s.expires_at))
        .bind(s.user_agent)
        .bind(s.client_addr)
        .bind(s.method.as_stored())
        .bind(s.method.idp())
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
    })
}
