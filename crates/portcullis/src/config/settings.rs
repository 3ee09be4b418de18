//! Every setting by name in each layer, and the typed shape a layer is read
//! into. The one table below is the list of settings: the struct that refuses
//! unknown keys and [`known_settings`] are both generated from it, so they
//! cannot disagree.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::mail::{MailFrom, SmtpUrl};
use super::providers::RawProviders;
use super::values::{
    CookieName, DatabaseUrl, Ipv6Prefix, LogFormat, NonEmpty, OrOff, PathPrefixes, ProxyTarget,
    PublicUrl, Rate, Registration, text,
};

/// One setting's names in the three layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownSetting {
    /// The key in the TOML file.
    pub key: &'static str,
    /// The environment variable: `PORTCULLIS_` and the key in capitals.
    pub env: &'static str,
    /// The command-line flag, when there is one.
    pub flag: Option<&'static str>,
}

macro_rules! settings {
    (@flag) => { None };
    (@flag $flag:literal) => { Some($flag) };
    ($($key:ident: $ty:ty, $env:literal $(, $flag:literal)?;)*) => {
        /// Every setting as the layers give it, merged, before defaults and
        /// cross-checks; `None` when no layer sets it. Each is documented
        /// on [`super::Config`].
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct Settings {
            $(
                #[serde(default, deserialize_with = "text")]
                pub(super) $key: Option<$ty>,
            )*
        }

        const KNOWN: &[KnownSetting] = &[$(KnownSetting {
            key: stringify!($key),
            env: $env,
            flag: settings!(@flag $($flag)?),
        }),*];
    };
}

// In the order the README and packaging/portcullis.toml document them.
settings! {
    bind: SocketAddr, "PORTCULLIS_BIND", "--bind";
    database_url: DatabaseUrl, "PORTCULLIS_DATABASE_URL", "--database-url";
    upstream: ProxyTarget, "PORTCULLIS_UPSTREAM", "--upstream";
    frontend: ProxyTarget, "PORTCULLIS_FRONTEND", "--frontend";
    frontend_token: bool, "PORTCULLIS_FRONTEND_TOKEN";
    frontend_public_paths: PathPrefixes, "PORTCULLIS_FRONTEND_PUBLIC_PATHS";
    public_url: PublicUrl, "PORTCULLIS_PUBLIC_URL", "--public-url";
    issuer: NonEmpty, "PORTCULLIS_ISSUER";
    audience: NonEmpty, "PORTCULLIS_AUDIENCE";
    registration: Registration, "PORTCULLIS_REGISTRATION";
    access_token_ttl: Duration, "PORTCULLIS_ACCESS_TOKEN_TTL";
    refresh_idle_timeout: Duration, "PORTCULLIS_REFRESH_IDLE_TIMEOUT";
    session_max_lifetime: Duration, "PORTCULLIS_SESSION_MAX_LIFETIME";
    refresh_reuse_grace: Duration, "PORTCULLIS_REFRESH_REUSE_GRACE";
    clock_leeway: Duration, "PORTCULLIS_CLOCK_LEEWAY";
    insecure_dev_cookies: bool, "PORTCULLIS_INSECURE_DEV_COOKIES", "--insecure-dev-cookies";
    hash_concurrency: NonZeroUsize, "PORTCULLIS_HASH_CONCURRENCY";
    hash_queue: usize, "PORTCULLIS_HASH_QUEUE";
    database_max_connections: NonZeroU32, "PORTCULLIS_DATABASE_MAX_CONNECTIONS";
    database_min_connections: u32, "PORTCULLIS_DATABASE_MIN_CONNECTIONS";
    database_acquire_timeout: Duration, "PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT";
    database_statement_timeout: Duration, "PORTCULLIS_DATABASE_STATEMENT_TIMEOUT";
    revocation_max_staleness: Duration, "PORTCULLIS_REVOCATION_MAX_STALENESS";
    address_login_attempts: OrOff<Rate>, "PORTCULLIS_ADDRESS_LOGIN_ATTEMPTS";
    address_login_failures: OrOff<Rate>, "PORTCULLIS_ADDRESS_LOGIN_FAILURES";
    address_registrations: OrOff<Rate>, "PORTCULLIS_ADDRESS_REGISTRATIONS";
    address_refreshes: OrOff<Rate>, "PORTCULLIS_ADDRESS_REFRESHES";
    address_ipv6_prefix: Ipv6Prefix, "PORTCULLIS_ADDRESS_IPV6_PREFIX";
    audit_retention: OrOff<Duration>, "PORTCULLIS_AUDIT_RETENTION";
    log_format: LogFormat, "PORTCULLIS_LOG_FORMAT";
    trusted_proxies: Vec<IpNet>, "PORTCULLIS_TRUSTED_PROXIES";
    upstream_timeout: Duration, "PORTCULLIS_UPSTREAM_TIMEOUT";
    upstream_token_cookie: CookieName, "PORTCULLIS_UPSTREAM_TOKEN_COOKIE";
    hs256_secret_file: PathBuf, "PORTCULLIS_HS256_SECRET_FILE";
    legacy_id_claim: bool, "PORTCULLIS_LEGACY_ID_CLAIM";
    notes_page: bool, "PORTCULLIS_NOTES_PAGE";
    tls_cert: PathBuf, "PORTCULLIS_TLS_CERT", "--tls-cert";
    tls_key: PathBuf, "PORTCULLIS_TLS_KEY", "--tls-key";
    key_rotation_interval: OrOff<Duration>, "PORTCULLIS_KEY_ROTATION_INTERVAL";
    shutdown_timeout: Duration, "PORTCULLIS_SHUTDOWN_TIMEOUT";
    header_read_timeout: Duration, "PORTCULLIS_HEADER_READ_TIMEOUT";
    keep_alive_timeout: Duration, "PORTCULLIS_KEEP_ALIVE_TIMEOUT";
    max_connections: NonZeroUsize, "PORTCULLIS_MAX_CONNECTIONS";
    smtp_url: SmtpUrl, "PORTCULLIS_SMTP_URL";
    smtp_url_file: PathBuf, "PORTCULLIS_SMTP_URL_FILE";
    smtp_ca_file: PathBuf, "PORTCULLIS_SMTP_CA_FILE";
    mail_from: MailFrom, "PORTCULLIS_MAIL_FROM";
    mail_templates: PathBuf, "PORTCULLIS_MAIL_TEMPLATES";
    password_reset_ttl: Duration, "PORTCULLIS_PASSWORD_RESET_TTL";
    email_verification_ttl: Duration, "PORTCULLIS_EMAIL_VERIFICATION_TTL";
    require_verified_email: bool, "PORTCULLIS_REQUIRE_VERIFIED_EMAIL";
    notify_new_device: bool, "PORTCULLIS_NOTIFY_NEW_DEVICE";
    address_email_requests: OrOff<Rate>, "PORTCULLIS_ADDRESS_EMAIL_REQUESTS";
    account_email_requests: OrOff<Rate>, "PORTCULLIS_ACCOUNT_EMAIL_REQUESTS";
    oidc_providers: RawProviders, "PORTCULLIS_OIDC_PROVIDERS";
    mfa_key_file: PathBuf, "PORTCULLIS_MFA_KEY_FILE";
    reauthentication_window: Duration, "PORTCULLIS_REAUTHENTICATION_WINDOW";
}

/// Every setting, with its TOML key, environment variable and flag, in the
/// order they are documented; the documentation is tested against it.
pub fn known_settings() -> &'static [KnownSetting] {
    KNOWN
}

/// The prefix of every setting's environment variable; any other variable
/// with this prefix is refused, except [`LOG_FILTER_VARIABLE`].
pub const ENV_PREFIX: &str = "PORTCULLIS_";

/// The log filter (`PORTCULLIS_LOG=debug`): read by the binary before
/// logging starts, not a setting of the server.
pub const LOG_FILTER_VARIABLE: &str = "PORTCULLIS_LOG";

/// The settings that have a command-line flag, as clap parsed them: typed
/// already, by the same [`super::SettingValue`] parsers as the other layers.
/// `None` (and `false`) leave the setting to the layers below.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Flags {
    /// `--bind`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<DatabaseUrl>,
    /// `--upstream`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<ProxyTarget>,
    /// `--frontend`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontend: Option<ProxyTarget>,
    /// `--public-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<PublicUrl>,
    /// `--insecure-dev-cookies`: a switch, so it can only turn the setting on.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_dev_cookies: bool,
    /// `--tls-cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}
