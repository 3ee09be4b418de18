//! The e-mail settings: how mail leaves (an SMTP server, or the log in
//! development), who it is from, and the rules of the flows built on it.
//! E-mail is off unless a transport is configured, and then needs the
//! public URL, since every link in a mail is built from it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::SecretString;
use url::Url;

use super::ConfigError;
use super::values::{Rate, SettingValue};

/// How mail is sent.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// To an SMTP server.
    Smtp(SmtpServer),
    /// Written to the log, link included: for development only, and only
    /// when configured as `log:`.
    Log,
}

/// How the SMTP server's connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain connection upgraded with STARTTLS, which the server
    /// must offer (default port 587).
    StartTls,
    /// `smtps://`: TLS from the first byte (default port 465).
    Tls,
    /// `smtp://…?tls=none`: no TLS at all, for a relay on this machine or a
    /// private network; refused with credentials unless the host is a
    /// loopback address.
    None,
}

/// An SMTP server as `smtp_url` names it.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    /// Host name or address; also the name its certificate must carry.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS.
    pub security: SmtpSecurity,
    /// `user:password@`, percent-decoded, when the server wants `AUTH`.
    pub credentials: Option<(String, SecretString)>,
    /// PEM certificates of the only authorities trusted for the server's
    /// certificate (a private CA), instead of the usual public ones.
    pub ca_file: Option<PathBuf>,
}

/// Everything about e-mail, when it is on.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// How mail leaves.
    pub transport: MailTransport,
    /// The `From` of every message.
    pub from: Mailbox,
    /// A directory whose templates replace the built-in ones of the same name.
    pub templates: Option<PathBuf>,
    /// The origin links point to: `public_url`.
    pub public_url: Url,
    /// How long a password-reset link works.
    pub password_reset_ttl: Duration,
    /// How long an address-verification link works.
    pub verification_ttl: Duration,
    /// Whether a new device's sign-in is reported to the account's address.
    pub notify_new_device: bool,
    /// Mails that one account (or one submitted address) may ask for.
    pub account_requests: Option<Rate>,
}

/// `smtp_url`: `smtp://`, `smtps://` or `log:`. Secret, since it may hold
/// a password.
#[derive(Debug, Clone)]
pub struct SmtpUrl(pub MailTransport);

impl SettingValue for SmtpUrl {
    const EXPECTED: &'static str =
        "smtp://[user:password@]host[:port][?tls=none], smtps://… or log:";
    const SECRET: bool = true;
    fn parse(text: &str) -> Option<Self> {
        if text == "log:" {
            return Some(Self(MailTransport::Log));
        }
        let url = Url::parse(text).ok()?;
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => SmtpSecurity::StartTls,
            ("smtp", Some("none")) => SmtpSecurity::None,
            ("smtps", None) => SmtpSecurity::Tls,
            _ => return None,
        };
        let host = url.host_str()?.trim_matches(['[', ']']).to_owned();
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::Tls => 465,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::None => 25,
        });
        let decode =
            |s: &str| percent_decode(s).filter(|s| !s.is_empty() || url.password().is_some());
        let credentials = match url.password() {
            Some(password) => Some((
                decode(url.username())?,
                SecretString::from(percent_decode(password)?),
            )),
            None if url.username().is_empty() => None,
            None => return None,
        };
        // Credentials in clear may only cross this machine.
        let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback());
        if security == SmtpSecurity::None && credentials.is_some() && !loopback {
            return None;
        }
        Some(Self(MailTransport::Smtp(SmtpServer {
            host,
            port,
            security,
            credentials,
            ca_file: None,
        })))
    }
}

fn percent_decode(text: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// `mail_from`: a mailbox, `Name <address>` or a bare address.
#[derive(Debug, Clone)]
pub struct MailFrom(pub Mailbox);

impl SettingValue for MailFrom {
    const EXPECTED: &'static str = "a mailbox such as `Portcullis <no-reply@example.com>`";
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok().map(Self)
    }
}

/// The e-mail settings as read, before they are put together.
pub(super) struct MailSettings {
    pub(super) smtp_url: Option<SmtpUrl>,
    pub(super) smtp_url_file: Option<PathBuf>,
    pub(super) smtp_ca_file: Option<PathBuf>,
    pub(super) mail_from: Option<MailFrom>,
    pub(super) mail_templates: Option<PathBuf>,
    pub(super) password_reset_ttl: Option<Duration>,
    pub(super) email_verification_ttl: Option<Duration>,
    pub(super) notify_new_device: Option<bool>,
    pub(super) require_verified_email: bool,
    pub(super) account_requests: Option<Rate>,
    pub(super) public_url: Option<Url>,
}

fn inconsistent(message: &str) -> ConfigError {
    ConfigError::Inconsistent(message.to_owned())
}

impl MailSettings {
    /// The configuration, `None` when no transport is configured; any
    /// e-mail setting without one is refused rather than ignored.
    pub(super) fn into_config(self) -> Result<Option<MailConfig>, ConfigError> {
        let transport = match (self.smtp_url, &self.smtp_url_file) {
            (Some(_), Some(_)) => {
                return Err(inconsistent(
                    "smtp_url and smtp_url_file are one setting: give one of them",
                ));
            }
            (Some(url), None) => Some(url.0),
            (None, Some(path)) => Some(read_smtp_url(path)?),
            (None, None) => None,
        };
        let Some(mut transport) = transport else {
            let orphan = [
                (self.mail_from.is_some(), "mail_from"),
                (self.smtp_ca_file.is_some(), "smtp_ca_file"),
                (self.mail_templates.is_some(), "mail_templates"),
                (self.require_verified_email, "require_verified_email"),
                (self.notify_new_device == Some(true), "notify_new_device"),
            ]
            .into_iter()
            .find_map(|(set, name)| set.then_some(name));
            return match orphan {
                Some(name) => Err(ConfigError::Inconsistent(format!(
                    "{name} needs e-mail, which is off: set smtp_url (or smtp_url_file)"
                ))),
                None => Ok(None),
            };
        };
        match (&mut transport, self.smtp_ca_file) {
            (MailTransport::Smtp(server), Some(ca)) => server.ca_file = Some(ca),
            (MailTransport::Log, Some(_)) => {
                return Err(inconsistent("smtp_ca_file needs an SMTP server, not log:"));
            }
            (_, None) => {}
        }
        let from = self
            .mail_from
            .ok_or_else(|| inconsistent("e-mail needs mail_from, the sender of every message"))?;
        let public_url = self.public_url.ok_or_else(|| {
            inconsistent("e-mail needs public_url: the links in every message are built from it")
        })?;
        let password_reset_ttl = self
            .password_reset_ttl
            .unwrap_or(Duration::from_secs(30 * 60));
        let verification_ttl = self
            .email_verification_ttl
            .unwrap_or(Duration::from_secs(86_400));
        for (ttl, name) in [
            (password_reset_ttl, "password_reset_ttl"),
            (verification_ttl, "email_verification_ttl"),
        ] {
            if !(Duration::from_secs(60)..=Duration::from_secs(7 * 86_400)).contains(&ttl) {
                return Err(ConfigError::Inconsistent(format!(
                    "{name} must be between 1m and 7d"
                )));
            }
        }
        Ok(Some(MailConfig {
            transport,
            from: from.0,
            templates: self.mail_templates,
            public_url,
            password_reset_ttl,
            verification_ttl,
            notify_new_device: self.notify_new_device.unwrap_or(false),
            account_requests: self.account_requests,
        }))
    }
}

/// Reads `smtp_url_file`: the URL, less one trailing newline. Its text is
/// never echoed, since it holds the password.
fn read_smtp_url(path: &Path) -> Result<MailTransport, ConfigError> {
    let fail = |reason: String| ConfigError::SecretFile {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    SmtpUrl::parse(text.trim())
        .map(|url| url.0)
        .ok_or_else(|| fail(format!("the file does not hold {}", SmtpUrl::EXPECTED)))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn server(text: &str) -> Option<SmtpServer> {
        match SmtpUrl::parse(text)?.0 {
            MailTransport::Smtp(server) => Some(server),
            MailTransport::Log => None,
        }
    }

    #[test]
    fn smtp_urls_name_the_server_its_tls_and_its_credentials() {
        let s = server("smtp://ada:p%40ss%2Bw@mail.example.com").expect("valid");
        assert_eq!((s.host.as_str(), s.port), ("mail.example.com", 587));
        assert_eq!(s.security, SmtpSecurity::StartTls);
        let (user, password) = s.credentials.expect("credentials");
        assert_eq!((user.as_str(), password.expose_secret()), ("ada", "p@ss+w"));
        let s = server("smtps://mail.example.com").expect("valid");
        assert_eq!((s.port, s.security), (465, SmtpSecurity::Tls));
        assert!(s.credentials.is_none());
        let s = server("smtp://127.0.0.1:2525?tls=none").expect("valid");
        assert_eq!((s.port, s.security), (2525, SmtpSecurity::None));
        assert!(matches!(
            SmtpUrl::parse("log:"),
            Some(SmtpUrl(MailTransport::Log))
        ));
    }

    #[test]
    fn passwords_never_travel_in_clear_beyond_this_machine() {
        assert!(SmtpUrl::parse("smtp://u:p@mail.example.com?tls=none").is_none());
        assert!(SmtpUrl::parse("smtp://u:p@127.0.0.1?tls=none").is_some());
        for bad in [
            "http://mail.example.com",
            "smtp://mail.example.com?tls=maybe",
            "smtps://mail.example.com?tls=none",
            "smtp://",
            "log",
            "smtp://user@mail.example.com",
        ] {
            assert!(SmtpUrl::parse(bad).is_none(), "{bad}");
        }
    }
}
