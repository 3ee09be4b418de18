//! How a rendered message leaves: an SMTP server over STARTTLS, implicit
//! TLS or (to a relay nearby) plain TCP, with `AUTH` when credentials are
//! given; or, in development, the log.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::MailError;
use crate::config::{MailTransport, SmtpSecurity, SmtpServer};

/// How long one delivery may take, connecting included. Well below the
/// outbox's lease, so that no other instance claims a message while it is
/// still being sent.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// Whether trying again cannot help (the server refused the recipient
    /// for good, the message cannot be built).
    pub permanent: bool,
    message: String,
}

impl SendError {
    /// A failure that retrying cannot mend.
    pub fn permanent(message: String) -> Self {
        Self {
            permanent: true,
            message,
        }
    }

    /// A failure that may pass (the server is down, the database is).
    pub fn transient(message: String) -> Self {
        Self {
            permanent: false,
            message,
        }
    }
}

/// Where messages go.
pub(super) enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Log,
}

impl Transport {
    pub(super) fn new(config: &MailTransport) -> Result<Self, MailError> {
        match config {
            MailTransport::Log => {
                tracing::warn!(
                    "mail goes to the log (smtp_url = \"log:\"), links included: for development only"
                );
                Ok(Transport::Log)
            }
            MailTransport::Smtp(server) => Ok(Transport::Smtp(smtp(server)?)),
        }
    }

    pub(super) async fn send(&self, message: &Message) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp) => {
                smtp.send(message.clone())
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError {
                        permanent: e.is_permanent(),
                        message: crate::report::Chain(&e).to_string(),
                    })
            }
            Transport::Log => {
                let text = String::from_utf8_lossy(&message.formatted()).into_owned();
                tracing::info!(message = %text, "mail (log transport, not delivered)");
                Ok(())
            }
        }
    }
}

fn smtp(server: &SmtpServer) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let transport_error = |e: Box<dyn std::error::Error + Send + Sync>| MailError::Transport(e);
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&server.host)
        .port(server.port)
        .timeout(Some(SEND_TIMEOUT));
    if server.security != SmtpSecurity::None {
        let mut tls = TlsParameters::builder(server.host.clone());
        if let Some(path) = &server.ca_file {
            // Only the configured authorities: a private CA is not to be
            // mixed with the public ones.
            let pem = std::fs::read(path).map_err(|e| {
                transport_error(format!("cannot read smtp_ca_file {}: {e}", path.display()).into())
            })?;
            let certificate = Certificate::from_pem(&pem).map_err(|e| transport_error(e.into()))?;
            tls = tls
                .certificate_store(CertificateStore::None)
                .add_root_certificate(certificate);
        } else {
            tls = tls.certificate_store(CertificateStore::WebpkiRoots);
        }
        let tls = tls.build_rustls().map_err(|e| transport_error(e.into()))?;
        builder = builder.tls(match server.security {
            SmtpSecurity::Tls => Tls::Wrapper(tls),
            _ => Tls::Required(tls),
        });
    }
    if let Some((user, password)) = &server.credentials {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
}
