//! The rules between settings, checked once all are read, and the reading
//! of the HS256 secret file.

use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretSlice};

use super::{Config, ConfigError};

/// Below this, a key would spend most of its life being published as the next one.
const MIN_KEY_ROTATION_INTERVAL: Duration = Duration::from_secs(86_400);

/// The most connections a server may be told to hold.
const MAX_CONNECTIONS: usize = 1_000_000;

/// Refuses settings that are fine alone but not together.
pub(super) fn check(config: &Config) -> Result<(), ConfigError> {
    check_sessions(config)?;
    check_audit_retention(config)?;
    check_connections(config)?;
    check_database(config)?;
    check_notes_page(config)?;
    check_frontend_token(config)?;
    check_providers(config)?;
    check_reauthentication_window(config)
}

/// Sign-in with a provider needs the callback URL registered with it, which
/// only a fixed public URL gives: taken from each request's `Host`, it
/// would be whatever a client sent.
fn check_providers(config: &Config) -> Result<(), ConfigError> {
    if !config.oidc_providers.is_empty() && config.public_url.is_none() {
        return fail(
            "oidc_providers need public_url: the callback URL registered with each provider is {public_url}/api/auth/oidc/{id}/callback",
        );
    }
    Ok(())
}

/// Under a minute, a person could not finish what they re-authenticated
/// for; over a day, the check would mean nothing.
fn check_reauthentication_window(config: &Config) -> Result<(), ConfigError> {
    let w = config.reauthentication_window;
    if w < Duration::from_secs(60) || w > Duration::from_secs(86_400) {
        return fail("reauthentication_window must be between 1m and 1d");
    }
    Ok(())
}

fn fail(message: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::Inconsistent(message.into()))
}

fn check_sessions(config: &Config) -> Result<(), ConfigError> {
    let s = &config.sessions;
    if s.access_token_ttl < Duration::from_secs(1) {
        return fail("access_token_ttl must be at least 1s");
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
        return fail(
            "refresh_reuse_grace must be at most 60s: a long grace window lets a stolen refresh token in",
        );
    }
    if config.clock_leeway > Duration::from_secs(300) {
        return fail("clock_leeway must be at most 5m");
    }
    if config.upstream_timeout < Duration::from_millis(1) {
        return fail("upstream_timeout must be above zero");
    }
    if config
        .key_rotation_interval
        .is_some_and(|i| i < MIN_KEY_ROTATION_INTERVAL)
    {
        return fail("key_rotation_interval must be `off` or at least 1d");
    }
    Ok(())
}

/// The schemas keep the last 30 days of the audit log whatever is asked; a
/// shorter retention could never be honoured.
fn check_audit_retention(config: &Config) -> Result<(), ConfigError> {
    if config
        .audit_retention
        .is_some_and(|r| r < super::MIN_AUDIT_RETENTION)
    {
        return fail(
            "audit_retention must be `off` or at least 30d: the database refuses to delete younger events",
        );
    }
    Ok(())
}

fn check_connections(config: &Config) -> Result<(), ConfigError> {
    let limits = &config.connections;
    // Under a second, a client on a slow network could not send its
    // headers; over a few minutes, the timeout no longer bounds a trickle.
    if !(Duration::from_secs(1)..=Duration::from_secs(300)).contains(&limits.header_read_timeout) {
        return fail("header_read_timeout must be between 1s and 5m");
    }
    if limits.keep_alive_timeout < Duration::from_secs(1) {
        return fail("keep_alive_timeout must be at least 1s");
    }
    // Each connection is a file descriptor; no process gets millions.
    if limits.max_connections > MAX_CONNECTIONS {
        return fail(format!("max_connections must be at most {MAX_CONNECTIONS}"));
    }
    Ok(())
}

fn check_database(config: &Config) -> Result<(), ConfigError> {
    let db = &config.database;
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
    if config.revocation_max_staleness < Duration::from_secs(2) {
        return fail("revocation_max_staleness must be at least 2s");
    }
    Ok(())
}

/// The notes page is a demo of `examples/upstream-api`: it calls
/// `/api/notes` on the upstream, and is part of the built-in UI. On without
/// either, it would silently do nothing.
fn check_notes_page(config: &Config) -> Result<(), ConfigError> {
    if config.notes_page && config.upstream.is_none() {
        return fail(
            "notes_page needs an upstream: the page calls /api/notes on it (set upstream, or turn notes_page off)",
        );
    }
    if config.notes_page && config.frontend.is_some() {
        return fail(
            "notes_page is a page of the built-in UI, which a frontend replaces: turn one of them off",
        );
    }
    Ok(())
}

/// `frontend_token` sends the token to the frontend's pages; without a
/// frontend it would silently do nothing. (`frontend_public_paths` without the
/// token is merely redundant: every page already skips the session.)
fn check_frontend_token(config: &Config) -> Result<(), ConfigError> {
    if config.frontend_token && config.frontend.is_none() {
        return fail(
            "frontend_token needs a frontend: it sends the token to the pages the frontend serves (set frontend, or turn frontend_token off)",
        );
    }
    Ok(())
}

/// Reads the HS256 secret: the file's bytes less one trailing newline, so that
/// `echo "$SECRET" > file` gives the same key as the string `$SECRET` handed to
/// a NestJS `JwtModule`. Anything under 256 bits is refused (RFC 7518 §3.2).
/// The shortest key file accepted: 256 bits, if they are random.
const MIN_MFA_KEY_FILE_BYTES: usize = 32;

/// Reads the key file of `mfa_key_file` and derives the 256-bit key that
/// seals TOTP secrets from it (SHA-256 under a label), so that any text of
/// at least 32 bytes will do, such as `openssl rand -base64 48`.
pub(super) fn read_mfa_key(path: &Path) -> Result<SecretSlice<u8>, ConfigError> {
    use sha2::{Digest, Sha256};
    let fail = |reason: String| ConfigError::SecretFile {
        path: path.to_owned(),
        reason,
    };
    let bytes = SecretSlice::from(std::fs::read(path).map_err(|e| fail(e.to_string()))?);
    let text = bytes.expose_secret().trim_ascii_end();
    if text.len() < MIN_MFA_KEY_FILE_BYTES {
        return Err(fail(format!(
            "the key file holds {} bytes; at least {MIN_MFA_KEY_FILE_BYTES} are required, e.g. `openssl rand -base64 48`",
            text.len()
        )));
    }
    let key = Sha256::new()
        .chain_update(b"portcullis mfa key-encryption key v1\0")
        .chain_update(text)
        .finalize();
    Ok(SecretSlice::from(key.to_vec()))
}

pub(super) fn read_hs256_secret(path: &Path) -> Result<SecretSlice<u8>, ConfigError> {
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
    let len = secret.expose_secret().len();
    if len < portcullis_verifier::MIN_HS256_SECRET_LEN {
        return Err(fail(format!(
            "the secret is {len} bytes; at least {} (256 bits) are required, e.g. `openssl rand -base64 48`",
            portcullis_verifier::MIN_HS256_SECRET_LEN
        )));
    }
    Ok(secret)
}
