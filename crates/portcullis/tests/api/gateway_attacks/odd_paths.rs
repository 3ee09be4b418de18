//! Odd paths and methods: `/api//auth/x`, `/api/a/../auth/x`,
//! `/api/auth%2fx`, `TRACE` and the like were routed as gateway paths here
//! and forwarded with the caller's token, while the server behind, once it
//! normalises the path, may read `/api/auth/...` (or, for `TRACE`, echo the
//! token back). They are refused before routing — 400 `invalid_request`,
//! 405 `method_not_allowed` — for the API and the frontend alike.

use super::*;
use crate::upstreams::Recorder;

/// Paths a normalising server could read as another path.
const ODD: &[&str] = &[
    "/api//auth/session",
    "/api/a/../auth/session",
    "/api/./auth/session",
    "/api/auth%2fsession",
    "/api/notes%2F..%2Fauth%2Fsession",
    "/api/%2e%2e/api/auth/session",
    "/api/.%2E/auth/session",
    "/api/%252e%252e/auth/session",
    "/api/notes%5c..%5cauth",
    "/api/notes\\..\\auth\\session",
    "/api/..;/auth/session",
    "/api/Auth/session",
    "/API/auth/session",
    "/%61pi/auth/session",
    "/api/auth;jsessionid=1/session",
    "//evil.test/page",
    "/pages/../api/notes",
    "/pages/%2e%2e/api/notes",
];

async fn app_with(recorder: &Recorder) -> TestApp {
    TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &recorder.url()),
        ("PORTCULLIS_FRONTEND", &recorder.url()),
        ("PORTCULLIS_FRONTEND_TOKEN", "true"),
    ])
    .await
}

#[tokio::test]
async fn odd_paths_are_refused_and_never_forwarded_with_a_token() {
    let recorder = Recorder::spawn().await;
    let app = app_with(&recorder).await;
    let jar = app.signed_in("ada").await;
    for path in ODD {
        for method in ["GET", "POST"] {
            let head = format!(
                "{method} {path} HTTP/1.1\r\nHost: {}\r\n{}\r\nContent-Length: 0",
                app.addr,
                cookie_line(&jar)
            );
            let answer = raw(app.addr, &head).await;
            assert_eq!(answer.status, 400, "{method} {path}: {}", answer.head);
            assert_eq!(answer.json()["code"], "invalid_request", "{method} {path}");
        }
    }
    assert_eq!(recorder.calls(), 0, "an odd path reached the upstream");
}

#[tokio::test]
async fn trace_and_connect_are_not_allowed_anywhere() {
    let recorder = Recorder::spawn().await;
    let app = app_with(&recorder).await;
    let jar = app.signed_in("ada").await;
    for request_line in [
        "TRACE /api/things HTTP/1.1",
        "TRACE / HTTP/1.1",
        "TRACK /api/things HTTP/1.1",
        "CONNECT /api/things HTTP/1.1",
    ] {
        let head = format!(
            "{request_line}\r\nHost: {}\r\n{}",
            app.addr,
            cookie_line(&jar)
        );
        raw(app.addr, &head)
            .await
            .assert_problem(405, "method_not_allowed");
    }
    assert_eq!(recorder.calls(), 0, "the upstream was reached");
}

#[tokio::test]
async fn ordinary_frontend_and_api_paths_still_pass() {
    let recorder = Recorder::spawn().await;
    let app = app_with(&recorder).await;
    let jar = app.signed_in("ada").await;
    for path in [
        "/_next/static/chunks/app/%5Bid%5D/page-0a1b2c.js",
        "/_next/data/build-id/en/index.json",
        "/blog/v1.2/",
        "/files/report%2Epdf",
        "/search?q=../../api/auth/x&next=%2F%2Fevil",
        "/api/notes?path=a//b/../c",
        "/api/authors",
    ] {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{}",
            app.addr,
            cookie_line(&jar)
        );
        let answer = raw(app.addr, &head).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.head);
        assert_eq!(answer.json()["uri"], *path, "passed unchanged");
    }
}
