//! Addresses: verifying the account's own, changing it (the new address
//! confirms, the old one is told), and the notices other events send —
//! each written to the outbox in the transaction of its event.

use portcullis_verifier::Claims;
use secrecy::SecretString;
use tracing::instrument;

use super::audit::{AuditKind, Event};
use super::password_change::{CurrentPassword, Proving};
use super::{Auth, AuthError, ClientInfo};
use crate::domain::{Email, LinkToken, LoginName, SessionId, UserId};
use crate::mail::{Kind, mask_address};
use crate::store::{
    EmailTokenRecord, RevokeReason, StoreError, TokenPurpose, Unique, UserRecord, Verified as Used,
};

/// What a session asks for to change its address.
#[derive(Debug)]
pub struct EmailChange<'a> {
    /// The new address, as submitted.
    pub email: &'a str,
    /// The password in use.
    pub current: &'a SecretString,
    /// The browser's device cookie, if it has one.
    pub device: Option<&'a str>,
}

impl Auth {
    /// `POST /api/auth/email/verify`: uses a link's token — the account's
    /// address is verified, or a new address confirmed and made the
    /// account's.
    #[instrument(skip_all)]
    pub async fn verify_email(&self, token: &str, client: &ClientInfo) -> Result<(), AuthError> {
        self.check_mail_route(client)?;
        let token = LinkToken::parse(token).ok_or(AuthError::InvalidToken)?;
        let hash = token.hash();
        let now = self.clock.now();
        let found: EmailTokenRecord = self
            .store
            .email_token(&hash, now)
            .await?
            .filter(|t| t.purpose != TokenPurpose::PasswordReset)
            .ok_or(AuthError::InvalidToken)?;
        let changing = found.purpose == TokenPurpose::ChangeEmail;
        let notice = if changing {
            self.outbox_row(
                Kind::EmailChanged,
                Some(found.user_id),
                None,
                client,
                Some(mask_address(&found.email)),
            )
        } else {
            None
        };
        let used = self
            .store
            .confirm_email(&Used {
                token_hash: &hash,
                token: &found,
                now,
                notice: notice.as_ref(),
            })
            .await;
        // Whatever the outcome: a write that timed out may still have committed.
        self.user_changed(found.user_id);
        let used = used.map_err(|e| match e {
            StoreError::Conflict(Unique::Email) => AuthError::AccountExists,
            other => AuthError::Store(other),
        })?;
        if !used {
            return Err(AuthError::InvalidToken);
        }
        self.queued(notice.as_ref());
        self.audit(Event {
            kind: if changing {
                AuditKind::EmailChanged
            } else {
                AuditKind::EmailVerified
            },
            user: Some(found.user_id),
            session: None,
            client,
            detail: None,
        })
        .await;
        Ok(())
    }

    /// `POST /api/auth/email/resend`: a new verification mail for the
    /// signed-in account, unless its address is verified already.
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn resend_verification(
        &self,
        claims: &Claims,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.check_mail_route(client)?;
        let (user, _) = self.current_records(claims).await?;
        self.count_mail_request(&format!("verify:{}", user.id))
            .await?;
        if !user.email_verified {
            self.queue_verification(&user, client).await?;
        }
        Ok(())
    }

    /// `POST /api/auth/email`: asks to change the signed-in account's
    /// address. Nothing changes until the new address confirms with the
    /// link mailed to it. The current password is checked as a password
    /// change checks it: within the sign-in limits, one at a time per
    /// session.
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn change_email(
        &self,
        claims: &Claims,
        change: EmailChange<'_>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.check_mail_route(client)?;
        let share = self.hasher_share(claims)?;
        let (user, session) = self.current_records(claims).await?;
        let email = Email::parse(change.email).map_err(AuthError::InvalidEmail)?;
        let proof = CurrentPassword {
            user: &user,
            session: &session,
            password: change.current,
            device: change.device,
            proving: Proving::EmailChange,
        };
        self.prove_current_password(&share, proof, client).await?;
        drop(share);
        self.count_mail_request(&format!("email:{}", user.id))
            .await?;
        if LoginName::new(&user.email).key() == email.key() {
            // The address it has: at most, verify it.
            if !user.email_verified {
                self.queue_verification(&user, client).await?;
            }
            return Ok(());
        }
        let owner = self
            .store
            .user_by_login(&LoginName::Email(email.key()))
            .await?;
        if owner.is_some() {
            return Err(AuthError::AccountExists);
        }
        if let Some(row) = self.outbox_row(
            Kind::ConfirmNewEmail,
            Some(user.id),
            Some(email.as_str()),
            client,
            None,
        ) {
            self.store.enqueue_mail(&row).await?;
            self.queued(Some(&row));
        }
        self.audit(Event {
            kind: AuditKind::EmailChangeRequested,
            user: Some(user.id),
            session: None,
            client,
            detail: None,
        })
        .await;
        Ok(())
    }

    /// Queues a verification mail to the account's address.
    async fn queue_verification(
        &self,
        user: &UserRecord,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        if let Some(row) = self.outbox_row(
            Kind::VerifyEmail,
            Some(user.id),
            Some(&user.email),
            client,
            None,
        ) {
            self.store.enqueue_mail(&row).await?;
            self.queued(Some(&row));
        }
        Ok(())
    }

    /// A sign-in whose password was right, to an account that must verify
    /// its address first: a fresh link is on its way (within the account's
    /// mail limit), and the sign-in is refused.
    pub(super) async fn refuse_unverified(
        &self,
        user: &UserRecord,
        client: &ClientInfo,
    ) -> AuthError {
        let queued = match self
            .count_mail_request(&format!("verify:{}", user.id))
            .await
        {
            Ok(()) => self.queue_verification(user, client).await,
            Err(e) => Err(e),
        };
        match queued {
            Ok(()) | Err(AuthError::TooManyAttempts { .. }) => AuthError::EmailNotVerified,
            Err(e) => e,
        }
    }

    /// Revokes a session whose refresh token came back after rotation, and
    /// tells its owner; `false` when it was revoked already.
    pub(super) async fn revoke_reused(
        &self,
        id: SessionId,
        owner: UserId,
        client: &ClientInfo,
    ) -> Result<bool, AuthError> {
        let reason = RevokeReason::RefreshReuse;
        let Some(notice) = self.notice(Kind::RefreshReuse, owner, client) else {
            return self.revoke(id, None, reason, client).await;
        };
        let now = self.clock.now();
        let revoked = self
            .store
            .revoke_session_with_notice(id, reason, now, &notice)
            .await?;
        if revoked {
            self.revoked_one(id, None, reason, client, now).await;
            self.queued(Some(&notice));
        }
        Ok(revoked)
    }
}
