//! The real server, built from a `Config` like `portcullis serve` builds it,
//! on `127.0.0.1:0` with a fresh SQLite file and a clock the test moves.

use std::sync::Arc;
use std::time::Duration;

use portcullis::app::Application;
use portcullis::clock::{Clock, ManualClock, SystemClock};
use portcullis::config::{Config, Sources};
use portcullis_verifier::{JwksCache, Validation, Verifier};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The password every test account uses.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server; dropping it stops the server.
pub struct App {
    /// The bound port; the browser uses `localhost` on it.
    pub port: u16,
    /// The server's clock: moving it expires tokens without sleeping.
    pub clock: Arc<ManualClock>,
    /// The SQLite file's URL, to reach the database behind the server's back.
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl App {
    /// Starts the server with extra `PORTCULLIS_*` settings.
    pub async fn spawn(vars: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = format!("sqlite://{}", dir.path().join("ui.db").display());
        let mut env: Vec<(String, String)> = vec![
            ("PORTCULLIS_BIND".into(), "127.0.0.1:0".into()),
            ("PORTCULLIS_DATABASE_URL".into(), database_url.clone()),
        ];
        env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_sources(&Sources::from_env(env)).expect("valid test config");
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let app = Application::build_with_clock(config, clock.clone())
            .await
            .expect("server builds");
        let port = app.port();
        let (tx, rx) = oneshot::channel();
        let served = tokio::spawn(app.run_until_stopped(async {
            let _ = rx.await;
        }));
        Self {
            port,
            clock,
            database_url,
            shutdown: Some(tx),
            served: Some(served),
            _dir: dir,
        }
    }

    /// The app in front of the example notes API (`examples/upstream-api`),
    /// which verifies tokens with Portcullis's JWKS as a real service would,
    /// with the demo notes page turned on.
    /// The API runs until the returned handle is dropped.
    pub async fn with_example_api() -> (Self, ExampleApi) {
        Self::with_example_api_and(&[("PORTCULLIS_NOTES_PAGE", "true")]).await
    }

    /// The app in front of the example notes API with these `PORTCULLIS_*`
    /// settings, and without the notes page (which a frontend replaces).
    pub async fn with_example_api_and(vars: &[(&str, &str)]) -> (Self, ExampleApi) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let api = format!("http://{}", listener.local_addr().expect("addr"));
        let mut all = vec![("PORTCULLIS_UPSTREAM", api.as_str())];
        all.extend_from_slice(vars);
        let app = Self::spawn(&all).await;
        let jwks = JwksCache::new(&format!(
            "http://127.0.0.1:{}/.well-known/jwks.json",
            app.port
        ))
        .expect("JWKS url");
        jwks.refresh().await.expect("the JWKS is served");
        // The API's clock is the server's: when a test moves time, tokens
        // issued "later" are not from the future to the API.
        let clock = app.clock.clone();
        let verifier = Verifier::from_jwks(jwks, Validation::new("portcullis", "portcullis"))
            .with_clock(move || u64::try_from(clock.now().unix_timestamp()).unwrap_or(0));
        let served = tokio::spawn(async move {
            let _ = axum::serve(listener, upstream_api::router(verifier)).await;
        });
        let api = ExampleApi {
            url: api,
            _served: AbortOnDrop(served),
        };
        (app, api)
    }

    /// A URL of the app, on `localhost`.
    pub fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port)
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Stops the server and waits until it no longer accepts connections.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            tokio::time::timeout(Duration::from_secs(30), served)
                .await
                .expect("server stops within 30 s")
                .expect("server task")
                .expect("server ran");
        }
    }
}

/// The example notes API, running until dropped.
pub struct ExampleApi {
    /// Its base URL, as Portcullis reaches it.
    pub url: String,
    _served: AbortOnDrop,
}

/// Stops a background task when dropped.
pub struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
