//! What second factors need stored: each user's sealed TOTP secret and the
//! last time step accepted from it, the hashes of their recovery codes, and
//! the sign-ins waiting for a second factor. Every "use once" rule is one
//! conditional statement, so that two requests at once cannot both pass.

use time::OffsetDateTime;

use super::{Backend, Conn, Store, StoreError, StoreResult};
use crate::clock::{from_unix_millis, unix_millis};
use crate::domain::{SessionId, SignInMethod, UserId};

/// A user's TOTP secret as stored.
#[derive(Debug, Clone)]
pub struct TotpRecord {
    /// The secret sealed under the key-encryption key.
    pub sealed_secret: Vec<u8>,
    /// When the first code was accepted; `None` while enrolment waits for it.
    pub confirmed_at: Option<OffsetDateTime>,
}

/// A row of `mfa_pending`: user id, created at, password digest, `amr`, `idp`.
type PendingRow = (String, i64, Vec<u8>, String, Option<String>);

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone)]
pub struct PendingRecord {
    /// Whose password was right (or who signed in at a provider).
    pub user_id: UserId,
    /// When the first step was checked: the session, once complete, begins
    /// here.
    pub created_at: OffsetDateTime,
    /// The SHA-256 of the password hash that was checked (or that the
    /// account had, when it signed in at a provider): a change voids it.
    pub password_digest: [u8; 32],
    /// What the first step proved: a password, or a sign-in at a provider.
    pub method: SignInMethod,
}

impl Store {
    /// Stores a new, unconfirmed TOTP secret for `user`, replacing an
    /// unconfirmed one; `false` (nothing written) when a confirmed one exists.
    pub async fn begin_totp(
        &self,
        user: UserId,
        sealed: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let done = sqlx::query(
                "INSERT INTO totp_secrets (user_id, sealed_secret, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE \
                 SET sealed_secret = excluded.sealed_secret, created_at = excluded.created_at, \
                 last_step = NULL WHERE totp_secrets.confirmed_at IS NULL",
            )
            .bind(user.to_string())
            .bind(sealed)
            .bind(unix_millis(now))
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// The user's TOTP secret, confirmed or not.
    pub async fn totp(&self, user: UserId) -> StoreResult<Option<TotpRecord>> {
        on_backend!(self, |pool| {
            let row: Option<(Vec<u8>, Option<i64>)> = sqlx::query_as(
                "SELECT sealed_secret, confirmed_at FROM totp_secrets WHERE user_id = $1",
            )
            .bind(user.to_string())
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(sealed_secret, confirmed)| TotpRecord {
                sealed_secret,
                confirmed_at: confirmed.map(from_unix_millis),
            }))
        })
    }

    /// Accepts a code of time step `step` from the user's TOTP secret,
    /// once: `false` when a code of this step or a later one was accepted
    /// before. `confirm` also turns an unconfirmed secret on, and then
    /// stores `recovery_codes` (hashes) in place of any earlier ones, in the
    /// same transaction; without it only a confirmed secret counts.
    pub async fn accept_totp_step(
        &self,
        user: UserId,
        step: i64,
        confirm: Option<&[[u8; 32]]>,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            // The comparison with `last_step` is what refuses a replay: of
            // two requests with the same code, one finds the step taken.
            let done = sqlx::query(
                "UPDATE totp_secrets SET last_step = $1, \
                 confirmed_at = COALESCE(confirmed_at, $2) \
                 WHERE user_id = $3 AND (last_step IS NULL OR last_step < $1) \
                 AND ((confirmed_at IS NULL) = $4)",
            )
            .bind(step)
            .bind(unix_millis(now))
            .bind(user.to_string())
            .bind(confirm.is_some())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
            if let Some(codes) = confirm {
                replace_codes((&mut *tx).into(), user, codes, now).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Replaces the user's recovery codes; `false` (nothing written) when
    /// the user has no confirmed second factor to recover.
    pub async fn replace_recovery_codes(
        &self,
        user: UserId,
        codes: &[[u8; 32]],
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let (factors,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM totp_secrets \
                 WHERE user_id = $1 AND confirmed_at IS NOT NULL",
            )
            .bind(user.to_string())
            .fetch_one(&mut *tx)
            .await?;
            if factors == 0 {
                return Ok(false);
            }
            replace_codes((&mut *tx).into(), user, codes, now).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Spends one recovery code: `true` when it was the user's and unused.
    pub async fn use_recovery_code(&self, user: UserId, hash: &[u8; 32]) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let done =
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2")
                    .bind(user.to_string())
                    .bind(&hash[..])
                    .execute(pool)
                    .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// How many unused recovery codes the user has.
    pub async fn recovery_codes_left(&self, user: UserId) -> StoreResult<i64> {
        on_backend!(self, |pool| {
            let (n,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1")
                    .bind(user.to_string())
                    .fetch_one(pool)
                    .await?;
            Ok(n)
        })
    }

    /// Removes the user's TOTP secret, recovery codes and waiting sign-ins;
    /// `true` when there was a secret.
    pub async fn remove_second_factors(&self, user: UserId) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("DELETE FROM totp_secrets WHERE user_id = $1")
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
            for table in ["recovery_codes", "mfa_pending"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                    .bind(user.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Stores a sign-in that waits for its second factor until `expires_at`.
    pub async fn insert_mfa_pending(
        &self,
        token_hash: &[u8; 32],
        pending: PendingRecord,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO mfa_pending (token_hash, user_id, created_at, password_digest, \
                 expires_at, amr, idp) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&token_hash[..])
            .bind(pending.user_id.to_string())
            .bind(unix_millis(pending.created_at))
            .bind(&pending.password_digest[..])
            .bind(unix_millis(expires_at))
            .bind(pending.method.as_stored())
            .bind(pending.method.idp())
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The waiting sign-in of this cookie hash, unless it expired by `now`.
    pub async fn mfa_pending(
        &self,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> StoreResult<Option<PendingRecord>> {
        on_backend!(self, |pool| {
            let row: Option<PendingRow> = sqlx::query_as(
                "SELECT user_id, created_at, password_digest, amr, idp FROM mfa_pending \
                 WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(&token_hash[..])
            .bind(unix_millis(now))
            .fetch_optional(pool)
            .await?;
            row.map(|(user, created, digest, amr, idp)| {
                Ok(PendingRecord {
                    user_id: user.parse().map_err(|_| StoreError::Corrupt("user id"))?,
                    created_at: from_unix_millis(created),
                    password_digest: digest
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("password digest"))?,
                    method: SignInMethod::from_stored(&amr, idp.as_deref())
                        .ok_or(StoreError::Corrupt("pending amr"))?,
                })
            })
            .transpose()
        })
    }

    /// Completes a waiting sign-in: `true` for the one request that deletes
    /// it, so that a pending cookie opens one session at most.
    pub async fn take_mfa_pending(&self, token_hash: &[u8; 32]) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let done = sqlx::query("DELETE FROM mfa_pending WHERE token_hash = $1")
                .bind(&token_hash[..])
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Deletes waiting sign-ins that expired before `before`.
    pub async fn purge_mfa_pending(&self, before: OffsetDateTime) -> StoreResult<u64> {
        on_backend!(self, |pool| {
            let done = sqlx::query("DELETE FROM mfa_pending WHERE expires_at < $1")
                .bind(unix_millis(before))
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }

    /// Records a fresh proof of identity on a live session (the
    /// recent-authentication check counts from it); `false` when the
    /// session is gone or revoked.
    pub async fn reauthenticated(
        &self,
        session: SessionId,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let done = sqlx::query(
                "UPDATE sessions SET reauthenticated_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(unix_millis(now))
            .bind(session.to_string())
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }
}

/// Deletes the user's recovery codes and inserts `codes`, in the caller's
/// transaction.
async fn replace_codes(
    conn: Conn<'_>,
    user: UserId,
    codes: &[[u8; 32]],
    now: OffsetDateTime,
) -> StoreResult<()> {
    each_backend!(conn, |conn| {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *conn)
            .await?;
        for code in codes {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user.to_string())
            .bind(&code[..])
            .bind(unix_millis(now))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    })
}
