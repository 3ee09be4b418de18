//! Accounts: registration, sign-in, password change, and the admin operations.

use portcullis_verifier::Claims;
use time::OffsetDateTime;
use tracing::instrument;

use super::passwords::Verified;
use super::throttle;
use super::{Auth, AuthError, ClientInfo, SignedIn};
use crate::config::Registration;
use crate::domain::{Email, LoginName, Password, UserId, Username};
use crate::store::{NewUser, RevokeReason, StoreError, UserRecord};
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

/// A taken name or address is the contract's `account_exists`.
fn account_exists(e: StoreError) -> AuthError {
    match e {
        StoreError::Conflict(_) => AuthError::AccountExists,
        other => AuthError::Store(other),
    }
}

impl Auth {
    /// Self-service registration: creates the account and signs it in.
    #[instrument(skip_all)]
    pub async fn register(
        &self,
        account: NewAccount<'_>,
        client: &ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        if self.registration == Registration::Closed {
            return Err(AuthError::RegistrationClosed);
        }
        let checked = self.check_account(account).await?;
        let opening = self.open_session(client)?;
        let id = UserId::random();
        // One transaction: a failure leaves neither an account nor a session,
        // so retrying the registration works instead of answering 409.
        let user = self
            .store
            .insert_user_with_session(checked.record(id, opening.now), opening.record(id))
            .await
            .map_err(account_exists)?;
        tracing::info!(user = %user.id, "account registered");
        Ok(self.opened(user, opening))
    }

    /// Creates an account without signing in (self-service or admin).
    #[instrument(skip_all)]
    pub async fn create_user(&self, account: NewAccount<'_>) -> Result<UserRecord, AuthError> {
        let checked = self.check_account(account).await?;
        let new = checked.record(UserId::random(), self.clock.now());
        self.store.insert_user(new).await.map_err(account_exists)
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
    /// outcome.
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
        self.metrics.sign_in(match &result {
            Ok(_) => SignInOutcome::Ok,
            Err(AuthError::InvalidCredentials) => SignInOutcome::Failed,
            Err(AuthError::TooManyAttempts { .. }) => SignInOutcome::Throttled,
            Err(_) => SignInOutcome::Unavailable,
        });
        result
    }

    async fn check_login(
        &self,
        login: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        let name = LoginName::new(login);
        let now = self.clock.now();
        if let Some((failures, last)) = self.store.login_failures(name.key()).await?
            && let Some(retry_after) = throttle::remaining(failures, last, now)
        {
            return Err(AuthError::TooManyAttempts { retry_after });
        }
        let user = self.store.user_by_login(&name).await?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let verified = self
            .passwords
            .verify(Password::candidate(password), stored)
            .await?;
        match (user, verified) {
            (Some(user), verified @ (Verified::Yes | Verified::YesRehashed(_)))
                if !user.disabled =>
            {
                if let Verified::YesRehashed(hash) = verified {
                    self.store.set_password_hash(user.id, &hash, now).await?;
                }
                self.store.clear_login_failures(name.key()).await?;
                tracing::info!(user = %user.id, "signed in");
                self.start_session(user, client).await
            }
            _ => {
                let forget_before = now - throttle::FAILURE_MEMORY;
                let failures = self
                    .store
                    .record_login_failure(name.key(), now, forget_before)
                    .await?;
                tracing::info!(failures, "sign-in failed");
                Err(AuthError::InvalidCredentials)
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
    ) -> Result<(), AuthError> {
        let (user, session) = self.current_session(claims).await?;
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
        self.store.set_password_hash(user.id, &hash, now).await?;
        let revoked = self
            .revoke_user_sessions(user.id, Some(session.id), RevokeReason::PasswordChanged)
            .await?;
        tracing::info!(revoked, "password changed");
        Ok(())
    }

    /// Every account, for `portcullis user list`.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>, AuthError> {
        Ok(self.store.list_users().await?)
    }

    /// The account with this username, for the admin commands.
    pub async fn find_user(&self, username: &str) -> Result<Option<UserRecord>, AuthError> {
        Ok(self
            .store
            .user_by_login(&LoginName::Username(
                LoginName::new(username).key().to_owned(),
            ))
            .await?)
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
        self.revoke_user_sessions(id, None, RevokeReason::Administrator)
            .await?;
        Ok(true)
    }
}
