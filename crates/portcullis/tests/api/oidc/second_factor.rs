//! Sign-in with a provider meets the account's own second factor, recent
//! authentication and the `amr` claim, against a provider of our own (its
//! ID tokens say what the tests choose, `amr` included).

use std::time::Duration;

use portcullis::auth::one_time_codes::{TotpSecret, step_of};
use portcullis::clock::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

const PENDING: &str = "__Host-mfa_pending";
const LINK: &str = "__Host-oidc_link";

/// Portcullis with TOTP on and the fake provider; the key file's directory.
async fn app_at(op: &FakeOp) -> (OidcApp, tempfile::TempDir) {
    let (dir, key) = crate::mfa::key_file();
    let app = OidcApp::spawn(
        free_port(),
        &op.issuer,
        &[("PORTCULLIS_MFA_KEY_FILE", key.as_str())],
    )
    .await;
    (app, dir)
}

/// A sign-in at the fake provider as `sub` (address `email`), whose ID
/// token names `amr` (or none): the callback's answer.
pub(super) async fn through_provider(
    app: &OidcApp,
    op: &FakeOp,
    jar: &mut Jar,
    (sub, email): (&str, &str),
    amr: Option<Value>,
) -> reqwest::Response {
    let authorization = app.start(jar, "/account").await;
    let now = now_secs(app);
    let mut claims = json!({
        "iss": op.issuer,
        "sub": sub,
        "aud": CLIENT_ID,
        "exp": now + 300,
        "iat": now,
        "nonce": param(&authorization, "nonce"),
        "email": email,
        "email_verified": true,
        "preferred_username": sub,
    });
    if let Some(amr) = amr {
        claims["amr"] = amr;
    }
    op.will_sign(claims);
    let state = param(&authorization, "state");
    app.callback(jar, &format!("code=c&state={state}")).await
}

/// Turns TOTP on for the signed-in `jar`: the secret.
async fn enrol(app: &OidcApp, jar: &mut Jar) -> TotpSecret {
    let response = app.post(jar, "/api/auth/mfa/totp", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON");
    let secret = TotpSecret::from_base32(body["secret"].as_str().expect("secret")).expect("base32");
    // The current step: the next one is left for the sign-ins below.
    let code = secret
        .code_at_step(step_of(app.clock.now()))
        .expect("a code");
    let response = app
        .post(
            jar,
            "/api/auth/mfa/totp/confirm",
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    secret
}

/// A code the server takes once: of the step after its clock's (codes are
/// accepted one step either side), so that it follows the one the
/// enrolment spent, wherever the callbacks moved the clock.
fn next_code(app: &OidcApp, secret: &TotpSecret) -> String {
    secret
        .code_at_step(step_of(app.clock.now()) + 1)
        .expect("a code")
}

pub(super) async fn identities(app: &OidcApp, jar: &mut Jar) -> Value {
    app.get(jar, "/api/auth/identities")
        .await
        .json()
        .await
        .expect("JSON")
}

#[tokio::test]
async fn a_providers_amr_is_passed_on_by_the_registry_and_never_becomes_a_password_of_ours() {
    let op = FakeOp::spawn().await;
    let (app, _key) = app_at(&op).await;
    let mut jar = Jar::default();
    let amr = json!(["hwk", "magic", "hwk"]);
    let response =
        through_provider(&app, &op, &mut jar, ("eve", "eve@example.com"), Some(amr)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let claims = jwt_claims(jar.access().expect("access"));
    assert_eq!(claims["amr"], json!(["hwk"]));
    assert_eq!(claims["idp"], PROVIDER);
    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    let claims = jwt_claims(jar.access().expect("access"));
    assert_eq!(claims["amr"], json!(["hwk"]));
    assert_eq!(claims["idp"], PROVIDER);

    // A provider that names nothing (as GitHub): no claim rather than a guess.
    let mut again = Jar::default();
    let response = through_provider(&app, &op, &mut again, ("eve", "eve@example.com"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let claims = jwt_claims(again.access().expect("access"));
    assert!(claims.get("amr").is_none(), "{claims}");
    let sessions: Value = app
        .get(&mut again, "/api/auth/sessions")
        .await
        .json()
        .await
        .expect("JSON");
    let current = sessions["sessions"]
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["current"] == true)
        .expect("this session")
        .clone();
    assert_eq!(current["amr"], json!([]));
    assert_eq!(current["idp"], PROVIDER);

    // The account has no password: one offered to re-authenticate is wrong.
    let response = app
        .post(
            &mut again,
            "/api/auth/reauthenticate",
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "invalid_credentials").await;
}

#[tokio::test]
async fn an_account_with_totp_signed_in_at_its_provider_still_needs_its_code() {
    let op = FakeOp::spawn().await;
    let (app, _key) = app_at(&op).await;
    let mut first = Jar::default();
    let who = ("frank", "frank@example.com");
    let response = through_provider(&app, &op, &mut first, who, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    // The sign-in just completed is a fresh authentication: no re-proof.
    let secret = enrol(&app, &mut first).await;

    let mut jar = Jar::default();
    let response = through_provider(&app, &op, &mut jar, who, Some(json!(["pwd"]))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let set = set_cookies(response.headers());
    assert!(
        set.iter()
            .any(|c| c.name == PENDING && c.max_age == Some(300)),
        "{set:?}"
    );
    assert!(
        set.iter().all(|c| c.name != ACCESS && c.name != REFRESH),
        "{set:?}"
    );
    assert!(jar.access().is_none());
    assert!(continues_to(response, "/login/verify?next=%2Faccount").await);

    let wrong = if next_code(&app, &secret) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let response = app
        .post(
            &mut jar,
            "/api/auth/mfa/verify",
            Some(json!({ "code": wrong })),
        )
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    let code = next_code(&app, &secret);
    let response = app
        .post(
            &mut jar,
            "/api/auth/mfa/verify",
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let claims = jwt_claims(jar.access().expect("access"));
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["idp"], PROVIDER);
    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    let claims = jwt_claims(jar.access().expect("access"));
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["idp"], PROVIDER);
}

#[tokio::test]
async fn a_pending_link_waits_for_the_second_factor_of_the_password_sign_in() {
    let op = FakeOp::spawn().await;
    let (app, _key) = app_at(&op).await;
    let mut carol = app.signed_in("carol").await;
    let secret = enrol(&app, &mut carol).await;

    let mut jar = Jar::default();
    let response = through_provider(
        &app,
        &op,
        &mut jar,
        ("carol-at-op", "carol@example.com"),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(jar.cookies.contains_key(LINK));

    // The password is right, but the sign-in is not complete: the link waits.
    let response = app.login(&mut jar, "carol", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(jar.cookies.contains_key(LINK));
    assert!(jar.cookies.contains_key(PENDING));
    let list = identities(&app, &mut carol).await;
    assert_eq!(list["identities"], json!([]));

    let code = next_code(&app, &secret);
    let response = app
        .post(
            &mut jar,
            "/api/auth/mfa/verify",
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(!jar.cookies.contains_key(LINK));
    let list = identities(&app, &mut carol).await;
    assert_eq!(list["identities"][0]["provider"], PROVIDER);
}

#[tokio::test]
async fn linking_and_unlinking_need_a_recent_authentication() {
    let op = FakeOp::spawn().await;
    let (app, _key) = app_at(&op).await;
    let mut bob = app.signed_in("bob").await;
    let window = Duration::from_secs(10 * 60);
    app.advance(window + Duration::from_secs(1));
    let path = format!("/api/auth/oidc/{PROVIDER}/link");
    let response = app.post(&mut bob, &path, None).await;
    assert_problem(response, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let response = app
        .send(&mut bob, reqwest::Method::DELETE, &path, None)
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "reauthentication_required").await;

    let response = app
        .post(
            &mut bob,
            "/api/auth/reauthenticate",
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.post(&mut bob, &path, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Nothing linked yet: the unlink is let through to its own answer.
    let response = app
        .send(&mut bob, reqwest::Method::DELETE, &path, None)
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}
