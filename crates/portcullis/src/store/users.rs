//! Users: creating, finding, disabling, and changing their password hash.

use time::OffsetDateTime;

use super::outbox::{NewMail, insert_mail_row};
use super::records::{UserRow, convert_all};
use super::sessions::insert_session_rows;
use super::{Backend, Dialect, NewSession, NewUser, Store, StoreError, StoreResult, UserRecord};
use crate::clock::unix_millis;
use crate::domain::{LoginName, SessionId, UserId};

/// The columns of a [`UserRow`].
pub(super) const USER_COLUMNS: &str = "id, username, email, password_hash, disabled, created_at, email_verified, \
     sessions_valid_after, sessions_valid_after_spares";

impl Store {
    /// Creates a user, with the mail to send them (an address to verify)
    /// if any; [`StoreError::Conflict`](super::StoreError::Conflict) when
    /// the name or address is taken.
    pub async fn insert_user(
        &self,
        user: NewUser<'_>,
        mail: Option<&NewMail>,
    ) -> StoreResult<UserRecord> {
        self.create_user(user, None, mail).await
    }

    /// Creates a user, their first session and the mail to send them, in
    /// one transaction: all or nothing.
    /// [`StoreError::Conflict`](super::StoreError::Conflict) when the name
    /// or address is taken.
    pub async fn insert_user_with_session(
        &self,
        user: NewUser<'_>,
        session: NewSession<'_>,
        mail: Option<&NewMail>,
    ) -> StoreResult<UserRecord> {
        self.create_user(user, Some(session), mail).await
    }

    /// Creates a user, and their first session and mail if there are any,
    /// in one transaction.
    async fn create_user(
        &self,
        user: NewUser<'_>,
        session: Option<NewSession<'_>>,
        mail: Option<&NewMail>,
    ) -> StoreResult<UserRecord> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: UserRow = sqlx::query_as(&format!(
                "INSERT INTO users (id, username, username_key, email, email_key, \
                 password_hash, disabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7) RETURNING {USER_COLUMNS}"
            ))
            .bind(user.id.to_string())
            .bind(user.username.as_str())
            .bind(user.username.key())
            .bind(user.email.as_str())
            .bind(user.email.key())
            .bind(user.password_hash)
            .bind(unix_millis(user.now))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| pool.conflict(e))?;
            let user = row.try_into()?;
            if let Some(session) = &session {
                insert_session_rows((&mut *tx).into(), session).await?;
            }
            if let Some(mail) = mail {
                insert_mail_row((&mut *tx).into(), mail).await?;
            }
            tx.commit().await?;
            Ok(user)
        })
    }

    /// The user a sign-in name refers to.
    pub async fn user_by_login(&self, login: &LoginName) -> StoreResult<Option<UserRecord>> {
        let column = match login {
            LoginName::Email(_) => "email_key",
            LoginName::Username(_) => "username_key",
        };
        on_backend!(self, |pool| {
            let row: Option<UserRow> = sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE {column} = $1"
            ))
            .bind(login.key())
            .fetch_optional(pool)
            .await?;
            row.map(TryInto::try_into).transpose()
        })
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: UserId) -> StoreResult<Option<UserRecord>> {
        on_backend!(self, |pool| {
            let row: Option<UserRow> =
                sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(pool)
                    .await?;
            row.map(TryInto::try_into).transpose()
        })
    }

    /// The users written at or after `since` (by `updated_at`, which every
    /// write of a user sets): how an instance learns of changes made by
    /// others where nothing announces them (SQLite), or that an
    /// announcement was lost.
    pub async fn users_changed_since(&self, since: OffsetDateTime) -> StoreResult<Vec<UserId>> {
        on_backend!(self, |pool| {
            let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM users WHERE updated_at >= $1")
                .bind(unix_millis(since))
                .fetch_all(pool)
                .await?;
            ids.into_iter()
                .map(|(id,)| id.parse().map_err(|_| StoreError::Corrupt("user id")))
                .collect()
        })
    }

    /// Every user, oldest first.
    pub async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        on_backend!(self, |pool| {
            let rows: Vec<UserRow> = sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id"
            ))
            .fetch_all(pool)
            .await?;
            convert_all(rows)
        })
    }

    /// Disables or re-enables a user; `false` when there is no such user.
    /// Disabling also ends, for good, every session begun before `now` (see
    /// [`Store::set_sessions_valid_after`]): re-enabling the account does not
    /// bring back one that a sign-in racing the disable left behind.
    pub async fn set_user_disabled(
        &self,
        id: UserId,
        disabled: bool,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let done = sqlx::query(
                "UPDATE users SET disabled = $1, updated_at = $2, \
                 sessions_valid_after_spares = CASE WHEN $1 THEN NULL \
                 ELSE sessions_valid_after_spares END, \
                 sessions_valid_after = CASE WHEN $1 AND sessions_valid_after < $2 THEN $2 \
                 ELSE sessions_valid_after END WHERE id = $3",
            )
            .bind(disabled)
            .bind(unix_millis(now))
            .bind(id.to_string())
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Ends every session of a user begun before `at`, whatever the session's
    /// own row says, except `spare` (the session making the change). The
    /// time never moves back.
    pub async fn set_sessions_valid_after(
        &self,
        id: UserId,
        at: OffsetDateTime,
        spare: Option<SessionId>,
    ) -> StoreResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE users SET sessions_valid_after = $1, updated_at = $1, \
                 sessions_valid_after_spares = $3 \
                 WHERE id = $2 AND sessions_valid_after < $1",
            )
            .bind(unix_millis(at))
            .bind(id.to_string())
            .bind(spare.map(|s| s.to_string()))
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Replaces a user's password hash.
    pub async fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(unix_millis(now))
                .bind(id.to_string())
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}
