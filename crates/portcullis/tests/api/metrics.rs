//! `/metrics`: what is counted, under which labels, per application.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::helpers::*;

async fn metrics(app: &TestApp) -> String {
    let response = app.get(&mut Jar::default(), "/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    response.text().await.expect("text")
}

/// The value of one series, by its exact name and labels.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[tokio::test]
async fn sign_ins_are_counted_by_outcome() {
    let app = TestApp::spawn().await;
    app.signed_in("ada").await;
    assert_eq!(
        app.login(&mut Jar::default(), "ada", PASSWORD)
            .await
            .status(),
        StatusCode::CREATED
    );
    for _ in 0..5 {
        app.login(&mut Jar::default(), "ada", "wrong password")
            .await;
    }
    let throttled = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);

    let text = metrics(&app).await;
    assert_eq!(
        value(&text, r#"portcullis_sign_ins_total{outcome="ok"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(&text, r#"portcullis_sign_ins_total{outcome="failed"}"#),
        Some(5.0)
    );
    assert_eq!(
        value(&text, r#"portcullis_sign_ins_total{outcome="throttled"}"#),
        Some(1.0)
    );
}

#[tokio::test]
async fn refreshes_and_revocations_are_counted_by_outcome_and_reason() {
    let app = TestApp::spawn().await;
    let jar = app.signed_in("ada").await;
    let (mut tab1, mut tab2) = (jar.clone(), jar);
    assert_eq!(
        app.refresh(&mut tab1).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.refresh(&mut tab2).await.status(),
        StatusCode::NO_CONTENT
    ); // grace
    let mut stale = tab1.clone();
    assert_eq!(
        app.refresh(&mut tab1).await.status(),
        StatusCode::NO_CONTENT
    );
    app.advance(Duration::from_secs(11));
    assert_eq!(
        app.refresh(&mut stale).await.status(),
        StatusCode::UNAUTHORIZED
    ); // reuse
    app.refresh(&mut Jar::default()).await; // missing
    let mut other = app.signed_in("grace").await;
    app.post(&mut other, "/api/auth/logout", None).await;

    let text = metrics(&app).await;
    for (outcome, n) in [
        ("rotated", 2.0),
        ("grace", 1.0),
        ("reuse_detected", 1.0),
        ("missing", 1.0),
    ] {
        let series = format!(r#"portcullis_refreshes_total{{outcome="{outcome}"}}"#);
        assert_eq!(value(&text, &series), Some(n), "{series}\n{text}");
    }
    for (reason, n) in [("refresh_reuse", 1.0), ("logout", 1.0)] {
        let series = format!(r#"portcullis_revocations_total{{reason="{reason}"}}"#);
        assert_eq!(value(&text, &series), Some(n), "{series}");
    }
}

#[tokio::test]
async fn requests_are_counted_by_matched_route_not_raw_path() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    for id in ["one", "two"] {
        let path = format!("/api/auth/sessions/{id}");
        let response = app.send(&mut jar, Method::DELETE, &path, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    app.get(&mut Jar::default(), "/no/such/page").await;

    let text = metrics(&app).await;
    assert_eq!(
        value(
            &text,
            r#"portcullis_http_requests_total{method="DELETE",route="/api/auth/sessions/{id}",status="404"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert!(!text.contains("/api/auth/sessions/one"));
    assert!(!text.contains("/no/such/page"));
    assert_eq!(
        value(
            &text,
            r#"portcullis_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        Some(1.0)
    );
    assert!(text.contains(
        r#"portcullis_http_request_duration_seconds_bucket{method="POST",route="/api/auth/register",status="201",le="+Inf"} 1"#
    ));
}

#[tokio::test]
async fn the_argon2_queue_and_the_database_pool_are_reported() {
    let app = TestApp::spawn().await;
    let text = metrics(&app).await;
    // The dummy hash computed at start may still be running: a level, not a count.
    assert!(value(&text, "portcullis_password_hashes_in_flight").is_some_and(|n| n >= 0.0));
    assert_eq!(
        value(&text, "portcullis_db_pool_max_connections"),
        Some(10.0)
    );
    assert!(value(&text, r#"portcullis_db_pool_connections{state="idle"}"#).is_some());
    assert!(value(&text, r#"portcullis_db_pool_connections{state="in_use"}"#).is_some());
}

#[tokio::test]
async fn two_servers_in_one_process_count_only_their_own_requests() {
    let (a, b) = (TestApp::spawn().await, TestApp::spawn().await);
    a.signed_in("ada").await;
    let text = metrics(&b).await;
    assert!(!text.contains(r#"route="/api/auth/register""#), "{text}");
    assert!(metrics(&a).await.contains(r#"route="/api/auth/register""#));
}
