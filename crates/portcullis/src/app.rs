//! Building and running the server: `Application::build` binds the socket and
//! loads state, `run_until_stopped` serves until the shutdown future resolves.
//! Tests drive the very same path on port 0.
//!
//! Shutdown is graceful but bounded: once the signal comes, the listener is
//! closed, idle connections are told to go, and requests in flight get
//! `shutdown_timeout` to finish; after that the server stops waiting for
//! them (see [`crate::connections`]). Either way the database is then
//! closed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::key_rotation::{self, RotationSchedule};
use crate::auth::{Auth, OpenError, propagation};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConnectionLimits};
use crate::connections;
use crate::gateway::{Gateway, UpstreamError};
use crate::private_files::{self, Audience};
use crate::report::Chain;
use crate::server::{self, AppState};
use crate::tls::{TlsConfig, TlsError};
use crate::ui::Ui;
use crate::web::client::ProxyTrust;
use crate::web::cookies::CookiePolicy;
use crate::web::{Context, Services};

/// How often revocations made elsewhere (another instance, an admin command)
/// are picked up from the database; on PostgreSQL notifications bring them
/// sooner and this is the safety net.
const REVOCATION_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Sessions are deleted this long after their absolute end.
const SESSION_RETENTION: Duration = Duration::from_secs(86_400);
/// How often histogram samples are folded into their buckets.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);
/// How long closing the database may take at the end; connections still
/// held by requests cut off at the shutdown bound would otherwise hold it
/// open for ever.
const DATABASE_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the server could not start. Each variant says what was being done
/// and keeps what went wrong as its source, for the operator to read the
/// whole chain.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated, or the signing keys
    /// loaded.
    #[error(transparent)]
    Auth(#[from] OpenError),
    /// The upstream or frontend cannot be proxied to.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The TLS certificate or key could not be loaded.
    #[error("cannot serve TLS")]
    Tls(#[from] TlsError),
}

/// A bound, loaded server, ready to run.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    state: AppState,
    /// The certificate to serve HTTPS with, when configured.
    tls: Option<TlsConfig>,
    /// When signing keys rotate by themselves, if they do.
    rotation: Option<RotationSchedule>,
    /// How long in-flight requests get once shutdown has begun.
    shutdown_timeout: Duration,
    /// Timeouts and the cap of client connections.
    connections: ConnectionLimits,
}

impl Application {
    /// Builds the server on the wall clock.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds the server on the given clock (tests move it).
    pub async fn build_with_clock(config: Config, clock: SharedClock) -> Result<Self, StartError> {
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
        let gateway = Gateway::from_config(&config)?;
        let tls = config.tls.as_ref().map(TlsConfig::load).transpose()?;
        warn_about_exposed_secrets(&config);
        let auth = Auth::open(&config, clock).await?;
        if config.insecure_dev_cookies {
            tracing::warn!(
                "insecure_dev_cookies is on: cookies are sent without Secure and without the __Host- prefix; never use this in production"
            );
        }
        let state = AppState {
            web: Context::new(Services {
                auth,
                cookies: CookiePolicy::new(!config.insecure_dev_cookies),
                proxies: ProxyTrust::new(config.trusted_proxies.clone()),
                public_url: config.public_url.clone().map(Arc::new),
                tls: tls.is_some(),
            }),
            gateway: Arc::new(gateway),
            ui: config.frontend.is_none().then_some(Ui {
                notes: config.notes_page,
                mail: config.mail.is_some(),
                totp: config.mfa_key.is_some(),
                passkeys: config.public_url.is_some(),
            }),
        };
        Ok(Self {
            listener,
            addr,
            state,
            tls,
            rotation: RotationSchedule::from_config(&config),
            shutdown_timeout: config.shutdown_timeout,
            connections: config.connections,
        })
    }

    /// The auth service this server runs, e.g. for tests to trigger what
    /// background tasks would do later.
    pub fn auth(&self) -> &Auth {
        &self.state.web.auth
    }

    /// The bound port (useful when binding port 0).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests and
    /// closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let background = Background::start(&self.state.web.auth, self.rotation);
        let auth = self.state.web.auth.clone();
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(addr = %self.addr, scheme, "portcullis is listening");
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        connections::serve(
            self.listener,
            self.tls,
            server::router(self.state),
            self.connections,
            stop,
            self.shutdown_timeout,
        )
        .await;
        drop(background);
        if tokio::time::timeout(DATABASE_CLOSE_TIMEOUT, auth.close())
            .await
            .is_err()
        {
            tracing::warn!("the database did not close in time");
        }
        tracing::info!("portcullis stopped");
        Ok(())
    }
}

/// Secret files others may read are reported at start (the database file
/// is checked, and created private, when the store opens it).
fn warn_about_exposed_secrets(config: &Config) {
    if let Some(file) = &config.hs256_secret_file {
        private_files::warn_if_exposed(file, "the HS256 signing secret", Audience::Owner);
    }
    if let Some(file) = &config.mfa_key_file {
        private_files::warn_if_exposed(file, "the key that seals TOTP secrets", Audience::Owner);
    }
    if let Some(tls) = &config.tls {
        private_files::warn_if_exposed(&tls.key, "the TLS private key", Audience::OwnerAndGroup);
    }
    for provider in &config.oidc_providers {
        private_files::warn_if_exposed(
            &provider.client_secret_file,
            "an identity provider's client secret",
            Audience::Owner,
        );
    }
}

/// The periodic work of a running server; dropping it stops the work.
struct Background {
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    fn start(auth: &Auth, rotation: Option<RotationSchedule>) -> Self {
        let warm = auth.clone();
        let sync = auth.clone();
        let keys = auth.clone();
        let purge = auth.clone();
        let metrics = auth.metrics().clone();
        let mut tasks = vec![
            tokio::spawn(propagation::follow_changes(auth.clone())),
            // Returns at once when e-mail is off.
            tokio::spawn(auth.clone().run_mailer()),
            tokio::spawn(async move {
                if let Err(e) = warm.passwords().warm_up().await {
                    tracing::warn!(error = %Chain(&e), "could not precompute the dummy password hash");
                }
            }),
            tokio::spawn(async move {
                let mut since = sync.now();
                let mut ticks: u64 = 0;
                let mut ticker = tokio::time::interval(REVOCATION_POLL_INTERVAL);
                loop {
                    ticker.tick().await;
                    let now = sync.now();
                    // Overlap the windows so that a revocation committed just as
                    // the last poll ran is not missed.
                    match sync.poll_revocations(since - Duration::from_secs(5)).await {
                        Ok(()) => since = now,
                        Err(e) => tracing::warn!(error = %Chain(&e), "could not poll revocations"),
                    }
                    sync.prune_revocations();
                    ticks += 1;
                    if ticks.is_multiple_of(60) {
                        sync.address_limits().forget_idle();
                    }
                }
            }),
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(keys.key_reload_interval());
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    if let Err(e) = keys.keys().reload().await {
                        tracing::warn!(error = %Chain(&e), "could not reload signing keys");
                    }
                }
            }),
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(Duration::from_secs(3600));
                loop {
                    ticker.tick().await;
                    let before = purge.now() - SESSION_RETENTION;
                    match purge.purge_sessions(before).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(sessions = n, "purged ended sessions"),
                        Err(e) => {
                            tracing::warn!(error = %Chain(&e), "could not purge ended sessions")
                        }
                    }
                    match purge.purge_expired().await {
                        Ok(purged) => tracing::debug!(?purged, "purged expired records"),
                        Err(e) => {
                            tracing::warn!(error = %Chain(&e), "could not purge expired records")
                        }
                    }
                }
            }),
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
                loop {
                    ticker.tick().await;
                    metrics.upkeep();
                }
            }),
        ];
        if let Some(schedule) = rotation {
            let rotate = auth.clone();
            tracing::info!(
                every = %humantime::format_duration(schedule.interval),
                "signing keys rotate automatically"
            );
            tasks.push(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(key_rotation::CHECK_INTERVAL);
                loop {
                    ticker.tick().await;
                    if let Err(e) = rotate.rotate_keys_if_due(&schedule).await {
                        tracing::warn!(error = %Chain(&e), "could not rotate the signing key");
                    }
                }
            }));
        }
        Self { tasks }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
