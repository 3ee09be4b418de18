//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, Sources};

/// Portcullis: an authentication gateway that keeps JWTs in HttpOnly cookies.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
pub struct Cli {
    /// A TOML configuration file; environment variables and flags override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The database: sqlite://FILE (created if missing) or postgres://...
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
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

/// Flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// The API to forward other /api/* requests to.
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
    /// A frontend to proxy non-API paths to, instead of the built-in UI.
    #[arg(long, value_name = "URL")]
    pub frontend: Option<String>,
    /// Portcullis's public URL (origin checks, default issuer and audience).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// DEVELOPMENT ONLY: send cookies without Secure and without the __Host- prefix.
    #[arg(long)]
    pub insecure_dev_cookies: bool,
    /// Serve HTTPS with this PEM certificate chain (reloaded when it changes).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<String>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<String>,
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
}

/// `portcullis keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start signing with a new key; the old one keeps verifying until its tokens expire.
    Rotate,
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
        let mut sources = Sources::load(self.config.as_deref())?;
        if let Some(url) = &self.database_url {
            sources.set_flag("--database-url", url);
        }
        if let Command::Serve(args) = &self.command {
            let flags = [
                ("--bind", &args.bind),
                ("--upstream", &args.upstream),
                ("--frontend", &args.frontend),
                ("--public-url", &args.public_url),
                ("--tls-cert", &args.tls_cert),
                ("--tls-key", &args.tls_key),
            ];
            for (flag, value) in flags {
                if let Some(value) = value {
                    sources.set_flag(flag, value);
                }
            }
            if args.insecure_dev_cookies {
                sources.set_flag("--insecure-dev-cookies", "true");
            }
        }
        Ok(sources)
    }
}
