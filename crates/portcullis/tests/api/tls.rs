//! HTTPS: HTTP/2 by ALPN, HTTP/1.1 still, https semantics for cookies and
//! the cross-site check, and a renewed certificate picked up while running.

use std::path::Path;
use std::time::Duration;

use reqwest::tls::TlsInfo;
use reqwest::{Certificate, Client, StatusCode, Version};
use serde_json::json;

use crate::helpers::*;

pub struct Pair {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

pub fn generate() -> Pair {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    Pair {
        cert_pem: generated.cert.pem(),
        key_pem: generated.signing_key.serialize_pem(),
        der: generated.cert.der().to_vec(),
    }
}

fn write(dir: &Path, pair: &Pair) {
    std::fs::write(dir.join("key.pem"), &pair.key_pem).expect("key written");
    std::fs::write(dir.join("cert.pem"), &pair.cert_pem).expect("cert written");
}

/// A client that trusts `pairs` and reaches `localhost` at the app.
fn client(app: &TestApp, pairs: &[&Pair], http1_only: bool) -> Client {
    let mut builder = Client::builder()
        .resolve("localhost", app.addr)
        .tls_info(true)
        .pool_max_idle_per_host(0);
    for pair in pairs {
        builder = builder
            .add_root_certificate(Certificate::from_pem(pair.cert_pem.as_bytes()).expect("PEM"));
    }
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().expect("client")
}

async fn spawn(pair: &Pair) -> (TestApp, tempfile::TempDir) {
    spawn_with(pair, &[]).await
}

/// A server on `pair` with extra settings; the directory holds the files.
pub async fn spawn_with(pair: &Pair, vars: &[(&str, &str)]) -> (TestApp, tempfile::TempDir) {
    let certs = tempfile::tempdir().expect("tempdir");
    write(certs.path(), pair);
    let cert = certs.path().join("cert.pem").display().to_string();
    let key = certs.path().join("key.pem").display().to_string();
    let mut settings = vec![
        ("PORTCULLIS_TLS_CERT", cert.as_str()),
        ("PORTCULLIS_TLS_KEY", key.as_str()),
    ];
    settings.extend_from_slice(vars);
    let app = TestApp::spawn_with(&settings).await;
    (app, certs)
}

fn https(app: &TestApp, path: &str) -> String {
    format!("https://localhost:{}{path}", app.addr.port())
}

#[tokio::test]
async fn tls_serves_http2_by_alpn_and_http1_on_request() {
    let pair = generate();
    let (app, _certs) = spawn(&pair).await;
    let response = client(&app, &[&pair], false)
        .get(https(&app, "/healthz"))
        .send()
        .await
        .expect("answered over TLS");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2);
    let response = client(&app, &[&pair], true)
        .get(https(&app, "/healthz"))
        .send()
        .await
        .expect("answered over TLS");
    assert_eq!(response.version(), Version::HTTP_11);
}

#[tokio::test]
async fn over_tls_the_origin_is_https_and_cookies_are_secure() {
    let pair = generate();
    let (app, _certs) = spawn(&pair).await;
    let client = client(&app, &[&pair], false);
    let body = json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD});
    let response = client
        .post(https(&app, "/api/auth/register"))
        .header("origin", format!("http://localhost:{}", app.addr.port()))
        .json(&body)
        .send()
        .await
        .expect("answered");
    assert_problem(response, StatusCode::FORBIDDEN, "cross_site_request").await;
    let response = client
        .post(https(&app, "/api/auth/register"))
        .header("origin", format!("https://localhost:{}", app.addr.port()))
        .json(&body)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookies = set_cookies(response.headers());
    assert!(
        cookies
            .iter()
            .all(|c| c.attributes.iter().any(|a| a == "Secure"))
    );
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_no_answer() {
    let pair = generate();
    let (app, _certs) = spawn(&pair).await;
    assert!(app.client.get(app.url("/healthz")).send().await.is_err());
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let (first, second) = (generate(), generate());
    let (app, certs) = spawn(&first).await;
    // A fresh client each time: a resumed TLS session would report the
    // certificate of the session it resumes.
    let served = || async {
        let client = client(&app, &[&first, &second], false);
        let response = client
            .get(https(&app, "/healthz"))
            .send()
            .await
            .expect("answered");
        let info = response.extensions().get::<TlsInfo>().expect("TLS info");
        info.peer_certificate().expect("a certificate").to_vec()
    };
    assert_eq!(served().await, first.der);

    write(certs.path(), &second);
    // The files are polled every couple of seconds: wait for the switch, but
    // not for ever.
    for _ in 0..100 {
        if served().await == second.der {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the renewed certificate was not picked up within 20 seconds");
}

#[tokio::test]
async fn a_missing_or_mismatched_certificate_stops_the_start_with_a_clear_error() {
    use portcullis::app::Application;
    use portcullis::config::{Config, Sources};

    let (one, other) = (generate(), generate());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("cert.pem"), &one.cert_pem).expect("write");
    std::fs::write(dir.path().join("key.pem"), &other.key_pem).expect("write");
    let start = |cert: String, key: String| {
        let db = format!("sqlite://{}", dir.path().join("t.db").display());
        let config = Config::from_sources(&Sources::from_env([
            ("PORTCULLIS_BIND", "127.0.0.1:0".to_owned()),
            ("PORTCULLIS_DATABASE_URL", db),
            ("PORTCULLIS_TLS_CERT", cert),
            ("PORTCULLIS_TLS_KEY", key),
        ]))
        .expect("config");
        async move {
            // The whole chain, as the binary prints it: the reason is a cause.
            Application::build(config)
                .await
                .err()
                .map(|e| portcullis::report::Chain(&e).to_string())
        }
    };
    let path = |name: &str| dir.path().join(name).display().to_string();
    let mismatch = start(path("cert.pem"), path("key.pem"))
        .await
        .expect("refused");
    assert!(mismatch.contains("cannot be used together"), "{mismatch}");
    let missing = start(path("nope.pem"), path("key.pem"))
        .await
        .expect("refused");
    assert!(missing.contains("nope.pem"), "{missing}");
}
