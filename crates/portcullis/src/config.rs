//! Settings from three layers — a TOML file (`--config`), `PORTCULLIS_*`
//! environment variables, command-line flags, later layers winning — parsed once
//! into a typed [`Config`]. Every bad value is refused at start with a message
//! that names the setting and where it came from.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{SecretSlice, SecretString};
use url::Url;

use crate::auth::address_limits::{AddressRates, Rate};

/// A setting that can be given in the file, the environment, or (some) as a flag.
struct Setting {
    /// The key in the TOML file.
    key: &'static str,
    /// The environment variable.
    env: &'static str,
    /// The command-line flag, when there is one.
    flag: Option<&'static str>,
}

macro_rules! settings {
    ($($key:literal, $env:literal, $flag:expr;)*) => {
        const SETTINGS: &[Setting] = &[$(Setting { key: $key, env: $env, flag: $flag }),*];
    };
}

settings! {
    "bind", "PORTCULLIS_BIND", Some("--bind");
    "database_url", "PORTCULLIS_DATABASE_URL", Some("--database-url");
    "upstream", "PORTCULLIS_UPSTREAM", Some("--upstream");
    "frontend", "PORTCULLIS_FRONTEND", Some("--frontend");
    "frontend_token", "PORTCULLIS_FRONTEND_TOKEN", None;
    "frontend_public_paths", "PORTCULLIS_FRONTEND_PUBLIC_PATHS", None;
    "public_url", "PORTCULLIS_PUBLIC_URL", Some("--public-url");
    "issuer", "PORTCULLIS_ISSUER", None;
    "audience", "PORTCULLIS_AUDIENCE", None;
    "registration", "PORTCULLIS_REGISTRATION", None;
    "access_token_ttl", "PORTCULLIS_ACCESS_TOKEN_TTL", None;
    "refresh_idle_timeout", "PORTCULLIS_REFRESH_IDLE_TIMEOUT", None;
    "session_max_lifetime", "PORTCULLIS_SESSION_MAX_LIFETIME", None;
    "refresh_reuse_grace", "PORTCULLIS_REFRESH_REUSE_GRACE", None;
    "clock_leeway", "PORTCULLIS_CLOCK_LEEWAY", None;
    "insecure_dev_cookies", "PORTCULLIS_INSECURE_DEV_COOKIES", Some("--insecure-dev-cookies");
    "hash_concurrency", "PORTCULLIS_HASH_CONCURRENCY", None;
    "hash_queue", "PORTCULLIS_HASH_QUEUE", None;
    "database_max_connections", "PORTCULLIS_DATABASE_MAX_CONNECTIONS", None;
    "database_min_connections", "PORTCULLIS_DATABASE_MIN_CONNECTIONS", None;
    "database_acquire_timeout", "PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT", None;
    "database_statement_timeout", "PORTCULLIS_DATABASE_STATEMENT_TIMEOUT", None;
    "revocation_max_staleness", "PORTCULLIS_REVOCATION_MAX_STALENESS", None;
    "address_login_attempts", "PORTCULLIS_ADDRESS_LOGIN_ATTEMPTS", None;
    "address_login_failures", "PORTCULLIS_ADDRESS_LOGIN_FAILURES", None;
    "address_registrations", "PORTCULLIS_ADDRESS_REGISTRATIONS", None;
    "address_refreshes", "PORTCULLIS_ADDRESS_REFRESHES", None;
    "log_format", "PORTCULLIS_LOG_FORMAT", None;
    "trusted_proxies", "PORTCULLIS_TRUSTED_PROXIES", None;
    "upstream_timeout", "PORTCULLIS_UPSTREAM_TIMEOUT", None;
    "upstream_token_cookie", "PORTCULLIS_UPSTREAM_TOKEN_COOKIE", None;
    "hs256_secret_file", "PORTCULLIS_HS256_SECRET_FILE", None;
    "legacy_id_claim", "PORTCULLIS_LEGACY_ID_CLAIM", None;
    "tls_cert", "PORTCULLIS_TLS_CERT", Some("--tls-cert");
    "tls_key", "PORTCULLIS_TLS_KEY", Some("--tls-key");
    "key_rotation_interval", "PORTCULLIS_KEY_ROTATION_INTERVAL", None;
    "shutdown_timeout", "PORTCULLIS_SHUTDOWN_TIMEOUT", None;
}

/// The file keys of every setting, in the order they are documented; the
/// sample configuration is tested against this list so that it cannot drift.
pub fn setting_keys() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|s| s.key)
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "in {}", path.display()),
            Origin::Env(var) => write!(f, "from {var}"),
            Origin::Flag(flag) => write!(f, "from {flag}"),
        }
    }
}

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read or is not TOML.
    #[error("cannot read the configuration file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The file names a setting that does not exist.
    #[error("unknown setting `{key}` in {path}; known settings: {known}")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The unknown key.
        key: String,
        /// The keys that exist.
        known: String,
    },
    /// One value is malformed.
    #[error("invalid {key} {origin}: {value:?} is not {expected}")]
    Invalid {
        /// The setting.
        key: &'static str,
        /// Where the value came from.
        origin: String,
        /// The value (never a secret: secrets are not echoed).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// Values that are fine alone but not together.
    #[error("{0}")]
    Inconsistent(String),
    /// The HS256 secret file cannot be read or holds too short a secret.
    #[error("hs256_secret_file {path}: {reason}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the secret itself).
        reason: String,
    },
}

/// The raw layers, before parsing.
#[derive(Debug, Default)]
pub struct Sources {
    file: Option<(PathBuf, BTreeMap<String, String>)>,
    env: HashMap<String, String>,
    flags: HashMap<&'static str, String>,
}

impl Sources {
    /// Reads the file (when given) and takes the process environment.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut sources = Self {
            env: std::env::vars()
                .filter(|(k, _)| k.starts_with("PORTCULLIS_"))
                .collect(),
            ..Self::default()
        };
        if let Some(path) = config_file {
            sources.file = Some((path.to_owned(), read_file(path)?));
        }
        Ok(sources)
    }

    /// Sources with only the given environment, for tests and embedding.
    pub fn from_env<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            env: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            ..Self::default()
        }
    }

    /// Sets a flag's value; `flag` is the long flag, e.g. `--bind`.
    pub fn set_flag(&mut self, flag: &str, value: impl Into<String>) {
        if let Some(name) = SETTINGS.iter().find_map(|s| s.flag.filter(|f| *f == flag)) {
            self.flags.insert(name, value.into());
        }
    }

    fn lookup(&self, key: &'static str) -> Option<(String, Origin)> {
        let setting = SETTINGS.iter().find(|s| s.key == key)?;
        if let Some(flag) = setting.flag
            && let Some(v) = self.flags.get(flag)
        {
            return Some((v.clone(), Origin::Flag(flag)));
        }
        if let Some(v) = self.env.get(setting.env) {
            return Some((v.clone(), Origin::Env(setting.env)));
        }
        let (path, table) = self.file.as_ref()?;
        table
            .get(key)
            .map(|v| (v.clone(), Origin::File(path.clone())))
    }

    /// Reads one setting through `parse`, or `default` when it is not given.
    fn get<T>(
        &self,
        key: &'static str,
        expected: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        let Some((value, origin)) = self.lookup(key) else {
            return Ok(None);
        };
        parse(value.trim())
            .map(Some)
            .ok_or_else(|| ConfigError::Invalid {
                key,
                origin: origin.to_string(),
                value,
                expected,
            })
    }

    fn duration(&self, key: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        Ok(self
            .get(key, "a duration such as 30s, 15m or 7d", |v| {
                humantime::parse_duration(v).ok()
            })?
            .unwrap_or(default))
    }

    /// A URL we proxy to: plain http, since the proxy speaks no TLS to its
    /// upstreams (they sit next to it, on a private network).
    fn proxy_target(&self, key: &'static str) -> Result<Option<Url>, ConfigError> {
        self.get(
            key,
            "an http:// URL (TLS to the upstream is not supported)",
            |v| {
                Url::parse(v).ok().filter(|u| {
                    u.scheme() == "http"
                        && u.host().is_some()
                        && u.query().is_none()
                        && u.fragment().is_none()
                })
            },
        )
    }

    fn url(&self, key: &'static str) -> Result<Option<Url>, ConfigError> {
        self.get(key, "an http or https URL", |v| {
            Url::parse(v)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        })
    }
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let file_error = |reason: String| ConfigError::File {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_error(e.message().to_owned()))?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if !SETTINGS.iter().any(|s| s.key == key) {
            let known = SETTINGS
                .iter()
                .map(|s| s.key)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ConfigError::UnknownKey {
                path: path.to_owned(),
                key,
                known,
            });
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(file_error(format!(
                    "`{key}` must be a string, number or boolean, not {}",
                    other.type_str()
                )));
            }
        };
        values.insert(key, text);
    }
    Ok(values)
}

/// Whether anyone may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// `POST /api/auth/register` creates accounts.
    Open,
    /// Only `portcullis user add` creates accounts.
    Closed,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line, for collectors.
    Json,
}

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
        use secrecy::ExposeSecret;
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
    /// How long an instance keeps trusting its revoked-session set after it
    /// last proved it current; past that, authenticated requests answer 503.
    pub revocation_max_staleness: Duration,
    /// Per-client-address rate limits.
    pub address_rates: AddressRates,
}

impl Config {
    /// Parses and cross-checks every setting.
    pub fn from_sources(sources: &Sources) -> Result<Self, ConfigError> {
        let bind = sources
            .get("bind", "an address such as 127.0.0.1:8080", |v| {
                v.parse().ok()
            })?
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let database_url = sources
            .get("database_url", "a sqlite:// or postgres:// URL", |v| {
                (v.starts_with("sqlite:")
                    || v.starts_with("postgres://")
                    || v.starts_with("postgresql://"))
                .then(|| v.to_owned())
            })
            .map_err(redact_database_url)?
            .unwrap_or_else(|| "sqlite://portcullis.db".to_owned());
        let public_url = sources.url("public_url")?;
        let default_name = public_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| "portcullis".to_owned());
        let non_empty = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        let issuer = sources
            .get("issuer", "a non-empty string", non_empty)?
            .unwrap_or_else(|| default_name.clone());
        let audience = sources
            .get("audience", "a non-empty string", non_empty)?
            .unwrap_or_else(|| default_name.clone());
        let registration = sources
            .get("registration", "`open` or `closed`", |v| match v {
                "open" => Some(Registration::Open),
                "closed" => Some(Registration::Closed),
                _ => None,
            })?
            .unwrap_or(Registration::Open);
        let sessions = SessionPolicy {
            access_token_ttl: sources.duration("access_token_ttl", Duration::from_secs(15 * 60))?,
            idle_timeout: sources
                .duration("refresh_idle_timeout", Duration::from_secs(7 * 86_400))?,
            max_lifetime: sources
                .duration("session_max_lifetime", Duration::from_secs(30 * 86_400))?,
            reuse_grace: sources.duration("refresh_reuse_grace", Duration::from_secs(10))?,
        };
        let clock_leeway = sources.duration("clock_leeway", Duration::from_secs(5))?;
        let insecure_dev_cookies = sources
            .get("insecure_dev_cookies", "true or false", parse_bool)?
            .unwrap_or(false);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let positive = |v: &str| v.parse::<usize>().ok().filter(|n| *n > 0);
        let hashing = HashingConfig {
            concurrency: sources
                .get("hash_concurrency", "a whole number above zero", positive)?
                .unwrap_or(cores),
            queue: sources
                .get("hash_queue", "a whole number", |v| v.parse().ok())?
                .unwrap_or(64 * cores),
        };
        let max_connections = sources
            .get(
                "database_max_connections",
                "a whole number above zero",
                |v| v.parse::<u32>().ok().filter(|n| *n > 0),
            )?
            .unwrap_or(10);
        let min_connections = sources
            .get("database_min_connections", "a whole number", |v| {
                v.parse::<u32>().ok()
            })?
            .unwrap_or(0);
        let acquire_timeout =
            sources.duration("database_acquire_timeout", Duration::from_secs(3))?;
        let statement_timeout =
            sources.duration("database_statement_timeout", Duration::from_secs(5))?;
        let defaults = AddressRates::default();
        let rate = |key, default: Option<Rate>| -> Result<Option<Rate>, ConfigError> {
            Ok(sources
                .get(key, "a rate such as 20/10m, or off", |v| match v {
                    "off" => Some(None),
                    v => Rate::parse(v).map(Some),
                })?
                .unwrap_or(default))
        };
        let address_rates = AddressRates {
            login_attempts: rate("address_login_attempts", defaults.login_attempts)?,
            login_failures: rate("address_login_failures", defaults.login_failures)?,
            registrations: rate("address_registrations", defaults.registrations)?,
            refreshes: rate("address_refreshes", defaults.refreshes)?,
        };
        let revocation_max_staleness =
            sources.duration("revocation_max_staleness", Duration::from_secs(5))?;
        let log_format = sources
            .get("log_format", "`text` or `json`", |v| match v {
                "text" => Some(LogFormat::Text),
                "json" => Some(LogFormat::Json),
                _ => None,
            })?
            .unwrap_or(LogFormat::Text);

        let trusted_proxies = sources
            .get(
                "trusted_proxies",
                "a comma-separated list of addresses or networks (10.0.0.0/8)",
                |v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(|p| {
                            p.parse::<IpNet>()
                                .ok()
                                .or_else(|| p.parse::<std::net::IpAddr>().ok().map(IpNet::from))
                        })
                        .collect::<Option<Vec<_>>>()
                },
            )?
            .unwrap_or_default();
        let tls = match (
            sources.get("tls_cert", "a file path", non_empty_path)?,
            sources.get("tls_key", "a file path", non_empty_path)?,
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Inconsistent(
                    "tls_cert and tls_key go together: give both or neither".into(),
                ));
            }
        };
        let key_rotation_interval = sources
            .get(
                "key_rotation_interval",
                "`off` or a duration such as 30d",
                |v| match v {
                    "off" => Some(None),
                    v => humantime::parse_duration(v).ok().map(Some),
                },
            )?
            .unwrap_or(Some(DEFAULT_KEY_ROTATION_INTERVAL));
        let shutdown_timeout = sources.duration("shutdown_timeout", Duration::from_secs(30))?;

        let config = Config {
            bind,
            database: DatabaseConfig {
                url: SecretString::from(database_url),
                max_connections,
                min_connections,
                acquire_timeout,
                statement_timeout,
            },
            upstream: sources.proxy_target("upstream")?,
            frontend: sources.proxy_target("frontend")?,
            frontend_token: sources
                .get("frontend_token", "true or false", parse_bool)?
                .unwrap_or(false),
            frontend_public_paths: sources
                .get(
                    "frontend_public_paths",
                    "a comma-separated list of path prefixes starting with /",
                    |v| {
                        let paths = v.split(',').map(str::trim).filter(|p| !p.is_empty());
                        paths
                            .map(|p| {
                                (p.starts_with('/') && !p.contains(char::is_whitespace))
                                    .then(|| p.to_owned())
                            })
                            .collect()
                    },
                )?
                .unwrap_or_default(),
            public_url,
            issuer,
            audience,
            registration,
            sessions,
            clock_leeway,
            insecure_dev_cookies,
            hashing,
            log_format,
            trusted_proxies,
            upstream_timeout: sources.duration("upstream_timeout", Duration::from_secs(30))?,
            upstream_token_cookie: sources.get(
                "upstream_token_cookie",
                "a cookie name (letters, digits and !#$%&'*+-.^_`|~)",
                |v| is_cookie_name(v).then(|| v.to_owned()),
            )?,
            hs256_secret: match sources.get("hs256_secret_file", "a file path", |v| {
                (!v.is_empty()).then(|| PathBuf::from(v))
            })? {
                Some(path) => Some(read_hs256_secret(&path)?),
                None => None,
            },
            legacy_id_claim: sources
                .get("legacy_id_claim", "true or false", parse_bool)?
                .unwrap_or(false),
            tls,
            key_rotation_interval,
            shutdown_timeout,
            revocation_max_staleness,
            address_rates,
        };
        config.check_consistency()?;
        Ok(config)
    }

    fn check_consistency(&self) -> Result<(), ConfigError> {
        let s = &self.sessions;
        let fail = |msg: String| Err(ConfigError::Inconsistent(msg));
        if s.access_token_ttl < Duration::from_secs(1) {
            return fail("access_token_ttl must be at least 1s".into());
        }
        if s.access_token_ttl >= s.idle_timeout {
            return fail(format!(
                "access_token_ttl ({}) must be shorter than refresh_idle_timeout ({})",
                humantime::format_duration(s.access_token_ttl),
                humantime::format_duration(s.idle_timeout)
            ));
        }
        if s.idle_timeout > s.max_lifetime {
            return fail(format!(
                "refresh_idle_timeout ({}) must not exceed session_max_lifetime ({})",
                humantime::format_duration(s.idle_timeout),
                humantime::format_duration(s.max_lifetime)
            ));
        }
        if s.reuse_grace > Duration::from_secs(60) {
            return fail("refresh_reuse_grace must be at most 60s: a long grace window lets a stolen refresh token in".into());
        }
        if self.clock_leeway > Duration::from_secs(300) {
            return fail("clock_leeway must be at most 5m".into());
        }
        if self.upstream_timeout < Duration::from_millis(1) {
            return fail("upstream_timeout must be above zero".into());
        }
        // Shorter would spend most of each key's life publishing the next one.
        if self
            .key_rotation_interval
            .is_some_and(|i| i < MIN_KEY_ROTATION_INTERVAL)
        {
            return fail("key_rotation_interval must be `off` or at least 1d".into());
        }
        self.check_database()
    }

    fn check_database(&self) -> Result<(), ConfigError> {
        let db = &self.database;
        let fail = |msg: &str| Err(ConfigError::Inconsistent(msg.into()));
        if db.min_connections > db.max_connections {
            return fail("database_min_connections must not exceed database_max_connections");
        }
        if db.is_postgres() && db.max_connections < 2 {
            return fail(
                "database_max_connections must be at least 2 on PostgreSQL: one connection listens for revocations",
            );
        }
        if db.acquire_timeout < Duration::from_millis(100)
            || db.statement_timeout < Duration::from_millis(100)
        {
            return fail(
                "database_acquire_timeout and database_statement_timeout must be at least 100ms",
            );
        }
        // The set is proved current about once a second; a bound closer to
        // that would turn ordinary jitter into 503s.
        if self.revocation_max_staleness < Duration::from_secs(2) {
            return fail("revocation_max_staleness must be at least 2s");
        }
        Ok(())
    }
}

/// An RFC 6265 cookie name: an HTTP token.
fn is_cookie_name(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Reads the HS256 secret: the file's bytes less one trailing newline, so that
/// `echo "$SECRET" > file` gives the same key as the string `$SECRET` handed to
/// a NestJS `JwtModule`. Anything under 256 bits is refused (RFC 7518 §3.2).
fn read_hs256_secret(path: &Path) -> Result<SecretSlice<u8>, ConfigError> {
    let fail = |reason: String| ConfigError::SecretFile {
        path: path.to_owned(),
        reason,
    };
    let mut bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    let secret = SecretSlice::from(bytes);
    use secrecy::ExposeSecret;
    let len = secret.expose_secret().len();
    if len < portcullis_verifier::MIN_HS256_SECRET_LEN {
        return Err(fail(format!(
            "the secret is {len} bytes; at least {} (256 bits) are required, e.g. `openssl rand -base64 48`",
            portcullis_verifier::MIN_HS256_SECRET_LEN
        )));
    }
    Ok(secret)
}

/// Automatic key rotation, unless configured otherwise: a key signs for a
/// month, so a leaked one is useful for a month at most, and the JWKS of a
/// busy site still changes rarely.
pub const DEFAULT_KEY_ROTATION_INTERVAL: Duration = Duration::from_secs(30 * 86_400);
const MIN_KEY_ROTATION_INTERVAL: Duration = Duration::from_secs(86_400);

fn non_empty_path(v: &str) -> Option<PathBuf> {
    (!v.is_empty()).then(|| PathBuf::from(v))
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// A database URL may carry a password: never echo it.
fn redact_database_url(error: ConfigError) -> ConfigError {
    match error {
        ConfigError::Invalid {
            key,
            origin,
            expected,
            ..
        } => ConfigError::Invalid {
            key,
            origin,
            value: "<redacted>".into(),
            expected,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_sources(&Sources::from_env(vars.iter().copied()))
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.sessions.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.sessions.idle_timeout, Duration::from_secs(7 * 86_400));
        assert_eq!(c.sessions.max_lifetime, Duration::from_secs(30 * 86_400));
        assert_eq!(c.sessions.reuse_grace, Duration::from_secs(10));
        assert_eq!(c.clock_leeway, Duration::from_secs(5));
        assert_eq!(
            (c.issuer.as_str(), c.audience.as_str()),
            ("portcullis", "portcullis")
        );
        assert_eq!(c.registration, Registration::Open);
        assert!(!c.insecure_dev_cookies);
        assert!(c.upstream.is_none());
        assert_eq!(c.database.max_connections, 10);
        assert_eq!(c.database.min_connections, 0);
        assert_eq!(c.database.acquire_timeout, Duration::from_secs(3));
        assert_eq!(c.database.statement_timeout, Duration::from_secs(5));
        assert_eq!(c.revocation_max_staleness, Duration::from_secs(5));
    }

    #[test]
    fn pool_and_staleness_settings_are_checked_together() {
        let pg = ("PORTCULLIS_DATABASE_URL", "postgres://db/portcullis");
        assert!(config(&[pg, ("PORTCULLIS_DATABASE_MAX_CONNECTIONS", "1")]).is_err());
        assert!(config(&[("PORTCULLIS_DATABASE_MAX_CONNECTIONS", "1")]).is_ok());
        assert!(config(&[("PORTCULLIS_DATABASE_MIN_CONNECTIONS", "11")]).is_err());
        assert!(config(&[("PORTCULLIS_REVOCATION_MAX_STALENESS", "1s")]).is_err());
        assert!(config(&[("PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT", "0s")]).is_err());
        let c = config(&[pg, ("PORTCULLIS_REVOCATION_MAX_STALENESS", "30s")]).expect("valid");
        assert!(c.database.is_postgres());
        assert_eq!(c.revocation_max_staleness, Duration::from_secs(30));
    }

    #[test]
    fn the_issuer_defaults_to_the_public_url() {
        let c = config(&[("PORTCULLIS_PUBLIC_URL", "https://auth.example.com/")]).expect("valid");
        assert_eq!(c.issuer, "https://auth.example.com");
        assert_eq!(c.audience, "https://auth.example.com");
    }

    #[test]
    fn flags_win_over_the_environment() {
        let mut sources = Sources::from_env([("PORTCULLIS_BIND", "127.0.0.1:1")]);
        sources.set_flag("--bind", "127.0.0.1:2");
        let c = Config::from_sources(&sources).expect("valid");
        assert_eq!(c.bind.port(), 2);
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("portcullis.toml");
        std::fs::write(&path, "bind = \"127.0.0.1:1\"\naccess_token_ttl = \"2m\"\n")
            .expect("write");
        let mut sources = Sources::load(Some(&path)).expect("loads");
        sources.env = [("PORTCULLIS_BIND".to_owned(), "127.0.0.1:3".to_owned())].into();
        let c = Config::from_sources(&sources).expect("valid");
        assert_eq!(c.bind.port(), 3);
        assert_eq!(c.sessions.access_token_ttl, Duration::from_secs(120));
    }

    #[test]
    fn a_bad_value_names_the_setting_and_its_origin() {
        let err = config(&[("PORTCULLIS_ACCESS_TOKEN_TTL", "soon")]).expect_err("invalid");
        let msg = err.to_string();
        assert!(
            msg.contains("access_token_ttl") && msg.contains("PORTCULLIS_ACCESS_TOKEN_TTL"),
            "{msg}"
        );
        assert!(config(&[("PORTCULLIS_UPSTREAM", "ftp://x")]).is_err());
        assert!(config(&[("PORTCULLIS_REGISTRATION", "maybe")]).is_err());
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("portcullis.toml");
        std::fs::write(&path, "acess_token_ttl = \"2m\"\n").expect("write");
        let err = Sources::load(Some(&path)).expect_err("typo");
        assert!(err.to_string().contains("acess_token_ttl"));
    }

    #[test]
    fn trusted_proxies_take_addresses_and_networks() {
        let c = config(&[("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")]).expect("valid");
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(config(&[("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/33")]).is_err());
    }

    #[test]
    fn inconsistent_lifetimes_are_refused() {
        assert!(config(&[("PORTCULLIS_ACCESS_TOKEN_TTL", "8d")]).is_err());
        assert!(config(&[("PORTCULLIS_REFRESH_IDLE_TIMEOUT", "40d")]).is_err());
        assert!(config(&[("PORTCULLIS_REFRESH_REUSE_GRACE", "1h")]).is_err());
    }

    #[test]
    fn gateway_settings_have_safe_defaults_and_are_checked() {
        let c = config(&[]).expect("defaults");
        assert_eq!(c.upstream_timeout, Duration::from_secs(30));
        assert_eq!(c.upstream_token_cookie, None);
        assert!(c.hs256_secret.is_none() && !c.legacy_id_claim);
        let c = config(&[
            ("PORTCULLIS_UPSTREAM", "http://127.0.0.1:3000"),
            ("PORTCULLIS_UPSTREAM_TIMEOUT", "2s"),
            ("PORTCULLIS_UPSTREAM_TOKEN_COOKIE", "accessToken"),
            ("PORTCULLIS_LEGACY_ID_CLAIM", "true"),
        ])
        .expect("valid");
        assert_eq!(c.upstream_timeout, Duration::from_secs(2));
        assert_eq!(c.upstream_token_cookie.as_deref(), Some("accessToken"));
        assert!(c.legacy_id_claim);
        for bad in ["access token", "a;b", "a=b", ""] {
            assert!(
                config(&[("PORTCULLIS_UPSTREAM_TOKEN_COOKIE", bad)]).is_err(),
                "{bad:?}"
            );
        }
        assert!(config(&[("PORTCULLIS_UPSTREAM", "https://api.internal")]).is_err());
        assert!(config(&[("PORTCULLIS_FRONTEND", "http://x?y=1")]).is_err());
    }

    #[test]
    fn the_frontend_token_is_off_by_default_and_public_paths_are_prefixes() {
        let c = config(&[]).expect("defaults");
        assert!(!c.frontend_token && c.frontend_public_paths.is_empty());
        let c = config(&[
            ("PORTCULLIS_FRONTEND_TOKEN", "true"),
            (
                "PORTCULLIS_FRONTEND_PUBLIC_PATHS",
                "/favicon.ico, /images/,",
            ),
        ])
        .expect("valid");
        assert!(c.frontend_token);
        assert_eq!(c.frontend_public_paths, ["/favicon.ico", "/images/"]);
        for bad in ["images/", "/a b"] {
            assert!(
                config(&[("PORTCULLIS_FRONTEND_PUBLIC_PATHS", bad)]).is_err(),
                "{bad:?}"
            );
        }
        assert!(config(&[("PORTCULLIS_FRONTEND_TOKEN", "on")]).is_err());
    }

    #[test]
    fn an_hs256_secret_under_256_bits_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let short = dir.path().join("short");
        std::fs::write(&short, format!("{}\n", "s".repeat(31))).expect("write");
        let long = dir.path().join("long");
        std::fs::write(&long, format!("{}\n", "s".repeat(32))).expect("write");
        let err = config(&[(
            "PORTCULLIS_HS256_SECRET_FILE",
            short.to_str().expect("utf-8"),
        )])
        .expect_err("too short");
        assert!(err.to_string().contains("31 bytes"), "{err}");
        assert!(!err.to_string().contains("sss"), "the secret is not echoed");
        let c = config(&[(
            "PORTCULLIS_HS256_SECRET_FILE",
            long.to_str().expect("utf-8"),
        )])
        .expect("long enough");
        use secrecy::ExposeSecret;
        let secret = c.hs256_secret.expect("read");
        assert_eq!(secret.expose_secret(), "s".repeat(32).as_bytes());
        assert!(config(&[("PORTCULLIS_HS256_SECRET_FILE", "/nonexistent/secret")]).is_err());
    }

    #[test]
    fn tls_files_go_together_and_rotation_can_be_turned_off() {
        let c = config(&[]).expect("defaults");
        assert_eq!(c.tls, None);
        assert_eq!(c.key_rotation_interval, Some(DEFAULT_KEY_ROTATION_INTERVAL));
        assert_eq!(c.shutdown_timeout, Duration::from_secs(30));
        assert!(config(&[("PORTCULLIS_TLS_CERT", "cert.pem")]).is_err());
        let c = config(&[
            ("PORTCULLIS_TLS_CERT", "cert.pem"),
            ("PORTCULLIS_TLS_KEY", "key.pem"),
            ("PORTCULLIS_KEY_ROTATION_INTERVAL", "off"),
        ])
        .expect("valid");
        assert_eq!(c.tls.map(|t| t.key), Some(PathBuf::from("key.pem")));
        assert_eq!(c.key_rotation_interval, None);
        assert!(config(&[("PORTCULLIS_KEY_ROTATION_INTERVAL", "1h")]).is_err());
    }

    #[test]
    fn a_bad_database_url_is_not_echoed() {
        let err =
            config(&[("PORTCULLIS_DATABASE_URL", "mysql://root:hunter2@db")]).expect_err("invalid");
        assert!(!err.to_string().contains("hunter2"));
    }
}
