//! Malformed, oversized and unexpected input: always a clear 4xx problem, never
//! a 500 or a hang.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    request.send().await.expect("answered")
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    for body in [
        "{",
        "not json",
        "{\"username\": \"ada\", }",
        "\u{0}",
        "{\"username\":\"\\ud800\"}",
    ] {
        let response = post_raw(
            &app,
            "/api/auth/login",
            Some("application/json"),
            body.into(),
        )
        .await;
        assert_problem(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    }
}

#[tokio::test]
async fn missing_or_mistyped_fields_are_400_without_echoing_the_input() {
    let app = TestApp::spawn().await;
    for body in [
        r#"{"username":"ada"}"#,
        r#"{}"#,
        r#"[]"#,
        r#"null"#,
        r#"{"username":"ada","password":12345678}"#,
        r#"{"username":["ada"],"password":"secret-secret"}"#,
    ] {
        let response = post_raw(
            &app,
            "/api/auth/login",
            Some("application/json"),
            body.into(),
        )
        .await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(!problem.to_string().contains("secret-secret"));
    }
}

#[tokio::test]
async fn deeply_nested_unknown_members_are_skipped_not_a_crash() {
    let app = TestApp::spawn().await;
    let body = format!(
        r#"{{"username":"ada","password":"x","extra":{}{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    // serde_json skips an ignored member without recursing, and the body limit
    // bounds the work: this is an ordinary failed sign-in.
    let response = post_raw(
        &app,
        "/api/auth/login",
        Some("application/json"),
        body.into(),
    )
    .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let app = TestApp::spawn().await;
    let body = br#"{"username":"ada","password":"x"}"#.to_vec();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data"),
    ] {
        let response = post_raw(&app, "/api/auth/login", ct, body.clone()).await;
        assert_problem(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let app = TestApp::spawn().await;
    let password = "x".repeat(64 * 1024);
    let body = format!(r#"{{"username":"ada","email":"a@example.com","password":"{password}"}}"#);
    for path in ["/api/auth/register", "/api/auth/login"] {
        let response = post_raw(&app, path, Some("application/json"), body.clone().into()).await;
        assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
}

#[tokio::test]
async fn oversized_and_garbage_cookies_are_just_no_session() {
    let app = TestApp::spawn().await;
    // Over the token length limit, under the cookie header limit.
    let huge = "A".repeat(6 * 1024);
    for jar in [
        Jar::with(&[(ACCESS, &huge)]),
        Jar::with(&[(ACCESS, "a.b.c"), (REFRESH, "%%%")]),
        Jar::with(&[(ACCESS, "\"quoted\""), (REFRESH, "=")]),
    ] {
        let response = app.session(&mut jar.clone()).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/auth/nope",
        "/api/anything",
        "/api/auth/sessions/x/y",
        "/nothing-here",
    ] {
        let response = app.get(&mut Jar::default(), path).await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    for (method, path) in [
        (Method::GET, "/api/auth/login"),
        (Method::PUT, "/api/auth/session"),
        (Method::GET, "/api/auth/logout"),
        (Method::POST, "/api/auth/sessions"),
    ] {
        let response = app
            .send(&mut Jar::default(), method.clone(), path, None)
            .await;
        assert_problem(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
}

#[tokio::test]
async fn every_auth_response_forbids_caching() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    for (method, path) in [
        (Method::GET, "/api/auth/session"),
        (Method::GET, "/api/auth/sessions"),
        (Method::GET, "/api/auth/nope"),
        (Method::POST, "/api/auth/refresh"),
        (Method::POST, "/api/auth/logout"),
        (Method::GET, "/api/auth/session"),
    ] {
        let response = app.send(&mut jar, method, path, None).await;
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
}

#[tokio::test]
async fn oversized_headers_and_cookies_are_431() {
    let app = TestApp::spawn().await;
    let big = "a".repeat(17 * 1024);
    let cookie = app
        .client
        .get(app.url("/api/auth/session"))
        .header("cookie", format!("app={big}"))
        .send()
        .await
        .expect("answered");
    assert_problem(
        cookie,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "request_header_fields_too_large",
    )
    .await;
    let mut request = app.client.post(app.url("/api/auth/login"));
    for i in 0..40 {
        request = request.header(format!("x-filler-{i}"), "b".repeat(1024));
    }
    let response = request.send().await.expect("answered");
    assert_problem(
        response,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "request_header_fields_too_large",
    )
    .await;
}
