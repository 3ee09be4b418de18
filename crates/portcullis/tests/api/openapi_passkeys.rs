//! The passkey routes' part of `openapi_statuses`: every status their
//! documentation lists, provoked for real (503 with the database cut is in
//! `openapi_statuses::database_down`, and 401/429 of a missing or throttled
//! session come from its list of session routes).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::mfa::MfaApp;
use crate::openapi_statuses::{Calls, Probe};
use crate::passkeys::{ORIGIN, PasskeyApp, SoftAuthenticator};

pub const REGISTER_START: &str = "/api/auth/passkeys/register/start";
pub const REGISTER_FINISH: &str = "/api/auth/passkeys/register/finish";
pub const LIST: &str = "/api/auth/passkeys";
pub const LOGIN_START: &str = "/api/auth/passkeys/login/start";
pub const LOGIN_FINISH: &str = "/api/auth/passkeys/login/finish";
pub const MFA_START: &str = "/api/auth/mfa/webauthn/start";
pub const REAUTH_START: &str = "/api/auth/reauthenticate/webauthn/start";

pub(crate) async fn passkey_routes(probe: &Probe) {
    unavailable(probe).await;
    let app = PasskeyApp::spawn().await;
    let calls = Calls(&app);
    let none = Jar::default();
    let mut ada = app.signed_in("ada").await;
    let one = format!("{LIST}/{}", uuid::Uuid::new_v4());

    // Bodies: malformed, oversized, not JSON, missing fields.
    let large = json!({"name": "x".repeat(64 * 1024)});
    let mut cases = Vec::new();
    for (method, path) in [
        (Method::POST, REGISTER_FINISH.to_owned()),
        (Method::POST, LOGIN_FINISH.to_owned()),
        (Method::PATCH, one.clone()),
    ] {
        let typed = |content_type| {
            calls
                .call(method.clone(), &path, &ada)
                .header("content-type", content_type)
        };
        cases.push((typed("application/json").body("{"), "400"));
        cases.push((calls.call(method.clone(), &path, &ada).json(&large), "413"));
        cases.push((typed("text/plain").body("{}"), "415"));
    }
    probe.all(cases).await;

    // Registration.
    let mut bob = app.signed_in("bob").await;
    let mut key = SoftAuthenticator::new(ORIGIN);
    // A credential for a challenge that a new start replaced.
    let options = app.register_start(&mut bob).await;
    let stale = key.create(&options);
    probe.expect(calls.post(REGISTER_START, &bob), "200").await;
    probe
        .expect(
            calls
                .post(REGISTER_FINISH, &bob)
                .json(&json!({"name": "Key", "credential": stale})),
            "400",
        )
        .await;
    let options = app.register_start(&mut bob).await;
    let credential = key.create(&options);
    probe
        .expect(
            calls
                .post(REGISTER_FINISH, &bob)
                .json(&json!({"name": "Key", "credential": credential})),
            "201",
        )
        .await;
    // Bob's credential offered for another account (Bob's own are
    // excluded by the ceremony itself).
    let mut carl = app.signed_in("carl").await;
    let options = app.register_start(&mut carl).await;
    let again = key.create_with(&options, Some(1));
    probe
        .expect(
            calls
                .post(REGISTER_FINISH, &carl)
                .json(&json!({"name": "Key", "credential": again})),
            "409",
        )
        .await;
    probe.expect(calls.get(LIST, &bob), "200").await;
    let id = app.passkeys(&mut bob).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("{LIST}/{id}");
    probe
        .expect(
            calls
                .call(Method::PATCH, &path, &bob)
                .json(&json!({"name": "Laptop"})),
            "204",
        )
        .await;
    probe
        .expect(
            calls
                .call(Method::PATCH, &path, &ada)
                .json(&json!({"name": "Mine"})),
            "404",
        )
        .await;
    probe
        .expect(calls.call(Method::DELETE, &path, &ada), "404")
        .await;

    // Usernameless sign-in.
    probe.expect(calls.post(LOGIN_START, &none), "200").await;
    let (ceremony, _) = app.login_start().await;
    probe
        .expect(
            calls
                .post(LOGIN_FINISH, &none)
                .json(&json!({"credential": {}})),
            "400",
        )
        .await;
    probe
        .expect(
            calls
                .post(LOGIN_FINISH, &none)
                .json(&json!({"ceremony": ceremony, "credential": {}})),
            "401",
        )
        .await;
    let started: Value = app
        .post(&mut Jar::default(), LOGIN_START, None)
        .await
        .json()
        .await
        .expect("json");
    let assertion = key.get_with(&started["options"], 1, None);
    probe
        .expect(
            calls.post(LOGIN_FINISH, &none).json(&json!({
                "ceremony": started["ceremony"], "credential": assertion,
            })),
            "201",
        )
        .await;

    // Second factor and re-authentication challenges.
    let mut waiting = Jar::default();
    app.login(&mut waiting, "bob", PASSWORD).await;
    probe.expect(calls.post(MFA_START, &waiting), "200").await;
    probe.expect(calls.post(MFA_START, &none), "401").await;
    probe.expect(calls.post(REAUTH_START, &bob), "200").await;
    probe.expect(calls.post(REAUTH_START, &ada), "409").await;
    probe
        .expect(calls.call(Method::DELETE, &path, &bob), "204")
        .await;

    // An account without a password (as one made at a provider) and no
    // identity: its only passkey is its only way in.
    let (mut erin, _) = app.with_passkey("erin").await;
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("opens");
    sqlx::query("UPDATE users SET password_hash = '' WHERE username = 'erin'")
        .execute(&pool)
        .await
        .expect("updates");
    pool.close().await;
    let id = app.passkeys(&mut erin).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    probe
        .expect(
            calls.call(Method::DELETE, &format!("{LIST}/{id}"), &erin),
            "409",
        )
        .await;

    // Twenty passkeys are the most an account holds.
    for _ in 0..20 {
        let options = app.register_start(&mut ada).await;
        let credential = key.create(&options);
        let response = app.register_finish(&mut ada, "Key", credential).await;
        assert_eq!(response.status(), 201);
    }
    probe.expect(calls.post(REGISTER_START, &ada), "409").await;

    // The re-authentication window.
    app.advance(std::time::Duration::from_secs(11 * 60));
    probe.expect(calls.post(REGISTER_START, &bob), "403").await;

    throttled(probe).await;
}

/// 404 `passkeys_unavailable` without `public_url`; 409 of an account
/// with TOTP and no passkey.
async fn unavailable(probe: &Probe) {
    let app = MfaApp::spawn().await;
    let calls = Calls(&app);
    let none = Jar::default();
    let ada = app.signed_in("ada").await;
    let one = format!("{LIST}/{}", uuid::Uuid::new_v4());
    let (_carol, _, _) = app.enrolled("carol").await;
    let waiting = app.password_step("carol").await;
    probe
        .all(vec![
            (calls.post(REGISTER_START, &ada), "404"),
            (
                calls
                    .post(REGISTER_FINISH, &ada)
                    .json(&json!({"name": "Key", "credential": {}})),
                "404",
            ),
            (calls.get(LIST, &ada), "404"),
            (
                calls
                    .call(Method::PATCH, &one, &ada)
                    .json(&json!({"name": "Key"})),
                "404",
            ),
            (calls.call(Method::DELETE, &one, &ada), "404"),
            (calls.post(LOGIN_START, &none), "404"),
            (
                calls
                    .post(LOGIN_FINISH, &none)
                    .json(&json!({"ceremony": "x", "credential": {}})),
                "404",
            ),
            (calls.post(MFA_START, &waiting), "404"),
            (calls.post(REAUTH_START, &ada), "404"),
            (
                calls
                    .post("/api/auth/mfa/verify", &waiting)
                    .json(&json!({"webauthn": {}})),
                "404",
            ),
            (
                calls
                    .post("/api/auth/reauthenticate", &ada)
                    .json(&json!({"webauthn": {}})),
                "404",
            ),
        ])
        .await;
    // With passkeys on, an account with TOTP only has no passkey to ask for.
    let app = MfaApp::spawn_with(&[("PORTCULLIS_PUBLIC_URL", ORIGIN)]).await;
    app.enrolled("dora").await;
    let waiting = app.password_step("dora").await;
    probe
        .expect(Calls(&app).post(MFA_START, &waiting), "409")
        .await;
}

/// 429: a passkey sign-in counts against the per-address limit of sign-ins.
async fn throttled(probe: &Probe) {
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_PUBLIC_URL", ORIGIN),
        ("PORTCULLIS_ADDRESS_LOGIN_ATTEMPTS", "1/1h"),
    ])
    .await;
    let calls = Calls(&app);
    let none = Jar::default();
    let body = json!({"ceremony": "x", "credential": {}});
    probe
        .all(vec![
            (calls.post(LOGIN_FINISH, &none).json(&body), "401"),
            (calls.post(LOGIN_FINISH, &none).json(&body), "429"),
        ])
        .await;
}
