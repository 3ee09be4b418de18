//! Building and running the server: `Application::build` binds the socket and
//! loads state, `run_until_stopped` serves until the shutdown future resolves.
//! Tests drive the very same path on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::auth::keys::{KEY_RELOAD_INTERVAL, KeyError};
use crate::auth::{Auth, propagation};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::http::{self, AppState, CookiePolicy, ProxyTrust};
use crate::store::{Store, StoreError};

/// How often revocations made elsewhere (another instance, an admin command)
/// are picked up from the database; on PostgreSQL notifications bring them
/// sooner and this is the safety net.
const REVOCATION_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Sessions are deleted this long after their absolute end.
const SESSION_RETENTION: Duration = Duration::from_secs(86_400);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// The signing keys could not be loaded.
    #[error("cannot load signing keys: {0}")]
    Keys(#[from] KeyError),
}

/// A bound, loaded server, ready to run.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    state: AppState,
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
        let store = Store::connect(&config.database).await?;
        let auth = Auth::load(&config, store, clock).await?;
        if config.insecure_dev_cookies {
            tracing::warn!(
                "insecure_dev_cookies is on: cookies are sent without Secure and without the __Host- prefix; never use this in production"
            );
        }
        let state = AppState {
            auth,
            cookies: CookiePolicy::new(!config.insecure_dev_cookies),
            proxies: ProxyTrust::new(config.trusted_proxies.clone()),
            public_url: config.public_url.clone().map(Arc::new),
            tls: false,
        };
        Ok(Self {
            listener,
            addr,
            state,
        })
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
        let background = Background::start(&self.state.auth);
        let store = self.state.auth.store().clone();
        tracing::info!(addr = %self.addr, "portcullis is listening");
        let router = http::router(self.state);
        let served = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        drop(background);
        store.close().await;
        tracing::info!("portcullis stopped");
        served
    }
}

/// The periodic work of a running server; dropping it stops the work.
struct Background {
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    fn start(auth: &Auth) -> Self {
        let warm = auth.clone();
        let sync = auth.clone();
        let keys = auth.clone();
        let purge = auth.clone();
        let tasks = vec![
            tokio::spawn(propagation::follow_changes(auth.clone())),
            tokio::spawn(async move {
                if let Err(e) = warm.passwords().warm_up().await {
                    tracing::warn!(error = %e, "could not precompute the dummy password hash");
                }
            }),
            tokio::spawn(async move {
                let mut since = sync.now();
                let mut ticker = tokio::time::interval(REVOCATION_POLL_INTERVAL);
                loop {
                    ticker.tick().await;
                    let now = sync.now();
                    // Overlap the windows so that a revocation committed just as
                    // the last poll ran is not missed.
                    match sync.poll_revocations(since - Duration::from_secs(5)).await {
                        Ok(()) => since = now,
                        Err(e) => tracing::warn!(error = %e, "could not poll revocations"),
                    }
                    sync.prune_revocations();
                }
            }),
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(KEY_RELOAD_INTERVAL);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    if let Err(e) = keys.keys().reload().await {
                        tracing::warn!(error = %e, "could not reload signing keys");
                    }
                }
            }),
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(Duration::from_secs(3600));
                loop {
                    ticker.tick().await;
                    let before = purge.now() - SESSION_RETENTION;
                    match purge.store().purge_sessions(before).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(sessions = n, "purged ended sessions"),
                        Err(e) => tracing::warn!(error = %e, "could not purge ended sessions"),
                    }
                }
            }),
        ];
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
