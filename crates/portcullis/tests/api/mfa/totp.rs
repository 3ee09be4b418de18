//! TOTP and recovery codes at sign-in: the drift window, replays, codes
//! used once, throttling, and what a session then says about itself.

use std::time::Duration;

use portcullis_verifier::{JwksCache, Validation, Verifier};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn a_password_then_a_code_signs_in_with_an_mfa_session() {
    let app = MfaApp::spawn().await;
    let (_, secret, _) = app.enrolled("ada").await;
    let mut jar = app.password_step("ada").await;
    assert!(jar.access().is_none() && jar.refresh().is_none());
    // The pending cookie alone is no session.
    assert_eq!(
        app.session(&mut jar).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let code = app.code(&secret, 0);
    let response = app.verify(&mut jar, json!({ "code": code })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["user"]["username"], "ada");
    assert!(
        !jar.cookies.contains_key(PENDING),
        "the pending cookie is cleared"
    );
    assert_eq!(claims(&jar)["amr"], json!(["pwd", "otp", "mfa"]));

    let sessions: Value = app
        .get(&mut jar, "/api/auth/sessions")
        .await
        .json()
        .await
        .expect("json");
    let current = sessions["sessions"]
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["current"] == true)
        .expect("the current session");
    assert_eq!(current["amr"], json!(["pwd", "otp", "mfa"]));
    let password_only = sessions["sessions"]
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["current"] == false)
        .expect("the enrolling session");
    assert_eq!(password_only["amr"], json!(["pwd"]));

    // A refresh keeps how the session began.
    app.advance(Duration::from_secs(16 * 60));
    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(claims(&jar)["amr"], json!(["pwd", "otp", "mfa"]));

    let status: Value = app
        .get(&mut jar, "/api/auth/mfa")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        status,
        json!({"totp": true, "recovery_codes_left": 10, "passkey": false, "methods": ["totp", "recovery_code"]})
    );
}

#[tokio::test]
async fn the_verifier_crate_reads_the_amr_claim() {
    let app = MfaApp::spawn().await;
    let (enrolling, secret, _) = app.enrolled("ada").await;
    let mut jar = app.password_step("ada").await;
    let code = app.code(&secret, 0);
    assert_eq!(
        app.verify(&mut jar, json!({ "code": code })).await.status(),
        StatusCode::CREATED
    );
    let jwks = JwksCache::new(&app.url("/.well-known/jwks.json")).expect("url");
    jwks.refresh().await.expect("served");
    // The server's clock is ahead of the wall clock by the enrolment's step.
    let now = portcullis::clock::unix_seconds(app.clock.now());
    let verifier = Verifier::from_jwks(jwks, Validation::new("portcullis", "portcullis"))
        .with_clock(move || now);
    let with_code = verifier
        .verify(jar.access().expect("access"))
        .await
        .expect("genuine");
    let amr = with_code.amr.as_deref().expect("amr");
    assert!(amr.iter().any(|v| v == "mfa"), "{amr:?}");
    let password_only = verifier
        .verify(enrolling.access().expect("access"))
        .await
        .expect("genuine");
    assert_eq!(password_only.amr, Some(vec!["pwd".to_owned()]));
}

#[tokio::test]
async fn a_code_one_step_off_either_way_is_accepted_and_two_steps_off_is_not() {
    let app = MfaApp::spawn().await;
    let (_, secret, _) = app.enrolled("ada").await;
    for drift in [-1, 0, 1] {
        // Each accepted code spends its step and every earlier one: move on
        // two steps so that the next drift is still ahead of the last.
        app.advance(Duration::from_secs(2 * STEP_SECONDS));
        let mut jar = app.password_step("ada").await;
        let code = app.code(&secret, drift);
        let response = app.verify(&mut jar, json!({ "code": code })).await;
        assert_eq!(response.status(), StatusCode::CREATED, "drift {drift}");
    }
    app.advance(Duration::from_secs(4 * STEP_SECONDS));
    for drift in [-2, 2] {
        let mut jar = app.password_step("ada").await;
        let code = app.code(&secret, drift);
        let response = app.verify(&mut jar, json!({ "code": code })).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
        assert!(
            jar.cookies.contains_key(PENDING),
            "a wrong code keeps the sign-in waiting"
        );
    }
}

#[tokio::test]
async fn a_code_is_accepted_once_and_no_earlier_step_after_it() {
    let app = MfaApp::spawn().await;
    let (_, secret, _) = app.enrolled("ada").await;
    let code = app.code(&secret, 0);
    let mut first = app.password_step("ada").await;
    assert_eq!(
        app.verify(&mut first, json!({ "code": code }))
            .await
            .status(),
        StatusCode::CREATED
    );
    // Seen over the owner's shoulder and typed at once elsewhere.
    let mut thief = app.password_step("ada").await;
    let replay = app.verify(&mut thief, json!({ "code": code })).await;
    assert_problem(replay, StatusCode::UNAUTHORIZED, "invalid_code").await;
    let earlier = app.code(&secret, -1);
    let replay = app.verify(&mut thief, json!({ "code": earlier })).await;
    assert_problem(replay, StatusCode::UNAUTHORIZED, "invalid_code").await;
    let next = app.code(&secret, 1);
    assert_eq!(
        app.verify(&mut thief, json!({ "code": next }))
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_however_it_is_typed() {
    let app = MfaApp::spawn().await;
    let (_, _, codes) = app.enrolled("ada").await;
    assert_eq!(codes.len(), 10);
    let unique: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(unique.len(), 10);
    let typed = codes[3].to_uppercase().replace('-', " ");
    let mut jar = app.password_step("ada").await;
    let response = app
        .verify(&mut jar, json!({ "recovery_code": typed }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(claims(&jar)["amr"], json!(["pwd", "otp", "mfa"]));
    let left: Value = app
        .get(&mut jar, "/api/auth/mfa")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(left["recovery_codes_left"], 9);

    let mut again = app.password_step("ada").await;
    let response = app
        .verify(&mut again, json!({ "recovery_code": codes[3] }))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    // A TOTP code is not a recovery code, nor the other way round.
    let response = app
        .verify(&mut again, json!({ "recovery_code": "123456" }))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    let response = app.verify(&mut again, json!({ "code": codes[4] })).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
}

#[tokio::test]
async fn guessing_codes_is_throttled_and_a_right_password_does_not_reset_the_count() {
    let app = MfaApp::spawn().await;
    let (_, secret, _) = app.enrolled("ada").await;
    let right = app.code(&secret, 0);
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    let mut jar = app.password_step("ada").await;
    for _ in 0..4 {
        let response = app.verify(&mut jar, json!({ "code": wrong })).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
        // The password again, as a thief would to start afresh.
        jar = app.password_step("ada").await;
    }
    let response = app.verify(&mut jar, json!({ "code": wrong })).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    // Five failures: the account waits, even with the right code …
    let response = app.verify(&mut jar, json!({ "code": right })).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    // … and with the right password.
    let mut fresh = Jar::default();
    let response = app.login(&mut fresh, "ada", PASSWORD).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;

    app.advance(Duration::from_secs(3));
    let response = app.verify(&mut jar, json!({ "code": right })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // A completed sign-in forgets the failures: four more are free.
    for _ in 0..4 {
        let mut other = app.password_step("ada").await;
        let response = app.verify(&mut other, json!({ "code": wrong })).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
}

#[tokio::test]
async fn without_the_password_a_second_factor_account_looks_like_any_other() {
    let app = MfaApp::spawn().await;
    app.enrolled("ada").await;
    app.signed_in("bob").await;
    let mut jar = Jar::default();
    for name in ["ada", "bob", "nobody"] {
        let response = app.login(&mut jar, name, "not the password at all").await;
        assert!(
            set_cookies(response.headers())
                .iter()
                .all(|c| c.name != PENDING)
        );
        let body = assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert_eq!(body.as_object().expect("object").len(), 4, "{body}");
    }
}

#[tokio::test]
async fn an_operator_resets_a_users_second_factors_and_the_password_alone_signs_in() {
    let app = MfaApp::spawn().await;
    app.enrolled("ada").await;
    app.password_step("ada").await;
    let out = portcullis_binary()
        .args(["user", "mfa-reset", "ada"])
        .env("PORTCULLIS_DATABASE_URL", &app.database_url)
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("removed the second factors of ada"),
        "{printed}"
    );
    let mut jar = Jar::default();
    assert_eq!(
        app.login(&mut jar, "ada", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(claims(&jar)["amr"], json!(["pwd"]));
    let audit = portcullis_binary()
        .args(["audit", "--user", "ada"])
        .env("PORTCULLIS_DATABASE_URL", &app.database_url)
        .output()
        .expect("the binary runs");
    let log = String::from_utf8_lossy(&audit.stdout);
    for kind in [
        "second_factors_reset",
        "totp_enabled",
        "sign_in_second_factor_required",
    ] {
        assert!(log.contains(kind), "{kind} in {log}");
    }
    let unknown = portcullis_binary()
        .args(["user", "mfa-reset", "nobody"])
        .env("PORTCULLIS_DATABASE_URL", &app.database_url)
        .output()
        .expect("the binary runs");
    assert!(!unknown.status.success());
}

#[tokio::test]
async fn without_a_key_file_totp_is_unavailable() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let response = app.post(&mut jar, "/api/auth/mfa/totp", None).await;
    assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "totp_unavailable",
    )
    .await;
    let response = app
        .post(
            &mut jar,
            "/api/auth/mfa/totp/confirm",
            Some(json!({"code": "123456"})),
        )
        .await;
    assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "totp_unavailable",
    )
    .await;
}

#[tokio::test]
async fn enrolment_is_confirmed_by_a_code_once_and_then_refuses_another() {
    let app = MfaApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let response = app.confirm(&mut jar, "123456").await;
    assert_problem(response, StatusCode::CONFLICT, "no_totp_enrolment").await;
    let first = app.begin(&mut jar).await;
    // A second start replaces the first secret, which no longer confirms.
    let second = app.begin(&mut jar).await;
    let stale = app.code(&first, 0);
    if stale != app.code(&second, 0) {
        let response = app.confirm(&mut jar, &stale).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    for junk in ["", "12345", "1234567", "abcdef", &"9".repeat(5000)] {
        let response = app.confirm(&mut jar, junk).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    let code = app.code(&second, 0);
    assert_eq!(app.confirm(&mut jar, &code).await.status(), StatusCode::OK);
    let response = app.confirm(&mut jar, &code).await;
    assert_problem(response, StatusCode::CONFLICT, "totp_already_enabled").await;
    let response = app.post(&mut jar, "/api/auth/mfa/totp", None).await;
    assert_problem(response, StatusCode::CONFLICT, "totp_already_enabled").await;
}
