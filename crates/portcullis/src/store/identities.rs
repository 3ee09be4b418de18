//! Sign-in with other providers: the identities linked to accounts, the
//! flows begun at a provider and not yet back, and identities waiting for
//! the password of the account they would be linked to.

use time::OffsetDateTime;

use super::records::UserRow;
use super::sessions::insert_session_rows;
use super::{Backend, Dialect, NewSession, Store, StoreError, StoreResult, UserRecord};
use crate::clock::{from_unix_millis, unix_millis};
use crate::domain::UserId;

/// An identity at a provider, linked to an account.
#[derive(Debug, Clone)]
pub struct IdentityRecord {
    /// The provider's configured id.
    pub provider: String,
    /// The provider's stable name for the person (`sub`, GitHub's user id).
    pub subject: String,
    /// The account.
    pub user_id: UserId,
    /// The address the provider gave at linking, for display.
    pub email: Option<String>,
    /// When it was linked.
    pub created_at: OffsetDateTime,
}

/// An identity to link.
#[derive(Debug, Clone, Copy)]
pub struct NewIdentity<'a> {
    /// The provider's configured id.
    pub provider: &'a str,
    /// The provider's name for the person.
    pub subject: &'a str,
    /// The account.
    pub user_id: UserId,
    /// The address the provider gave.
    pub email: Option<&'a str>,
    /// Linking time.
    pub now: OffsetDateTime,
}

/// A sign-in begun at a provider.
#[derive(Debug, Clone)]
pub struct FlowRecord {
    /// The provider's configured id.
    pub provider: String,
    /// The `state` sent to the provider.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier whose challenge was sent.
    pub pkce_verifier: String,
    /// Where to continue, a path on this site.
    pub next: String,
    /// The signed-in user linking the provider, if that is what this is.
    pub link_user: Option<UserId>,
    /// When the flow stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// A sign-in flow to store, by the hash of its cookie.
#[derive(Debug, Clone, Copy)]
pub struct NewFlow<'a> {
    /// SHA-256 of the flow cookie's value.
    pub flow_hash: &'a [u8; 32],
    /// What the callback will check.
    pub flow: &'a FlowRecord,
    /// Now: flows that ended before it are deleted on the way.
    pub now: OffsetDateTime,
}

/// An identity waiting for the password of the account it would be linked to.
#[derive(Debug, Clone)]
pub struct PendingLink {
    /// The provider's configured id.
    pub provider: String,
    /// The provider's name for the person.
    pub subject: String,
    /// The account whose address the provider vouched for.
    pub user_id: UserId,
    /// That address.
    pub email: String,
    /// When the offer ends.
    pub expires_at: OffsetDateTime,
}

/// What an unlink did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    /// The identity is gone.
    Done,
    /// The account has no such identity.
    NotLinked,
    /// It is the account's last way to sign in: no password, no other
    /// identity, no passkey. Nothing was changed.
    LastMethod,
}

#[derive(sqlx::FromRow)]
struct IdentityRow {
    provider: String,
    subject: String,
    user_id: String,
    email: Option<String>,
    created_at: i64,
}

impl TryFrom<IdentityRow> for IdentityRecord {
    type Error = StoreError;

    fn try_from(r: IdentityRow) -> Result<Self, StoreError> {
        Ok(IdentityRecord {
            provider: r.provider,
            subject: r.subject,
            user_id: r
                .user_id
                .parse()
                .map_err(|_| StoreError::Corrupt("user id"))?,
            email: r.email,
            created_at: from_unix_millis(r.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct FlowRow {
    provider: String,
    state: String,
    nonce: String,
    pkce_verifier: String,
    next: String,
    link_user: Option<String>,
    expires_at: i64,
}

impl TryFrom<FlowRow> for FlowRecord {
    type Error = StoreError;

    fn try_from(r: FlowRow) -> Result<Self, StoreError> {
        Ok(FlowRecord {
            provider: r.provider,
            state: r.state,
            nonce: r.nonce,
            pkce_verifier: r.pkce_verifier,
            next: r.next,
            link_user: r
                .link_user
                .map(|id| id.parse())
                .transpose()
                .map_err(|_| StoreError::Corrupt("user id"))?,
            expires_at: from_unix_millis(r.expires_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    provider: String,
    subject: String,
    user_id: String,
    email: String,
    expires_at: i64,
}

impl TryFrom<PendingRow> for PendingLink {
    type Error = StoreError;

    fn try_from(r: PendingRow) -> Result<Self, StoreError> {
        Ok(PendingLink {
            provider: r.provider,
            subject: r.subject,
            user_id: r
                .user_id
                .parse()
                .map_err(|_| StoreError::Corrupt("user id"))?,
            email: r.email,
            expires_at: from_unix_millis(r.expires_at),
        })
    }
}

/// The columns of a user, prefixed by `u.`, for joins.
const JOINED_USER_COLUMNS: &str = "u.id, u.username, u.email, u.password_hash, u.disabled, \
     u.created_at, u.email_verified, u.sessions_valid_after, u.sessions_valid_after_spares";

impl Store {
    /// Stores a sign-in flow, deleting those that have ended.
    pub async fn insert_flow(&self, new: NewFlow<'_>) -> StoreResult<()> {
        let f = new.flow;
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM sign_in_flows WHERE expires_at <= $1")
                .bind(unix_millis(new.now))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sign_in_flows (flow_hash, provider, state, nonce, pkce_verifier, \
                 next, link_user, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&new.flow_hash[..])
            .bind(&f.provider)
            .bind(&f.state)
            .bind(&f.nonce)
            .bind(&f.pkce_verifier)
            .bind(&f.next)
            .bind(f.link_user.map(|u| u.to_string()))
            .bind(unix_millis(f.expires_at))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Takes the flow whose cookie hashes to `flow_hash`: it is deleted in
    /// the same statement, so that of two callbacks with the same cookie
    /// only one finds it. An ended flow is deleted and not returned.
    pub async fn take_flow(
        &self,
        flow_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> StoreResult<Option<FlowRecord>> {
        on_backend!(self, |pool| {
            let row: Option<FlowRow> = sqlx::query_as(
                "DELETE FROM sign_in_flows WHERE flow_hash = $1 RETURNING provider, state, \
                 nonce, pkce_verifier, next, link_user, expires_at",
            )
            .bind(&flow_hash[..])
            .fetch_optional(pool)
            .await?;
            let flow: Option<FlowRecord> = row.map(TryInto::try_into).transpose()?;
            Ok(flow.filter(|f| f.expires_at > now))
        })
    }

    /// The account an identity is linked to.
    pub async fn user_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<UserRecord>> {
        on_backend!(self, |pool| {
            let row: Option<UserRow> = sqlx::query_as(&format!(
                "SELECT {JOINED_USER_COLUMNS} FROM external_identities i \
                 JOIN users u ON u.id = i.user_id WHERE i.provider = $1 AND i.subject = $2"
            ))
            .bind(provider)
            .bind(subject)
            .fetch_optional(pool)
            .await?;
            row.map(TryInto::try_into).transpose()
        })
    }

    /// The identities linked to an account, oldest first.
    pub async fn identities_of(&self, user: UserId) -> StoreResult<Vec<IdentityRecord>> {
        on_backend!(self, |pool| {
            let rows: Vec<IdentityRow> = sqlx::query_as(
                "SELECT provider, subject, user_id, email, created_at FROM external_identities \
                 WHERE user_id = $1 ORDER BY created_at, provider",
            )
            .bind(user.to_string())
            .fetch_all(pool)
            .await?;
            rows.into_iter().map(TryInto::try_into).collect()
        })
    }

    /// Links an identity; `false` when the identity is linked already (to
    /// this account or another) or the account has one of this provider.
    pub async fn insert_identity(&self, identity: NewIdentity<'_>) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let done = sqlx::query(
                "INSERT INTO external_identities (provider, subject, user_id, email, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(identity.provider)
            .bind(identity.subject)
            .bind(identity.user_id.to_string())
            .bind(identity.email)
            .bind(unix_millis(identity.now))
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Creates a user with no password, their identity and first session,
    /// in one transaction;
    /// [`StoreError::Conflict`](super::StoreError::Conflict) when the name
    /// or address is taken, and `Ok(None)` when the identity is linked
    /// already (two first sign-ins at once: the other one won).
    pub async fn insert_user_with_identity(
        &self,
        user: super::NewUser<'_>,
        email_verified: bool,
        identity: NewIdentity<'_>,
        session: NewSession<'_>,
    ) -> StoreResult<Option<UserRecord>> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: UserRow = sqlx::query_as(&format!(
                "INSERT INTO users (id, username, username_key, email, email_key, \
                 password_hash, disabled, created_at, updated_at, email_verified) \
                 VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7, $8) RETURNING {}",
                super::users::USER_COLUMNS
            ))
            .bind(user.id.to_string())
            .bind(user.username.as_str())
            .bind(user.username.key())
            .bind(user.email.as_str())
            .bind(user.email.key())
            .bind(user.password_hash)
            .bind(unix_millis(user.now))
            .bind(email_verified)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| pool.conflict(e))?;
            let created: UserRecord = row.try_into()?;
            let linked = sqlx::query(
                "INSERT INTO external_identities (provider, subject, user_id, email, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(identity.provider)
            .bind(identity.subject)
            .bind(created.id.to_string())
            .bind(identity.email)
            .bind(unix_millis(identity.now))
            .execute(&mut *tx)
            .await?;
            if linked.rows_affected() != 1 {
                // Dropping the transaction rolls the new user back.
                return Ok(None);
            }
            insert_session_rows((&mut *tx).into(), &session).await?;
            tx.commit().await?;
            Ok(Some(created))
        })
    }

    /// Unlinks the account's identity at `provider`, unless it is the
    /// account's last way to sign in.
    pub async fn delete_identity(
        &self,
        user: UserId,
        provider: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Unlinked> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            // Writing the user's row first serialises unlinks of the same
            // account (a row lock on PostgreSQL, the write lock on SQLite):
            // two at once must not each see the other's identity as the one
            // left.
            sqlx::query("UPDATE users SET updated_at = $2 WHERE id = $1")
                .bind(user.to_string())
                .bind(unix_millis(now))
                .execute(&mut *tx)
                .await?;
            // A passkey signs in alone: it counts as a way in.
            let (has_password, identities, passkeys): (bool, i64, i64) = sqlx::query_as(
                "SELECT u.password_hash <> '', \
                 (SELECT COUNT(*) FROM external_identities i WHERE i.user_id = u.id), \
                 (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id) \
                 FROM users u WHERE u.id = $1",
            )
            .bind(user.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or((false, 0, 0));
            let deleted =
                sqlx::query("DELETE FROM external_identities WHERE user_id = $1 AND provider = $2")
                    .bind(user.to_string())
                    .bind(provider)
                    .execute(&mut *tx)
                    .await?;
            if deleted.rows_affected() == 0 {
                return Ok(Unlinked::NotLinked);
            }
            if !has_password && identities <= 1 && passkeys == 0 {
                // Rolled back with the dropped transaction.
                return Ok(Unlinked::LastMethod);
            }
            tx.commit().await?;
            Ok(Unlinked::Done)
        })
    }

    /// Stores an identity waiting for its account's password, deleting
    /// those that have ended.
    pub async fn insert_pending_link(
        &self,
        token_hash: &[u8; 32],
        link: &PendingLink,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM pending_links WHERE expires_at <= $1")
                .bind(unix_millis(now))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO pending_links (token_hash, provider, subject, user_id, email, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&token_hash[..])
            .bind(&link.provider)
            .bind(&link.subject)
            .bind(link.user_id.to_string())
            .bind(&link.email)
            .bind(unix_millis(link.expires_at))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Takes (deletes and returns) a pending link, unless it has ended.
    pub async fn take_pending_link(
        &self,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> StoreResult<Option<PendingLink>> {
        on_backend!(self, |pool| {
            let row: Option<PendingRow> = sqlx::query_as(
                "DELETE FROM pending_links WHERE token_hash = $1 \
                 RETURNING provider, subject, user_id, email, expires_at",
            )
            .bind(&token_hash[..])
            .fetch_optional(pool)
            .await?;
            let link: Option<PendingLink> = row.map(TryInto::try_into).transpose()?;
            Ok(link.filter(|l| l.expires_at > now))
        })
    }
}
