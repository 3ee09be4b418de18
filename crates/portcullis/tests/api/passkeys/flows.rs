//! What a user does with passkeys: register, list, rename, delete; sign in
//! with one alone; use one after the password; prove themselves again.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{ORIGIN, PasskeyApp, SoftAuthenticator, code};
use crate::helpers::*;
use crate::mfa::{PENDING, claims};

#[tokio::test]
async fn without_a_public_url_passkeys_are_unavailable() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    for (path, signed_in) in [
        ("/api/auth/passkeys/login/start", false),
        ("/api/auth/passkeys/register/start", true),
    ] {
        let mut jar = if signed_in {
            jar.clone()
        } else {
            Jar::default()
        };
        let response = app.post(&mut jar, path, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(code(response).await, "passkeys_unavailable");
    }
    let response = app.get(&mut jar, "/api/auth/passkeys").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(code(response).await, "passkeys_unavailable");
}

#[tokio::test]
async fn a_registered_passkey_signs_in_alone_with_its_amr() {
    let app = PasskeyApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let options = app.register_start(&mut jar).await;
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(options["publicKey"]["rp"]["id"], "auth.example.com");
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let credential = authenticator.create(&options);
    let response = app.register_finish(&mut jar, "  Laptop ", credential).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("json");
    assert_eq!(created["name"], "Laptop");
    assert_eq!(created["last_used_at"], Value::Null);

    let (ceremony, options) = app.login_start().await;
    assert_eq!(options["publicKey"]["allowCredentials"], json!([]));
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let mut fresh = Jar::default();
    let response = app
        .login_finish(&mut fresh, &ceremony, authenticator.get(&options))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["user"]["username"], "ada");
    assert!(
        fresh.cookies.contains_key("__Host-device"),
        "a device cookie"
    );
    assert_eq!(claims(&fresh)["amr"], json!(["hwk", "user"]));

    let listed = app.passkeys(&mut fresh).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "Laptop");
    assert!(listed[0]["last_used_at"].is_string(), "{listed:?}");
}

#[tokio::test]
async fn a_synced_passkey_is_a_software_key() {
    let app = PasskeyApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    authenticator.synced = true;
    let response = app.add_passkey(&mut jar, &mut authenticator, "Phone").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (jar, status) = app.passkey_sign_in(&mut authenticator).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(claims(&jar)["amr"], json!(["swk", "user"]));
}

#[tokio::test]
async fn after_the_password_a_passkey_completes_the_sign_in() {
    let app = PasskeyApp::spawn().await;
    let (mut owner, mut authenticator) = app.with_passkey("ada").await;
    let factors: Value = app
        .get(&mut owner, "/api/auth/mfa")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(factors["methods"], json!(["webauthn"]));
    assert_eq!(factors["passkey"], true);

    let mut jar = Jar::default();
    let response = app.login(&mut jar, "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body, json!({"mfa_required": true, "methods": ["webauthn"]}));
    assert!(jar.cookies.contains_key(PENDING));

    let response = app
        .post(&mut jar, "/api/auth/mfa/webauthn/start", None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let options: Value = response.json().await.expect("json");
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let assertion = authenticator.get(&options);
    let response = app
        .post(
            &mut jar,
            "/api/auth/mfa/verify",
            Some(json!({"webauthn": assertion})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(claims(&jar)["amr"], json!(["pwd", "hwk", "mfa"]));
    assert!(
        !jar.cookies.contains_key(PENDING),
        "the pending cookie is cleared"
    );

    // The same assertion again, on a new waiting sign-in: its challenge
    // was another's, and its counter is spent.
    let mut again = Jar::default();
    app.login(&mut again, "ada", PASSWORD).await;
    app.post(&mut again, "/api/auth/mfa/webauthn/start", None)
        .await;
    let response = app
        .post(
            &mut again,
            "/api/auth/mfa/verify",
            Some(json!({"webauthn": assertion})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(response).await, "invalid_passkey");
}

#[tokio::test]
async fn a_challenge_for_one_waiting_sign_in_does_not_complete_another() {
    let app = PasskeyApp::spawn().await;
    let (_ada, mut ada_key) = app.with_passkey("ada").await;
    let (_bob, _) = app.with_passkey("bob").await;
    let mut ada = Jar::default();
    app.login(&mut ada, "ada", PASSWORD).await;
    let options: Value = app
        .post(&mut ada, "/api/auth/mfa/webauthn/start", None)
        .await
        .json()
        .await
        .expect("json");
    let assertion = ada_key.get(&options);
    let mut bob = Jar::default();
    app.login(&mut bob, "bob", PASSWORD).await;
    app.post(&mut bob, "/api/auth/mfa/webauthn/start", None)
        .await;
    let response = app
        .post(
            &mut bob,
            "/api/auth/mfa/verify",
            Some(json!({"webauthn": assertion})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(response).await, "invalid_passkey");
    // Without a pending sign-in there is no challenge at all.
    let response = app
        .post(&mut Jar::default(), "/api/auth/mfa/webauthn/start", None)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(response).await, "mfa_expired");
}

#[tokio::test]
async fn changes_to_passkeys_need_a_recent_authentication_which_a_passkey_gives() {
    let app = PasskeyApp::spawn().await;
    let (mut jar, mut authenticator) = app.with_passkey("ada").await;
    let id = app.passkeys(&mut jar).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.advance(Duration::from_secs(11 * 60));
    for response in [
        app.post(&mut jar, "/api/auth/passkeys/register/start", None)
            .await,
        app.patch(
            &mut jar,
            &format!("/api/auth/passkeys/{id}"),
            json!({"name": "x"}),
        )
        .await,
        app.delete(&mut jar, &format!("/api/auth/passkeys/{id}"))
            .await,
    ] {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(code(response).await, "reauthentication_required");
    }
    // The password is not enough once there is a second factor.
    let response = app
        .post(
            &mut jar,
            "/api/auth/reauthenticate",
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(code(response).await, "reauthentication_required");
    let response = app
        .post(&mut jar, "/api/auth/reauthenticate/webauthn/start", None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let options: Value = response.json().await.expect("json");
    let response = app
        .post(
            &mut jar,
            "/api/auth/reauthenticate",
            Some(json!({"webauthn": authenticator.get(&options)})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .patch(
            &mut jar,
            &format!("/api/auth/passkeys/{id}"),
            json!({"name": "Work laptop"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.passkeys(&mut jar).await[0]["name"], "Work laptop");
}

#[tokio::test]
async fn a_deleted_passkey_no_longer_signs_in_and_others_cannot_touch_it() {
    let app = PasskeyApp::spawn().await;
    let (mut ada, mut authenticator) = app.with_passkey("ada").await;
    let mut bob = app.signed_in("bob").await;
    let id = app.passkeys(&mut ada).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/auth/passkeys/{id}");
    let response = app.patch(&mut bob, &path, json!({"name": "mine"})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(code(response).await, "not_found");
    assert_eq!(
        app.delete(&mut bob, &path).await.status(),
        StatusCode::NOT_FOUND
    );
    for name in ["", "   ", &"x".repeat(65), "a\nb"] {
        let response = app.patch(&mut ada, &path, json!({"name": name})).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name:?}");
        assert_eq!(code(response).await, "invalid_passkey_name");
    }
    assert_eq!(
        app.delete(&mut ada, &path).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&mut ada, &path).await.status(),
        StatusCode::NOT_FOUND
    );
    let (_, status) = app.passkey_sign_in(&mut authenticator).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Without a passkey, the password alone signs in again.
    let response = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_disabled_account_does_not_sign_in_with_its_passkey() {
    let app = PasskeyApp::spawn().await;
    let (jar, mut authenticator) = app.with_passkey("ada").await;
    let id = claims(&jar)["sub"]
        .as_str()
        .expect("sub")
        .parse()
        .expect("a user id");
    app.auth.disable_user(id).await.expect("disabled");
    let (_, status) = app.passkey_sign_in(&mut authenticator).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unverified_address_is_refused_only_after_the_passkey() {
    let mut settings = crate::openapi_email::MAIL_SETTINGS.to_vec();
    settings.push(("PORTCULLIS_REQUIRE_VERIFIED_EMAIL", "true"));
    let app = TestApp::spawn_with(&settings).await;
    let origin = settings
        .iter()
        .find(|(k, _)| *k == "PORTCULLIS_PUBLIC_URL")
        .expect("a public url")
        .1;
    let mut jar = Jar::default();
    assert_eq!(
        app.register(&mut jar, "ada").await.status(),
        StatusCode::CREATED
    );
    let id = crate::mfa::admission::id_of(&app, "ada").await;
    crate::mfa::admission::set_verified(&app, id, true).await;
    let mut owner = Jar::default();
    assert_eq!(
        app.login(&mut owner, "ada", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let mut authenticator = SoftAuthenticator::new(origin);
    let pk = PasskeyApp { app };
    let response = pk.add_passkey(&mut owner, &mut authenticator, "Key").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    crate::mfa::admission::set_verified(&pk, id, false).await;
    let (ceremony, options) = pk.login_start().await;
    let mut fresh = Jar::default();
    let response = pk
        .login_finish(&mut fresh, &ceremony, authenticator.get(&options))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(response).await, "email_not_verified");
    assert!(fresh.access().is_none());
}

#[tokio::test]
async fn an_operator_reset_removes_the_passkeys_too() {
    let app = PasskeyApp::spawn().await;
    let (_, mut authenticator) = app.with_passkey("ada").await;
    let out = portcullis_binary()
        .args(["user", "mfa-reset", "ada"])
        .env("PORTCULLIS_DATABASE_URL", &app.database_url)
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{out:?}");
    let (_, status) = app.passkey_sign_in(&mut authenticator).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut jar = Jar::default();
    assert_eq!(
        app.login(&mut jar, "ada", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    assert!(app.passkeys(&mut jar).await.is_empty());
}
