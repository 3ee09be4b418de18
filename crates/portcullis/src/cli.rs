//! The command line.

use std::ffi::OsStr;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};

use crate::config::{
    ConfigError, DatabaseUrl, Flags, ProxyTarget, PublicUrl, SettingValue, Sources, parse_setting,
};

/// Portcullis: an authentication gateway that keeps JWTs in HttpOnly cookies.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
pub struct Cli {
    /// A TOML configuration file; environment variables and flags override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The database: sqlite://FILE (created if missing) or postgres://...
    #[arg(long, global = true, value_name = "URL", value_parser = Setting::<DatabaseUrl>::new())]
    pub database_url: Option<DatabaseUrl>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(Box<ServeArgs>),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Read the audit log of security events, newest first.
    Audit(AuditArgs),
}

/// Filters of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events of this user.
    #[arg(long)]
    pub user: Option<String>,
    /// Only events at or after this time: RFC 3339 (2026-11-26T10:00:00Z) or an age (2h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this time: RFC 3339 or an age.
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

/// Flags of `serve`, parsed as the same settings are in the file and the
/// environment.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR", value_parser = Setting::<SocketAddr>::new())]
    pub bind: Option<SocketAddr>,
    /// The API to forward other /api/* requests to.
    #[arg(long, value_name = "URL", value_parser = Setting::<ProxyTarget>::new())]
    pub upstream: Option<ProxyTarget>,
    /// A frontend to proxy non-API paths to, instead of the built-in UI.
    #[arg(long, value_name = "URL", value_parser = Setting::<ProxyTarget>::new())]
    pub frontend: Option<ProxyTarget>,
    /// Portcullis's public URL (origin checks, default issuer and audience).
    #[arg(long, value_name = "URL", value_parser = Setting::<PublicUrl>::new())]
    pub public_url: Option<PublicUrl>,
    /// DEVELOPMENT ONLY: send cookies without Secure and without the __Host- prefix.
    #[arg(long)]
    pub insecure_dev_cookies: bool,
    /// Serve HTTPS with this PEM certificate chain (reloaded when it changes).
    #[arg(long, value_name = "FILE", value_parser = Setting::<PathBuf>::new())]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", value_parser = Setting::<PathBuf>::new())]
    pub tls_key: Option<PathBuf>,
}

/// clap's parser for a flag that is also a setting: the setting's own parser,
/// and a message shaped like those of the other layers (a secret is not
/// echoed, which clap's usual "invalid value '…'" would do).
#[derive(Debug)]
struct Setting<T>(PhantomData<fn() -> T>);

impl<T> Setting<T> {
    fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T> Clone for Setting<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T: SettingValue + Clone + Send + Sync + 'static> TypedValueParser for Setting<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let flag = arg.and_then(|a| a.get_long()).unwrap_or_default();
        let Some(text) = value.to_str() else {
            return Err(clap::Error::new(ErrorKind::InvalidUtf8).with_cmd(cmd));
        };
        parse_setting::<T>(text).map_err(|invalid| {
            let message = ConfigError::Invalid {
                key: flag.replace('-', "_"),
                origin: format!("from --{flag}"),
                value: invalid.shown(),
                expected: invalid.expected.to_owned(),
            };
            clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).with_cmd(cmd)
        })
    }
}

/// `portcullis user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from stdin, or prompted for on a terminal.
    Add {
        /// The username.
        username: String,
        /// The e-mail address.
        #[arg(long)]
        email: String,
    },
    /// List users.
    List,
    /// Disable a user and end their sessions.
    Disable {
        /// The username.
        username: String,
    },
    /// Print a link that lets the user choose a new password, without
    /// mailing it (earlier links stop working). Needs e-mail configured.
    ResetLink {
        /// The username.
        username: String,
    },
    /// Remove a user's second factors (TOTP and recovery codes), for one
    /// who lost them; their password alone signs in again. Audited.
    MfaReset {
        /// The username.
        username: String,
    },
}

/// `portcullis keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start signing with a new key; the old one keeps verifying until its tokens expire.
    Rotate,
    /// Stop trusting a key at once (a leaked key): it no longer signs or
    /// verifies anywhere, and if it was signing a new key takes over.
    Revoke {
        /// The key's id (`kid`), as `keys list` shows it.
        kid: String,
    },
    /// List the published keys.
    List,
}

/// `portcullis sessions …`
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Revoke every session of a user.
    Revoke {
        /// The user whose sessions end.
        #[arg(long)]
        user: String,
    },
}

impl Cli {
    /// The configuration layers this command line selects.
    pub fn sources(&self) -> Result<Sources, ConfigError> {
        let mut flags = Flags {
            database_url: self.database_url.clone(),
            ..Flags::default()
        };
        if let Command::Serve(args) = &self.command {
            flags.bind = args.bind;
            flags.upstream = args.upstream.clone();
            flags.frontend = args.frontend.clone();
            flags.public_url = args.public_url.clone();
            flags.insecure_dev_cookies = args.insecure_dev_cookies;
            flags.tls_cert = args.tls_cert.clone();
            flags.tls_key = args.tls_key.clone();
        }
        Ok(Sources::load(self.config.as_deref())?.with_flags(flags))
    }
}
