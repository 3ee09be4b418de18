//! HTTPS served by Portcullis itself: rustls (with the `ring` provider),
//! HTTP/2 and HTTP/1.1 offered by ALPN, and the certificate reloaded when its
//! files change.
//!
//! The pieces:
//!
//! - [`TlsConfig::load`] reads and checks the certificate and key at start,
//!   so a bad file stops the server with a clear message.
//! - The certificate in use sits behind a resolver that rustls asks on every
//!   handshake; a background poll rereads the two files every few seconds
//!   and swaps in the new pair when it parses and the key matches. A renewal
//!   tool (certbot, cert-manager) that replaces the files is picked up
//!   without a restart, and a half-written or mismatched pair is ignored
//!   (with a warning) until it is whole. Polling the contents, not the
//!   modification times, also catches a symlink switched to a new target.
//! - [`Acceptor`] completes the handshakes, each on its connection's own
//!   task (see `connections`), so a client that stalls its handshake delays
//!   nobody else.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::{Accept, TlsAcceptor};

use crate::config::TlsFiles;
use crate::report::Chain;

/// How often the certificate files are reread.
pub const RELOAD_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The certificate file holds no PEM certificate, or a malformed one.
    #[error("{0} holds no usable PEM certificate")]
    NoCertificate(PathBuf),
    /// The key file holds no PEM private key, or a malformed one.
    #[error("{0} holds no usable PEM private key")]
    NoKey(PathBuf),
    /// rustls refused the pair: an unsupported key type, or a key that is
    /// not the certificate's.
    #[error("the certificate and key cannot be used together")]
    Rejected(#[source] rustls::Error),
}

/// The file contents a certificate was loaded from, to notice a change.
#[derive(PartialEq, Eq)]
struct Contents {
    cert: Vec<u8>,
    key: Vec<u8>,
}

/// The certificate being served; rustls asks it on every handshake.
#[derive(Debug)]
struct Certificate(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// A loaded certificate and key, and where they came from.
pub struct TlsConfig {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    certificate: Arc<Certificate>,
    loaded: Contents,
    server: Arc<ServerConfig>,
}

impl TlsConfig {
    /// Reads and checks the certificate chain and key.
    pub fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        // Named explicitly rather than taken from a process default, which
        // is ambiguous when several providers are compiled in.
        let provider = Arc::new(ring::default_provider());
        let contents = read(files)?;
        let key = parse(files, &contents, &provider)?;
        let certificate = Arc::new(Certificate(ArcSwap::from_pointee(key)));
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rejected)?
            .with_no_client_auth()
            .with_cert_resolver(certificate.clone());
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            files: files.clone(),
            provider,
            certificate,
            loaded: contents,
            server: Arc::new(server),
        })
    }

    /// Rereads the files when they have changed; `Ok(true)` when a new
    /// certificate is now served. A pair that does not load is an error,
    /// and the certificate in use stays.
    async fn reload(&mut self) -> Result<bool, TlsError> {
        let files = self.files.clone();
        let contents = tokio::task::spawn_blocking(move || read(&files))
            .await
            .map_err(|e| TlsError::Read {
                path: self.files.cert.clone(),
                source: io::Error::other(e),
            })??;
        if contents == self.loaded {
            return Ok(false);
        }
        let parsed = parse(&self.files, &contents, &self.provider);
        // Remember these contents either way, so that a bad pair is reported
        // once, not on every poll.
        self.loaded = contents;
        self.certificate.0.store(Arc::new(parsed?));
        Ok(true)
    }
}

fn read(files: &TlsFiles) -> Result<Contents, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    Ok(Contents {
        cert: read(&files.cert)?,
        key: read(&files.key)?,
    })
}

fn parse(
    files: &TlsFiles,
    contents: &Contents,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_slice_iter(&contents.cert)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|chain| !chain.is_empty())
        .ok_or_else(|| TlsError::NoCertificate(files.cert.clone()))?;
    let key = PrivateKeyDer::from_pem_slice(&contents.key)
        .map_err(|_| TlsError::NoKey(files.key.clone()))?;
    CertifiedKey::from_der(chain, key, provider).map_err(TlsError::Rejected)
}

/// Aborts a task when dropped, so the certificate polling ends with the
/// acceptor.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Completes TLS handshakes with the certificate in use, which a background
/// task keeps current; dropping the acceptor stops that task.
pub struct Acceptor {
    acceptor: TlsAcceptor,
    _reloading: AbortOnDrop,
}

impl Acceptor {
    /// Starts serving `config`'s certificate and polling its files.
    pub fn start(config: TlsConfig) -> Self {
        let acceptor = TlsAcceptor::from(config.server.clone());
        let reloading = tokio::spawn(poll_for_new_certificate(config));
        Self {
            acceptor,
            _reloading: AbortOnDrop(reloading),
        }
    }

    /// The handshake on a client's connection. It is not bounded in time
    /// here: the caller bounds it, with the rest of the connection's
    /// beginning.
    pub fn accept(&self, tcp: TcpStream) -> Accept<TcpStream> {
        self.acceptor.accept(tcp)
    }
}

async fn poll_for_new_certificate(mut config: TlsConfig) {
    let mut ticker = tokio::time::interval(RELOAD_POLL_INTERVAL);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match config.reload().await {
            Ok(false) => {}
            Ok(true) => tracing::info!(
                cert = %config.files.cert.display(),
                "loaded the renewed TLS certificate"
            ),
            Err(e) => tracing::warn!(
                error = %Chain(&e),
                "the TLS certificate files changed but cannot be used; still serving the previous certificate"
            ),
        }
    }
}
