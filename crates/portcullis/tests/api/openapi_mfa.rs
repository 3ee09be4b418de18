//! The second-factor routes' part of `openapi_statuses`: every status their
//! documentation lists, provoked for real (503 with the database cut is in
//! `openapi_statuses::database_down`, and 401/429 of a missing or throttled
//! session come from its list of session routes).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::mfa::{MfaApp, PENDING};
use crate::openapi_statuses::{Calls, Probe};

const VERIFY: &str = "/api/auth/mfa/verify";
const TOTP: &str = "/api/auth/mfa/totp";
const CONFIRM: &str = "/api/auth/mfa/totp/confirm";
const CODES: &str = "/api/auth/mfa/recovery-codes";
const STATUS: &str = "/api/auth/mfa";
const REAUTH: &str = "/api/auth/reauthenticate";

/// The routes of second factors with a body, for the body checks.
pub const WITH_BODY: [&str; 3] = [VERIFY, CONFIRM, REAUTH];

pub(crate) async fn mfa_routes(probe: &Probe) {
    let app = MfaApp::spawn().await;
    let calls = Calls(&app);
    let none = Jar::default();

    // Bodies: malformed, oversized, not JSON.
    let ada = app.signed_in("ada").await;
    let large = json!({"code": "x".repeat(64 * 1024)});
    let mut cases = Vec::new();
    for path in WITH_BODY {
        let typed = |content_type| calls.post(path, &ada).header("content-type", content_type);
        cases.push((typed("application/json").body("{"), "400"));
        cases.push((calls.post(path, &ada).json(&large), "413"));
        cases.push((typed("text/plain").body("{}"), "415"));
    }
    probe.all(cases).await;

    // Enrolment, from nothing to on and off again.
    let mut bob = app.signed_in("bob").await;
    probe
        .expect(
            calls.post(CONFIRM, &bob).json(&json!({"code": "123456"})),
            "409",
        )
        .await;
    probe
        .expect(calls.call(Method::DELETE, TOTP, &bob), "409")
        .await;
    probe.expect(calls.post(CODES, &bob), "409").await;
    probe
        .expect(
            calls
                .post(REAUTH, &bob)
                .json(&json!({"password": PASSWORD})),
            "204",
        )
        .await;
    probe
        .expect(
            calls.post(REAUTH, &bob).json(&json!({"code": "123456"})),
            "401",
        )
        .await;
    probe
        .expect(calls.post(REAUTH, &bob).json(&json!({})), "400")
        .await;
    app.begin(&mut bob).await;
    probe.expect(calls.post(TOTP, &bob), "200").await;
    probe
        .expect(
            calls.post(CONFIRM, &bob).json(&json!({"code": "12"})),
            "401",
        )
        .await;
    probe
        .expect(calls.post(CONFIRM, &bob).json(&json!({})), "400")
        .await;
    let (mut carol, carol_secret, _) = app.enrolled("carol").await;
    probe.expect(calls.post(TOTP, &carol), "409").await;
    probe.expect(calls.get(STATUS, &carol), "200").await;
    probe.expect(calls.post(CODES, &carol), "200").await;
    let mut enrolling = app.signed_in("erin").await;
    let erin_secret = app.begin(&mut enrolling).await;
    let code = app.code(&erin_secret, 0);
    probe
        .expect(
            calls
                .post(CONFIRM, &enrolling)
                .json(&json!({ "code": code })),
            "200",
        )
        .await;

    // Sign-in with a second factor.
    let login = json!({"username": "carol", "password": PASSWORD});
    probe
        .expect(calls.post("/api/auth/login", &none).json(&login), "200")
        .await;
    let waiting = app.password_step("carol").await;
    probe
        .expect(calls.post(VERIFY, &waiting).json(&json!({})), "400")
        .await;
    probe
        .expect(
            calls.post(VERIFY, &none).json(&json!({"code": "123456"})),
            "401",
        )
        .await;
    let code = app.code(&carol_secret, 0);
    probe
        .expect(
            calls.post(VERIFY, &waiting).json(&json!({ "code": code })),
            "201",
        )
        .await;

    // Throttled: five wrong codes, then even the right one waits.
    app.advance(Duration::from_secs(60));
    let waiting = app.password_step("carol").await;
    assert!(waiting.cookies.contains_key(PENDING));
    let right = app.code(&carol_secret, 0);
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..5 {
        probe
            .expect(
                calls.post(VERIFY, &waiting).json(&json!({ "code": wrong })),
                "401",
            )
            .await;
    }
    probe
        .expect(
            calls.post(VERIFY, &waiting).json(&json!({ "code": right })),
            "429",
        )
        .await;

    // Removal, after a fresh code.
    app.advance(Duration::from_secs(60));
    let code = app.code(&carol_secret, 0);
    let response = app
        .post(&mut carol, REAUTH, Some(json!({ "code": code })))
        .await;
    assert_eq!(response.status(), 204);
    probe
        .expect(calls.call(Method::DELETE, TOTP, &carol), "204")
        .await;
}
