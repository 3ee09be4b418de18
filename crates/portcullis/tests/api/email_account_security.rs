//! The e-mail flows meet the account security of issue 13: the address
//! change asks for the current password and so is a sign-in to a thief with
//! a copy of the session; a reset by mail lifts whatever lockout guessing
//! left behind, and ends every session, one stored late by a racing sign-in
//! too.

use portcullis::auth::AuditQuery;
use portcullis::clock::Clock;
use portcullis::config::{Config, Sources};
use portcullis::domain::{RefreshToken, SessionId, UserId};
use portcullis::store::{NewSession, Store};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::auth_attacks::{retry_after, session_only};
use crate::helpers::*;
use crate::openapi_email::MAIL_SETTINGS;

const NEW_PASSWORD: &str = "a brand new horse battery";

async fn change_email(app: &TestApp, jar: &mut Jar, password: &str) -> Response {
    let body = json!({"email": "ada@new.example", "current_password": password});
    app.post(jar, "/api/auth/email", Some(body)).await
}

/// Registers `ada` in `jar`; returns her id.
async fn register(app: &TestApp, jar: &mut Jar) -> UserId {
    let registered = app.register(jar, "ada").await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let body: Value = registered.json().await.expect("JSON");
    body["user"]["id"]
        .as_str()
        .expect("an id")
        .parse()
        .expect("a user id")
}

/// Resets `id`'s password to [`NEW_PASSWORD`] with an operator's link,
/// posted from `jar`.
async fn reset(app: &TestApp, jar: &mut Jar, id: UserId) {
    let link = app.auth.reset_link(id).await.expect("a link");
    let token = link.split_once("#token=").expect("a token").1;
    let body = json!({"token": token, "new_password": NEW_PASSWORD});
    let response = app.post(jar, "/api/auth/password/reset", Some(body)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

/// Fails `n` sign-ins as `ada` from `jar`.
async fn fail(app: &TestApp, jar: &mut Jar, n: usize) {
    for _ in 0..n {
        let response = app.login(jar, "ada", "wrong guess!").await;
        assert!(
            matches!(
                response.status(),
                StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
            ),
            "{}",
            response.status()
        );
    }
}

#[tokio::test]
async fn a_stolen_session_cannot_guess_the_password_through_the_address_change() {
    let app = TestApp::spawn_with(&MAIL_SETTINGS).await;
    let mut victim = app.signed_in("ada").await;
    let mut thief = session_only(&victim);
    for guess in 0..5 {
        let response = change_email(&app, &mut thief, &format!("guess number {guess}")).await;
        assert_problem(response, StatusCode::FORBIDDEN, "invalid_credentials").await;
    }
    // The sixth guess waits, even when it is right.
    let response = change_email(&app, &mut thief, PASSWORD).await;
    assert!(retry_after(&response) >= 1);
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // The guesses count against the account as sign-in failures do.
    let response = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // The victim's own browser, which signed in before, is not held up.
    let response = change_email(&app, &mut victim, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let query = AuditQuery {
        limit: 50,
        ..AuditQuery::default()
    };
    let events = app.auth.audit_log(&query).await.expect("read");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"email_change_failed"), "{kinds:?}");
    assert!(kinds.contains(&"email_change_throttled"), "{kinds:?}");
    assert!(
        events
            .iter()
            .all(|e| !e.detail.as_deref().unwrap_or_default().contains("guess")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_reset_lifts_the_lockout_left_on_the_account_and_on_the_resetting_browser() {
    let app = TestApp::spawn_with(&MAIL_SETTINGS).await;
    let mut owner = Jar::default();
    let id = register(&app, &mut owner).await;

    // The owner, who forgot the password, fails on her own browser; someone
    // else fails from browsers the account does not know.
    fail(&app, &mut owner, 6).await;
    fail(&app, &mut Jar::default(), 6).await;
    for jar in [&mut owner, &mut Jar::default()] {
        let response = app.login(jar, "ada", PASSWORD).await;
        assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    }

    reset(&app, &mut owner, id).await;

    // No wait on her browser, nor on a new one.
    for jar in [&mut owner, &mut Jar::default()] {
        let response = app.login(jar, "ada", NEW_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
}

#[tokio::test]
async fn a_session_begun_before_a_reset_and_stored_after_it_cannot_be_refreshed() {
    let app = TestApp::spawn_with(&MAIL_SETTINGS).await;
    let mut owner = Jar::default();
    let id = register(&app, &mut owner).await;
    let begun = app.clock.now();
    app.advance(std::time::Duration::from_secs(1));
    reset(&app, &mut owner, id).await;

    // A sign-in that began before the reset (an intruder's, with the old
    // password) stores its session after it: the reset's revocation missed
    // it, and the reset's time voids it.
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
            user_id: id,
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
