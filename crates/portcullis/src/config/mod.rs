//! Settings from three layers — a TOML file (`--config`), `PORTCULLIS_*`
//! environment variables, command-line flags, later layers winning — read
//! once into a typed [`Config`].
//!
//! - [`settings`] is the list of every setting and the typed shape of the
//!   layers, which refuses unknown keys and variables;
//! - [`sources`] merges the layers with `figment` and names a bad value's
//!   layer in its message;
//! - [`values`] holds the value types and how each is written;
//! - this module applies the defaults, and [`checks`] the rules between
//!   settings, so that a `Config` is always one the server can run with.
//!
//! It is a leaf: it imports nothing else from the crate.

mod checks;
mod error;
mod mail;
mod providers;
mod settings;
mod sources;
#[cfg(test)]
mod tests;
mod values;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use values::OrOff;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use url::Url;

pub use error::ConfigError;
pub use mail::{MailConfig, MailFrom, MailTransport, SmtpSecurity, SmtpServer, SmtpUrl};
pub use providers::{ProviderConfig, ProviderKind};
pub use settings::{Flags, KnownSetting, LOG_FILTER_VARIABLE, known_settings};
pub use sources::Sources;
pub use values::{
    AddressRates, DatabaseUrl, InvalidText, LogFormat, ProxyTarget, PublicUrl, Rate, Registration,
    SettingValue, parse_setting,
};

/// The database and its connection pool.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://path` or `postgres://...`; secret because it may hold a password.
    pub url: SecretString,
    /// Largest number of pooled connections. On PostgreSQL one of them is held
    /// by the notification listener.
    pub max_connections: u32,
    /// Connections kept open even when idle.
    pub min_connections: u32,
    /// How long a request waits for a connection (including opening one)
    /// before it answers 503; what bounds the wait when the database is down.
    pub acquire_timeout: Duration,
    /// How long one store operation may run once it has a connection; enforced
    /// by the client (a silent network) and, on PostgreSQL, by the server.
    pub statement_timeout: Duration,
}

impl DatabaseConfig {
    /// Whether the URL names PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        let url = self.url.expose_secret();
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }
}

/// The certificate chain and private key Portcullis serves TLS with; both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// What one client connection may take: its time before each request and
/// between requests, and the number held at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's head (line and headers) must arrive whole within this
    /// long from its first byte, and a new connection (its TLS handshake
    /// included) must deliver its first head within this long; a client that
    /// trickles bytes is cut off, not waited for.
    pub header_read_timeout: Duration,
    /// A connection with no request in progress is closed after this long.
    pub keep_alive_timeout: Duration,
    /// Connections held at once (open, in a handshake, or upgraded to a
    /// WebSocket); more wait in the listen backlog until one closes.
    pub max_connections: usize,
}

/// Lifetimes of tokens and sessions.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Lifetime of an access token.
    pub access_token_ttl: Duration,
    /// A session not refreshed for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however active.
    pub max_lifetime: Duration,
    /// How long after a rotation the just-rotated refresh token is still
    /// answered with the session's current tokens instead of being treated as
    /// theft.
    pub reuse_grace: Duration,
}

/// Password hashing capacity.
#[derive(Debug, Clone, Copy)]
pub struct HashingConfig {
    /// Hashes computed at once (each holds 19 MiB while it runs).
    pub concurrency: usize,
    /// Hash requests allowed to wait for a slot; beyond this, sign-ins are shed
    /// with 503 instead of queueing without bound.
    pub queue: usize,
}

/// The whole, validated configuration of `portcullis serve` and the admin commands.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub bind: SocketAddr,
    /// Where state lives.
    pub database: DatabaseConfig,
    /// The API that other `/api/*` paths are proxied to.
    pub upstream: Option<Url>,
    /// The frontend that non-API paths are proxied to, instead of the built-in UI.
    pub frontend: Option<Url>,
    /// Whether requests to the frontend carry a signed-in visitor's access
    /// token, as API requests do, so that server-rendered pages know the user.
    pub frontend_token: bool,
    /// Path prefixes on the frontend served without any session work (static
    /// assets), besides `/_next/static/`.
    pub frontend_public_paths: Vec<String>,
    /// Whether the built-in UI serves `/notes`, a demo page for
    /// `examples/upstream-api` that calls `/api/notes` on the upstream; only
    /// ever on with an upstream and the built-in UI.
    pub notes_page: bool,
    /// Portcullis's own public origin, when fixed; else each request's scheme and `Host`.
    pub public_url: Option<Url>,
    /// The `iss` claim.
    pub issuer: String,
    /// The `aud` claim.
    pub audience: String,
    /// Whether self-service registration is open.
    pub registration: Registration,
    /// Token and session lifetimes.
    pub sessions: SessionPolicy,
    /// Clock difference tolerated when checking token times.
    pub clock_leeway: Duration,
    /// Development only: cookies without `Secure` (and so without `__Host-`).
    pub insecure_dev_cookies: bool,
    /// Password hashing capacity.
    pub hashing: HashingConfig,
    /// How logs are written.
    pub log_format: LogFormat,
    /// Proxies whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// How long the upstream (or frontend) may take to begin its answer once
    /// the request has been sent in full; then 504 `upstream_timeout`.
    pub upstream_timeout: Duration,
    /// Attach the access token upstream as this cookie instead of as
    /// `Authorization: Bearer` (the NestJS pattern's `accessToken`).
    pub upstream_token_cookie: Option<String>,
    /// Sign access tokens with HS256 and this shared secret instead of
    /// Ed25519, for backends that only know a shared secret.
    pub hs256_secret: Option<SecretSlice<u8>>,
    /// The file `hs256_secret` was read from, for the check at start that
    /// no one else may read it.
    pub hs256_secret_file: Option<PathBuf>,
    /// Add an `_id` claim equal to `sub`, as the NestJS pattern's backends read it.
    pub legacy_id_claim: bool,
    /// When set, Portcullis serves HTTPS (and HTTP/2) itself with these files.
    pub tls: Option<TlsFiles>,
    /// How long a signing key signs before an automatic rotation replaces it;
    /// `None` when rotation is left to `portcullis keys rotate`.
    pub key_rotation_interval: Option<Duration>,
    /// How long in-flight requests may run on after a shutdown signal before
    /// the server exits anyway.
    pub shutdown_timeout: Duration,
    /// Timeouts and the cap of client connections.
    pub connections: ConnectionLimits,
    /// How long an instance keeps trusting its revoked-session set after it
    /// last proved it current; past that, authenticated requests answer 503.
    pub revocation_max_staleness: Duration,
    /// Per-client-address rate limits.
    pub address_rates: AddressRates,
    /// How many leading bits of an IPv6 address are one client for those
    /// limits: a home connection or a cloud VM is given a whole /64, and
    /// would otherwise rotate past them.
    pub address_ipv6_prefix: u8,
    /// How long audit events are kept; `None` keeps them for ever.
    pub audit_retention: Option<Duration>,
    /// E-mail and the flows built on it; `None` when no transport is
    /// configured, which turns them off.
    pub mail: Option<MailConfig>,
    /// Whether sign-in refuses an account whose address is not verified.
    pub require_verified_email: bool,
    /// The identity providers people may sign in with; empty: none.
    pub oidc_providers: Vec<ProviderConfig>,
    /// The key that seals TOTP secrets in the database, derived from the
    /// file `mfa_key_file`; `None` turns TOTP off.
    pub mfa_key: Option<SecretSlice<u8>>,
    /// The file `mfa_key` was read from, for the check at start that no one
    /// else may read it.
    pub mfa_key_file: Option<PathBuf>,
    /// How recent a session's last proof of identity must be for it to
    /// change its second factors.
    pub reauthentication_window: Duration,
}

/// IPv6 clients are told apart by their /64 unless configured otherwise.
pub const DEFAULT_ADDRESS_IPV6_PREFIX: u8 = 64;

/// Audit events are kept a year unless configured otherwise.
pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(365 * DAY);

/// The shortest audit retention allowed. Both schemas refuse to delete an
/// event younger than this (by the database's clock), whatever the code asks:
/// the recent history stays append-only.
pub const MIN_AUDIT_RETENTION: Duration = Duration::from_secs(30 * DAY);

/// Automatic key rotation, unless configured otherwise: a key signs for a
/// month, so a leaked one is useful for a month at most, and the JWKS of a
/// busy site still changes rarely.
pub const DEFAULT_KEY_ROTATION_INTERVAL: Duration = Duration::from_secs(30 * 86_400);

const DAY: u64 = 86_400;

/// Mails one account (or one submitted address) may ask for: enough for a
/// person who mistyped or lost a mail, too few to flood an inbox.
const DEFAULT_ACCOUNT_EMAIL_REQUESTS: Option<Rate> = Some(Rate {
    count: std::num::NonZeroU32::new(5).expect("5 is not zero"),
    per: Duration::from_secs(3600),
});

impl Config {
    /// Reads every setting, applies the defaults and cross-checks the result.
    pub fn from_sources(sources: &Sources) -> Result<Self, ConfigError> {
        let s = sources.settings()?;
        let public_url = s.public_url.map(|u| u.0);
        // The issuer and audience name this server: its public URL when known.
        let default_name = || {
            public_url
                .as_ref()
                .map_or("portcullis", |u| u.as_str().trim_end_matches('/'))
                .to_owned()
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let rates = AddressRates::default();
        let rate = |given: Option<OrOff<Rate>>, default| given.map_or(default, |r| r.0);
        let tls = match (s.tls_cert, s.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Inconsistent(
                    "tls_cert and tls_key go together: give both or neither".into(),
                ));
            }
        };
        let mail = mail::MailSettings {
            smtp_url: s.smtp_url,
            smtp_url_file: s.smtp_url_file,
            smtp_ca_file: s.smtp_ca_file,
            mail_from: s.mail_from,
            mail_templates: s.mail_templates,
            password_reset_ttl: s.password_reset_ttl,
            email_verification_ttl: s.email_verification_ttl,
            notify_new_device: s.notify_new_device,
            require_verified_email: s.require_verified_email.unwrap_or(false),
            account_requests: s
                .account_email_requests
                .map_or(DEFAULT_ACCOUNT_EMAIL_REQUESTS, |r| r.0),
            public_url: public_url.clone(),
        };
        let require_verified_email = mail.require_verified_email;
        let mail = mail.into_config()?;
        let config = Config {
            bind: s
                .bind
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            database: DatabaseConfig {
                url: s
                    .database_url
                    .map_or_else(|| SecretString::from("sqlite://portcullis.db"), |u| u.0),
                max_connections: s.database_max_connections.map_or(10, |n| n.get()),
                min_connections: s.database_min_connections.unwrap_or(0),
                acquire_timeout: s.database_acquire_timeout.unwrap_or(secs(3)),
                statement_timeout: s.database_statement_timeout.unwrap_or(secs(5)),
            },
            upstream: s.upstream.map(|u| u.0),
            frontend: s.frontend.map(|u| u.0),
            frontend_token: s.frontend_token.unwrap_or(false),
            frontend_public_paths: s.frontend_public_paths.map(|p| p.0).unwrap_or_default(),
            notes_page: s.notes_page.unwrap_or(false),
            issuer: s.issuer.map_or_else(default_name, |n| n.0),
            audience: s.audience.map_or_else(default_name, |n| n.0),
            public_url,
            registration: s.registration.unwrap_or(Registration::Open),
            sessions: SessionPolicy {
                access_token_ttl: s.access_token_ttl.unwrap_or(secs(15 * 60)),
                idle_timeout: s.refresh_idle_timeout.unwrap_or(secs(7 * DAY)),
                max_lifetime: s.session_max_lifetime.unwrap_or(secs(30 * DAY)),
                reuse_grace: s.refresh_reuse_grace.unwrap_or(secs(10)),
            },
            clock_leeway: s.clock_leeway.unwrap_or(secs(5)),
            insecure_dev_cookies: s.insecure_dev_cookies.unwrap_or(false),
            hashing: HashingConfig {
                concurrency: s.hash_concurrency.map_or(cores, |n| n.get()),
                queue: s.hash_queue.unwrap_or(64 * cores),
            },
            log_format: s.log_format.unwrap_or(LogFormat::Text),
            trusted_proxies: s.trusted_proxies.unwrap_or_default(),
            upstream_timeout: s.upstream_timeout.unwrap_or(secs(30)),
            upstream_token_cookie: s.upstream_token_cookie.map(|c| c.0),
            hs256_secret: s
                .hs256_secret_file
                .as_deref()
                .map(checks::read_hs256_secret)
                .transpose()?,
            hs256_secret_file: s.hs256_secret_file,
            legacy_id_claim: s.legacy_id_claim.unwrap_or(false),
            tls,
            key_rotation_interval: s
                .key_rotation_interval
                .map_or(Some(DEFAULT_KEY_ROTATION_INTERVAL), |i| i.0),
            shutdown_timeout: s.shutdown_timeout.unwrap_or(secs(30)),
            connections: ConnectionLimits {
                header_read_timeout: s.header_read_timeout.unwrap_or(secs(10)),
                keep_alive_timeout: s.keep_alive_timeout.unwrap_or(secs(75)),
                max_connections: s.max_connections.map_or(10_000, |n| n.get()),
            },
            revocation_max_staleness: s.revocation_max_staleness.unwrap_or(secs(5)),
            address_rates: AddressRates {
                login_attempts: rate(s.address_login_attempts, rates.login_attempts),
                login_failures: rate(s.address_login_failures, rates.login_failures),
                registrations: rate(s.address_registrations, rates.registrations),
                refreshes: rate(s.address_refreshes, rates.refreshes),
                email_requests: rate(s.address_email_requests, rates.email_requests),
            },
            address_ipv6_prefix: s
                .address_ipv6_prefix
                .map_or(DEFAULT_ADDRESS_IPV6_PREFIX, |p| p.0),
            audit_retention: s
                .audit_retention
                .map_or(Some(DEFAULT_AUDIT_RETENTION), |r| r.0),
            mail,
            require_verified_email,
            oidc_providers: s.oidc_providers.unwrap_or_default().into_config()?,
            mfa_key: s
                .mfa_key_file
                .as_deref()
                .map(checks::read_mfa_key)
                .transpose()?,
            mfa_key_file: s.mfa_key_file,
            reauthentication_window: s.reauthentication_window.unwrap_or(secs(10 * 60)),
        };
        checks::check(&config)?;
        Ok(config)
    }
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
