//! The administration commands: `portcullis user|keys|sessions`. They work on
//! the configured database directly; a running server picks their changes up
//! at once on PostgreSQL (notifications), and on SQLite within a second.

use std::io::{IsTerminal, Read};
use std::sync::Arc;

use portcullis_verifier::VerificationKey;
use secrecy::{ExposeSecret, SecretString};
use time::format_description::well_known::Rfc3339;

use crate::auth::keys::{KEY_RELOAD_INTERVAL, KeyError};
use crate::auth::{AuditQuery, Auth, AuthError, NewAccount, OpenError, UserView};
use crate::cli::{AuditArgs, KeysCommand, SessionsCommand, UserCommand};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;

/// Why an admin command failed: what was being done, with what went wrong
/// underneath as its source, for the operator to read the whole chain.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The database could not be opened or the signing keys loaded.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The auth service refused the request or failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The signing keys could not be rotated.
    #[error("cannot rotate the signing keys")]
    Rotate(#[source] KeyError),
    /// The signing key could not be revoked (an unknown id, among others).
    #[error("cannot revoke the signing key")]
    Revoke(#[source] KeyError),
    /// The id given to `keys revoke` is the HS256 secret's, which is not in
    /// the database.
    #[error(
        "{0:?} is the id of the HS256 secret, which is not stored: to replace it, change the file named by hs256_secret_file and restart"
    )]
    Hs256Kid(String),
    /// The signing keys could not be read.
    #[error("cannot read the signing keys")]
    ListKeys(#[source] KeyError),
    /// The audit log could not be read.
    #[error("cannot read the audit log")]
    AuditLog(#[source] AuthError),
    /// No account has this username.
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    /// The password could not be read.
    #[error("cannot read the password from {from}")]
    ReadPassword {
        /// The terminal or stdin.
        from: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The password typed twice was not the same.
    #[error("the passwords differ")]
    PasswordsDiffer,
    /// `user reset-link` without e-mail configured: the reset page and its
    /// route would answer 404.
    #[error(
        "password reset is off: configure e-mail (smtp_url, mail_from, public_url) so that the reset page works"
    )]
    MailOff,
    /// `user reset-link` for a disabled account, which no reset can open.
    #[error("{0} is disabled")]
    Disabled(String),
    /// A time given to `audit` is neither a time nor an age.
    #[error("{0:?} is neither an RFC 3339 time nor an age such as 2h")]
    BadTime(String),
}

async fn open(config: &Config) -> Result<Auth, AdminError> {
    Ok(Auth::open(config, Arc::new(SystemClock)).await?)
}

fn timestamp(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Runs `portcullis user …`.
pub async fn user(config: &Config, command: UserCommand) -> Result<(), AdminError> {
    let auth = open(config).await?;
    match command {
        UserCommand::Add { username, email } => {
            let password = read_password()?;
            let user = auth
                .create_user(NewAccount {
                    username: &username,
                    email: &email,
                    password: &password,
                })
                .await?;
            println!("created user {} ({})", user.username, user.id);
        }
        UserCommand::List => {
            println!(
                "{:<36}  {:<32}  {:<30}  {:<25}  status",
                "id", "username", "email", "created"
            );
            for u in auth.list_users().await? {
                let status = if u.disabled { "disabled" } else { "active" };
                println!(
                    "{:<36}  {:<32}  {:<30}  {:<25}  {status}",
                    u.id.to_string(),
                    u.username,
                    u.email,
                    timestamp(u.created_at)
                );
            }
        }
        UserCommand::Disable { username } => {
            let user = find(&auth, &username).await?;
            auth.disable_user(user.id).await?;
            println!("disabled {} and ended their sessions", user.username);
        }
        UserCommand::ResetLink { username } => {
            let user = find(&auth, &username).await?;
            if user.disabled {
                return Err(AdminError::Disabled(user.username));
            }
            let link = auth.reset_link(user.id).await.map_err(|e| match e {
                AuthError::MailOff => AdminError::MailOff,
                other => AdminError::Auth(other),
            })?;
            println!("{link}");
        }
        UserCommand::MfaReset { username } => {
            let user = find(&auth, &username).await?;
            if auth.reset_second_factors(user.id).await? {
                println!(
                    "removed the second factors of {}: their password alone signs in",
                    user.username
                );
            } else {
                println!("{} had no second factor", user.username);
            }
        }
    }
    Ok(())
}

/// Runs `portcullis sessions …`.
pub async fn sessions(config: &Config, command: SessionsCommand) -> Result<(), AdminError> {
    let auth = open(config).await?;
    match command {
        SessionsCommand::Revoke { user } => {
            let user = find(&auth, &user).await?;
            let n = auth.revoke_sessions_by_administrator(user.id).await?;
            println!("revoked {n} session(s) of {}", user.username);
        }
    }
    Ok(())
}

/// Runs `portcullis keys …`.
pub async fn keys(config: &Config, command: KeysCommand) -> Result<(), AdminError> {
    let auth = open(config).await?;
    let now = SystemClock.now();
    // A key that stops signing must verify every token it may still sign:
    // those issued until the servers reload, plus their lifetime.
    let verify_until =
        now + config.sessions.access_token_ttl + config.clock_leeway + KEY_RELOAD_INTERVAL;
    match command {
        KeysCommand::Rotate => {
            let kid = auth
                .rotate_keys_now(verify_until)
                .await
                .map_err(AdminError::Rotate)?;
            println!(
                "new signing key {kid}; previous keys verify until {}",
                timestamp(verify_until)
            );
        }
        KeysCommand::Revoke { kid } => {
            if let Some(secret) = &config.hs256_secret
                && VerificationKey::hs256_key_id(secret.expose_secret()) == kid
            {
                return Err(AdminError::Hs256Kid(kid));
            }
            let revoked = auth
                .revoke_key(&kid, verify_until)
                .await
                .map_err(AdminError::Revoke)?;
            match revoked.replacement {
                Some(new) => println!(
                    "revoked signing key {}; new signing key {new} signs from now; other keys verify until {}",
                    revoked.kid,
                    timestamp(verify_until)
                ),
                None => println!("revoked signing key {} (it no longer signed)", revoked.kid),
            }
        }
        KeysCommand::List => {
            let records = auth.signing_keys().await.map_err(AdminError::ListKeys)?;
            println!(
                "{:<43}  {:<7}  {:<25}  {:<25}  status",
                "kid", "alg", "created", "signs from"
            );
            for k in records {
                let status = match k.verify_until {
                    Some(until) => format!("retired, verifies until {}", timestamp(until)),
                    None if k.signs_from > now => "published, not signing yet".to_owned(),
                    None => "signing".to_owned(),
                };
                println!(
                    "{:<43}  {:<7}  {:<25}  {:<25}  {status}",
                    k.kid,
                    k.algorithm,
                    timestamp(k.created_at),
                    timestamp(k.signs_from)
                );
            }
        }
    }
    Ok(())
}

async fn find(auth: &Auth, username: &str) -> Result<UserView, AdminError> {
    auth.find_user(username)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(username.to_owned()))
}

/// The new password: prompted twice without echo on a terminal, else the
/// whole of stdin without its final line break.
fn read_password() -> Result<SecretString, AdminError> {
    if std::io::stdin().is_terminal() {
        let from_terminal = |source| AdminError::ReadPassword {
            from: "the terminal",
            source,
        };
        let first =
            SecretString::from(rpassword::prompt_password("Password: ").map_err(from_terminal)?);
        let again =
            SecretString::from(rpassword::prompt_password("Again: ").map_err(from_terminal)?);
        if first.expose_secret() != again.expose_secret() {
            return Err(AdminError::PasswordsDiffer);
        }
        return Ok(first);
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|source| AdminError::ReadPassword {
            from: "stdin",
            source,
        })?;
    // A secret at once: zeroed when dropped.
    let input = SecretString::from(text);
    let whole = input.expose_secret();
    let trimmed = whole.strip_suffix('\n').unwrap_or(whole);
    Ok(SecretString::from(
        trimmed.strip_suffix('\r').unwrap_or(trimmed),
    ))
}

/// Runs `portcullis audit`.
pub async fn audit(config: &Config, args: AuditArgs) -> Result<(), AdminError> {
    let auth = open(config).await?;
    let now = SystemClock.now();
    let user = match &args.user {
        Some(name) => Some(find(&auth, name).await?),
        None => None,
    };
    let query = AuditQuery {
        user: user.as_ref().map(|u| u.id),
        since: args
            .since
            .as_deref()
            .map(|t| parse_time(t, now))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| parse_time(t, now))
            .transpose()?,
        limit: args.limit,
    };
    let events = auth.audit_log(&query).await.map_err(AdminError::AuditLog)?;
    let names: std::collections::HashMap<_, _> = auth
        .list_users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    println!(
        "{:<25}  {:<26}  {:<20}  {:<36}  {:<15}  detail / user agent",
        "time", "event", "user", "session", "address"
    );
    for e in events {
        let who = e.user.map_or_else(String::new, |id| {
            names.get(&id).cloned().unwrap_or_else(|| id.to_string())
        });
        let extra = [e.detail.as_deref(), e.user_agent.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ");
        println!(
            "{:<25}  {:<26}  {:<20}  {:<36}  {:<15}  {extra}",
            timestamp(e.at),
            e.kind,
            who,
            e.session.map(|s| s.to_string()).unwrap_or_default(),
            e.client_addr.unwrap_or_default(),
        );
    }
    Ok(())
}

/// An RFC 3339 time, or an age such as `2h` counted back from `now`.
fn parse_time(text: &str, now: time::OffsetDateTime) -> Result<time::OffsetDateTime, AdminError> {
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    humantime::parse_duration(text)
        .map(|age| now - age)
        .map_err(|_| AdminError::BadTime(text.to_owned()))
}
