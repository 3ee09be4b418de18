//! A thief holding a copy of a session guesses the account's password through
//! `POST /api/auth/password`, which checks the current password: without
//! limits, at argon2 speed, and each guess an argon2 run on the shared queue.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use tokio::task::JoinHandle;

use super::{change_password, login_from, retry_after, session_only};
use crate::helpers::*;

#[tokio::test]
async fn a_stolen_session_cannot_guess_the_password_without_limit() {
    let app = TestApp::spawn().await;
    let mut victim = app.signed_in("ada").await;
    let mut thief = session_only(&victim);
    for guess in 0..5 {
        let response = change_password(&app, &mut thief, &format!("guess number {guess}")).await;
        assert_problem(response, StatusCode::FORBIDDEN, "invalid_credentials").await;
    }
    // The sixth guess waits, even when it is right.
    let response = change_password(&app, &mut thief, PASSWORD).await;
    assert!(retry_after(&response) >= 1);
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // The guesses count against the account as sign-in failures do: a
    // stranger with the right password waits too.
    let response = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // The victim's own browser, which signed in before, is not held up.
    let response = change_password(&app, &mut victim, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn wrong_current_passwords_are_written_to_the_audit_log() {
    let app = TestApp::spawn().await;
    let ada = app.signed_in("ada").await;
    let response = change_password(&app, &mut session_only(&ada), "not the password").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let out = portcullis_binary()
        .args(["audit", "--user", "ada"])
        .env("PORTCULLIS_DATABASE_URL", &app.database_url)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(log.contains("password_change_failed"), "{log}");
    assert!(!log.contains("not the password"), "{log}");
}

#[tokio::test]
async fn wrong_current_passwords_spend_the_failure_budget_of_the_address() {
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_ADDRESS_LOGIN_FAILURES", "3/10m"),
        ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let ada = app.signed_in("ada").await;
    app.signed_in("bob").await;
    let mut thief = session_only(&ada);
    // Four guesses: the fourth finds the budget spent, not exceeded.
    for guess in 0..4 {
        let response = app
            .client
            .post(app.url("/api/auth/password"))
            .header("cookie", thief.header().expect("cookies"))
            .header("x-forwarded-for", "198.51.100.7")
            .json(&serde_json::json!({
                "current_password": format!("guess number {guess}"),
                "new_password": "a brand new passphrase",
            }))
            .send()
            .await
            .expect("answered");
        thief.store(response.headers());
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    // Now the address waits, for a sign-in to another account too.
    let response = login_from(&app, "198.51.100.7", "bob", PASSWORD).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let response = login_from(&app, "198.51.100.8", "bob", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// A request that has either been answered or has a hash waiting in the
/// hasher's queue (every hashing thread being held).
enum Outcome {
    Answered(Response),
    Queued(JoinHandle<Response>),
}

/// Sends `request` and waits until it is answered, or until the hasher holds
/// `queued_at` jobs, which means it queued one.
async fn answered_or_queued(
    app: &TestApp,
    request: reqwest::RequestBuilder,
    queued_at: usize,
) -> Outcome {
    let handle = tokio::spawn(async move { request.send().await.expect("answered") });
    loop {
        if handle.is_finished() {
            return Outcome::Answered(handle.await.expect("joins"));
        }
        if app.auth.passwords().in_flight() >= queued_at {
            return Outcome::Queued(handle);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn password_change(app: &TestApp, jar: &Jar, current: &str) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/api/auth/password"))
        .header("cookie", jar.header().expect("cookies"))
        .json(&serde_json::json!({
            "current_password": current,
            "new_password": "a brand new passphrase",
        }))
}

#[tokio::test]
async fn one_session_cannot_fill_the_hashing_queue() {
    // One hashing thread and room for two more jobs: three in all.
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_HASH_CONCURRENCY", "1"),
        ("PORTCULLIS_HASH_QUEUE", "2"),
    ])
    .await;
    let thief = session_only(&app.signed_in("ada").await);
    app.signed_in("bob").await;
    // Hold the thread: whatever is queued now stays queued.
    let held = app.auth.passwords().occupy().await.expect("occupied");
    assert_eq!(app.auth.passwords().in_flight(), 1);

    let Outcome::Queued(first) =
        answered_or_queued(&app, password_change(&app, &thief, "guess one"), 2).await
    else {
        panic!("the first guess is answered before its hash has run");
    };
    // More guesses from the same session, at once: refused, not queued.
    for guess in ["guess two", "guess three", "guess four"] {
        match answered_or_queued(&app, password_change(&app, &thief, guess), 3).await {
            Outcome::Answered(response) => {
                assert_eq!(retry_after(&response), 1);
                assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
            }
            Outcome::Queued(_) => panic!("a second hash of one session was queued"),
        }
    }
    // The queue still has room for somebody else's sign-in.
    let sign_in = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({"username": "bob", "password": PASSWORD}));
    let Outcome::Queued(sign_in) = answered_or_queued(&app, sign_in, 3).await else {
        panic!("the sign-in was refused while one session's guesses waited");
    };
    drop(held);
    assert_eq!(sign_in.await.expect("joins").status(), StatusCode::CREATED);
    assert_eq!(first.await.expect("joins").status(), StatusCode::FORBIDDEN);
    // Its hash done, the session may try again.
    let again = password_change(&app, &thief, "guess five").send().await;
    assert_eq!(again.expect("answered").status(), StatusCode::FORBIDDEN);
}
