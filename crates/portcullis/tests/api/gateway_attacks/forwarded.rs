//! The weaker points of issue 13 about who the client is: an
//! `X-Forwarded-For` entry that did not parse (an `ip:port`) was skipped, so
//! the client's own leftmost entry became "the client" and per-address limits
//! keyed on whatever it wrote; and the `Host` the client sent was passed to
//! the upstream unchecked as `X-Forwarded-Host`.

use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::upstreams::{Recorder, Report};

/// Registers `name` through a trusted proxy that says `chain`.
async fn register_via_proxy(app: &TestApp, name: &str, chain: &str) -> StatusCode {
    let body =
        json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
    app.client
        .post(app.url("/api/auth/register"))
        .header("x-forwarded-for", chain)
        .json(&body)
        .send()
        .await
        .expect("answered")
        .status()
}

#[tokio::test]
async fn a_client_cannot_choose_its_address_behind_a_proxy_that_writes_ports() {
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
        ("PORTCULLIS_ADDRESS_REGISTRATIONS", "1/1h"),
    ])
    .await;
    // The client writes a fresh address each time; the proxy appends the
    // one it saw, with the port, as some load balancers do.
    let first = register_via_proxy(&app, "ada", "6.6.6.1, 203.0.113.7:5123").await;
    assert_eq!(first, StatusCode::CREATED);
    let again = register_via_proxy(&app, "bob", "6.6.6.2, 203.0.113.7:6000").await;
    assert_eq!(again, StatusCode::TOO_MANY_REQUESTS, "keyed on 203.0.113.7");

    let first = register_via_proxy(&app, "cyd", "6.6.6.3, [2001:db8::7]:443").await;
    assert_eq!(first, StatusCode::CREATED);
    let again = register_via_proxy(&app, "dee", "6.6.6.4, [2001:db8::7]:443").await;
    assert_eq!(again, StatusCode::TOO_MANY_REQUESTS, "keyed on 2001:db8::7");
}

#[tokio::test]
async fn an_entry_that_does_not_parse_ends_the_trusted_chain() {
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
        ("PORTCULLIS_ADDRESS_REGISTRATIONS", "1/1h"),
    ])
    .await;
    // The proxy wrote something that is not an address: the client behind
    // it is unknown, and the proxy itself (127.0.0.1) stands for it.
    let first = register_via_proxy(&app, "ada", "6.6.6.1, unknown").await;
    assert_eq!(first, StatusCode::CREATED);
    let again = register_via_proxy(&app, "bob", "6.6.6.2, unknown").await;
    assert_eq!(again, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn with_a_public_url_the_upstream_is_told_its_host_never_the_clients() {
    let recorder = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &recorder.url()),
        ("PORTCULLIS_PUBLIC_URL", "https://app.example.com"),
        ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let jar = app.signed_in("ada").await;
    for extra in ["", "\r\nX-Forwarded-Host: evil.test"] {
        let head = format!(
            "GET /api/things HTTP/1.1\r\nHost: evil.test\r\n{}{extra}",
            cookie_line(&jar)
        );
        let answer = raw(app.addr, &head).await;
        assert_eq!(answer.status, 200, "{}", answer.head);
        let report = Report(answer.json());
        assert_eq!(
            report.header("x-forwarded-host").as_deref(),
            Some("app.example.com")
        );
    }
}

#[tokio::test]
async fn a_host_that_is_not_a_host_and_port_is_refused_and_never_forwarded() {
    let recorder = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &recorder.url())]).await;
    let jar = app.signed_in("ada").await;
    for host in [
        "Host: app.test/../admin",
        "Host: user@evil.test",
        "Host: evil.test, app.test",
        "Host: app.test\r\nHost: evil.test",
        "Host: app.test:80:80",
    ] {
        let head = format!(
            "GET /api/things HTTP/1.1\r\n{host}\r\n{}",
            cookie_line(&jar)
        );
        raw(app.addr, &head)
            .await
            .assert_problem(400, "invalid_request");
    }
    assert_eq!(recorder.calls(), 0);
}

#[tokio::test]
async fn a_forwarded_host_that_is_not_a_host_is_not_passed_on() {
    let recorder = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &recorder.url()),
        ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let jar = app.signed_in("ada").await;
    let head = format!(
        "GET /api/things HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-Host: evil.test/<script>\r\n{}",
        cookie_line(&jar)
    );
    let answer = raw(app.addr, &head).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    let report = Report(answer.json());
    assert_eq!(
        report.header("x-forwarded-host").as_deref(),
        Some("app.test")
    );
}
