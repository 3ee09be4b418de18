//! A provider's sign-in meets the account's passkeys: a passkey is the
//! second step after the provider as it is after a password, completes a
//! pending link, and counts as a way to sign in that keeps an account made
//! at a provider from being left with none.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::second_factor::{identities, through_provider};
use super::*;
use crate::passkeys::{ORIGIN, SoftAuthenticator};

const PENDING: &str = "__Host-mfa_pending";
const LINK: &str = "__Host-oidc_link";

/// Portcullis with the fake provider and passkeys on (a `public_url` whose
/// host can be a relying-party id).
async fn app_at(op: &FakeOp) -> OidcApp {
    OidcApp::spawn(
        free_port(),
        &op.issuer,
        &[("PORTCULLIS_PUBLIC_URL", ORIGIN)],
    )
    .await
}

/// Registers a passkey for the signed-in `jar`: its authenticator.
async fn add_passkey(app: &OidcApp, jar: &mut Jar) -> SoftAuthenticator {
    let mut key = SoftAuthenticator::new(ORIGIN);
    let response = app
        .post(jar, "/api/auth/passkeys/register/start", None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let options: Value = response.json().await.expect("JSON");
    let credential = key.create(&options);
    let response = app
        .post(
            jar,
            "/api/auth/passkeys/register/finish",
            Some(json!({"name": "Laptop", "credential": credential})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    key
}

/// Completes the sign-in waiting in `jar` with `key`: the answer.
async fn verify_with(app: &OidcApp, jar: &mut Jar, key: &mut SoftAuthenticator) -> Response {
    let response = app.post(jar, "/api/auth/mfa/webauthn/start", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let options: Value = response.json().await.expect("JSON");
    let assertion = key.get(&options);
    app.post(
        jar,
        "/api/auth/mfa/verify",
        Some(json!({ "webauthn": assertion })),
    )
    .await
}

#[tokio::test]
async fn an_account_with_a_passkey_signed_in_at_its_provider_uses_it_for_the_second_step() {
    let op = FakeOp::spawn().await;
    let app = app_at(&op).await;
    let who = ("gina", "gina@example.com");
    let mut first = Jar::default();
    let response = through_provider(&app, &op, &mut first, who, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut key = add_passkey(&app, &mut first).await;

    let mut jar = Jar::default();
    let response = through_provider(&app, &op, &mut jar, who, Some(json!(["pwd"]))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(jar.cookies.contains_key(PENDING));
    assert!(jar.access().is_none());
    assert!(continues_to(response, "/login/verify?next=%2Faccount").await);
    // The second step's page offers the passkey.
    let page = app
        .get(&mut jar, "/login/verify?next=/account")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains(r#"data-action="passkey-verify""#), "{page}");

    let response = verify_with(&app, &mut jar, &mut key).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(!jar.cookies.contains_key(PENDING));
    // What the provider checked, then our passkey: never a password of ours.
    let claims = jwt_claims(jar.access().expect("access"));
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]));
    assert_eq!(claims["idp"], PROVIDER);
    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    let claims = jwt_claims(jar.access().expect("access"));
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]));
    assert_eq!(claims["idp"], PROVIDER);

    // GitHub-like: the provider names nothing, and our passkey is all.
    let mut bare = Jar::default();
    through_provider(&app, &op, &mut bare, who, None).await;
    let response = verify_with(&app, &mut bare, &mut key).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let claims = jwt_claims(bare.access().expect("access"));
    assert_eq!(claims["amr"], json!(["hwk", "mfa"]));
}

#[tokio::test]
async fn a_pending_link_completes_with_a_passkey_as_the_second_factor() {
    let op = FakeOp::spawn().await;
    let app = app_at(&op).await;
    let mut hana = app.signed_in("hana").await;
    let mut key = add_passkey(&app, &mut hana).await;

    let mut jar = Jar::default();
    let response = through_provider(
        &app,
        &op,
        &mut jar,
        ("hana-at-op", "hana@example.com"),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(jar.cookies.contains_key(LINK));

    let response = app.login(&mut jar, "hana", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body, json!({"mfa_required": true, "methods": ["webauthn"]}));
    assert!(jar.cookies.contains_key(LINK));
    let list = identities(&app, &mut hana).await;
    assert_eq!(list["identities"], json!([]));

    let response = verify_with(&app, &mut jar, &mut key).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(!jar.cookies.contains_key(LINK));
    let claims = jwt_claims(jar.access().expect("access"));
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]));
    let list = identities(&app, &mut hana).await;
    assert_eq!(list["identities"][0]["provider"], PROVIDER);
}

#[tokio::test]
async fn a_passkey_is_a_way_to_sign_in_and_the_last_one_is_kept() {
    let op = FakeOp::spawn().await;
    let app = app_at(&op).await;
    let mut jar = Jar::default();
    let response = through_provider(&app, &op, &mut jar, ("ines", "ines@example.com"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let link = format!("/api/auth/oidc/{PROVIDER}/link");

    // No password, no passkey: the provider is the only way in.
    let response = app.send(&mut jar, Method::DELETE, &link, None).await;
    assert_problem(response, StatusCode::CONFLICT, "last_sign_in_method").await;

    // With a passkey, the provider may go.
    let mut key = add_passkey(&app, &mut jar).await;
    let response = app.send(&mut jar, Method::DELETE, &link, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // Now the passkey is the only way in: it stays.
    let list: Value = app
        .get(&mut jar, "/api/auth/passkeys")
        .await
        .json()
        .await
        .expect("JSON");
    let id = list["passkeys"][0]["id"].as_str().expect("id").to_owned();
    let one = format!("/api/auth/passkeys/{id}");
    let response = app.send(&mut jar, Method::DELETE, &one, None).await;
    assert_problem(response, StatusCode::CONFLICT, "last_sign_in_method").await;

    // And it signs in, alone.
    let response = app
        .post(&mut Jar::default(), "/api/auth/passkeys/login/start", None)
        .await;
    let started: Value = response.json().await.expect("JSON");
    let assertion = key.get(&started["options"]);
    let mut again = Jar::default();
    let response = app
        .post(
            &mut again,
            "/api/auth/passkeys/login/finish",
            Some(json!({"ceremony": started["ceremony"], "credential": assertion})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        jwt_claims(again.access().expect("access"))["amr"],
        json!(["hwk", "user"])
    );

    // A second passkey: then either may be deleted, and the last stays.
    let _second = add_passkey(&app, &mut jar).await;
    let response = app.send(&mut jar, Method::DELETE, &one, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let list: Value = app
        .get(&mut jar, "/api/auth/passkeys")
        .await
        .json()
        .await
        .expect("JSON");
    let id = list["passkeys"][0]["id"].as_str().expect("id").to_owned();
    let response = app
        .send(
            &mut jar,
            Method::DELETE,
            &format!("/api/auth/passkeys/{id}"),
            None,
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "last_sign_in_method").await;
}
