//! Changing the password of a signed-in account.
//!
//! The current password is checked like a sign-in, because to a thief with a
//! copy of the session it is one: the same per-address and per-account (or
//! per-device) limits, the failure written to the audit log. Each change
//! costs up to two argon2 runs, so a session gets one share of the hasher at
//! a time: its guesses cannot keep the queue full while sign-ins are shed.
//!
//! A change ends every session of the account begun before it, this one
//! included, and starts a new one for the caller: the user goes on signed in,
//! with new cookies, and no session that raced the change survives it.

use std::time::Duration;

use portcullis_verifier::Claims;
use secrecy::{ExposeSecret, SecretString};
use tracing::instrument;

use super::audit::{AuditKind, Event};
use super::guessing::Throttled;
use super::passwords::Verified;
use super::tokens::AccessDenial;
use super::{Auth, AuthError, ClientInfo};
use crate::domain::{Password, SessionId};
use crate::store::RevokeReason;

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

impl Auth {
    /// Changes the signed-in user's password and ends every other session
    /// begun before the change; the caller's session goes on.
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn change_password(
        &self,
        claims: &Claims,
        change: PasswordChange<'_>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let gone = || AuthError::Unauthenticated(AccessDenial::Revoked);
        let session: SessionId = claims.sid.parse().map_err(|_| gone())?;
        let Some(share) = self.passwords.share(session) else {
            return Err(AuthError::TooManyAttempts {
                retry_after: BUSY_RETRY_AFTER,
            });
        };
        let (user, session) = self.current_records(claims).await?;
        let new =
            Password::new_password(change.new.expose_secret()).map_err(AuthError::WeakPassword)?;
        let now = self.clock.now();
        let key = self.account_key(&user, change.device);
        let admitted = match self.admit_address(client) {
            Ok(()) => self.admit_key(&key, now).await?,
            Err(throttled) => Err(throttled),
        };
        if let Err(Throttled { retry_after, per }) = admitted {
            self.audit(Event {
                kind: AuditKind::PasswordChangeThrottled,
                user: Some(user.id),
                session: Some(session.id),
                client,
                detail: Some(per),
            })
            .await;
            return Err(AuthError::TooManyAttempts { retry_after });
        }
        let current = Password::candidate(change.current.expose_secret());
        if share.verify(current, user.password_hash.clone()).await? == Verified::No {
            let failures = self.guess_failed(&key, now, client).await?;
            tracing::info!(failures, "wrong current password");
            self.audit(Event {
                kind: AuditKind::PasswordChangeFailed,
                user: Some(user.id),
                session: Some(session.id),
                client,
                detail: Some(key.origin()),
            })
            .await;
            return Err(AuthError::WrongCurrentPassword);
        }
        let hash = share.hash(new).await?;
        drop(share);
        self.store.set_password_hash(user.id, &hash, now).await?;
        // Read after the new hash is stored: any sign-in that saw the old one
        // began before this moment, and its session is refused from here on
        // (see `still_valid`). Stored before the revocation below, so that a
        // session the revocation misses is one that sees this time.
        // Every other session ends on every instance, including one a
        // sign-in racing this change stores after the revocation below; the
        // session that changed the password stays signed in.
        self.store
            .set_sessions_valid_after(user.id, self.clock.now(), Some(session.id))
            .await?;
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
