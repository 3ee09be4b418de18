//! Mail, from the auth service's side: what goes in the outbox when
//! something happens, and the worker that empties it.
//!
//! A request never talks to the SMTP server. It writes a row to the outbox
//! — in the transaction of the event, where there is one — and wakes this
//! instance's worker, which claims the row, turns it into a message and
//! sends it. A crash or an SMTP outage leaves the row where it is, to be
//! sent later (with back-off); the claim's lease keeps several instances
//! from sending the same row at once.
//!
//! A row holds the event's facts, never a token: the token of a link is
//! made by the worker just before sending (its hash stored, any older one
//! of the same purpose voided), so that no usable token is ever written to
//! the database. A request for a reset mail writes the same row whether or
//! not an account has the address; the worker finds out, and sends nothing
//! when none has. The request costs the same either way.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::{Auth, AuthError, ClientInfo};
use crate::clock::{from_unix_millis, unix_millis};
use crate::config::{MailConfig, Rate};
use crate::domain::device;
use crate::domain::{LinkToken, LoginName, UserId};
use crate::mail::{Facts, Kind, Letter, Mailer, SendError};
use crate::report::Chain;
use crate::store::{MailRecord, NewEmailToken, NewMail, TokenPurpose, UserRecord};

/// How long a claimed row is this worker's alone: far longer than a
/// delivery may take (`mail::transport::SEND_TIMEOUT`), so that no other
/// instance sends it meanwhile.
const LEASE: Duration = Duration::from_secs(300);
/// How often the outbox is looked at without being woken: what picks up
/// rows other instances (or admin commands) wrote, and retries.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// The first wait after a failed delivery; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// Mail still unsent this long after the event is abandoned (and logged as
/// an error): a link or notice that late helps nobody.
const MAX_AGE: Duration = Duration::from_secs(3 * 86_400);

/// E-mail as the service runs it.
pub(super) struct Mailing {
    mailer: Mailer,
    /// Wakes this instance's worker when a request has written a row.
    wake: Notify,
    reset_ttl: Duration,
    verification_ttl: Duration,
    notify_new_device: bool,
    account_requests: Option<Rate>,
}

impl Mailing {
    pub(super) fn new(mailer: Mailer, config: &MailConfig) -> Self {
        Self {
            mailer,
            wake: Notify::new(),
            reset_ttl: config.password_reset_ttl,
            verification_ttl: config.verification_ttl,
            notify_new_device: config.notify_new_device,
            account_requests: config.account_requests,
        }
    }
}

impl Mailing {
    /// How long a reset link works.
    pub(super) fn reset_ttl(&self) -> Duration {
        self.reset_ttl
    }

    /// `{public_url}{path}`.
    pub(super) fn link(&self, path: &str) -> String {
        self.mailer.link(path)
    }

    /// How long a request counter must outlive the start of its window to
    /// go on counting: the window of `account_email_requests`.
    pub(super) fn counter_window(&self) -> Duration {
        self.account_requests
            .map_or(Duration::ZERO, |rate| rate.per)
    }
}

/// The facts of an event, as an outbox row keeps them.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Payload {
    /// When, in milliseconds since the epoch.
    at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_addr: Option<String>,
    /// A new address, already partly hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_email: Option<String>,
}

/// What one pass over the outbox did with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The message went out.
    Sent,
    /// Nothing to send (no such account any more, an address verified
    /// meanwhile, an unknown address asking for a reset): the row is gone.
    Dropped,
    /// It failed and will be tried again later.
    Deferred,
    /// It failed for good, or is too old: the row is gone, the error logged.
    Abandoned,
}

fn words(d: Duration) -> String {
    let minutes = d.as_secs() / 60;
    match minutes {
        m if m >= 120 && m % 60 == 0 => format!("{} hours", m / 60),
        60 => "1 hour".to_owned(),
        1 => "1 minute".to_owned(),
        m => format!("{m} minutes"),
    }
}

impl Auth {
    /// Turns e-mail on with this mailer.
    pub(super) fn with_mailer(mut self, mailer: Mailer, config: &MailConfig) -> Self {
        self.mail = Some(Arc::new(Mailing::new(mailer, config)));
        self
    }

    /// Whether e-mail, and so every flow built on it, is on.
    pub fn mail_enabled(&self) -> bool {
        self.mail.is_some()
    }

    /// E-mail, or [`AuthError::MailOff`] for a flow that needs it.
    pub(super) fn mailing(&self) -> Result<&Mailing, AuthError> {
        self.mail.as_deref().ok_or(AuthError::MailOff)
    }

    /// A row for the outbox, or `None` when e-mail is off (then events send
    /// nothing). `to`: `None` for the account's address when it is written.
    pub(super) fn outbox_row(
        &self,
        kind: Kind,
        user: Option<UserId>,
        to: Option<&str>,
        client: &ClientInfo,
        new_email: Option<String>,
    ) -> Option<NewMail> {
        self.mail.as_ref()?;
        let now = self.clock.now();
        let payload = Payload {
            at: unix_millis(now),
            user_agent: client.user_agent.clone(),
            client_addr: client.addr.map(|a| a.to_string()),
            new_email,
        };
        Some(NewMail {
            id: uuid::Uuid::new_v4().to_string(),
            kind: kind.as_str(),
            user_id: user,
            recipient: to.map(str::to_owned),
            // Serialising a struct of strings and integers cannot fail.
            payload: serde_json::to_string(&payload).unwrap_or_default(),
            now,
        })
    }

    /// A security notice about `user`, to their address; `None` when e-mail
    /// is off.
    pub(super) fn notice(&self, kind: Kind, user: UserId, client: &ClientInfo) -> Option<NewMail> {
        self.outbox_row(kind, Some(user), None, client, None)
    }

    /// Whether sign-ins from new devices are reported.
    pub(super) fn notifies_new_device(&self) -> bool {
        self.mail.as_ref().is_some_and(|m| m.notify_new_device)
    }

    /// Counts a row that has been written to the outbox, and tells this
    /// instance's worker about it.
    pub(super) fn queued(&self, row: Option<&NewMail>) {
        if let (Some(mail), Some(row)) = (&self.mail, row) {
            self.metrics.mail_queued(row.kind);
            mail.wake.notify_one();
        }
    }

    /// Counts a request for mail under `key` (an account, or a submitted
    /// address), shared by every instance; past the configured rate,
    /// [`AuthError::TooManyAttempts`].
    pub(super) async fn count_mail_request(&self, key: &str) -> Result<(), AuthError> {
        let Some(rate) = self.mailing()?.account_requests else {
            return Ok(());
        };
        let now = self.clock.now();
        let (count, start) = self.store.count_request(key, now, now - rate.per).await?;
        if count > i64::from(rate.count.get()) {
            let retry_after = (start + rate.per - now).max(time::Duration::SECOND);
            return Err(AuthError::TooManyAttempts {
                retry_after: retry_after.unsigned_abs(),
            });
        }
        Ok(())
    }

    /// Sends mail until the outbox has nothing due, then waits to be woken
    /// or for the next poll; runs until its task is aborted.
    pub async fn run_mailer(self) {
        let Some(mail) = self.mail.clone() else {
            return;
        };
        loop {
            loop {
                match self.deliver_next().await {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %Chain(&e), "could not work on the mail outbox");
                        break;
                    }
                }
            }
            tokio::select! {
                () = mail.wake.notified() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    }

    /// Claims the next due row of the outbox and deals with it; `None` when
    /// nothing is due.
    pub async fn deliver_next(&self) -> Result<Option<Delivery>, AuthError> {
        let mail = self.mailing()?;
        let now = self.clock.now();
        let claim = uuid::Uuid::new_v4().to_string();
        let Some(row) = self.store.claim_mail(now, now + LEASE, &claim).await? else {
            return Ok(None);
        };
        let outcome = if now - row.created_at > MAX_AGE {
            Err(SendError::permanent(format!(
                "still unsent after {}",
                humantime::format_duration(MAX_AGE)
            )))
        } else {
            self.send_row(mail, &row, now).await
        };
        let delivery = match outcome {
            Ok(true) => Delivery::Sent,
            Ok(false) => Delivery::Dropped,
            Err(e) if e.permanent => {
                tracing::error!(kind = row.kind, id = row.id, attempts = row.attempts, error = %e, "mail abandoned");
                Delivery::Abandoned
            }
            Err(e) => {
                let exponent = u32::try_from(row.attempts.saturating_sub(1)).unwrap_or(u32::MAX);
                let wait = FIRST_BACKOFF
                    .saturating_mul(2u32.saturating_pow(exponent.min(16)))
                    .min(MAX_BACKOFF);
                tracing::warn!(kind = row.kind, id = row.id, attempts = row.attempts, error = %e,
                    retry_in = %humantime::format_duration(wait), "mail not sent; will retry");
                let retried = self
                    .store
                    .retry_mail(&row.id, &claim, now + wait, &e.to_string())
                    .await?;
                if !retried {
                    tracing::warn!(id = row.id, "mail lease ran out while sending");
                }
                self.metrics.mail_delivery(&row.kind, "deferred");
                return Ok(Some(Delivery::Deferred));
            }
        };
        if !self.store.finish_mail(&row.id, &claim).await? {
            tracing::warn!(id = row.id, "mail lease ran out while sending");
        }
        let outcome = match delivery {
            Delivery::Sent => "sent",
            Delivery::Dropped => "dropped",
            _ => "abandoned",
        };
        self.metrics.mail_delivery(&row.kind, outcome);
        tracing::info!(kind = row.kind, outcome, "mail dealt with");
        Ok(Some(delivery))
    }

    /// Builds and sends one row's message: `Ok(false)` when there is
    /// nothing to send.
    async fn send_row(
        &self,
        mail: &Mailing,
        row: &MailRecord,
        now: OffsetDateTime,
    ) -> Result<bool, SendError> {
        let transient = |e: AuthError| SendError::transient(Chain(&e).to_string());
        let Some(kind) = Kind::parse(&row.kind) else {
            return Err(SendError::permanent(format!("unknown kind {:?}", row.kind)));
        };
        let payload: Payload = serde_json::from_str(&row.payload).unwrap_or_default();
        let Some(letter) = self
            .letter(mail, kind, row, payload, now)
            .await
            .map_err(transient)?
        else {
            return Ok(false);
        };
        let message = mail.mailer.render(&letter, now)?;
        mail.mailer.send(&message).await?;
        Ok(true)
    }

    /// The letter a row asks for, with a fresh link token where it needs
    /// one; `None` when there is nothing to send.
    async fn letter(
        &self,
        mail: &Mailing,
        kind: Kind,
        row: &MailRecord,
        payload: Payload,
        now: OffsetDateTime,
    ) -> Result<Option<Letter>, AuthError> {
        let user = match (kind, row.user_id) {
            (Kind::PasswordReset, _) => {
                self.store
                    .user_by_login(&LoginName::new(&row.recipient))
                    .await?
            }
            (_, Some(id)) => self.store.user_by_id(id).await?,
            (_, None) => None,
        };
        let Some(user) = user.filter(|u| !u.disabled) else {
            return Ok(None);
        };
        let mut facts = Facts {
            username: user.username.clone(),
            at: Some(from_unix_millis(payload.at)),
            browser: payload
                .user_agent
                .as_deref()
                .map(|ua| device::describe(Some(ua))),
            client_addr: payload.client_addr,
            new_email: payload.new_email,
            ..Facts::default()
        };
        let mut to = row.recipient.clone();
        let link = match kind {
            Kind::PasswordReset => {
                // To the account's address as it is now, which the link's
                // use will count as verified.
                to = user.email.clone();
                Some((
                    TokenPurpose::PasswordReset,
                    "/reset-password",
                    mail.reset_ttl,
                ))
            }
            Kind::VerifyEmail if user.email_verified || !same_address(&user, &row.recipient) => {
                return Ok(None);
            }
            Kind::VerifyEmail => Some((
                TokenPurpose::VerifyEmail,
                "/verify-email",
                mail.verification_ttl,
            )),
            Kind::ConfirmNewEmail => Some((
                TokenPurpose::ChangeEmail,
                "/verify-email",
                mail.verification_ttl,
            )),
            _ => None,
        };
        if let Some((purpose, path, ttl)) = link {
            let token = LinkToken::generate().map_err(|e| AuthError::Internal(e.into()))?;
            self.store
                .replace_email_token(&NewEmailToken {
                    token_hash: &token.hash(),
                    user_id: user.id,
                    purpose,
                    email: &to,
                    now,
                    expires_at: now + ttl,
                })
                .await?;
            // The token travels in the fragment: browsers send neither it
            // to the server nor in a `Referer`.
            facts.link = Some(
                mail.mailer
                    .link(&format!("{path}#token={}", token.encode())),
            );
            facts.valid_for = Some(words(ttl));
        }
        Ok(Some(Letter { kind, to, facts }))
    }
}

/// Whether `address` is the account's address (regardless of case).
fn same_address(user: &UserRecord, address: &str) -> bool {
    LoginName::new(&user.email).key() == LoginName::new(address).key()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_lifetimes_read_as_words() {
        assert_eq!(words(Duration::from_secs(30 * 60)), "30 minutes");
        assert_eq!(words(Duration::from_secs(3600)), "1 hour");
        assert_eq!(words(Duration::from_secs(86_400)), "24 hours");
        assert_eq!(words(Duration::from_secs(60)), "1 minute");
    }
}
