//! What e-mail needs stored: the tokens of the links we send (by hash only),
//! using them — a password reset, a verified or changed address — each in
//! one transaction with its consequences, and request counters per account.

use time::OffsetDateTime;

use super::outbox::{NewMail, insert_mail_row};
use super::sessions::revoke_user_session_rows;
use super::{Backend, Dialect, RevokeReason, Store, StoreResult};
use crate::clock::{from_unix_millis, unix_millis};
use crate::domain::{LoginName, SessionId, UserId};

/// What a token sent by mail lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Set a new password.
    PasswordReset,
    /// Show that the account's address receives our mail.
    VerifyEmail,
    /// Make the address the link was sent to the account's address.
    ChangeEmail,
}

impl TokenPurpose {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::PasswordReset => "password_reset",
            TokenPurpose::VerifyEmail => "verify_email",
            TokenPurpose::ChangeEmail => "change_email",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "password_reset" => Some(TokenPurpose::PasswordReset),
            "verify_email" => Some(TokenPurpose::VerifyEmail),
            "change_email" => Some(TokenPurpose::ChangeEmail),
            _ => None,
        }
    }
}

/// A token about to be mailed.
#[derive(Debug)]
pub struct NewEmailToken<'a> {
    /// SHA-256 of the token.
    pub token_hash: &'a [u8; 32],
    /// Whose.
    pub user_id: UserId,
    /// What for.
    pub purpose: TokenPurpose,
    /// The address it is sent to.
    pub email: &'a str,
    /// Issue time.
    pub now: OffsetDateTime,
    /// It is refused from this time on.
    pub expires_at: OffsetDateTime,
}

/// A live token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTokenRecord {
    /// Whose.
    pub user_id: UserId,
    /// What for.
    pub purpose: TokenPurpose,
    /// The address it was sent to.
    pub email: String,
}

/// A password reset by token: everything it changes, in one transaction.
#[derive(Debug)]
pub struct Reset<'a> {
    /// SHA-256 of the token presented.
    pub token_hash: &'a [u8; 32],
    /// The account the token was found to be for.
    pub user_id: UserId,
    /// The new password's hash.
    pub password_hash: &'a str,
    /// When.
    pub now: OffsetDateTime,
    /// The security notice to send, if any.
    pub notice: Option<&'a NewMail>,
    /// The throttle rows to forget, as stored: the account's own, and the
    /// resetting browser's when its device cookie is for this account.
    pub throttle_keys: &'a [String],
}

/// An address confirmed by token.
#[derive(Debug)]
pub struct Verified<'a> {
    /// SHA-256 of the token presented.
    pub token_hash: &'a [u8; 32],
    /// The token as it was found.
    pub token: &'a EmailTokenRecord,
    /// When.
    pub now: OffsetDateTime,
    /// For a changed address: the notice to the old one.
    pub notice: Option<&'a NewMail>,
}

/// The key an address is unique under.
fn email_key(address: &str) -> String {
    LoginName::new(address).key().to_owned()
}

impl Store {
    /// Stores a token, replacing the user's earlier tokens of the same
    /// purpose: only the latest link works.
    pub async fn replace_email_token(&self, token: &NewEmailToken<'_>) -> StoreResult<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2")
                .bind(token.user_id.to_string())
                .bind(token.purpose.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&token.token_hash[..])
            .bind(token.user_id.to_string())
            .bind(token.purpose.as_str())
            .bind(token.email)
            .bind(unix_millis(token.now))
            .bind(unix_millis(token.expires_at))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The token with this hash, unless it has expired or been used.
    pub async fn email_token(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> StoreResult<Option<EmailTokenRecord>> {
        on_backend!(self, |pool| {
            let row: Option<(String, String, String)> = sqlx::query_as(
                "SELECT user_id, purpose, email FROM email_tokens \
                 WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(&hash[..])
            .bind(unix_millis(now))
            .fetch_optional(pool)
            .await?;
            Ok(row.and_then(|(user, purpose, email)| {
                Some(EmailTokenRecord {
                    user_id: user.parse().ok()?,
                    purpose: TokenPurpose::parse(&purpose)?,
                    email,
                })
            }))
        })
    }

    /// Uses a reset token: the new password, the address verified when the
    /// link went to it, every session revoked and `sessions_valid_after`
    /// moved to now sparing none (so that a session a racing sign-in stores
    /// later is void too), the failed sign-ins under `throttle_keys`
    /// forgotten, the notice queued. `None` when the token is no longer live
    /// (used meanwhile, expired) or the account is disabled; then nothing
    /// has changed.
    pub async fn reset_password(&self, reset: &Reset<'_>) -> StoreResult<Option<Vec<SessionId>>> {
        let now = unix_millis(reset.now);
        let user = reset.user_id.to_string();
        on_backend!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let used: Option<(String,)> = sqlx::query_as(
                "DELETE FROM email_tokens WHERE token_hash = $1 AND user_id = $2 \
                 AND purpose = $3 AND expires_at > $4 RETURNING email",
            )
            .bind(&reset.token_hash[..])
            .bind(&user)
            .bind(TokenPurpose::PasswordReset.as_str())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((sent_to,)) = used else {
                return Ok(None);
            };
            let changed = sqlx::query(
                "UPDATE users SET password_hash = $1, updated_at = $2, \
                 email_verified = CASE WHEN email_key = $3 THEN TRUE ELSE email_verified END, \
                 sessions_valid_after = CASE WHEN sessions_valid_after < $2 THEN $2 \
                 ELSE sessions_valid_after END, sessions_valid_after_spares = NULL \
                 WHERE id = $4 AND disabled = FALSE",
            )
            .bind(reset.password_hash)
            .bind(now)
            .bind(email_key(&sent_to))
            .bind(&user)
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() != 1 {
                return Ok(None);
            }
            for key in reset.throttle_keys {
                sqlx::query("DELETE FROM login_failures WHERE account_key = $1")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            let revoked = revoke_user_session_rows(
                (&mut *tx).into(),
                reset.user_id,
                None,
                RevokeReason::PasswordReset,
                reset.now,
            )
            .await?;
            if let Some(notice) = reset.notice {
                insert_mail_row((&mut *tx).into(), notice).await?;
            }
            tx.commit().await?;
            Ok(Some(revoked))
        })
    }

    /// Uses an address token: the address is marked verified, or (a change)
    /// becomes the account's, verified, with the notice to the old address
    /// queued and the account's other links voided. `false` when the token
    /// is no longer live, the account is disabled, or the address it
    /// verifies is no longer the account's; then nothing has changed.
    /// [`StoreError::Conflict`](super::StoreError::Conflict) when another
    /// account has taken the new address meanwhile.
    pub async fn confirm_email(&self, verified: &Verified<'_>) -> StoreResult<bool> {
        let now = unix_millis(verified.now);
        let token = verified.token;
        let user = token.user_id.to_string();
        on_backend!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let used = sqlx::query(
                "DELETE FROM email_tokens WHERE token_hash = $1 AND user_id = $2 \
                 AND purpose = $3 AND expires_at > $4",
            )
            .bind(&verified.token_hash[..])
            .bind(&user)
            .bind(token.purpose.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if used.rows_affected() != 1 {
                return Ok(false);
            }
            let changed = match token.purpose {
                TokenPurpose::ChangeEmail => {
                    // Before the address changes: a notice without a
                    // recipient goes to the address the account has now.
                    if let Some(notice) = verified.notice {
                        insert_mail_row((&mut *tx).into(), notice).await?;
                    }
                    let changed = sqlx::query(
                        "UPDATE users SET email = $1, email_key = $2, email_verified = TRUE, \
                         updated_at = $3 WHERE id = $4 AND disabled = FALSE",
                    )
                    .bind(&token.email)
                    .bind(email_key(&token.email))
                    .bind(now)
                    .bind(&user)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| pool.conflict(e))?;
                    // Links sent to the old address, or to other candidate
                    // addresses, die with the change.
                    sqlx::query("DELETE FROM email_tokens WHERE user_id = $1")
                        .bind(&user)
                        .execute(&mut *tx)
                        .await?;
                    changed.rows_affected() == 1
                }
                TokenPurpose::VerifyEmail | TokenPurpose::PasswordReset => {
                    let marked = sqlx::query(
                        "UPDATE users SET email_verified = TRUE, updated_at = $1 \
                         WHERE id = $2 AND email_key = $3 AND disabled = FALSE",
                    )
                    .bind(now)
                    .bind(&user)
                    .bind(email_key(&token.email))
                    .execute(&mut *tx)
                    .await?;
                    token.purpose == TokenPurpose::VerifyEmail && marked.rows_affected() == 1
                }
            };
            if !changed {
                return Ok(false);
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Replaces a user's password hash after a password change, voiding
    /// reset links sent before it and queueing the notice, in one
    /// transaction.
    pub async fn change_password_hash(
        &self,
        id: UserId,
        hash: &str,
        now: OffsetDateTime,
        notice: Option<&NewMail>,
    ) -> StoreResult<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(unix_millis(now))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2")
                .bind(id.to_string())
                .bind(TokenPurpose::PasswordReset.as_str())
                .execute(&mut *tx)
                .await?;
            if let Some(notice) = notice {
                insert_mail_row((&mut *tx).into(), notice).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Counts one request under `key` in a fixed window that starts anew
    /// once the current one began at or before `window_ended`; returns the
    /// count in the window, this request included, and when it began.
    pub async fn count_request(
        &self,
        key: &str,
        now: OffsetDateTime,
        window_ended: OffsetDateTime,
    ) -> StoreResult<(i64, OffsetDateTime)> {
        on_backend!(self, |pool| {
            // One statement, so that concurrent requests each count.
            let (count, start): (i64, i64) = sqlx::query_as(
                "INSERT INTO request_counters (counter_key, count, window_start) \
                 VALUES ($1, 1, $2) ON CONFLICT (counter_key) DO UPDATE SET \
                 count = CASE WHEN request_counters.window_start <= $3 THEN 1 \
                              ELSE request_counters.count + 1 END, \
                 window_start = CASE WHEN request_counters.window_start <= $3 \
                              THEN EXCLUDED.window_start ELSE request_counters.window_start END \
                 RETURNING count, window_start",
            )
            .bind(key)
            .bind(unix_millis(now))
            .bind(unix_millis(window_ended))
            .fetch_one(pool)
            .await?;
            Ok((count, from_unix_millis(start)))
        })
    }

    /// Deletes tokens that expired and counters whose window began before
    /// `before`; returns how many rows went.
    pub async fn purge_email_state(
        &self,
        now: OffsetDateTime,
        before: OffsetDateTime,
    ) -> StoreResult<u64> {
        on_backend!(self, |pool| {
            let tokens = sqlx::query("DELETE FROM email_tokens WHERE expires_at <= $1")
                .bind(unix_millis(now))
                .execute(pool)
                .await?;
            let counters = sqlx::query("DELETE FROM request_counters WHERE window_start < $1")
                .bind(unix_millis(before))
                .execute(pool)
                .await?;
            Ok(tokens.rows_affected() + counters.rows_affected())
        })
    }
}
