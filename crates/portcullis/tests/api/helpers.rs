//! `TestApp`: the real server on port 0 with a fresh SQLite file and a clock
//! the test can move, plus a cookie jar that behaves like a browser's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use portcullis::app::Application;
use portcullis::auth::Auth;
use portcullis::clock::{Clock, ManualClock, SystemClock};
use portcullis::config::{Config, Sources};
use reqwest::header::{COOKIE, HeaderMap, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery staple";

/// The `portcullis` binary, seeing only the settings a test gives it. The
/// `PORTCULLIS_*` variables of the environment the tests run in (the browser
/// switch of `scripts/test.sh`, a developer's own settings) are removed: the
/// binary would read them, and refuses those that are not settings.
pub fn portcullis_binary() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PORTCULLIS_") {
            command.env_remove(name);
        }
    }
    command
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub database_url: String,
    /// The server's auth service, to do now what background tasks do later.
    pub auth: Auth,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Spawns with extra `PORTCULLIS_*` settings.
    pub async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self::spawn_on(dir, database_url, vars).await
    }

    pub async fn spawn_on(
        dir: tempfile::TempDir,
        database_url: String,
        vars: &[(&str, &str)],
    ) -> Self {
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        Self::spawn_with_clock(dir, database_url, vars, clock).await
    }

    /// Spawns on a clock shared with other instances, as servers whose clocks
    /// agree.
    pub async fn spawn_with_clock(
        dir: tempfile::TempDir,
        database_url: String,
        vars: &[(&str, &str)],
        clock: Arc<ManualClock>,
    ) -> Self {
        let mut env: Vec<(String, String)> = vec![
            ("PORTCULLIS_BIND".into(), "127.0.0.1:0".into()),
            ("PORTCULLIS_DATABASE_URL".into(), database_url.clone()),
        ];
        env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_sources(&Sources::from_env(env)).expect("valid test config");
        let app = Application::build_with_clock(config, clock.clone())
            .await
            .expect("server builds");
        let addr = app.local_addr();
        let auth = app.auth().clone();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(app.run_until_stopped(async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            addr,
            clock,
            client,
            database_url,
            auth,
            shutdown: Some(tx),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Sends a request with the jar's cookies and keeps the cookies it sets.
    pub async fn send(
        &self,
        jar: &mut Jar,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(cookie) = jar.header() {
            request = request.header(COOKIE, cookie);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request is answered");
        jar.store(response.headers());
        response
    }

    pub async fn post(&self, jar: &mut Jar, path: &str, body: Option<Value>) -> Response {
        self.send(jar, Method::POST, path, body).await
    }

    pub async fn get(&self, jar: &mut Jar, path: &str) -> Response {
        self.send(jar, Method::GET, path, None).await
    }

    pub async fn register(&self, jar: &mut Jar, username: &str) -> Response {
        let body = json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD});
        self.post(jar, "/api/auth/register", Some(body)).await
    }

    pub async fn login(&self, jar: &mut Jar, username: &str, password: &str) -> Response {
        self.post(
            jar,
            "/api/auth/login",
            Some(json!({"username": username, "password": password})),
        )
        .await
    }

    /// Registers `username` and returns a jar signed in as them.
    pub async fn signed_in(&self, username: &str) -> Jar {
        let mut jar = Jar::default();
        let response = self.register(&mut jar, username).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "registration of {username}"
        );
        jar
    }

    pub async fn refresh(&self, jar: &mut Jar) -> Response {
        self.post(jar, "/api/auth/refresh", None).await
    }

    pub async fn session(&self, jar: &mut Jar) -> Response {
        self.get(jar, "/api/auth/session").await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub const ACCESS: &str = "__Host-access_token";
pub const REFRESH: &str = "__Host-refresh_token";

/// Cookies as a browser keeps them: set by `Set-Cookie`, deleted by `Max-Age=0`.
#[derive(Debug, Default, Clone)]
pub struct Jar {
    pub cookies: BTreeMap<String, String>,
}

impl Jar {
    pub fn with(pairs: &[(&str, &str)]) -> Self {
        Self {
            cookies: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn access(&self) -> Option<&str> {
        self.cookies.get(ACCESS).map(String::as_str)
    }

    pub fn refresh(&self) -> Option<&str> {
        self.cookies.get(REFRESH).map(String::as_str)
    }

    pub fn header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    pub fn store(&mut self, headers: &HeaderMap) {
        for set in set_cookies(headers) {
            if set.max_age == Some(0) {
                self.cookies.remove(&set.name);
            } else {
                self.cookies.insert(set.name, set.value);
            }
        }
    }
}

/// One parsed `Set-Cookie`.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    pub attributes: Vec<String>,
    pub max_age: Option<i64>,
}

pub fn set_cookies(headers: &HeaderMap) -> Vec<SetCookie> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| {
            let text = v.to_str().expect("ascii cookie");
            let mut parts = text.split(';').map(str::trim);
            let (name, value) = parts
                .next()
                .and_then(|p| p.split_once('='))
                .expect("name=value");
            let attributes: Vec<String> = parts.map(str::to_owned).collect();
            let max_age = attributes
                .iter()
                .find_map(|a| a.strip_prefix("Max-Age="))
                .map(|v| v.parse().expect("numeric Max-Age"));
            SetCookie {
                name: name.to_owned(),
                value: value.to_owned(),
                attributes,
                max_age,
            }
        })
        .collect()
}

/// Asserts a problem response with this status and code, and returns its body.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "content type"
    );
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["code"], code, "code in {body}");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["type"], "about:blank");
    body
}

/// Whether the response clears both cookies.
pub fn clears_cookies(response: &Response) -> bool {
    let set = set_cookies(response.headers());
    [ACCESS, REFRESH]
        .iter()
        .all(|name| set.iter().any(|c| c.name == *name && c.max_age == Some(0)))
}
