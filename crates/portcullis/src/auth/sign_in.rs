//! Sign-in: who may try, what a failure counts against, and the one check
//! after the session is stored that no password change or disable slipped
//! in between.
//!
//! Every way in — a password alone, a password and then a second factor
//! (see [`super::mfa`]) — ends in [`Auth::admit`], so that each applies the
//! same rules once its proofs are complete: the verified-address
//! requirement, the account's failures forgotten, the new-device notice,
//! the session stored and checked against a concurrent change, a new
//! device cookie.
//!
//! A sign-in from a browser without a valid device cookie for the account
//! is one from a new device: with `notify_new_device`, its notice is queued
//! in the transaction that stores the session. The cookie is signed, so an
//! intruder cannot pass for a browser the owner uses, as a copied
//! `User-Agent` would.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use tracing::instrument;

use super::audit::{AuditKind, Event};
use super::devices::DeviceToken;
use super::guessing::Throttled;
use super::passwords::Verified;
use super::throttle::ThrottleKey;
use super::{Auth, AuthError, ClientInfo, SignedIn};
use crate::domain::{LinkToken, LoginName, Password, SignInMethod, UserId};
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

/// How a sign-in with the right password goes on.
#[derive(Debug)]
pub enum SignInResult {
    /// Signed in (boxed: far larger than the other answer).
    SignedIn(Box<SignedIn>),
    /// The account has a second factor: the sign-in waits for it.
    SecondFactor(PendingSignIn),
}

/// A sign-in whose password was right and that waits for a second factor.
#[derive(Debug)]
pub struct PendingSignIn {
    /// The `__Host-mfa_pending` cookie's value; the database keeps its hash.
    pub token: LinkToken,
    /// How long it waits.
    pub lifetime: Duration,
    /// The second factors that can complete it: `totp`, `recovery_code`,
    /// `webauthn`.
    pub methods: Vec<&'static str>,
}

/// How long a sign-in waits for its second factor: enough to find a phone,
/// short enough that a pending cookie left behind is soon worthless.
pub const PENDING_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// A refused sign-in, with what the audit log may record of it.
pub(super) enum LoginFailure {
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
    /// A second factor: the code was wrong, used before, or not a code.
    WrongCode(UserId),
    /// A passkey assertion was refused; the account, when the credential
    /// named one.
    WrongPasskey(Option<UserId>),
    /// A second factor: no waiting sign-in for this cookie (none, expired,
    /// completed, or its account changed since).
    Expired,
    /// The database or the hasher failed.
    Error(AuthError),
}

impl LoginFailure {
    fn into_error(self) -> AuthError {
        match self {
            LoginFailure::Failed(..) | LoginFailure::Superseded(_) => AuthError::InvalidCredentials,
            LoginFailure::WrongCode(_) => AuthError::InvalidCode,
            LoginFailure::WrongPasskey(_) => AuthError::InvalidPasskey,
            LoginFailure::Expired => AuthError::MfaExpired,
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

/// A sign-in whose proofs are complete, on its way to a session.
pub(super) struct Admission<'a> {
    /// The account, as read when its password was checked.
    pub(super) user: UserRecord,
    /// The SHA-256 of the password hash that was checked: a session
    /// stored after it changed is void.
    pub(super) password_digest: [u8; 32],
    /// What the attempt counted against: the account or the device.
    pub(super) key: &'a ThrottleKey,
    /// When the password was checked: the session begins then.
    pub(super) began: OffsetDateTime,
    /// What was proved.
    pub(super) method: SignInMethod,
}

/// What a sign-in keeps of the password hash it checked, to tell later
/// whether the password changed meanwhile: the PHC string's SHA-256, so
/// that no copy of the hash itself is stored with a waiting sign-in.
pub(super) fn password_digest(hash: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(hash.as_bytes()).into()
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
    ) -> Result<SignInResult, AuthError> {
        let result = self.check_login(&attempt, client).await;
        match result {
            Ok(SignInResult::SignedIn(signed_in)) => self
                .record_sign_in(Ok(*signed_in), None, client)
                .await
                .map(|s| SignInResult::SignedIn(Box::new(s))),
            Ok(SignInResult::SecondFactor(pending)) => {
                // Audited when the password was checked, with the account.
                self.metrics.sign_in(SignInOutcome::SecondFactor);
                Ok(SignInResult::SecondFactor(pending))
            }
            Err(failure) => self
                .record_sign_in(Err(failure), None, client)
                .await
                .map(|s| SignInResult::SignedIn(Box::new(s))),
        }
    }

    /// Counts a sign-in's outcome and writes it to the audit log (`proof`:
    /// the second factor that completed it); the error to answer.
    pub(super) async fn record_sign_in(
        &self,
        result: Result<SignedIn, LoginFailure>,
        proof: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        let (outcome, kind, user, detail) = match &result {
            Ok(s) => (
                SignInOutcome::Ok,
                AuditKind::SignInOk,
                Some(s.user.id),
                proof,
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
            Err(LoginFailure::WrongCode(user)) => (
                SignInOutcome::Failed,
                AuditKind::SecondFactorFailed,
                Some(*user),
                None,
            ),
            Err(LoginFailure::WrongPasskey(user)) => (
                SignInOutcome::Failed,
                if proof == Some("passkey") {
                    AuditKind::SignInFailed
                } else {
                    AuditKind::SecondFactorFailed
                },
                *user,
                Some("passkey"),
            ),
            Err(LoginFailure::Expired) => {
                // Nothing to record: no account is known, no guess was made.
                self.metrics.sign_in(SignInOutcome::Failed);
                return result.map_err(LoginFailure::into_error);
            }
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
    ) -> Result<SignInResult, LoginFailure> {
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
        let methods = self.second_factor_methods(user.id).await?;
        if !methods.is_empty() {
            // The account's failures are not forgotten yet: a thief with the
            // password would otherwise win a fresh budget of code guesses
            // with each correct password.
            // The hash just checked (after a rehash, the new one).
            let checked = (began, password_digest(&hash));
            let pending = self
                .await_second_factor(&user, checked, (SignInMethod::Password, methods), client)
                .await?;
            return Ok(SignInResult::SecondFactor(pending));
        }
        let admission = Admission {
            password_digest: password_digest(&hash),
            user,
            key: &key,
            began,
            method: SignInMethod::Password,
        };
        let signed_in = self.admit(admission, client).await?;
        Ok(SignInResult::SignedIn(Box::new(signed_in)))
    }

    /// The one gate of every sign-in once its proofs are complete (see the
    /// module's introduction).
    pub(super) async fn admit(
        &self,
        admission: Admission<'_>,
        client: &ClientInfo,
    ) -> Result<SignedIn, LoginFailure> {
        let Admission {
            user,
            password_digest,
            key,
            began,
            method,
        } = admission;
        self.guess_succeeded(key).await?;
        if self.require_verified_email && !user.email_verified {
            // Only now, after the right password (and second factor): the
            // refusal tells nothing to someone without them.
            let refusal = self.refuse_unverified(&user, client).await;
            return Err(LoginFailure::Unverified(user.id, refusal));
        }
        let id = user.id;
        let new_device = matches!(key, ThrottleKey::Account(_));
        let notice = (new_device && self.notifies_new_device())
            .then(|| self.notice(Kind::NewDevice, id, client))
            .flatten();
        let mut signed_in = self
            .start_session(user, client, (began, method), notice.as_ref())
            .await?;
        if !self.still_valid(id, &password_digest, began).await? {
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
    /// password against the hash of `digest`, may stand: read again once the session is
    /// stored. A password change or a disable that committed before the
    /// session did either finds it (and revokes it) or is seen here.
    async fn still_valid(
        &self,
        user: UserId,
        digest: &[u8; 32],
        began: OffsetDateTime,
    ) -> Result<bool, AuthError> {
        Ok(match self.store.user_by_id(user).await? {
            Some(UserRecord {
                disabled: false,
                password_hash,
                sessions_valid_after,
                ..
            }) => password_digest(&password_hash) == *digest && sessions_valid_after <= began,
            _ => false,
        })
    }
}
