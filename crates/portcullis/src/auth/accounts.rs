//! Accounts: registration, sign-in, password change, and the admin operations.

use portcullis_verifier::Claims;
use time::OffsetDateTime;
use tracing::instrument;

use super::address_limits::Limit;
use super::audit::{AuditKind, Event};
use super::passwords::Verified;
use super::throttle;
use super::{Auth, AuthError, ClientInfo, SignedIn, UserView};
use crate::config::Registration;
use crate::domain::{Email, LoginName, Password, SessionId, UserId, Username};
use crate::mail::Kind;
use crate::store::{NewUser, RevokeReason, StoreError};
use crate::telemetry::SignInOutcome;

/// A registration as submitted, before any checking.
#[derive(Debug)]
pub struct NewAccount<'a> {
    /// The wanted username.
    pub username: &'a str,
    /// The e-mail address.
    pub email: &'a str,
    /// The password.
    pub password: &'a str,
}

/// What a registration gave.
#[derive(Debug)]
pub enum Registered {
    /// The account, signed in (boxed: the credentials are large, and this
    /// is the common case only by a little).
    SignedIn(Box<SignedIn>),
    /// The account, not signed in: its address must be verified first
    /// (`require_verified_email`); the link is on its way.
    VerifyFirst(UserView),
}

/// An account whose fields are valid and whose password is hashed.
struct CheckedAccount {
    username: Username,
    email: Email,
    hash: String,
}

impl CheckedAccount {
    fn record(&self, id: UserId, now: OffsetDateTime) -> NewUser<'_> {
        NewUser {
            id,
            username: &self.username,
            email: &self.email,
            password_hash: &self.hash,
            now,
        }
    }
}

/// A refused sign-in, with what the audit log may record of it.
enum LoginFailure {
    /// Wrong credentials; the account, when the name matched one.
    Failed(Option<UserId>),
    /// Throttled, per account name or per client address.
    Throttled {
        retry_after: std::time::Duration,
        per: &'static str,
    },
    /// The password was right but the address must be verified first;
    /// the error is what to answer.
    Unverified(UserId, AuthError),
    /// The database or the hasher failed.
    Error(AuthError),
}

impl LoginFailure {
    fn into_error(self) -> AuthError {
        match self {
            LoginFailure::Failed(_) => AuthError::InvalidCredentials,
            LoginFailure::Throttled { retry_after, .. } => {
                AuthError::TooManyAttempts { retry_after }
            }
            LoginFailure::Unverified(_, e) | LoginFailure::Error(e) => e,
        }
    }
}

impl<E: Into<AuthError>> From<E> for LoginFailure {
    fn from(e: E) -> Self {
        LoginFailure::Error(e.into())
    }
}

/// A taken name or address is the contract's `account_exists`.
fn account_exists(e: StoreError) -> AuthError {
    match e {
        StoreError::Conflict(_) => AuthError::AccountExists,
        other => AuthError::Store(other),
    }
}

impl Auth {
    /// Self-service registration: creates the account, queues the mail that
    /// verifies its address (when e-mail is on), and signs it in — unless
    /// the address must be verified first.
    #[instrument(skip_all)]
    pub async fn register(
        &self,
        account: NewAccount<'_>,
        client: &ClientInfo,
    ) -> Result<Registered, AuthError> {
        if self.registration == Registration::Closed {
            return Err(AuthError::RegistrationClosed);
        }
        if let Err(retry_after) = self.limits.check(Limit::Registration, client.addr) {
            return Err(AuthError::TooManyAttempts { retry_after });
        }
        let checked = self.check_account(account).await?;
        let opening = self.open_session(client)?;
        let id = UserId::random();
        let verify = self.outbox_row(Kind::VerifyEmail, Some(id), None, client, None);
        if self.require_verified_email {
            let new = checked.record(id, opening.now);
            let user = self
                .store
                .insert_user(new, verify.as_ref())
                .await
                .map_err(account_exists)?;
            tracing::info!(user = %user.id, "account registered; address to verify");
            self.queued(verify.as_ref());
            self.audit_registration(user.id, None, client).await;
            return Ok(Registered::VerifyFirst(user.into()));
        }
        // One transaction: a failure leaves neither an account nor a session
        // (nor mail), so retrying the registration works instead of
        // answering 409.
        let user = self
            .store
            .insert_user_with_session(
                checked.record(id, opening.now),
                opening.record(id),
                verify.as_ref(),
            )
            .await
            .map_err(account_exists)?;
        tracing::info!(user = %user.id, "account registered");
        self.queued(verify.as_ref());
        let signed_in = self.opened(user, opening);
        self.audit_registration(signed_in.user.id, Some(signed_in.session_id), client)
            .await;
        Ok(Registered::SignedIn(Box::new(signed_in)))
    }

    async fn audit_registration(
        &self,
        user: UserId,
        session: Option<SessionId>,
        client: &ClientInfo,
    ) {
        self.audit(Event {
            kind: AuditKind::Registered,
            user: Some(user),
            session,
            client,
            detail: None,
        })
        .await;
    }

    /// Creates an account without signing in (`portcullis user add`); its
    /// address is sent a verification mail when e-mail is on.
    #[instrument(skip_all)]
    pub async fn create_user(&self, account: NewAccount<'_>) -> Result<UserView, AuthError> {
        let checked = self.check_account(account).await?;
        let id = UserId::random();
        let verify = self.outbox_row(
            Kind::VerifyEmail,
            Some(id),
            None,
            &ClientInfo::administrator(),
            None,
        );
        let new = checked.record(id, self.clock.now());
        let user = self
            .store
            .insert_user(new, verify.as_ref())
            .await
            .map_err(account_exists)?;
        self.queued(verify.as_ref());
        Ok(user.into())
    }

    /// Parses a submitted account and hashes its password.
    async fn check_account(&self, account: NewAccount<'_>) -> Result<CheckedAccount, AuthError> {
        let username = Username::parse(account.username).map_err(AuthError::InvalidUsername)?;
        let email = Email::parse(account.email).map_err(AuthError::InvalidEmail)?;
        let password = Password::new_password(account.password).map_err(AuthError::WeakPassword)?;
        let hash = self.passwords.hash(password).await?;
        Ok(CheckedAccount {
            username,
            email,
            hash,
        })
    }

    /// Sign-in by username or e-mail address; every attempt is counted by
    /// outcome and written to the audit log.
    ///
    /// An unknown name, a wrong password and a disabled account take the same
    /// path — one argon2 verification — and give the same error.
    #[instrument(skip_all)]
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        let result = self.check_login(login, password, client).await;
        let (outcome, kind, user, detail) = match &result {
            Ok(s) => (
                SignInOutcome::Ok,
                AuditKind::SignInOk,
                Some(s.user.id),
                None,
            ),
            Err(LoginFailure::Failed(user)) => {
                (SignInOutcome::Failed, AuditKind::SignInFailed, *user, None)
            }
            Err(LoginFailure::Throttled { per, .. }) => (
                SignInOutcome::Throttled,
                AuditKind::SignInThrottled,
                None,
                Some(*per),
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
        login: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SignedIn, LoginFailure> {
        if let Err(retry_after) = self.limits.check(Limit::SignIn, client.addr) {
            return Err(LoginFailure::Throttled {
                retry_after,
                per: "per address",
            });
        }
        let name = LoginName::new(login);
        let now = self.clock.now();
        if let Some((failures, last)) = self.store.login_failures(name.key()).await?
            && let Some(retry_after) = throttle::remaining(failures, last, now)
        {
            return Err(LoginFailure::Throttled {
                retry_after,
                per: "per account",
            });
        }
        let user = self.store.user_by_login(&name).await?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let verified = self
            .passwords
            .verify(Password::candidate(password), stored)
            .await
            .map_err(AuthError::from)?;
        match (user, verified) {
            (Some(user), verified @ (Verified::Yes | Verified::YesRehashed(_)))
                if !user.disabled =>
            {
                if let Verified::YesRehashed(hash) = verified {
                    self.store.set_password_hash(user.id, &hash, now).await?;
                }
                self.store.clear_login_failures(name.key()).await?;
                if self.require_verified_email && !user.email_verified {
                    let refusal = self.refuse_unverified(&user, client).await;
                    return Err(LoginFailure::Unverified(user.id, refusal));
                }
                tracing::info!(user = %user.id, "signed in");
                Ok(self.start_noticed_session(user, client).await?)
            }
            (user, _) => {
                self.limits.sign_in_failed(client.addr);
                let forget_before = now - throttle::FAILURE_MEMORY;
                let failures = self
                    .store
                    .record_login_failure(name.key(), now, forget_before)
                    .await?;
                tracing::info!(failures, "sign-in failed");
                Err(LoginFailure::Failed(user.map(|u| u.id)))
            }
        }
    }

    /// Changes the signed-in user's password and revokes their other sessions.
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn change_password(
        &self,
        claims: &Claims,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let (user, session) = self.current_records(claims).await?;
        let new = Password::new_password(new).map_err(AuthError::WeakPassword)?;
        let verified = self
            .passwords
            .verify(Password::candidate(current), Some(user.password_hash))
            .await?;
        if verified == Verified::No {
            return Err(AuthError::WrongCurrentPassword);
        }
        let hash = self.passwords.hash(new).await?;
        let now = self.clock.now();
        let notice = self.notice(Kind::PasswordChanged, user.id, client);
        self.store
            .change_password_hash(user.id, &hash, now, notice.as_ref())
            .await?;
        self.queued(notice.as_ref());
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

    /// Every account, for `portcullis user list`.
    pub async fn list_users(&self) -> Result<Vec<UserView>, AuthError> {
        let users = self.store.list_users().await?;
        Ok(users.into_iter().map(UserView::from).collect())
    }

    /// The account with this username, for the admin commands.
    pub async fn find_user(&self, username: &str) -> Result<Option<UserView>, AuthError> {
        let user = self
            .store
            .user_by_login(&LoginName::Username(
                LoginName::new(username).key().to_owned(),
            ))
            .await?;
        Ok(user.map(UserView::from))
    }

    /// Ends every session of a user at an administrator's request; returns
    /// how many.
    pub async fn revoke_sessions_by_administrator(&self, id: UserId) -> Result<usize, AuthError> {
        self.revoke_user_sessions(
            id,
            None,
            RevokeReason::Administrator,
            &ClientInfo::administrator(),
        )
        .await
    }

    /// Disables an account and ends its sessions; `false` when there is no
    /// such account.
    pub async fn disable_user(&self, id: UserId) -> Result<bool, AuthError> {
        if !self
            .store
            .set_user_disabled(id, true, self.clock.now())
            .await?
        {
            return Ok(false);
        }
        let admin = ClientInfo::administrator();
        self.audit(Event {
            kind: AuditKind::UserDisabled,
            user: Some(id),
            session: None,
            client: &admin,
            detail: None,
        })
        .await;
        self.revoke_user_sessions(id, None, RevokeReason::Administrator, &admin)
            .await?;
        Ok(true)
    }
}
