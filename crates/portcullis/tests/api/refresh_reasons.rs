//! A refused refresh says why: a `reason` member and a header, beside the
//! unchanged contract code.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::helpers::*;

const HEADER: &str = "portcullis-refresh-denied";

/// Refreshes with `jar` and returns the reason given in the body, after
/// checking the contract's members, the header and the cleared cookies.
async fn refused(app: &TestApp, jar: &mut Jar) -> String {
    let response = app.refresh(jar).await;
    let headers: HeaderMap = response.headers().clone();
    assert!(clears_cookies(&response));
    let body: Value =
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let reason = body["reason"].as_str().expect("a reason member").to_owned();
    assert_eq!(
        headers[HEADER],
        reason.as_str(),
        "the header agrees with the body"
    );
    reason
}

#[tokio::test]
async fn every_refused_refresh_names_its_reason() {
    let app = TestApp::spawn().await;
    assert_eq!(refused(&app, &mut Jar::default()).await, "missing");
    assert_eq!(
        refused(&app, &mut Jar::with(&[(REFRESH, "not-a-token")])).await,
        "malformed"
    );
    let unknown = "A".repeat(43);
    assert_eq!(
        refused(&app, &mut Jar::with(&[(REFRESH, &unknown)])).await,
        "unknown"
    );

    let mut victim = app.signed_in("ada").await;
    let mut stolen = victim.clone();
    app.refresh(&mut victim).await;
    app.advance(Duration::from_secs(11));
    assert_eq!(refused(&app, &mut stolen).await, "reuse_detected");
    assert_eq!(refused(&app, &mut victim).await, "revoked");

    let mut idle = app.signed_in("grace").await;
    app.advance(Duration::from_secs(8 * 86_400));
    assert_eq!(refused(&app, &mut idle).await, "idle_timeout");
}

#[tokio::test]
async fn a_successful_refresh_carries_no_reason() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let response = app.refresh(&mut jar).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers().get(HEADER).is_none());
}

#[tokio::test]
async fn a_refused_transparent_refresh_names_its_reason_in_the_header() {
    let app = TestApp::spawn().await;
    let mut victim = app.signed_in("ada").await;
    let stolen = victim.clone();
    app.refresh(&mut victim).await;
    app.advance(Duration::from_secs(11));
    let mut thief = Jar::with(&[(REFRESH, stolen.refresh().expect("refresh cookie"))]);
    let response = app.session(&mut thief).await;
    assert_eq!(response.headers()[HEADER], "reuse_detected");
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
