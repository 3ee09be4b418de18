//! A sign-in that checked the old password just before a password change (or
//! that found the account enabled just before it was disabled) must not leave
//! a session that outlives the change.
//!
//! The races are made deterministic on PostgreSQL: the test holds a lock that
//! a successful sign-in needs after its password check and before it stores
//! the session (writing the account's sign-in failures), so the change runs
//! in between, every time.

use portcullis::auth::AuditQuery;
use portcullis::clock::Clock;
use portcullis::config::{Config, Sources};
use portcullis::domain::{RefreshToken, SessionId, UserId};
use portcullis::store::{NewSession, Store};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};

use super::change_password;
use crate::databases::{SMALL_POOL, TestDb};
use crate::helpers::*;

/// Waits until a statement of the server's is waiting for a lock.
async fn until_blocked(url: &str) {
    let mut observer = PgConnection::connect(url).await.expect("connects");
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut observer)
        .await
        .expect("reads activity");
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Signs in as `ada` with the right password while `change` runs between the
/// sign-in's password check and its session being stored; returns the
/// sign-in's answer and the cookies it set.
async fn race(app: &TestApp, db: &TestDb, change: impl AsyncFnOnce()) -> (StatusCode, Jar) {
    let mut lock = PgConnection::connect(db.url()).await.expect("connects");
    lock.execute("BEGIN").await.expect("begins");
    lock.execute("LOCK TABLE login_failures IN SHARE MODE")
        .await
        .expect("locks");
    let client = app.client.clone();
    let url = app.url("/api/auth/login");
    let sign_in = tokio::spawn(async move {
        client
            .post(url)
            .json(&serde_json::json!({"username": "ada", "password": PASSWORD}))
            .send()
            .await
            .expect("answered")
    });
    until_blocked(db.url()).await;
    change().await;
    lock.execute("ROLLBACK").await.expect("releases");
    let response = sign_in.await.expect("joins");
    let mut jar = Jar::default();
    jar.store(response.headers());
    (response.status(), jar)
}

/// Whether the audit log holds a sign-in refused because the account changed
/// while it ran.
async fn overtaken_sign_in_audited(app: &TestApp) -> bool {
    let query = AuditQuery {
        limit: 50,
        ..AuditQuery::default()
    };
    let events = app.auth.audit_log(&query).await.expect("read");
    events.iter().any(|e| {
        e.kind == "sign_in_failed" && e.detail.as_deref() == Some("account changed during sign-in")
    })
}

async fn spawn_on_postgres(db: &mut TestDb) -> TestApp {
    TestApp::spawn_on(db.take_dir(), db.url().to_owned(), &[SMALL_POOL]).await
}

#[tokio::test]
async fn a_sign_in_racing_a_password_change_leaves_no_session() {
    let mut db = TestDb::postgres().await;
    let app = spawn_on_postgres(&mut db).await;
    let mut owner = app.signed_in("ada").await;
    let (status, racer) = race(&app, &db, async || {
        let response = change_password(&app, &mut owner, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password won");
    assert!(racer.access().is_none() && racer.refresh().is_none());
    assert!(overtaken_sign_in_audited(&app).await);
    // The owner's session goes on.
    assert_eq!(app.session(&mut owner).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_sign_in_racing_a_disable_leaves_no_session() {
    let mut db = TestDb::postgres().await;
    let app = spawn_on_postgres(&mut db).await;
    app.signed_in("ada").await;
    let (status, racer) = race(&app, &db, async || {
        let out = portcullis_binary()
            .args(["user", "disable", "ada"])
            .env("PORTCULLIS_DATABASE_URL", db.url())
            .output()
            .expect("runs");
        assert!(out.status.success(), "{out:?}");
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(racer.access().is_none() && racer.refresh().is_none());
    assert!(overtaken_sign_in_audited(&app).await);
}

#[tokio::test]
async fn a_session_begun_before_a_password_change_cannot_be_refreshed() {
    let app = TestApp::spawn().await;
    let mut owner = app.signed_in("ada").await;
    let current: Value = app.session(&mut owner).await.json().await.expect("JSON");
    let ada: UserId = current["user"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("a user id");
    let begun = app.clock.now();
    app.advance(std::time::Duration::from_secs(1));
    let response = change_password(&app, &mut owner, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // A sign-in that began before the change stores its session after it.
    let config = Config::from_sources(&Sources::from_env([(
        "PORTCULLIS_DATABASE_URL",
        app.database_url.as_str(),
    )]))
    .expect("config");
    let store = Store::connect(&config.database).await.expect("store");
    let token = RefreshToken::generate().expect("random");
    store
        .insert_session(NewSession {
            id: SessionId::random(),
            user_id: ada,
            now: begun,
            expires_at: begun + time::Duration::days(1),
            token_hash: &token.hash(),
            user_agent: None,
            client_addr: None,
            method: &portcullis::domain::SignInMethod::Password,
        })
        .await
        .expect("stored");
    let mut late = Jar::with(&[(REFRESH, &token.encode())]);
    let response = app.refresh(&mut late).await;
    assert_eq!(response.headers()["portcullis-refresh-denied"], "revoked");
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}
