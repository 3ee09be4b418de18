//! Tables that only grew: a throttle row for any submitted name, however
//! long, kept until a later success; and an audit log never pruned.

use std::sync::Arc;
use std::time::Duration;

use portcullis::auth::{AuditQuery, Auth};
use portcullis::clock::{Clock, ManualClock, SystemClock};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// The longest account key in the throttle table, and how many rows it has.
async fn throttle_rows(app: &TestApp) -> (i64, i64) {
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("raw connection");
    sqlx::query_as("SELECT COALESCE(MAX(LENGTH(account_key)), 0), COUNT(*) FROM login_failures")
        .fetch_one(&pool)
        .await
        .expect("counted")
}

#[tokio::test]
async fn an_over_long_login_name_is_refused_without_a_throttle_row() {
    let app = TestApp::spawn().await;
    for name in ["x".repeat(255), format!("{}@example.com", "y".repeat(5000))] {
        let response = app
            .post(
                &mut Jar::default(),
                "/api/auth/login",
                Some(json!({"username": name, "password": "whatever it is"})),
            )
            .await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    assert_eq!(throttle_rows(&app).await, (0, 0));
    // A name of a possible length is throttled as before.
    let longest = format!("{}@example.com", "z".repeat(242));
    let response = app.login(&mut Jar::default(), &longest, "whatever").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(throttle_rows(&app).await.1, 1);
}

#[tokio::test]
async fn throttle_rows_are_purged_once_they_no_longer_count() {
    let app = TestApp::spawn().await;
    app.signed_in("ada").await;
    for n in 0..20 {
        let response = app
            .login(&mut Jar::default(), &format!("nobody-{n}"), "whatever")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app.login(&mut Jar::default(), "ada", "wrong guess").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(throttle_rows(&app).await.1, 21);

    // Within the hour they still count: nothing goes. (The server's own
    // purge runs at start and hourly; its result is the same as this one's.)
    app.advance(Duration::from_secs(59 * 60));
    app.auth.purge_expired().await.expect("purged");
    assert_eq!(throttle_rows(&app).await.1, 21);
    // Past it they neither lock nor count: all go.
    app.advance(Duration::from_secs(2 * 60));
    app.auth.purge_expired().await.expect("purged");
    assert_eq!(throttle_rows(&app).await, (0, 0));
}

#[tokio::test]
async fn audit_events_past_their_retention_are_purged() {
    // The database judges an event's age by its own clock: the server's
    // clock starts 400 days in the past, so its events are that old.
    let start = SystemClock.now() - time::Duration::days(400);
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let app = TestApp::spawn_with_clock(
        dir,
        url,
        &[("PORTCULLIS_AUDIT_RETENTION", "365d")],
        Arc::new(ManualClock::new(start)),
    )
    .await;
    let kinds = |auth: Auth| async move {
        let query = AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        };
        let events = auth.audit_log(&query).await.expect("read");
        events.into_iter().map(|e| e.kind).collect::<Vec<_>>()
    };
    app.signed_in("ada").await;
    app.auth.purge_expired().await.expect("purged");
    assert_eq!(kinds(app.auth.clone()).await, ["registered"], "kept a year");

    app.advance(Duration::from_secs(380 * 86_400));
    let response = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    app.auth.purge_expired().await.expect("purged");
    assert_eq!(kinds(app.auth.clone()).await, ["sign_in_ok"]);
}
