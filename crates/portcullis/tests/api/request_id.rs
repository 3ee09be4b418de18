//! `X-Request-Id`: kept when well-formed, replaced otherwise, always echoed.

use reqwest::StatusCode;

use crate::helpers::*;

async fn echoed(app: &TestApp, path: &str, sent: Option<&str>) -> (StatusCode, String) {
    let mut request = app.client.get(app.url(path));
    if let Some(id) = sent {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.expect("answered");
    let id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    (response.status(), id)
}

#[tokio::test]
async fn a_well_formed_request_id_is_echoed() {
    let app = TestApp::spawn().await;
    let (_, id) = echoed(&app, "/healthz", Some("lb-7f3a.42_x")).await;
    assert_eq!(id, "lb-7f3a.42_x");
}

#[tokio::test]
async fn a_malformed_or_overlong_request_id_is_replaced_by_a_fresh_one() {
    let app = TestApp::spawn().await;
    let long = "a".repeat(65);
    for bad in ["two words", "inject\"quote", long.as_str()] {
        let (_, id) = echoed(&app, "/healthz", Some(bad)).await;
        assert_ne!(id, bad);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    }
}

#[tokio::test]
async fn every_answer_carries_an_id_errors_and_fallbacks_included() {
    let app = TestApp::spawn().await;
    let (status, first) = echoed(&app, "/no/such/page", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, second) = echoed(&app, "/api/auth/session", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_ne!(first, second, "ids are per request");
}
