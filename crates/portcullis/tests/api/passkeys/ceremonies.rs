//! Every way a ceremony's answer can be wrong: malformed, oversized,
//! replayed, for another's challenge, forged, from another origin, of an
//! unknown or cloned credential. Each is refused with a stable code, never
//! a 500, and a refused sign-in counts against the limits.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::authenticator::unb64;
use super::{ORIGIN, PasskeyApp, SoftAuthenticator, code};
use crate::helpers::*;

/// Changes one byte of the base64url field `field` of the assertion's
/// response.
fn tamper(credential: &mut Value, field: &str) {
    use base64::Engine;
    let text = credential["response"][field].as_str().expect("field");
    let mut bytes = unb64(text);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    credential["response"][field] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(bytes)
        .into();
}

#[tokio::test]
async fn malformed_and_oversized_sign_ins_are_refused_cleanly() {
    let app = PasskeyApp::spawn().await;
    let (ceremony, _) = app.login_start().await;
    for credential in [
        json!(null),
        json!("text"),
        json!({}),
        json!({"id": "x", "rawId": "!!", "type": "public-key", "response": {}}),
        json!({"id": "AA", "rawId": "AA", "type": "public-key", "response": {
            "authenticatorData": "AA", "clientDataJSON": "AA", "signature": "AA", "userHandle": "AA"}}),
    ] {
        let response = app
            .login_finish(&mut Jar::default(), &ceremony, credential.clone())
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{credential}");
        assert_eq!(code(response).await, "invalid_passkey");
    }
    for body in [
        json!({}),
        json!({"ceremony": 1, "credential": {}}),
        json!({"credential": {}}),
    ] {
        let response = app
            .post(
                &mut Jar::default(),
                "/api/auth/passkeys/login/finish",
                Some(body),
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let huge = json!({"ceremony": ceremony, "credential": {"id": "a".repeat(64 * 1024)}});
    let response = app
        .post(
            &mut Jar::default(),
            "/api/auth/passkeys/login/finish",
            Some(huge),
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let response = app
        .client
        .post(app.url("/api/auth/passkeys/login/finish"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_challenge_is_answered_once() {
    let app = PasskeyApp::spawn().await;
    let (_, mut authenticator) = app.with_passkey("ada").await;
    let (ceremony, options) = app.login_start().await;
    let assertion = authenticator.get(&options);
    let response = app
        .login_finish(&mut Jar::default(), &ceremony, assertion.clone())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = app
        .login_finish(&mut Jar::default(), &ceremony, assertion)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(response).await, "invalid_passkey");
    // A made-up ceremony id is no challenge either.
    let (_, options) = app.login_start().await;
    let response = app
        .login_finish(
            &mut Jar::default(),
            "not-a-ceremony",
            authenticator.get(&options),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_assertion_for_another_challenge_is_refused() {
    let app = PasskeyApp::spawn().await;
    let (_, mut authenticator) = app.with_passkey("ada").await;
    let (_, first) = app.login_start().await;
    let (second, _) = app.login_start().await;
    let response = app
        .login_finish(&mut Jar::default(), &second, authenticator.get(&first))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(response).await, "invalid_passkey");
}

#[tokio::test]
async fn forged_signatures_and_data_are_refused() {
    let app = PasskeyApp::spawn().await;
    let (_, mut authenticator) = app.with_passkey("ada").await;
    for field in ["signature", "authenticatorData", "clientDataJSON"] {
        let (ceremony, options) = app.login_start().await;
        let mut assertion = authenticator.get(&options);
        tamper(&mut assertion, field);
        let response = app
            .login_finish(&mut Jar::default(), &ceremony, assertion)
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{field}");
        assert_eq!(code(response).await, "invalid_passkey");
    }
    // Another key claiming the credential and the user handle.
    let mut impostor = SoftAuthenticator::new(ORIGIN);
    let mut own = app.signed_in("mallory").await;
    impostor.create(&app.register_start(&mut own).await);
    impostor.credentials[0].id = authenticator.credentials[0].id.clone();
    impostor.credentials[0].user_handle = authenticator.credentials[0].user_handle.clone();
    let (ceremony, options) = app.login_start().await;
    let response = app
        .login_finish(&mut Jar::default(), &ceremony, impostor.get(&options))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The genuine key still works.
    let (_, status) = app.passkey_sign_in(&mut authenticator).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn an_assertion_made_for_another_site_is_refused() {
    let app = PasskeyApp::spawn().await;
    let (_, mut authenticator) = app.with_passkey("ada").await;
    let (ceremony, options) = app.login_start().await;
    let assertion = authenticator.get_with(&options, 0, Some("https://evil.example"));
    let response = app
        .login_finish(&mut Jar::default(), &ceremony, assertion)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(response).await, "invalid_passkey");
    // And a registration made at another origin.
    let mut jar = app.signed_in("bob").await;
    let options = app.register_start(&mut jar).await;
    let mut phished = SoftAuthenticator::new("https://auth.example.com.evil.example");
    let credential = phished.create(&options);
    let response = app.register_finish(&mut jar, "Key", credential).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(response).await, "invalid_passkey");
}

#[tokio::test]
async fn an_unknown_credential_is_refused() {
    let app = PasskeyApp::spawn().await;
    app.with_passkey("ada").await;
    // A key registered nowhere (its ceremony was never finished).
    let mut stranger = SoftAuthenticator::new(ORIGIN);
    let mut jar = app.signed_in("bob").await;
    stranger.create(&app.register_start(&mut jar).await);
    let (_, status) = app.passkey_sign_in(&mut stranger).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_cloned_authenticator_is_refused_once_its_counter_falls_behind() {
    let app = PasskeyApp::spawn().await;
    let (_, mut original) = app.with_passkey("ada").await;
    let mut clone = SoftAuthenticator::new(ORIGIN);
    clone.credentials = original.credentials.clone();
    let (_, status) = app.passkey_sign_in(&mut original).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, status) = app.passkey_sign_in(&mut original).await;
    assert_eq!(status, StatusCode::CREATED);
    // The clone's counter is behind the original's.
    let (_, status) = app.passkey_sign_in(&mut clone).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_registration_answers_only_its_own_sessions_challenge() {
    let app = PasskeyApp::spawn().await;
    let mut ada = app.signed_in("ada").await;
    let mut bob = app.signed_in("bob").await;
    let options = app.register_start(&mut ada).await;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let credential = authenticator.create(&options);
    // Bob has no registration under way; Ada's challenge is not his.
    let response = app
        .register_finish(&mut bob, "Key", credential.clone())
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(response).await, "invalid_passkey");
    let response = app.register_finish(&mut ada, "", credential.clone()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(response).await, "invalid_passkey_name");
    let response = app
        .register_finish(&mut ada, "Key", credential.clone())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // Replayed: the challenge was taken.
    let response = app.register_finish(&mut ada, "Key", credential).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    for credential in [
        json!(null),
        json!({}),
        json!({"id": "AA", "rawId": "AA", "type": "public-key",
        "response": {"attestationObject": "AA", "clientDataJSON": "AA"}}),
    ] {
        app.register_start(&mut ada).await;
        let response = app.register_finish(&mut ada, "Key", credential).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(code(response).await, "invalid_passkey");
    }
    // Not signed in at all.
    let response = app
        .post(
            &mut Jar::default(),
            "/api/auth/passkeys/register/start",
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cross_site_requests_are_refused_before_any_ceremony() {
    let app = PasskeyApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    for path in [
        "/api/auth/passkeys/login/start",
        "/api/auth/passkeys/login/finish",
        "/api/auth/passkeys/register/start",
        "/api/auth/passkeys/register/finish",
        "/api/auth/mfa/webauthn/start",
        "/api/auth/reauthenticate/webauthn/start",
    ] {
        let response = app
            .client
            .post(app.url(path))
            .header("cookie", jar.header().expect("cookies"))
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .json(&json!({}))
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(code(response).await, "cross_site_request");
    }
    let _ = &mut jar;
}

#[tokio::test]
async fn refused_passkey_sign_ins_count_against_the_limits() {
    let app = PasskeyApp::spawn().await;
    let (_, mut authenticator) = app.with_passkey("ada").await;
    let mut throttled = false;
    for _ in 0..30 {
        let (ceremony, options) = app.login_start().await;
        let mut assertion = authenticator.get(&options);
        tamper(&mut assertion, "signature");
        let response = app
            .login_finish(&mut Jar::default(), &ceremony, assertion)
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            assert!(response.headers().contains_key("retry-after"));
            break;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(throttled, "bad assertions are throttled");
}
