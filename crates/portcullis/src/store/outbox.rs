//! The mail outbox: mail to send, written in the transaction of the event
//! that causes it, claimed by one sender at a time, deleted once sent.
//!
//! Claiming is one statement, `UPDATE … WHERE id = (SELECT … LIMIT 1)`, that
//! sets a lease (`claimed_until`) and a random claim id. On PostgreSQL the
//! inner `SELECT` takes `FOR UPDATE SKIP LOCKED`, so that instances claiming
//! at once pass over each other's rows instead of queueing behind them (or
//! both taking the same one); SQLite has one writer at a time, so the
//! statement is atomic there as it is. A sender finishes or reschedules only
//! a row it still holds (`claim = $n`): one whose lease ran out and was
//! claimed again is no longer its to touch.

use time::OffsetDateTime;

use super::{Backend, Conn, Dialect, Store, StoreError, StoreResult};
use crate::clock::{from_unix_millis, unix_millis};
use crate::domain::UserId;

/// Mail to put in the outbox.
#[derive(Debug, Clone)]
pub struct NewMail {
    /// A fresh id.
    pub id: String,
    /// What to send (see `auth::mailer`), e.g. `password_changed`.
    pub kind: &'static str,
    /// The account it concerns, when there is one.
    pub user_id: Option<UserId>,
    /// Where to send it; `None`: the account's address as it is when the
    /// row is written (in the same transaction).
    pub recipient: Option<String>,
    /// The event's facts, as JSON; never a token or a password.
    pub payload: String,
    /// When it was written; it is due at once.
    pub now: OffsetDateTime,
}

/// Mail claimed from the outbox.
#[derive(Debug, Clone)]
pub struct MailRecord {
    /// Its id.
    pub id: String,
    /// What to send.
    pub kind: String,
    /// The account it concerns.
    pub user_id: Option<UserId>,
    /// Where to send it.
    pub recipient: String,
    /// The event's facts, as JSON.
    pub payload: String,
    /// When it was written.
    pub created_at: OffsetDateTime,
    /// How many times it has been claimed, this time included.
    pub attempts: i64,
    /// The claim this sender holds it under.
    pub claim: String,
    /// What went wrong the last time, if it did.
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct MailRow {
    id: String,
    kind: String,
    user_id: Option<String>,
    recipient: String,
    payload: String,
    created_at: i64,
    attempts: i64,
    claim: Option<String>,
    last_error: Option<String>,
}

impl TryFrom<MailRow> for MailRecord {
    type Error = StoreError;

    fn try_from(r: MailRow) -> Result<Self, StoreError> {
        Ok(MailRecord {
            id: r.id,
            kind: r.kind,
            user_id: r
                .user_id
                .map(|u| u.parse().map_err(|_| StoreError::Corrupt("user id")))
                .transpose()?,
            recipient: r.recipient,
            payload: r.payload,
            created_at: from_unix_millis(r.created_at),
            attempts: r.attempts,
            claim: r.claim.unwrap_or_default(),
            last_error: r.last_error,
        })
    }
}

const MAIL_COLUMNS: &str =
    "id, kind, user_id, recipient, payload, created_at, attempts, claim, last_error";

impl Store {
    /// Puts mail in the outbox on its own (the request that asks for it
    /// changes nothing else).
    pub async fn enqueue_mail(&self, mail: &NewMail) -> StoreResult<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            insert_mail_row((&mut *tx).into(), mail).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Claims the mail that has waited longest among that which is due and
    /// not held by another sender, until `lease_until`.
    pub async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        claim: &str,
    ) -> StoreResult<Option<MailRecord>> {
        on_backend!(self, |pool| {
            let row: Option<MailRow> = sqlx::query_as(&format!(
                "UPDATE mail_outbox SET claim = $1, claimed_until = $2, attempts = attempts + 1 \
                 WHERE id = (SELECT id FROM mail_outbox WHERE next_attempt_at <= $3 \
                 AND (claimed_until IS NULL OR claimed_until <= $3) \
                 ORDER BY next_attempt_at, created_at LIMIT 1 {}) \
                 RETURNING {MAIL_COLUMNS}",
                pool.skip_locked()
            ))
            .bind(claim)
            .bind(unix_millis(lease_until))
            .bind(unix_millis(now))
            .fetch_optional(pool)
            .await?;
            row.map(TryInto::try_into).transpose()
        })
    }

    /// Removes mail that has been sent (or is abandoned); `false` when this
    /// sender no longer holds it.
    pub async fn finish_mail(&self, id: &str, claim: &str) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let done = sqlx::query("DELETE FROM mail_outbox WHERE id = $1 AND claim = $2")
                .bind(id)
                .bind(claim)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Releases mail that could not be sent, to be tried again at
    /// `next_attempt_at`; `false` when this sender no longer holds it.
    pub async fn retry_mail(
        &self,
        id: &str,
        claim: &str,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let done = sqlx::query(
                "UPDATE mail_outbox SET claim = NULL, claimed_until = NULL, \
                 next_attempt_at = $1, last_error = $2 WHERE id = $3 AND claim = $4",
            )
            .bind(unix_millis(next_attempt_at))
            .bind(error)
            .bind(id)
            .bind(claim)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Every mail still in the outbox, oldest first (claims left empty), for
    /// operators and tests.
    pub async fn pending_mail(&self) -> StoreResult<Vec<MailRecord>> {
        on_backend!(self, |pool| {
            let rows: Vec<MailRow> = sqlx::query_as(&format!(
                "SELECT {MAIL_COLUMNS} FROM mail_outbox ORDER BY created_at, id"
            ))
            .fetch_all(pool)
            .await?;
            rows.into_iter()
                .map(|row| {
                    MailRecord::try_from(row).map(|mail| MailRecord {
                        claim: String::new(),
                        ..mail
                    })
                })
                .collect()
        })
    }
}

/// Inserts mail in the caller's transaction. Without a recipient, the row
/// takes the account's address as the transaction sees it, and is not
/// written at all when there is no such account.
pub(super) async fn insert_mail_row(conn: Conn<'_>, mail: &NewMail) -> StoreResult<()> {
    let now = unix_millis(mail.now);
    let user = mail.user_id.map(|u| u.to_string());
    each_backend!(conn, |conn| {
        match &mail.recipient {
            Some(recipient) => {
                sqlx::query(
                    "INSERT INTO mail_outbox (id, kind, user_id, recipient, payload, \
                     created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(&mail.id)
                .bind(mail.kind)
                .bind(&user)
                .bind(recipient)
                .bind(&mail.payload)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO mail_outbox (id, kind, user_id, recipient, payload, \
                     created_at, next_attempt_at) \
                     SELECT $1, $2, id, email, $3, $4, $4 FROM users WHERE id = $5",
                )
                .bind(&mail.id)
                .bind(mail.kind)
                .bind(&mail.payload)
                .bind(now)
                .bind(&user)
                .execute(&mut *conn)
                .await?;
            }
        }
        Ok(())
    })
}
