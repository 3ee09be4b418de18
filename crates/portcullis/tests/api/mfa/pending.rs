//! The waiting sign-in and its `__Host-mfa_pending` cookie: it expires,
//! opens one session at most, cannot be forged, and carries nothing a
//! cross-site request or a malformed body could use.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::*;

fn clears_pending(response: &reqwest::Response) -> bool {
    set_cookies(response.headers())
        .iter()
        .any(|c| c.name == PENDING && c.max_age == Some(0))
}

#[tokio::test]
async fn a_waiting_sign_in_expires_after_five_minutes() {
    let app = MfaApp::spawn().await;
    let (_, secret, _) = app.enrolled("ada").await;
    let mut jar = app.password_step("ada").await;
    app.advance(Duration::from_secs(5 * 60 + 1));
    let code = app.code(&secret, 0);
    let response = app.verify(&mut jar, json!({ "code": code })).await;
    assert!(clears_pending(&response));
    assert_problem(response, StatusCode::UNAUTHORIZED, "mfa_expired").await;
    assert!(jar.access().is_none());
}

#[tokio::test]
async fn a_pending_cookie_opens_one_session_and_is_worthless_after() {
    let app = MfaApp::spawn().await;
    let (_, secret, codes) = app.enrolled("ada").await;
    let jar = app.password_step("ada").await;
    let mut copy = Jar::with(&[(PENDING, jar.cookies[PENDING].as_str())]);
    let mut original = jar.clone();
    let code = app.code(&secret, 0);
    assert_eq!(
        app.verify(&mut original, json!({ "code": code }))
            .await
            .status(),
        StatusCode::CREATED
    );
    let response = app
        .verify(&mut copy, json!({ "recovery_code": codes[0] }))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "mfa_expired").await;
    assert!(copy.access().is_none());
}

#[tokio::test]
async fn no_forged_missing_or_malformed_pending_cookie_is_a_sign_in() {
    let app = MfaApp::spawn().await;
    let (_, secret, _) = app.enrolled("ada").await;
    let code = app.code(&secret, 0);
    let forged = "A".repeat(43);
    let long = "A".repeat(4000);
    for cookie in [
        None,
        Some(forged.as_str()),
        Some("short"),
        Some(long.as_str()),
        Some("%00"),
    ] {
        let mut jar = match cookie {
            Some(value) => Jar::with(&[(PENDING, value)]),
            None => Jar::default(),
        };
        let response = app.verify(&mut jar, json!({ "code": code })).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "mfa_expired").await;
    }
    // The session's cookies are no pending cookie either.
    let mut signed_in = app.signed_in("bob").await;
    let response = app.verify(&mut signed_in, json!({ "code": code })).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "mfa_expired").await;
}

#[tokio::test]
async fn malformed_oversized_and_cross_site_verifications_are_refused_first() {
    let app = MfaApp::spawn().await;
    let (_, secret, _) = app.enrolled("ada").await;
    let jar = app.password_step("ada").await;
    let cookie = jar.header().expect("cookie");
    let url = app.url("/api/auth/mfa/verify");
    let post = || app.client.post(&url).header("cookie", &cookie);
    let code = app.code(&secret, 0);
    let cases = [
        (
            post().header("content-type", "application/json").body("{"),
            400,
            "malformed_json",
        ),
        (post().json(&json!({})), 400, "invalid_request"),
        (
            post().json(&json!({"code": code, "recovery_code": "x"})),
            400,
            "invalid_request",
        ),
        (
            post().json(&json!({"code": 123456})),
            400,
            "invalid_request",
        ),
        (
            post().json(&json!({"code": "x".repeat(20_000)})),
            413,
            "payload_too_large",
        ),
        (
            post().header("content-type", "text/plain").body("{}"),
            415,
            "unsupported_media_type",
        ),
        (
            post()
                .header("origin", "https://evil.example")
                .json(&json!({ "code": code })),
            403,
            "cross_site_request",
        ),
        (
            post()
                .header("sec-fetch-site", "cross-site")
                .json(&json!({ "code": code })),
            403,
            "cross_site_request",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.expect("answered");
        let status = StatusCode::from_u16(status).expect("status");
        assert_problem(response, status, code).await;
    }
    // None of that spent the waiting sign-in or counted as a guess.
    let mut jar = jar;
    assert_eq!(
        app.verify(&mut jar, json!({ "code": code })).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_long_or_strange_code_is_just_a_wrong_one() {
    let app = MfaApp::spawn().await;
    app.enrolled("ada").await;
    let mut jar = app.password_step("ada").await;
    for body in [
        json!({"code": "9".repeat(10_000)}),
        json!({"code": "１２３４５６"}),
        json!({"recovery_code": "\u{0}".repeat(100)}),
        json!({"recovery_code": ""}),
    ] {
        let response = app.verify(&mut jar, body).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
}

#[tokio::test]
async fn a_password_change_or_a_disable_voids_a_waiting_sign_in() {
    let app = MfaApp::spawn().await;
    let (mut owner, secret, _) = app.enrolled("ada").await;
    let mut thief = app.password_step("ada").await;
    let change = json!({"current_password": PASSWORD, "new_password": "a brand new horse battery"});
    assert_eq!(
        app.post(&mut owner, "/api/auth/password", Some(change))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    app.advance(Duration::from_millis(5));
    let code = app.code(&secret, 0);
    let response = app.verify(&mut thief, json!({ "code": code })).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "mfa_expired").await;

    let (_, secret, _) = app.enrolled("bob").await;
    let mut waiting = app.password_step("bob").await;
    let bob = app
        .auth
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username == "bob")
        .expect("bob");
    app.auth.disable_user(bob.id).await.expect("disabled");
    let code = app.code(&secret, 0);
    let response = app.verify(&mut waiting, json!({ "code": code })).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "mfa_expired").await;
}
