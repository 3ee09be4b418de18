//! Sign-in with other providers, as accounts see it: starting a flow,
//! finishing it (sign in, create an account, or link to the signed-in one),
//! and linking or unlinking identities.
//!
//! The rules that keep accounts safe:
//!
//! - A flow is bound to the browser that began it: its secrets (`state`,
//!   `nonce`, PKCE verifier) are stored under the hash of a random cookie
//!   value, and the callback takes them in the statement that deletes them,
//!   so a callback without that cookie, or replayed, finds nothing.
//! - An identity is its provider and subject, never an e-mail address. An
//!   identity whose address is that of an existing account is not linked
//!   to it on the provider's word: only when the provider asserts the
//!   address is verified, and the person then proves the account with its
//!   password in the same browser within [`PENDING_LINK_LIFETIME`]
//!   ([`Auth::complete_pending_link`]). Otherwise the sign-in is refused.
//! - A new account from a provider has no password (an empty hash, which no
//!   password matches; see `sign_in.rs`). Its address counts as verified
//!   when the provider says it is: the provider has checked it, and a
//!   mailed link would prove nothing more.

use std::time::Duration;

use time::OffsetDateTime;
use tracing::instrument;

use super::audit::{AuditKind, Event};
use super::federation::{ExternalIdentity, FederationError, FlowSecrets, ProviderInfo};
use super::sign_in::{Admission, PendingSignIn, password_digest};
use super::{Auth, AuthError, ClientInfo, SignedIn};
use crate::config::Registration;
use crate::domain::{Email, LinkToken, SignInMethod, UserId, Username};
use crate::store::{
    FlowRecord, NewFlow, NewIdentity, NewUser, PendingLink, StoreError, Unlinked, UserRecord,
};

/// How long a browser may take at the provider.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// How long an identity waits for its account's password.
pub const PENDING_LINK_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// A flow begun: where to send the browser, and the cookie that binds the
/// flow to it.
#[derive(Debug)]
pub struct FlowStart {
    /// The provider's authorization URL.
    pub location: url::Url,
    /// The flow cookie's value.
    pub cookie: LinkToken,
}

/// A callback as the provider's redirect delivered it.
#[derive(Debug, Default)]
pub struct Callback<'a> {
    /// The provider's id, from the path.
    pub provider: &'a str,
    /// `code`.
    pub code: Option<&'a str>,
    /// `state`.
    pub state: Option<&'a str>,
    /// `error`, when the provider (or the person) refused.
    pub error: Option<&'a str>,
    /// `iss` (RFC 9207), when the provider sends it.
    pub iss: Option<&'a str>,
    /// The flow cookie's value.
    pub flow_cookie: Option<&'a str>,
    /// The browser's device cookie, if it has one.
    pub device: Option<&'a str>,
}

/// What a callback ended in.
#[derive(Debug)]
pub enum CallbackOutcome {
    /// Signed in (to an existing or a new account).
    SignedIn {
        /// The session.
        session: Box<SignedIn>,
        /// Where to continue.
        next: String,
    },
    /// The account has a second factor of ours: the sign-in waits for it
    /// (boxed: the largest answer).
    SecondFactor {
        /// The `__Host-mfa_pending` cookie and how long it lasts.
        pending: Box<PendingSignIn>,
        /// Where to continue once the code is in.
        next: String,
    },
    /// The identity was linked to the signed-in account that asked.
    Linked {
        /// Where to continue.
        next: String,
    },
    /// The provider vouches for the address of an existing account: the
    /// person must sign in to it with its password to link the identity.
    ConfirmWithPassword {
        /// The cookie that carries the offer to the sign-in.
        cookie: LinkToken,
        /// Where to continue after signing in.
        next: String,
    },
}

/// A linked identity, as the account page shows it.
#[derive(Debug, Clone)]
pub struct IdentityView {
    /// The provider's id.
    pub provider: String,
    /// Its display name (the id, if it is no longer configured).
    pub name: String,
    /// The address the provider gave at linking.
    pub email: Option<String>,
    /// When it was linked.
    pub linked_at: OffsetDateTime,
}

impl From<FederationError> for AuthError {
    fn from(e: FederationError) -> Self {
        match e {
            FederationError::UnknownProvider => AuthError::UnknownProvider,
            FederationError::Unavailable(_) => AuthError::ProviderUnavailable(Box::new(e)),
            FederationError::Refused(reason) => AuthError::ProviderDenied(reason),
            FederationError::InvalidIdToken(reason) => AuthError::InvalidIdToken(reason),
        }
    }
}

/// 256 random bits as text, for `state`, `nonce` and the PKCE verifier (43
/// characters, within PKCE's 43 to 128).
fn random_text() -> Result<String, AuthError> {
    LinkToken::generate()
        .map(|t| t.encode())
        .map_err(|e| AuthError::Internal(e.into()))
}

/// The longest provider error code echoed back: it is the provider's text.
const MAX_ERROR_CHARS: usize = 64;

impl Auth {
    /// The configured providers.
    pub fn providers(&self) -> Vec<ProviderInfo> {
        self.federation.list()
    }

    /// Begins a sign-in (or, with `link_user`, a linking) at `provider`;
    /// `next` must be a checked same-site path.
    #[instrument(skip_all, fields(provider))]
    pub async fn begin_external(
        &self,
        provider: &str,
        next: &str,
        link_user: Option<UserId>,
    ) -> Result<FlowStart, AuthError> {
        if !self.federation.has(provider) {
            return Err(AuthError::UnknownProvider);
        }
        let now = self.clock.now();
        let flow = FlowRecord {
            provider: provider.to_owned(),
            state: random_text()?,
            nonce: random_text()?,
            pkce_verifier: random_text()?,
            next: next.to_owned(),
            link_user,
            expires_at: now + FLOW_LIFETIME,
        };
        let location = self
            .federation
            .authorization_url(provider, &secrets(&flow))
            .await?;
        let cookie = LinkToken::generate().map_err(|e| AuthError::Internal(e.into()))?;
        self.store
            .insert_flow(NewFlow {
                flow_hash: &cookie.hash(),
                flow: &flow,
                now,
            })
            .await?;
        Ok(FlowStart { location, cookie })
    }

    /// Finishes a flow: checks that this browser began it, that the
    /// provider answered it, and who the provider says the person is; then
    /// signs in, creates the account, or links.
    #[instrument(skip_all, fields(provider = callback.provider))]
    pub async fn complete_external(
        &self,
        callback: Callback<'_>,
        client: &ClientInfo,
    ) -> Result<CallbackOutcome, AuthError> {
        if !self.federation.has(callback.provider) {
            return Err(AuthError::UnknownProvider);
        }
        // The flow is taken (deleted) first, whatever follows: a callback is
        // good for one try.
        let cookie =
            callback
                .flow_cookie
                .and_then(LinkToken::parse)
                .ok_or(AuthError::InvalidFlow(
                    "no sign-in in progress in this browser",
                ))?;
        let now = self.clock.now();
        let flow =
            self.store
                .take_flow(&cookie.hash(), now)
                .await?
                .ok_or(AuthError::InvalidFlow(
                    "no sign-in in progress in this browser",
                ))?;
        let state_matches = callback.state.is_some_and(|s| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                s.as_bytes(),
                flow.state.as_bytes(),
            ))
        });
        if flow.provider != callback.provider || !state_matches {
            return Err(AuthError::InvalidFlow(
                "the answer is not for the sign-in this browser began",
            ));
        }
        // RFC 9207: an `iss` other than this provider's (compared as
        // strings) means the answer comes from another provider (a mix-up).
        if let (Some(iss), Some(expected)) = (
            callback.iss,
            self.federation.expected_iss(callback.provider),
        ) && iss != expected
        {
            return Err(AuthError::InvalidFlow("the answer names another issuer"));
        }
        if let Some(error) = callback.error {
            let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
            return Err(AuthError::ProviderDenied(error));
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty())
            .ok_or(AuthError::ProviderDenied("no code".into()))?;
        let identity = self
            .federation
            .identify(callback.provider, code, &secrets(&flow))
            .await?;
        match flow.link_user {
            Some(user) => {
                self.link(user, callback.provider, &identity, client)
                    .await?;
                Ok(CallbackOutcome::Linked { next: flow.next })
            }
            None => {
                self.sign_in_external(&flow, &identity, callback.device, client)
                    .await
            }
        }
    }

    /// Signs in with an identity: its account, or a new one.
    async fn sign_in_external(
        &self,
        flow: &FlowRecord,
        identity: &ExternalIdentity,
        device: Option<&str>,
        client: &ClientInfo,
    ) -> Result<CallbackOutcome, AuthError> {
        let provider = flow.provider.as_str();
        let began = self.clock.now();
        if let Some(user) = self
            .store
            .user_by_identity(provider, &identity.subject)
            .await?
        {
            let method = SignInMethod::federated(provider, &identity.amr, false);
            let next = flow.next.clone();
            return Ok(
                match self
                    .start_external_session(user, method, device, client, began)
                    .await?
                {
                    Started::SignedIn(session) => CallbackOutcome::SignedIn { session, next },
                    Started::SecondFactor(pending) => {
                        CallbackOutcome::SecondFactor { pending, next }
                    }
                },
            );
        }
        let email = identity
            .email
            .as_deref()
            .and_then(|e| Email::parse(e).ok())
            .ok_or(AuthError::EmailRequired)?;
        if let Some(existing) = self
            .store
            .user_by_login(&crate::domain::LoginName::new(email.as_str()))
            .await?
        {
            if !identity.email_verified || existing.disabled {
                // Linking on an unverified address would hand the account to
                // whoever typed it in at the provider.
                return Err(AuthError::AccountExists);
            }
            let cookie = LinkToken::generate().map_err(|e| AuthError::Internal(e.into()))?;
            let link = PendingLink {
                provider: provider.to_owned(),
                subject: identity.subject.clone(),
                user_id: existing.id,
                email: email.as_str().to_owned(),
                expires_at: began + PENDING_LINK_LIFETIME,
            };
            self.store
                .insert_pending_link(&cookie.hash(), &link, began)
                .await?;
            return Ok(CallbackOutcome::ConfirmWithPassword {
                cookie,
                next: flow.next.clone(),
            });
        }
        if self.registration == Registration::Closed {
            return Err(AuthError::RegistrationClosed);
        }
        let session = self
            .create_external_account(provider, identity, &email, client, began)
            .await?;
        Ok(CallbackOutcome::SignedIn {
            session: Box::new(session),
            next: flow.next.clone(),
        })
    }

    /// A session for `user`, signed in at a provider, when the account may
    /// sign in: through the same gate as every sign-in ([`Auth::admit`]),
    /// after the account's own second factor if it has one.
    async fn start_external_session(
        &self,
        user: UserRecord,
        method: SignInMethod,
        device: Option<&str>,
        client: &ClientInfo,
        began: OffsetDateTime,
    ) -> Result<Started, AuthError> {
        let provider = method.idp().unwrap_or_default().to_owned();
        if user.disabled {
            self.metrics
                .sign_in(crate::telemetry::SignInOutcome::Failed);
            self.audit_external(
                AuditKind::SignInFailed,
                Some(user.id),
                None,
                client,
                &provider,
            )
            .await;
            return Err(AuthError::InvalidCredentials);
        }
        // The account's password (an empty hash when it has none) as it is
        // now: a change before the session is stored voids the sign-in.
        let digest = password_digest(&user.password_hash);
        let methods = self.second_factor_methods(user.id).await?;
        if !methods.is_empty() {
            // The provider vouches for the person, not for the second factor
            // the account's owner chose here: it is asked for as after a
            // password.
            let pending = self
                .await_second_factor(&user, (began, digest), (method, methods), client)
                .await?;
            self.metrics
                .sign_in(crate::telemetry::SignInOutcome::SecondFactor);
            return Ok(Started::SecondFactor(Box::new(pending)));
        }
        let key = self.account_key(&user, device);
        let admission = Admission {
            user,
            password_digest: digest,
            key: &key,
            began,
            method,
        };
        let result = self.admit(admission, client).await;
        let proof = format!("provider {provider}");
        let signed_in = self.record_sign_in(result, Some(&proof), client).await?;
        tracing::info!(user = %signed_in.user.id, provider, "signed in with a provider");
        Ok(Started::SignedIn(Box::new(signed_in)))
    }

    /// Creates an account for a new identity, with its first session.
    async fn create_external_account(
        &self,
        provider: &str,
        identity: &ExternalIdentity,
        email: &Email,
        client: &ClientInfo,
        began: OffsetDateTime,
    ) -> Result<SignedIn, AuthError> {
        if let Err(retry_after) = self
            .limits
            .check(super::address_limits::Limit::Registration, client.addr)
        {
            return Err(AuthError::TooManyAttempts { retry_after });
        }
        let id = UserId::random();
        let method = SignInMethod::federated(provider, &identity.amr, false);
        let opening = self.open_session(client, began, method)?;
        for username in username_candidates(&identity.names) {
            let created = self
                .store
                .insert_user_with_identity(
                    NewUser {
                        id,
                        username: &username,
                        email,
                        // No password: no password matches an empty hash.
                        password_hash: "",
                        now: began,
                    },
                    identity.email_verified,
                    NewIdentity {
                        provider,
                        subject: &identity.subject,
                        user_id: id,
                        email: Some(email.as_str()),
                        now: began,
                    },
                    opening.record(id),
                )
                .await;
            match created {
                Ok(Some(user)) => {
                    tracing::info!(user = %user.id, provider, "account created with a provider");
                    let session = opening.id();
                    self.audit_external(
                        AuditKind::Registered,
                        Some(id),
                        Some(session),
                        client,
                        provider,
                    )
                    .await;
                    return Ok(self.opened(user, opening));
                }
                // Two first sign-ins at once: the other created the account.
                Ok(None) => return Err(AuthError::AccountExists),
                Err(StoreError::Conflict(crate::store::Unique::Username)) => continue,
                Err(StoreError::Conflict(crate::store::Unique::Email)) => {
                    return Err(AuthError::AccountExists);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AuthError::AccountExists)
    }

    /// Links an identity to a signed-in account.
    async fn link(
        &self,
        user: UserId,
        provider: &str,
        identity: &ExternalIdentity,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let linked = self
            .store
            .insert_identity(NewIdentity {
                provider,
                subject: &identity.subject,
                user_id: user,
                email: identity.email.as_deref(),
                now: self.clock.now(),
            })
            .await?;
        if !linked {
            return Err(AuthError::IdentityInUse);
        }
        self.audit_external(
            AuditKind::IdentityLinked,
            Some(user),
            None,
            client,
            provider,
        )
        .await;
        Ok(())
    }

    /// After a password sign-in to `user`: links the identity that the
    /// browser's pending-link cookie holds, when it was offered for that
    /// very account. `false` when there was nothing (left) to link.
    pub async fn complete_pending_link(
        &self,
        cookie: &str,
        user: UserId,
        client: &ClientInfo,
    ) -> Result<bool, AuthError> {
        let Some(token) = LinkToken::parse(cookie) else {
            return Ok(false);
        };
        let Some(link) = self
            .store
            .take_pending_link(&token.hash(), self.clock.now())
            .await?
        else {
            return Ok(false);
        };
        if link.user_id != user {
            // Signed in to another account: the offer was not for it.
            return Ok(false);
        }
        let identity = ExternalIdentity {
            subject: link.subject,
            email: Some(link.email),
            email_verified: true,
            names: Vec::new(),
            amr: Vec::new(),
        };
        match self.link(user, &link.provider, &identity, client).await {
            Ok(()) => Ok(true),
            Err(AuthError::IdentityInUse) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The identities linked to the signed-in account.
    pub async fn identities(&self, user: UserId) -> Result<Vec<IdentityView>, AuthError> {
        let providers = self.federation.list();
        let records = self.store.identities_of(user).await?;
        Ok(records
            .into_iter()
            .map(|r| IdentityView {
                name: providers
                    .iter()
                    .find(|p| p.id == r.provider)
                    .map_or_else(|| r.provider.clone(), |p| p.name.clone()),
                provider: r.provider,
                email: r.email,
                linked_at: r.created_at,
            })
            .collect())
    }

    /// Unlinks the signed-in account's identity at `provider`, unless it is
    /// the account's last way to sign in.
    pub async fn unlink(
        &self,
        user: UserId,
        provider: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        match self
            .store
            .delete_identity(user, provider, self.clock.now())
            .await?
        {
            Unlinked::Done => {
                self.audit_external(
                    AuditKind::IdentityUnlinked,
                    Some(user),
                    None,
                    client,
                    provider,
                )
                .await;
                Ok(())
            }
            Unlinked::NotLinked => Err(AuthError::NotLinked),
            Unlinked::LastMethod => Err(AuthError::LastSignInMethod),
        }
    }

    async fn audit_external(
        &self,
        kind: AuditKind,
        user: Option<UserId>,
        session: Option<crate::domain::SessionId>,
        client: &ClientInfo,
        provider: &str,
    ) {
        let detail = format!("provider {provider}");
        self.audit(Event {
            kind,
            user,
            session,
            client,
            detail: Some(&detail),
        })
        .await;
    }
}

/// How a sign-in at a provider to an existing account went on.
enum Started {
    SignedIn(Box<SignedIn>),
    SecondFactor(Box<PendingSignIn>),
}

fn secrets(flow: &FlowRecord) -> FlowSecrets<'_> {
    FlowSecrets {
        state: &flow.state,
        nonce: &flow.nonce,
        pkce_verifier: &flow.pkce_verifier,
    }
}

/// Usernames to try for a new account, in order: each name the provider
/// gave, cut down to what a username may hold, then with a number after
/// it, then a random one.
fn username_candidates(names: &[String]) -> Vec<Username> {
    let mut bases: Vec<String> = names
        .iter()
        .map(|n| sanitize(n))
        .filter(|n| Username::parse(n).is_ok())
        .collect();
    bases.dedup();
    if bases.is_empty() {
        bases.push("user".to_owned());
    }
    let mut out: Vec<Username> = bases
        .iter()
        .filter_map(|b| Username::parse(b).ok())
        .collect();
    let first = bases[0].chars().take(24).collect::<String>();
    out.extend((2..=9).filter_map(|n| Username::parse(&format!("{first}-{n}")).ok()));
    for _ in 0..3 {
        if let Ok(token) = LinkToken::generate() {
            let suffix: String = token
                .encode()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(6)
                .collect::<String>()
                .to_ascii_lowercase();
            out.extend(Username::parse(&format!("{first}-{suffix}")).ok());
        }
    }
    out
}

/// A name cut down to a username's characters: letters and digits kept,
/// spaces and other marks made `-`, at most 32 characters, no mark at
/// either end.
fn sanitize(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(32)
        .collect();
    mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_come_from_the_providers_names_and_are_made_valid() {
        let names = ["Ada Lovelace".to_owned(), "ada@example.com".to_owned()];
        let candidates = username_candidates(&names);
        assert_eq!(candidates[0].as_str(), "ada-lovelace");
        assert!(candidates.iter().any(|u| u.as_str() == "ada-lovelace-2"));
        let none = username_candidates(&["!".to_owned()]);
        assert_eq!(none[0].as_str(), "user");
    }
}
