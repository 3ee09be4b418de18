//! Changing the password of a signed-in account, and the check of the
//! current password that it shares with changing the e-mail address.
//!
//! The current password is checked like a sign-in, because to a thief with a
//! copy of the session it is one: the same per-address and per-account (or
//! per-device) limits, the failure written to the audit log. Each change
//! costs up to two argon2 runs, so a session gets one share of the hasher at
//! a time: its guesses cannot keep the queue full while sign-ins are shed.
//!
//! A change ends every other session of the account begun before it, on
//! every instance, including one that a sign-in racing the change stores
//! afterwards; the session that made the change goes on. The notice to the
//! account's address is queued in the transaction that stores the new hash.

use std::time::Duration;

use portcullis_verifier::Claims;
use secrecy::{ExposeSecret, SecretString};
use tracing::instrument;

use super::audit::{AuditKind, Event};
use super::guessing::Throttled;
use super::passwords::{Share, Verified};
use super::tokens::AccessDenial;
use super::{Auth, AuthError, ClientInfo};
use crate::domain::{Password, SessionId};
use crate::mail::Kind;
use crate::store::{RevokeReason, SessionRecord, UserRecord};

/// What a session asks for: the password it proves, the one it wants.
#[derive(Debug)]
pub struct PasswordChange<'a> {
    /// The password in use.
    pub current: &'a SecretString,
    /// The password wanted.
    pub new: &'a SecretString,
    /// The browser's device cookie, if it has one.
    pub device: Option<&'a str>,
}

/// What a session refused for holding its share of the hasher waits: about
/// one argon2 run.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a signed-in session proves its current password for, and so what
/// the audit log calls a wrong guess and a refused one.
#[derive(Debug, Clone, Copy)]
pub(super) enum Proving {
    /// `POST /api/auth/password`.
    PasswordChange,
    /// `POST /api/auth/email`.
    EmailChange,
    /// `POST /api/auth/reauthenticate`.
    Reauthentication,
}

impl Proving {
    fn failed(self) -> AuditKind {
        match self {
            Proving::PasswordChange => AuditKind::PasswordChangeFailed,
            Proving::EmailChange => AuditKind::EmailChangeFailed,
            Proving::Reauthentication => AuditKind::ReauthenticationFailed,
        }
    }

    fn throttled(self) -> AuditKind {
        match self {
            Proving::PasswordChange => AuditKind::PasswordChangeThrottled,
            Proving::EmailChange => AuditKind::EmailChangeThrottled,
            Proving::Reauthentication => AuditKind::ReauthenticationThrottled,
        }
    }
}

/// A signed-in account proving its current password (see
/// [`Auth::prove_current_password`]).
pub(super) struct CurrentPassword<'a> {
    pub(super) user: &'a UserRecord,
    pub(super) session: &'a SessionRecord,
    pub(super) password: &'a SecretString,
    /// The browser's device cookie, if it has one.
    pub(super) device: Option<&'a str>,
    pub(super) proving: Proving,
}

impl Auth {
    /// The hasher's share for the session behind `claims`, or 429 while that
    /// session already holds one.
    pub(super) fn hasher_share(&self, claims: &Claims) -> Result<Share, AuthError> {
        let session: SessionId = claims
            .sid
            .parse()
            .map_err(|_| AuthError::Unauthenticated(AccessDenial::Revoked))?;
        self.passwords
            .share(session)
            .ok_or(AuthError::TooManyAttempts {
                retry_after: BUSY_RETRY_AFTER,
            })
    }

    /// Checks a signed-in account's current password as a sign-in is
    /// checked: within the per-address and per-account (or per-device)
    /// limits, a wrong one counted against them; both refusals audited.
    pub(super) async fn prove_current_password(
        &self,
        share: &Share,
        proof: CurrentPassword<'_>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let CurrentPassword {
            user,
            session,
            password,
            device,
            proving,
        } = proof;
        let now = self.clock.now();
        let key = self.account_key(user, device);
        let admitted = match self.admit_address(client) {
            Ok(()) => self.admit_key(&key, now).await?,
            Err(throttled) => Err(throttled),
        };
        if let Err(Throttled { retry_after, per }) = admitted {
            self.audit(Event {
                kind: proving.throttled(),
                user: Some(user.id),
                session: Some(session.id),
                client,
                detail: Some(per),
            })
            .await;
            return Err(AuthError::TooManyAttempts { retry_after });
        }
        let current = Password::candidate(password.expose_secret());
        if share.verify(current, user.password_hash.clone()).await? == Verified::No {
            let failures = self.guess_failed(&key, now, client).await?;
            tracing::info!(failures, "wrong current password");
            self.audit(Event {
                kind: proving.failed(),
                user: Some(user.id),
                session: Some(session.id),
                client,
                detail: Some(key.origin()),
            })
            .await;
            return Err(AuthError::WrongCurrentPassword);
        }
        Ok(())
    }

    /// Changes the signed-in user's password and ends every other session
    /// begun before the change; the caller's session goes on.
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn change_password(
        &self,
        claims: &Claims,
        change: PasswordChange<'_>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let share = self.hasher_share(claims)?;
        let (user, session) = self.current_records(claims).await?;
        let new =
            Password::new_password(change.new.expose_secret()).map_err(AuthError::WeakPassword)?;
        let proof = CurrentPassword {
            user: &user,
            session: &session,
            password: change.current,
            device: change.device,
            proving: Proving::PasswordChange,
        };
        self.prove_current_password(&share, proof, client).await?;
        let hash = share.hash(new).await?;
        drop(share);
        let notice = self.notice(Kind::PasswordChanged, user.id, client);
        // One transaction: the new hash, earlier reset links voided, the
        // notice queued.
        let changed = self
            .store
            .change_password_hash(user.id, &hash, self.clock.now(), notice.as_ref())
            .await;
        // Whatever the outcome: a write that timed out may still have committed.
        self.user_changed(user.id);
        changed?;
        self.queued(notice.as_ref());
        // Read after the new hash is stored: any sign-in that saw the old one
        // began before this moment, and its session is refused from here on
        // (see `still_valid`). Stored before the revocation below, so that a
        // session the revocation misses is one that sees this time. The
        // session that changed the password is spared.
        let valid_after = self
            .store
            .set_sessions_valid_after(user.id, self.clock.now(), Some(session.id))
            .await;
        self.user_changed(user.id);
        valid_after?;
        let revoked = self
            .revoke_user_sessions(
                user.id,
                Some(session.id),
                RevokeReason::PasswordChanged,
                client,
            )
            .await?;
        tracing::info!(revoked, "password changed");
        Ok(())
    }
}
