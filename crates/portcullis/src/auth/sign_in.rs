//! Sign-in: who may try, what a failure counts against, and the one check
//! after the session is stored that no password change or disable slipped
//! in between.
//!
//! A sign-in from a browser without a valid device cookie for the account
//! is one from a new device: with `notify_new_device`, its notice is queued
//! in the transaction that stores the session. The cookie is signed, so an
//! intruder cannot pass for a browser the owner uses, as a copied
//! `User-Agent` would.

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use tracing::instrument;

use super::audit::{AuditKind, Event};
use super::devices::DeviceToken;
use super::guessing::Throttled;
use super::passwords::Verified;
use super::throttle::ThrottleKey;
use super::{Auth, AuthError, ClientInfo, SignedIn};
use crate::domain::{LoginName, Password, UserId};
use crate::mail::Kind;
use crate::store::{RevokeReason, UserRecord};
use crate::telemetry::SignInOutcome;

/// A sign-in as submitted.
#[derive(Debug)]
pub struct SignInAttempt<'a> {
    /// A username or an e-mail address.
    pub login: &'a str,
    /// The password.
    pub password: &'a SecretString,
    /// The browser's device cookie, if it has one.
    pub device: Option<&'a str>,
}

/// A refused sign-in, with what the audit log may record of it.
enum LoginFailure {
    /// Wrong credentials; the account, when the name matched one; whether
    /// the attempt came from a device known to that account.
    Failed(Option<UserId>, &'static str),
    /// The password was right when checked, but the account changed before
    /// the session was stored: its password, or it was disabled.
    Superseded(UserId),
    /// Throttled, per address, per account or per device.
    Throttled(Throttled),
    /// The password was right but the address must be verified first;
    /// the error is what to answer.
    Unverified(UserId, AuthError),
    /// The database or the hasher failed.
    Error(AuthError),
}

impl LoginFailure {
    fn into_error(self) -> AuthError {
        match self {
            LoginFailure::Failed(..) | LoginFailure::Superseded(_) => AuthError::InvalidCredentials,
            LoginFailure::Throttled(t) => AuthError::TooManyAttempts {
                retry_after: t.retry_after,
            },
            LoginFailure::Unverified(_, e) | LoginFailure::Error(e) => e,
        }
    }
}

impl<E: Into<AuthError>> From<E> for LoginFailure {
    fn from(e: E) -> Self {
        LoginFailure::Error(e.into())
    }
}

impl Auth {
    /// Sign-in by username or e-mail address; every attempt is counted by
    /// outcome and written to the audit log. A success carries a new device
    /// cookie for the browser.
    ///
    /// An unknown name, a wrong password and a disabled account take the same
    /// path — one argon2 verification — and give the same error.
    #[instrument(skip_all)]
    pub async fn login(
        &self,
        attempt: SignInAttempt<'_>,
        client: &ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        let result = self.check_login(&attempt, client).await;
        let (outcome, kind, user, detail) = match &result {
            Ok(s) => (
                SignInOutcome::Ok,
                AuditKind::SignInOk,
                Some(s.user.id),
                None,
            ),
            Err(LoginFailure::Failed(user, from)) => (
                SignInOutcome::Failed,
                AuditKind::SignInFailed,
                *user,
                Some(*from),
            ),
            Err(LoginFailure::Superseded(user)) => (
                SignInOutcome::Failed,
                AuditKind::SignInFailed,
                Some(*user),
                Some("account changed during sign-in"),
            ),
            Err(LoginFailure::Throttled(t)) => (
                SignInOutcome::Throttled,
                AuditKind::SignInThrottled,
                None,
                Some(t.per),
            ),
            Err(LoginFailure::Unverified(user, _)) => (
                SignInOutcome::Failed,
                AuditKind::SignInUnverified,
                Some(*user),
                None,
            ),
            Err(LoginFailure::Error(_)) => {
                self.metrics.sign_in(SignInOutcome::Unavailable);
                return result.map_err(LoginFailure::into_error);
            }
        };
        self.metrics.sign_in(outcome);
        self.audit(Event {
            kind,
            user,
            session: result.as_ref().ok().map(|s| s.session_id),
            client,
            detail,
        })
        .await;
        result.map_err(LoginFailure::into_error)
    }

    async fn check_login(
        &self,
        attempt: &SignInAttempt<'_>,
        client: &ClientInfo,
    ) -> Result<SignedIn, LoginFailure> {
        self.admit_address(client)
            .map_err(LoginFailure::Throttled)?;
        // Taken before the account is read: the session begins here, so that
        // a password change or a disable committed after this read ends it.
        let began = self.clock.now();
        let name = LoginName::new(attempt.login);
        if name.is_too_long() {
            // No account has such a name: nothing to look up, nothing to
            // throttle by name, no row to keep. The address still pays.
            self.limits.sign_in_failed(client.addr);
            return Err(LoginFailure::Failed(None, "name too long"));
        }
        let user = self.store.user_by_login(&name).await?;
        let key = match &user {
            Some(user) => self.account_key(user, attempt.device),
            None => ThrottleKey::name(&name),
        };
        self.admit_key(&key, began)
            .await?
            .map_err(LoginFailure::Throttled)?;
        // An account made with a provider has no password (an empty hash):
        // it is checked against the dummy hash, like an unknown name, so
        // that it fails in the same time and the same way.
        let stored = user
            .as_ref()
            .filter(|u| !u.password_hash.is_empty())
            .map(|u| u.password_hash.clone());
        let password = Password::candidate(attempt.password.expose_secret());
        let verified = self.passwords.verify(password, stored).await?;
        let (user, hash) = match (user, verified) {
            (Some(user), Verified::Yes) if !user.disabled => {
                let hash = user.password_hash.clone();
                (user, hash)
            }
            (Some(user), Verified::YesRehashed(hash)) if !user.disabled => {
                self.store.set_password_hash(user.id, &hash, began).await?;
                (user, hash)
            }
            (user, _) => {
                let failures = self.guess_failed(&key, began, client).await?;
                tracing::info!(failures, "sign-in failed");
                return Err(LoginFailure::Failed(user.map(|u| u.id), key.origin()));
            }
        };
        self.guess_succeeded(&key).await?;
        if self.require_verified_email && !user.email_verified {
            // Only now, after the right password: the refusal tells nothing
            // to someone without it.
            let refusal = self.refuse_unverified(&user, client).await;
            return Err(LoginFailure::Unverified(user.id, refusal));
        }
        let id = user.id;
        let new_device = matches!(key, ThrottleKey::Account(_));
        let notice = (new_device && self.notifies_new_device())
            .then(|| self.notice(Kind::NewDevice, id, client))
            .flatten();
        let mut signed_in = self
            .start_session(user, client, began, notice.as_ref())
            .await?;
        if !self.still_valid(id, &hash, began).await? {
            // Stored, but after the account changed: end it before anyone
            // holds its tokens, on every instance.
            self.revoke(signed_in.session_id, None, RevokeReason::Superseded, client)
                .await?;
            tracing::info!(user = %id, "sign-in overtaken by a change to the account");
            return Err(LoginFailure::Superseded(id));
        }
        signed_in.device = Some(self.new_device(id)?);
        tracing::info!(user = %id, "signed in");
        Ok(signed_in)
    }

    /// A new device cookie for a browser that has just proved `user`'s
    /// password.
    pub(super) fn new_device(&self, user: UserId) -> Result<DeviceToken, AuthError> {
        self.devices
            .issue(user)
            .map_err(|e| AuthError::Internal(e.into()))
    }

    /// Whether a session of `user` that began at `began`, after checking the
    /// password against `hash`, may stand: read again once the session is
    /// stored. A password change or a disable that committed before the
    /// session did either finds it (and revokes it) or is seen here.
    async fn still_valid(
        &self,
        user: UserId,
        hash: &str,
        began: OffsetDateTime,
    ) -> Result<bool, AuthError> {
        Ok(match self.store.user_by_id(user).await? {
            Some(UserRecord {
                disabled: false,
                password_hash,
                sessions_valid_after,
                ..
            }) => password_hash == hash && sessions_valid_after <= began,
            _ => false,
        })
    }
}
