//! E-mail: the messages Portcullis sends, rendered from templates, and the
//! transport that hands them to an SMTP server (or, in development, to the
//! log).
//!
//! It knows nothing of accounts or of the outbox: the auth service decides
//! what to send and when (`auth::mailer`), and gives this module a
//! [`Letter`] — which message, to whom, with what facts. Rendering cannot
//! fail at run time for a reason of ours: every template, built-in or
//! overridden, is rendered once with sample facts when the server starts,
//! and a broken one stops the start.
//!
//! - [`templates`]: one plain-text and one HTML template per message; the
//!   text's first line is the subject. No remote images, no tracking: the
//!   only links are the ones the message is about.
//! - [`transport`]: SMTP with STARTTLS or implicit TLS (rustls), `AUTH`,
//!   a private CA if configured; or the log.

pub mod templates;
pub mod transport;

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use time::OffsetDateTime;

use crate::config::MailConfig;
use templates::Templates;
pub use transport::SendError;
use transport::Transport;

/// A message Portcullis sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The link to choose a new password.
    PasswordReset,
    /// The link that verifies the account's address.
    VerifyEmail,
    /// The link, sent to a new address, that makes it the account's.
    ConfirmNewEmail,
    /// Notice: the password was changed.
    PasswordChanged,
    /// Notice: the password was reset by mail.
    PasswordWasReset,
    /// Notice, to the old address: the address was changed.
    EmailChanged,
    /// Notice: a sign-in from a device not seen before.
    NewDevice,
    /// Notice: a refresh token was used twice and its session ended.
    RefreshReuse,
}

impl Kind {
    /// Every message.
    pub const ALL: [Kind; 8] = [
        Kind::PasswordReset,
        Kind::VerifyEmail,
        Kind::ConfirmNewEmail,
        Kind::PasswordChanged,
        Kind::PasswordWasReset,
        Kind::EmailChanged,
        Kind::NewDevice,
        Kind::RefreshReuse,
    ];

    /// The stable name: of its templates, and of its rows in the outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PasswordReset => "password_reset",
            Kind::VerifyEmail => "verify_email",
            Kind::ConfirmNewEmail => "confirm_new_email",
            Kind::PasswordChanged => "password_changed",
            Kind::PasswordWasReset => "password_was_reset",
            Kind::EmailChanged => "email_changed",
            Kind::NewDevice => "new_device",
            Kind::RefreshReuse => "refresh_reuse",
        }
    }

    /// The kind of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// What a message says, beyond its kind: the template's variables.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The account's name (`username`).
    pub username: String,
    /// The link the message is about (`link`), for those that have one.
    pub link: Option<String>,
    /// How long the link works, in words (`valid_for`).
    pub valid_for: Option<String>,
    /// When the event happened (`at`).
    pub at: Option<OffsetDateTime>,
    /// The browser and system, in words (`browser`).
    pub browser: Option<String>,
    /// The client's address (`client_addr`).
    pub client_addr: Option<String>,
    /// The new address, partly hidden (`new_email`).
    pub new_email: Option<String>,
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct Letter {
    /// Which message.
    pub kind: Kind,
    /// The recipient's address.
    pub to: String,
    /// What it says.
    pub facts: Facts,
}

/// Why e-mail could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A template could not be read, or fails to render.
    #[error("the mail template {name} is unusable")]
    Template {
        /// The template's file name.
        name: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The SMTP server's settings could not be used (the CA file).
    #[error("cannot set up the SMTP connection")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Renders and sends the messages. Cheap to share behind an `Arc`.
pub struct Mailer {
    from: Mailbox,
    templates: Templates,
    transport: Transport,
    /// The origin links point to, without a trailing slash.
    site: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Loads and checks the templates and sets up the transport.
    pub fn new(config: &MailConfig) -> Result<Self, MailError> {
        let site = config.public_url.as_str().trim_end_matches('/').to_owned();
        let templates = Templates::load(config.templates.as_deref(), &site)?;
        Ok(Self {
            from: config.from.clone(),
            templates,
            transport: Transport::new(&config.transport)?,
            site,
        })
    }

    /// `{public_url}{path}`: every link in a message starts with the
    /// configured origin, never with a request's `Host`.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.site)
    }

    /// The message, ready to send.
    pub fn render(&self, letter: &Letter, now: OffsetDateTime) -> Result<Message, SendError> {
        let rendered = self
            .templates
            .render(letter)
            .map_err(|e| SendError::permanent(e.to_string()))?;
        let to: Mailbox = letter
            .to
            .parse()
            .map_err(|_| SendError::permanent("the recipient is not a valid mailbox".to_owned()))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .date(now.into())
            .header(AutoSubmitted)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(rendered.text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(rendered.html),
                    ),
            )
            .map_err(|e| SendError::permanent(e.to_string()))
    }

    /// Hands a message to the transport.
    pub async fn send(&self, message: &Message) -> Result<(), SendError> {
        self.transport.send(message).await
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834), so that vacation responders
/// do not answer a mailbox nobody reads.
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// An address with most of its local part hidden, for a notice sent to
/// someone who may not own the account any more: `a***@example.com`.
pub fn mask_address(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}
