//! Sign-in with other providers against real OpenID Providers:
//!
//! - [`NodeOp`], panva's certified `oidc-provider` from npm
//!   (`tests/node/oidc-provider`), with a registered client and test users,
//!   signed in at through its own interaction form;
//! - [`FakeOp`], a small provider of our own (a real HTTP server serving
//!   discovery, JWKS and a token endpoint) that signs whatever ID token a
//!   test asks for, to prove that a wrong nonce, audience, issuer or expiry
//!   is refused;
//! - a small GitHub (`github.rs`): its OAuth and REST endpoints as a
//!   GitHub Enterprise Server serves them.
//!
//! The tests that need Node are `#[ignore = "needs node …"]`;
//! `scripts/test.sh` installs the packages and runs them.

mod flow;
mod forged;
mod github;
mod linking;
pub mod openapi;
mod passkeys;
mod second_factor;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::header::{COOKIE, LOCATION};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// The provider id the tests configure.
pub const PROVIDER: &str = "test";
pub const CLIENT_ID: &str = "portcullis";
pub const CLIENT_SECRET: &str = "op-secret-for-tests";

fn op_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/oidc-provider")
}

fn install_dependencies(dir: &Path) {
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm runs: install Node.js and npm (Debian's `nodejs` and `npm`)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// A loopback port held until dropped, for a server whose public URL must
/// be known before it starts (the callback URL registered at the provider):
/// held while the provider starts, so that the provider cannot be given it.
pub struct Reserved(std::net::TcpListener);

impl Reserved {
    pub fn new() -> Self {
        Self(std::net::TcpListener::bind("127.0.0.1:0").expect("binds"))
    }

    pub fn port(&self) -> u16 {
        self.0.local_addr().expect("addr").port()
    }
}

/// A loopback port free a moment ago.
pub fn free_port() -> u16 {
    Reserved::new().port()
}

/// `oidc-provider` in a Node process, ended however the test ends.
pub struct NodeOp {
    pub issuer: String,
    child: Child,
    /// Kept open: a closed pipe would fail the provider's next write.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for NodeOp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeOp {
    pub fn spawn(redirect_uris: &[String]) -> Self {
        Self::spawn_with(redirect_uris, &[])
    }

    /// With extra environment for the provider (`OP_CONFORM`).
    pub fn spawn_with(redirect_uris: &[String], env: &[(&str, &str)]) -> Self {
        let dir = op_dir();
        install_dependencies(&dir);
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("OP_REDIRECT_URIS", redirect_uris.join(","))
            .env("OP_CLIENT_ID", CLIENT_ID)
            .env("OP_CLIENT_SECRET", CLIENT_SECRET)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts: install Node.js (Debian's `nodejs`)");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout
            .read_line(&mut line)
            .expect("the provider prints its issuer");
        let ready: Value = serde_json::from_str(&line).expect("a JSON line");
        Self {
            issuer: ready["issuer"].as_str().expect("issuer").to_owned(),
            child,
            _stdout: stdout,
        }
    }
}

/// Portcullis with one provider configured, on a port known in advance.
pub struct OidcApp {
    pub app: TestApp,
    _secret: tempfile::TempDir,
}

impl std::ops::Deref for OidcApp {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// The public URL and callback URL of a Portcullis on `port`.
pub fn urls(port: u16) -> (String, String) {
    let public = format!("http://127.0.0.1:{port}");
    let callback = format!("{public}/api/auth/oidc/{PROVIDER}/callback");
    (public, callback)
}

/// The `PORTCULLIS_OIDC_PROVIDERS` value for one provider.
pub fn providers_setting(kind_and_issuer: &str, secret_file: &Path) -> String {
    format!(
        r#"[{{ id = "{PROVIDER}", name = "Test OP", {kind_and_issuer}, client_id = "{CLIENT_ID}", client_secret_file = "{}" }}]"#,
        secret_file.display()
    )
}

impl OidcApp {
    /// Portcullis on `port` with the provider at `issuer`, and `extra` settings.
    pub async fn spawn(port: u16, issuer: &str, extra: &[(&str, &str)]) -> Self {
        Self::spawn_kind(port, &format!(r#"issuer = "{issuer}""#), extra).await
    }

    pub async fn spawn_kind(port: u16, kind_and_issuer: &str, extra: &[(&str, &str)]) -> Self {
        Self::spawn_on(port, kind_and_issuer, None, extra).await
    }

    /// As [`OidcApp::spawn_kind`], on the database at `database` (its
    /// directory and URL) instead of a fresh SQLite file.
    pub async fn spawn_on(
        port: u16,
        kind_and_issuer: &str,
        database: Option<(tempfile::TempDir, String)>,
        extra: &[(&str, &str)],
    ) -> Self {
        let secret = tempfile::tempdir().expect("tempdir");
        let secret_file = secret.path().join("client_secret");
        std::fs::write(&secret_file, format!("{CLIENT_SECRET}\n")).expect("secret written");
        let (public, _) = urls(port);
        let bind = format!("127.0.0.1:{port}");
        let providers = providers_setting(kind_and_issuer, &secret_file);
        let mut vars = vec![
            ("PORTCULLIS_BIND", bind.as_str()),
            ("PORTCULLIS_PUBLIC_URL", public.as_str()),
            ("PORTCULLIS_OIDC_PROVIDERS", providers.as_str()),
        ];
        vars.extend_from_slice(extra);
        let app = match database {
            Some((dir, url)) => TestApp::spawn_on(dir, url, &vars).await,
            None => TestApp::spawn_with(&vars).await,
        };
        Self {
            app,
            _secret: secret,
        }
    }

    /// `GET /api/auth/oidc/test/start?next=…`: must be a 302 to the
    /// provider, with the flow cookie in `jar`.
    pub async fn start(&self, jar: &mut Jar, next: &str) -> reqwest::Url {
        let path = format!("/api/auth/oidc/{PROVIDER}/start?next={next}");
        let response = self.get(jar, &path).await;
        assert_eq!(response.status(), StatusCode::FOUND, "start redirects");
        let location = response.headers()[LOCATION].to_str().expect("ascii");
        reqwest::Url::parse(location).expect("absolute URL")
    }

    /// Delivers the provider's redirect (its query) to the callback, the
    /// server's clock first moved up to the real time: the provider's ID
    /// tokens carry the real time, and the server's clock stands still in
    /// tests.
    pub async fn callback(&self, jar: &mut Jar, query: &str) -> Response {
        use portcullis::clock::{Clock, SystemClock};
        let behind = SystemClock.now() - self.clock.now();
        if behind.is_positive() {
            self.advance(behind.unsigned_abs());
        }
        self.get(jar, &format!("/api/auth/oidc/{PROVIDER}/callback?{query}"))
            .await
    }
}

/// Signs in at the Node provider as `login`, from its authorization URL,
/// and returns the query of its redirect back to Portcullis.
pub async fn sign_in_at_op(authorization: &reqwest::Url, login: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut op_jar = Jar::default();
    let mut url = authorization.clone();
    for _ in 0..10 {
        let mut request = client.get(url.clone());
        if let Some(cookie) = op_jar.header() {
            request = request.header(COOKIE, cookie);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("the provider answers {url}: {e:?}"));
        op_jar.store(response.headers());
        let status = response.status();
        assert!(status.is_redirection(), "the provider redirects: {status}");
        let location = response.headers()[LOCATION]
            .to_str()
            .expect("ascii")
            .to_owned();
        let next = url.join(&location).expect("a URL");
        if next.path().starts_with("/interaction/") {
            let mut request = client
                .post(next.clone())
                .form(&[("login", login), ("password", "x")]);
            if let Some(cookie) = op_jar.header() {
                request = request.header(COOKIE, cookie);
            }
            let response = request.send().await.expect("the provider answers");
            op_jar.store(response.headers());
            assert!(response.status().is_redirection(), "login accepted");
            let location = response.headers()[LOCATION].to_str().expect("ascii");
            url = next.join(location).expect("a URL");
            continue;
        }
        if next.path().ends_with("/callback") {
            return next.query().unwrap_or_default().to_owned();
        }
        url = next;
    }
    panic!("the provider never sent the browser back");
}

/// The whole round trip: start, sign in at the provider as `login`, and the
/// callback's answer.
pub async fn round_trip(app: &OidcApp, jar: &mut Jar, login: &str) -> Response {
    let authorization = app.start(jar, "/account").await;
    let query = sign_in_at_op(&authorization, login).await;
    app.callback(jar, &query).await
}

/// The claims of a JWT, unverified (the server has checked it).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// A provider of our own that signs the ID token a test sets.
#[derive(Clone)]
pub struct FakeOp {
    pub issuer: String,
    state: Arc<FakeState>,
}

struct FakeState {
    issuer: String,
    key: SigningKey,
    /// The claims of the next ID token.
    claims: Mutex<Value>,
    /// The `kid` in the next ID token's header.
    kid: Mutex<String>,
    /// Whether the token endpoint fails (500, not JSON), as a provider in
    /// trouble does.
    broken: std::sync::atomic::AtomicBool,
}

impl FakeOp {
    pub async fn spawn() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let issuer = format!("http://{addr}");
        let state = Arc::new(FakeState {
            issuer: issuer.clone(),
            key: SigningKey::from_bytes(&[7; 32]),
            claims: Mutex::new(json!({})),
            kid: Mutex::new("k1".into()),
            broken: std::sync::atomic::AtomicBool::new(false),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(fake_discovery))
            .route("/jwks", get(fake_jwks))
            .route("/token", post(fake_token))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { issuer, state }
    }

    /// The next ID token carries these claims.
    pub fn will_sign(&self, claims: Value) {
        *self.state.claims.lock().expect("lock") = claims;
    }

    /// Makes the token endpoint fail.
    pub fn break_token_endpoint(&self) {
        self.state
            .broken
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The next ID token names this key id.
    pub fn with_kid(&self, kid: &str) {
        *self.state.kid.lock().expect("lock") = kid.to_owned();
    }
}

async fn fake_discovery(State(s): State<Arc<FakeState>>) -> impl IntoResponse {
    let i = &s.issuer;
    axum::Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
    }))
}

async fn fake_jwks(State(s): State<Arc<FakeState>>) -> impl IntoResponse {
    axum::Json(json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(s.key.verifying_key().as_bytes()),
    }]}))
}

async fn fake_token(State(s): State<Arc<FakeState>>) -> axum::response::Response {
    if s.broken.load(std::sync::atomic::Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "upstream trouble").into_response();
    }
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": *s.kid.lock().expect("lock")});
    let claims = s.claims.lock().expect("lock").clone();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = s.key.sign(input.as_bytes());
    let id_token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    axum::Json(json!({
        "access_token": "fake-access-token",
        "token_type": "Bearer",
        "expires_in": 60,
        "id_token": id_token,
    }))
    .into_response()
}

/// Seconds since the Unix epoch on the server's clock.
pub fn now_secs(app: &TestApp) -> i64 {
    use portcullis::clock::Clock;
    app.clock.now().unix_timestamp()
}

/// The query parameters of an authorization URL.
pub fn param(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

/// Whether a response is the page that continues to `next` from our origin.
pub async fn continues_to(response: Response, next: &str) -> bool {
    let body = response.text().await.expect("body");
    body.contains(&format!("content=\"0;url={next}\""))
        && body.contains(&format!("href=\"{next}\""))
}
