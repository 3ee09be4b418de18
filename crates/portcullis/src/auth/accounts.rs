//! Accounts: registration and the admin operations. Sign-in and password
//! change are in `sign_in.rs` and `password_change.rs`.

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use tracing::instrument;

use super::address_limits::Limit;
use super::audit::{AuditKind, Event};
use super::devices::DeviceToken;
use super::{Auth, AuthError, ClientInfo, SignedIn, UserView};
use crate::config::Registration;
use crate::domain::{Email, LoginName, Password, SessionId, SignInMethod, UserId, Username};
use crate::mail::Kind;
use crate::store::{NewUser, RevokeReason, StoreError};

/// A registration as submitted, before any checking.
#[derive(Debug)]
pub struct NewAccount<'a> {
    /// The wanted username.
    pub username: &'a str,
    /// The e-mail address.
    pub email: &'a str,
    /// The password.
    pub password: &'a SecretString,
}

/// What a registration gave.
#[derive(Debug)]
pub enum Registered {
    /// The account, signed in (boxed: the credentials are large, and this
    /// is the common case only by a little).
    SignedIn(Box<SignedIn>),
    /// The account, not signed in: its address must be verified first
    /// (`require_verified_email`); the link is on its way. The browser
    /// still gets a device cookie: it has just set the password.
    VerifyFirst {
        /// The account.
        user: UserView,
        /// The registering browser's device cookie.
        device: DeviceToken,
    },
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
        let opening = self.open_session(client, self.clock.now(), SignInMethod::Password)?;
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
            // The browser has just set the password: it is no stranger to
            // the account when it signs in once the address is verified.
            let device = self.new_device(user.id)?;
            return Ok(Registered::VerifyFirst {
                user: user.into(),
                device,
            });
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
        let mut signed_in = self.opened(user, opening);
        signed_in.device = Some(self.new_device(signed_in.user.id)?);
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
        let password = Password::new_password(account.password.expose_secret())
            .map_err(AuthError::WeakPassword)?;
        let hash = self.passwords.hash(password).await?;
        Ok(CheckedAccount {
            username,
            email,
            hash,
        })
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
        let disabled = self
            .store
            .set_user_disabled(id, true, self.clock.now())
            .await;
        // Whatever the outcome: a write that timed out may still have committed.
        self.user_changed(id);
        if !disabled? {
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
