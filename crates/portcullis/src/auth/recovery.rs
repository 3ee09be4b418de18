//! Getting back into an account by mail: asking for a reset link, setting a
//! new password with it, and the operator's `portcullis user reset-link`.
//!
//! Asking for a link answers the same, at the same cost, whether or not an
//! account has the address: the request writes one outbox row either way,
//! and only the worker, off the request's path, finds out (see
//! [`super::mailer`]).

use secrecy::{ExposeSecret, SecretString};
use tracing::instrument;

use super::address_limits::Limit;
use super::audit::{AuditKind, Event};
use super::throttle::ThrottleKey;
use super::{Auth, AuthError, ClientInfo};
use crate::domain::{Email, LinkToken, LoginName, Password, UserId};
use crate::mail::Kind;
use crate::store::{NewEmailToken, Reset, RevokeReason, TokenPurpose};

/// A new password set with a mailed link's token.
#[derive(Debug)]
pub struct PasswordReset<'a> {
    /// The token from the link.
    pub token: &'a SecretString,
    /// The password wanted.
    pub new: &'a SecretString,
    /// The browser's device cookie, if it has one.
    pub device: Option<&'a str>,
}

impl Auth {
    /// Spends one request of the per-address limit of the e-mail routes.
    pub(super) fn check_mail_route(&self, client: &ClientInfo) -> Result<(), AuthError> {
        self.mailing()?;
        self.limits
            .check(Limit::Email, client.addr)
            .map_err(|retry_after| AuthError::TooManyAttempts { retry_after })
    }

    /// `POST /api/auth/password/forgot`: queues a reset mail for whichever
    /// account has `email`, if one has. The answer says nothing about
    /// which: an address that is not an address, or that no account has,
    /// is accepted alike.
    #[instrument(skip_all)]
    pub async fn forgot_password(&self, email: &str, client: &ClientInfo) -> Result<(), AuthError> {
        self.check_mail_route(client)?;
        // Keyed on what was submitted, account or not, so that a 429 tells
        // nothing either; by digest, as the sign-in throttle keys a name, so
        // that a row's size is bounded and the table never holds the text.
        let submitted = ThrottleKey::name(&LoginName::new(email));
        self.count_mail_request(&format!("forgot:{}", submitted.stored()))
            .await?;
        if let Ok(address) = Email::parse(email)
            && let Some(row) = self.outbox_row(
                Kind::PasswordReset,
                None,
                Some(address.as_str()),
                client,
                None,
            )
        {
            self.store.enqueue_mail(&row).await?;
            self.queued(Some(&row));
        }
        Ok(())
    }

    /// `POST /api/auth/password/reset`: sets a new password with a link's
    /// token. Every session of the account ends, on every instance, and so
    /// does any a racing sign-in stores later; the account's failed
    /// sign-ins are forgotten (and this browser's, when its device cookie
    /// is for the account), so that whoever was guessing leaves no lockout
    /// behind; the address counts as verified when the link went to it; a
    /// notice goes out.
    #[instrument(skip_all)]
    pub async fn reset_password(
        &self,
        reset: PasswordReset<'_>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.check_mail_route(client)?;
        let password =
            Password::new_password(reset.new.expose_secret()).map_err(AuthError::WeakPassword)?;
        let token = LinkToken::parse(reset.token.expose_secret()).ok_or(AuthError::InvalidToken)?;
        let hash = token.hash();
        // Looked up before hashing, so that a made-up token costs no argon2.
        let found = self
            .store
            .email_token(&hash, self.clock.now())
            .await?
            .filter(|t| t.purpose == TokenPurpose::PasswordReset)
            .ok_or(AuthError::InvalidToken)?;
        self.count_mail_request(&format!("reset:{}", found.user_id))
            .await?;
        let password_hash = self.passwords.hash(password).await?;
        let notice = self.notice(Kind::PasswordWasReset, found.user_id, client);
        // What a sign-in to this account counts its failures against: the
        // account, from any browser it does not know (where an attacker's
        // guesses land), and this browser's own budget if it knows it. Other
        // devices' budgets were spent by browsers that signed in to the
        // account; they are not found by account, and expire within the hour.
        let device = reset
            .device
            .and_then(|cookie| self.devices.verify(cookie, found.user_id));
        let throttle_keys: Vec<String> = std::iter::once(ThrottleKey::Account(found.user_id))
            .chain(device.map(ThrottleKey::Device))
            .map(|key| key.stored())
            .collect();
        let now = self.clock.now();
        let revoked = self
            .store
            .reset_password(&Reset {
                token_hash: &hash,
                user_id: found.user_id,
                password_hash: &password_hash,
                now,
                notice: notice.as_ref(),
                throttle_keys: &throttle_keys,
            })
            .await;
        // Whatever the outcome: a write that timed out may still have committed.
        self.user_changed(found.user_id);
        let revoked = revoked?.ok_or(AuthError::InvalidToken)?;
        // The sessions' revocations reach other instances through the
        // database; this one refuses their tokens from now on.
        self.revoked.extend(revoked.iter().map(|id| (*id, now)));
        self.metrics
            .revocations(RevokeReason::PasswordReset.as_str(), revoked.len() as u64);
        let detail = format!("{} sessions revoked", revoked.len());
        self.audit(Event {
            kind: AuditKind::PasswordReset,
            user: Some(found.user_id),
            session: None,
            client,
            detail: Some(&detail),
        })
        .await;
        self.queued(notice.as_ref());
        tracing::info!(user = %found.user_id, revoked = revoked.len(), "password reset by mail");
        Ok(())
    }

    /// A reset link for `user`, for an operator to hand over by other means
    /// (`portcullis user reset-link`): nothing is mailed, and earlier links
    /// stop working.
    pub async fn reset_link(&self, user: UserId) -> Result<String, AuthError> {
        let mail = self.mailing()?;
        let record = self
            .store
            .user_by_id(user)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let token = LinkToken::generate().map_err(|e| AuthError::Internal(e.into()))?;
        let now = self.clock.now();
        self.store
            .replace_email_token(&NewEmailToken {
                token_hash: &token.hash(),
                user_id: record.id,
                purpose: TokenPurpose::PasswordReset,
                email: &record.email,
                now,
                expires_at: now + mail.reset_ttl(),
            })
            .await?;
        let admin = ClientInfo::administrator();
        self.audit(Event {
            kind: AuditKind::ResetLinkIssued,
            user: Some(record.id),
            session: None,
            client: &admin,
            detail: None,
        })
        .await;
        Ok(mail.link(&format!("/reset-password#token={}", token.encode())))
    }
}
