//! Recent authentication: the factors change only within
//! `reauthentication_window` of a sign-in or a re-authentication on the
//! session, while the password and the address keep their own proof.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::*;

const WINDOW: Duration = Duration::from_secs(10 * 60);

#[tokio::test]
async fn enrolling_needs_a_recent_sign_in_or_the_password_again() {
    let app = MfaApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    app.advance(WINDOW + Duration::from_secs(1));
    let response = app.post(&mut jar, "/api/auth/mfa/totp", None).await;
    assert_problem(response, StatusCode::FORBIDDEN, "reauthentication_required").await;

    let wrong = json!({"password": "not the password at all"});
    let response = app
        .post(&mut jar, "/api/auth/reauthenticate", Some(wrong))
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "invalid_credentials").await;
    for body in [json!({}), json!({"password": PASSWORD, "code": "123456"})] {
        let response = app
            .post(&mut jar, "/api/auth/reauthenticate", Some(body))
            .await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let right = json!({ "password": PASSWORD });
    let response = app
        .post(&mut jar, "/api/auth/reauthenticate", Some(right))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.begin(&mut jar).await;

    app.advance(WINDOW + Duration::from_secs(1));
    let response = app.post(&mut jar, "/api/auth/mfa/totp", None).await;
    assert_problem(response, StatusCode::FORBIDDEN, "reauthentication_required").await;
}

#[tokio::test]
async fn removing_totp_or_renewing_codes_needs_a_code_once_the_window_has_passed() {
    let app = MfaApp::spawn().await;
    let (mut jar, secret, old_codes) = app.enrolled("ada").await;
    app.advance(WINDOW + Duration::from_secs(1));
    let response = app
        .post(&mut jar, "/api/auth/mfa/recovery-codes", None)
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let response = app
        .send(
            &mut jar,
            reqwest::Method::DELETE,
            "/api/auth/mfa/totp",
            None,
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "reauthentication_required").await;
    // With a second factor on, the password alone is not enough: a thief
    // with the session and a phished password must not remove it.
    let password = json!({ "password": PASSWORD });
    let response = app
        .post(&mut jar, "/api/auth/reauthenticate", Some(password))
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let wrong = json!({"code": if app.code(&secret, 0) == "000000" { "111111" } else { "000000" }});
    let response = app
        .post(&mut jar, "/api/auth/reauthenticate", Some(wrong))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    let code = json!({ "code": app.code(&secret, 0) });
    let response = app
        .post(&mut jar, "/api/auth/reauthenticate", Some(code.clone()))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The same code again is a replay.
    let response = app
        .post(&mut jar, "/api/auth/reauthenticate", Some(code))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;

    let response = app
        .post(&mut jar, "/api/auth/mfa/recovery-codes", None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.expect("json");
    let new_codes = body["recovery_codes"].as_array().expect("codes");
    assert_eq!(new_codes.len(), 10);
    let mut waiting = app.password_step("ada").await;
    let response = app
        .verify(&mut waiting, json!({ "recovery_code": old_codes[0] }))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;

    let response = app
        .send(
            &mut jar,
            reqwest::Method::DELETE,
            "/api/auth/mfa/totp",
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .send(
            &mut jar,
            reqwest::Method::DELETE,
            "/api/auth/mfa/totp",
            None,
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "no_second_factor").await;
    let response = app
        .post(&mut jar, "/api/auth/mfa/recovery-codes", None)
        .await;
    assert_problem(response, StatusCode::CONFLICT, "no_second_factor").await;
    let mut fresh = Jar::default();
    assert_eq!(
        app.login(&mut fresh, "ada", PASSWORD).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn the_password_and_the_address_change_with_their_own_proof_whenever() {
    let app = MfaApp::spawn().await;
    let (mut jar, _, _) = app.enrolled("ada").await;
    app.advance(WINDOW * 3);
    let change = json!({"current_password": PASSWORD, "new_password": "a brand new horse battery"});
    let response = app.post(&mut jar, "/api/auth/password", Some(change)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_sign_in_with_a_code_opens_the_window_and_reading_needs_none() {
    let app = MfaApp::spawn().await;
    let (_, secret, _) = app.enrolled("ada").await;
    let mut jar = app.password_step("ada").await;
    let code = app.code(&secret, 0);
    assert_eq!(
        app.verify(&mut jar, json!({ "code": code })).await.status(),
        StatusCode::CREATED
    );
    app.advance(WINDOW * 2);
    assert_eq!(
        app.get(&mut jar, "/api/auth/mfa").await.status(),
        StatusCode::OK
    );
    let mut second = app.password_step("ada").await;
    let code = app.code(&secret, 0);
    assert_eq!(
        app.verify(&mut second, json!({ "code": code }))
            .await
            .status(),
        StatusCode::CREATED
    );
    let response = app
        .post(&mut second, "/api/auth/mfa/recovery-codes", None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}
