//! The auth service: accounts, sessions, tokens and keys, independent of HTTP.
//!
//! [`Auth`] is what the HTTP handlers and the admin commands call. It owns the
//! rules (who may sign in, how refresh tokens rotate, what revocation means);
//! the store only persists, the HTTP layer only translates.

mod accounts;
pub mod address_limits;
pub mod audit;
pub mod devices;
mod external;
pub mod federation;
pub mod freshness;
mod guessing;
pub mod key_revocation;
pub mod key_rotation;
pub mod keys;
pub mod mailer;
mod mfa;
pub mod one_time_codes;
mod passkeys;
mod password_change;
pub mod passwords;
pub mod propagation;
mod recovery;
mod retention;
pub mod revocation;
pub mod rotation;
pub mod session_views;
mod session_watch;
mod sessions;
mod sign_in;
pub mod throttle;
pub mod tokens;
mod verification;
pub mod verified_tokens;
pub mod views;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use portcullis_verifier::Validation;
use time::OffsetDateTime;

pub use accounts::{NewAccount, Registered};
pub use external::{
    Callback, CallbackOutcome, FLOW_LIFETIME, FlowStart, IdentityView, PENDING_LINK_LIFETIME,
};
pub use federation::ProviderInfo;
pub use mfa::{Reauthentication, SecondFactor, SecondFactors, TotpEnrolment};
pub use passkeys::{MAX_PASSKEY_NAME_CHARS, PasskeySignInStart, PasskeyView};
pub use password_change::PasswordChange;
pub use recovery::PasswordReset;
pub use retention::Purged;
pub use session_watch::{SessionEnd, SessionWatch};
pub use sessions::SignedIn;
pub use sign_in::{PendingSignIn, SignInAttempt, SignInResult};
pub use verification::EmailChange;
pub use views::{AuditQuery, AuditView, KeyView, SessionView, UserView};

use crate::clock::SharedClock;
use crate::config::{Config, Registration, SessionPolicy};
use crate::domain::{EmailError, PasswordError, UsernameError};
use crate::mail::{MailError, Mailer};
use crate::report::Chain;
use crate::store::{Store, StoreError};
use crate::telemetry::{Metrics, PoolUse};
use address_limits::AddressLimits;
use devices::DeviceKey;
use freshness::Freshness;
use keys::{KeyError, KeyRing};
use passwords::{HashError, PasswordHasher};
use revocation::RevocationSet;
use rotation::RefreshDenial;
use session_views::SessionViews;
use tokens::{AccessDenial, AccessTokens};

/// What the browser told us about itself, recorded with a new session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The `User-Agent` header, truncated.
    pub user_agent: Option<String>,
    /// The client's address.
    pub addr: Option<IpAddr>,
}

/// Longest `User-Agent` kept with a session.
const MAX_USER_AGENT_CHARS: usize = 256;

impl ClientInfo {
    /// Builds the record, truncating an overlong user agent.
    pub fn new(user_agent: Option<&str>, addr: Option<IpAddr>) -> Self {
        Self {
            user_agent: user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
            addr,
        }
    }

    /// The record of an admin command run on this machine.
    pub fn administrator() -> Self {
        Self {
            user_agent: Some("portcullis admin command".to_owned()),
            addr: None,
        }
    }
}

/// Why an auth operation failed. The HTTP layer maps each variant to one
/// status and contract code.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Registration: the username breaks the rules.
    #[error(transparent)]
    InvalidUsername(UsernameError),
    /// Registration: the e-mail address is malformed.
    #[error(transparent)]
    InvalidEmail(EmailError),
    /// A new password breaks the rules.
    #[error(transparent)]
    WeakPassword(PasswordError),
    /// Registration: the username or e-mail address is taken.
    #[error("an account with this username or e-mail address exists")]
    AccountExists,
    /// Registration is closed.
    #[error("registration is closed")]
    RegistrationClosed,
    /// Sign-in: unknown name, wrong password or disabled account, deliberately
    /// indistinguishable.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Password change: the current password is wrong.
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// Sign-in or password change: too many recent failures for this
    /// address, account or device, or this session's previous password
    /// change is still being hashed.
    #[error("too many attempts")]
    TooManyAttempts {
        /// How long until the next attempt is accepted.
        retry_after: Duration,
    },
    /// Refresh refused.
    #[error("refresh refused: {}", .0.as_str())]
    RefreshDenied(RefreshDenial),
    /// No valid session.
    #[error("not signed in")]
    Unauthenticated(AccessDenial),
    /// No such session among the caller's own.
    #[error("no such session")]
    SessionNotFound,
    /// Password hashing is at capacity.
    #[error(transparent)]
    Overloaded(HashError),
    /// The database failed; nothing was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not fail did (randomness, a hashing task).
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The revoked-session set has not been proven current recently enough
    /// to trust an access token (see [`freshness`]).
    #[error("revocations may be out of date")]
    RevocationsUnverified,
    /// A flow that needs e-mail, which is not configured.
    #[error("e-mail is off")]
    MailOff,
    /// A link's token is unknown, used, expired or superseded.
    #[error("invalid or expired link")]
    InvalidToken,
    /// Sign-in: the password was right, but the account's address must be
    /// verified first (`require_verified_email`).
    #[error("the e-mail address is not verified")]
    EmailNotVerified,
    /// No identity provider has this id.
    #[error("no such provider")]
    UnknownProvider,
    /// The identity provider could not be reached or answered nonsense.
    #[error("the identity provider is unavailable")]
    ProviderUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The identity provider (or the person, there) refused: the reason is
    /// the provider's error code.
    #[error("the identity provider refused: {0}")]
    ProviderDenied(String),
    /// The provider's ID token failed a check; the reason says which.
    #[error("invalid ID token: {0}")]
    InvalidIdToken(String),
    /// A callback that no flow of this browser is waiting for: no or an
    /// unknown flow cookie, a used or expired flow, another `state`.
    #[error("invalid sign-in flow: {0}")]
    InvalidFlow(&'static str),
    /// The provider gave no usable e-mail address for a new account.
    #[error("the identity provider gave no e-mail address")]
    EmailRequired,
    /// The identity is linked to another account already, or this account
    /// has one of that provider already.
    #[error("the identity is linked already")]
    IdentityInUse,
    /// The account has no identity at that provider.
    #[error("no identity at that provider")]
    NotLinked,
    /// Unlinking would leave the account with no way to sign in.
    #[error("the last way to sign in cannot be removed")]
    LastSignInMethod,
    /// A second factor's code is wrong, was used before, or is no code.
    #[error("invalid code")]
    InvalidCode,
    /// No sign-in waits for a second factor under the pending cookie: none
    /// was sent, it expired, or it was completed.
    #[error("no sign-in waits for a second factor")]
    MfaExpired,
    /// Changing the second factors needs a recent proof of identity.
    #[error("re-authentication required")]
    ReauthenticationRequired,
    /// TOTP needs `mfa_key_file`, which is not configured (or no longer
    /// opens the stored secrets).
    #[error("TOTP is not available")]
    TotpUnavailable,
    /// TOTP is on already: turn it off first.
    #[error("TOTP is already on")]
    TotpAlreadyEnabled,
    /// A confirmation without an enrolment begun.
    #[error("no TOTP enrolment to confirm")]
    NoTotpEnrolment,
    /// The account has no second factor to remove or recover (or no
    /// passkey to prove itself with).
    #[error("no second factor")]
    NoSecondFactor,
    /// Passkeys need `public_url`, which is not configured.
    #[error("passkeys are not available")]
    PasskeysUnavailable,
    /// A passkey assertion was refused: malformed, for no challenge given
    /// (or one answered already), of an unknown or deleted passkey, a bad
    /// signature, another origin, or a counter that went back.
    #[error("invalid passkey")]
    InvalidPasskey,
    /// A passkey registration was refused: malformed, for no challenge
    /// given on this session, or its attestation does not verify.
    #[error("invalid passkey registration")]
    InvalidAttestation,
    /// The passkey is registered already.
    #[error("passkey already registered")]
    PasskeyExists,
    /// A passkey's name is empty, too long or has control characters.
    #[error("invalid passkey name")]
    InvalidPasskeyName,
    /// No such passkey among the caller's own.
    #[error("no such passkey")]
    PasskeyNotFound,
    /// The account holds as many passkeys as it may.
    #[error("too many passkeys")]
    TooManyPasskeys,
}

impl From<HashError> for AuthError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Overloaded => AuthError::Overloaded(e),
            HashError::Failed(_) => AuthError::Internal(e.into()),
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The database could not be reached, or its schema brought up to date.
    #[error("cannot open the database")]
    Database(#[source] StoreError),
    /// The signing keys could not be loaded or the first one made.
    #[error("cannot load the signing keys")]
    Keys(#[source] KeyError),
    /// E-mail is configured but cannot be set up (a template, the CA file).
    #[error("cannot set up e-mail")]
    Mail(#[source] MailError),
    /// The HTTP client for identity providers could not be made.
    #[error("cannot set up sign-in with other providers")]
    Providers(#[source] reqwest::Error),
}

/// The auth service. Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct Auth {
    store: Store,
    clock: SharedClock,
    policy: SessionPolicy,
    registration: Registration,
    /// How long a revoked session must stay in [`RevocationSet`]: until every
    /// access token it may have been issued has expired.
    revocation_horizon: Duration,
    passwords: PasswordHasher,
    keys: KeyRing,
    tokens: AccessTokens,
    revoked: RevocationSet,
    /// Where sign-ins, refreshes and revocations are counted; one registry
    /// per application (see [`crate::telemetry`]).
    metrics: Metrics,
    /// Whether `revoked` is known to be current; checked before trusting a token.
    freshness: Freshness,
    /// What `GET /api/auth/session` shows of each session, until its user
    /// changes.
    session_views: Arc<SessionViews>,
    /// Per-client-address rate limits of this instance.
    limits: Arc<AddressLimits>,
    /// Signs and checks device cookies; the key is shared by every instance.
    devices: DeviceKey,
    /// How long audit events are kept; `None`: for ever.
    audit_retention: Option<Duration>,
    /// E-mail and its outbox; `None` when no transport is configured.
    mail: Option<Arc<mailer::Mailing>>,
    /// Whether sign-in refuses an account whose address is not verified.
    require_verified_email: bool,
    /// The identity providers people may sign in with.
    federation: federation::Federation,
    /// Seals TOTP secrets; `None` without `mfa_key_file`, which turns TOTP off.
    sealer: Option<one_time_codes::SecretSealer>,
    /// The issuer authenticator apps show beside the account name.
    totp_issuer: String,
    /// How recent a proof of identity changing the factors needs.
    reauthentication_window: Duration,
    /// The WebAuthn relying party; `None` without `public_url`, which turns
    /// passkeys off.
    webauthn: Option<Arc<webauthn_rs::Webauthn>>,
}

impl Auth {
    /// Opens the configured database (migrating it) and loads the service
    /// from it: what the server and the admin commands start with.
    pub async fn open(config: &Config, clock: SharedClock) -> Result<Self, OpenError> {
        let mailer = config
            .mail
            .as_ref()
            .map(|mail| Mailer::new(mail).map(|mailer| (mailer, mail)))
            .transpose()
            .map_err(OpenError::Mail)?;
        let store = Store::connect(&config.database)
            .await
            .map_err(OpenError::Database)?;
        let federation = federation::Federation::new(
            &config.oidc_providers,
            config.public_url.as_ref(),
            clock.clone(),
            config.clock_leeway,
        )
        .map_err(OpenError::Providers)?;
        let mut auth = Self::load(config, store, clock)
            .await
            .map_err(OpenError::Keys)?;
        auth.federation = federation;
        Ok(match mailer {
            Some((mailer, mail)) => auth.with_mailer(mailer, mail),
            None => auth,
        })
    }

    /// Loads keys (generating the first signing key, and the device-cookie
    /// key) and recent revocations.
    pub async fn load(config: &Config, store: Store, clock: SharedClock) -> Result<Self, KeyError> {
        let keys = KeyRing::load(store.clone(), clock.clone(), config.hs256_secret.clone()).await?;
        let revoked = RevocationSet::new();
        let validation =
            Validation::new(&config.issuer, &config.audience).with_leeway(config.clock_leeway);
        let tokens = AccessTokens::new(
            keys.clone(),
            validation,
            config.sessions.access_token_ttl,
            revoked.clone(),
        )
        .with_legacy_id_claim(config.legacy_id_claim);
        let devices = DeviceKey::load(&store, clock.now()).await?;
        let auth = Self {
            store,
            policy: config.sessions,
            registration: config.registration,
            revocation_horizon: config.sessions.access_token_ttl
                + config.clock_leeway
                + Duration::from_secs(60),
            passwords: PasswordHasher::new(config.hashing),
            keys,
            tokens,
            revoked,
            metrics: Metrics::new(),
            freshness: Freshness::new(config.revocation_max_staleness),
            session_views: Arc::new(SessionViews::new(session_views::CAPACITY)),
            limits: Arc::new(AddressLimits::new(
                config.address_rates,
                config.address_ipv6_prefix,
                clock.clone(),
            )),
            devices,
            mail: None,
            require_verified_email: config.require_verified_email,
            federation: federation::Federation::default(),
            audit_retention: config.audit_retention,
            sealer: config
                .mfa_key
                .as_ref()
                .and_then(one_time_codes::SecretSealer::new),
            totp_issuer: mfa::totp_issuer(config.public_url.as_ref()),
            reauthentication_window: config.reauthentication_window,
            webauthn: passkeys::relying_party(config.public_url.as_ref()).map(Arc::new),
            clock,
        };
        let mark = auth.freshness.mark();
        auth.sync_revocations(auth.clock.now() - auth.revocation_horizon)
            .await?;
        auth.freshness.prove(mark);
        Ok(auth)
    }

    /// The per-address rate limits, for periodic clean-up.
    pub fn address_limits(&self) -> &AddressLimits {
        &self.limits
    }

    /// Whether the database answers, for the readiness check.
    pub async fn ping(&self) -> Result<(), AuthError> {
        Ok(self.store.ping().await?)
    }

    /// Closes the database once the server has stopped.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Deletes sessions that ended before `before`; returns how many.
    pub async fn purge_sessions(&self, before: OffsetDateTime) -> Result<u64, AuthError> {
        Ok(self.store.purge_sessions(before).await?)
    }

    /// The metrics in Prometheus text, with the gauges that are read rather
    /// than tracked (the argon2 queue, the connection pool) read now.
    pub async fn scrape_metrics(&self) -> String {
        self.metrics.record_hash_queue(self.passwords.in_flight());
        match self.store.pool_status().await {
            Ok(pool) => self.metrics.record_pool(PoolUse {
                size: pool.size,
                idle: pool.idle,
                max: pool.max,
            }),
            Err(e) => {
                tracing::warn!(error = %Chain(&e), "could not read the database pool's state")
            }
        }
        self.metrics.render()
    }

    /// The signing keys.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The password hasher, for warming up and metrics.
    pub fn passwords(&self) -> &PasswordHasher {
        &self.passwords
    }

    /// The `iss` of every token issued.
    pub fn issuer(&self) -> &str {
        self.tokens.validation().issuer()
    }

    /// The application's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The session policy in force.
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// How sure this instance is that its revocation set is current.
    pub fn freshness(&self) -> &Freshness {
        &self.freshness
    }

    /// The current time from the injected clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Adds sessions revoked since `since` (possibly by another instance or an
    /// admin command) to the in-memory set.
    pub async fn sync_revocations(&self, since: OffsetDateTime) -> Result<(), StoreError> {
        let revoked = self.store.revoked_since(since).await?;
        self.revoked.extend(revoked);
        Ok(())
    }

    /// Forgets what `GET /api/auth/session` remembers of users written
    /// since `since` (by another instance or an admin command, say).
    pub async fn sync_user_changes(&self, since: OffsetDateTime) -> Result<(), StoreError> {
        for user in self.store.users_changed_since(since).await? {
            self.session_views.forget_user(user);
        }
        Ok(())
    }

    /// Drops revocations whose tokens have all expired.
    pub fn prune_revocations(&self) {
        self.revoked
            .prune(self.clock.now() - self.revocation_horizon);
    }
}
