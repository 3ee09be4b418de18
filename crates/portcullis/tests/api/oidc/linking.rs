//! Linking and unlinking providers from a signed-in account.

use reqwest::StatusCode;
use serde_json::Value;

use super::*;

async fn node_app() -> (NodeOp, OidcApp) {
    let reserved = Reserved::new();
    let port = reserved.port();
    let (_, callback) = urls(port);
    let op = NodeOp::spawn(&[callback]);
    drop(reserved);
    let app = OidcApp::spawn(port, &op.issuer, &[]).await;
    (op, app)
}

/// The provider's URL that `POST …/link` answers with.
async fn location_of(response: reqwest::Response) -> reqwest::Url {
    let body: Value = response.json().await.expect("JSON");
    reqwest::Url::parse(body["location"].as_str().expect("location")).expect("URL")
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn a_signed_in_user_links_and_unlinks_a_provider() {
    let (_op, app) = node_app().await;
    let mut bob = app.signed_in("bob").await;
    let bob_id = app
        .session(&mut bob)
        .await
        .json::<Value>()
        .await
        .expect("JSON")["user"]["id"]
        .clone();

    let response = app
        .post(
            &mut bob,
            &format!("/api/auth/oidc/{PROVIDER}/link?next=/account"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let authorization = location_of(response).await;
    let query = sign_in_at_op(&authorization, "other").await;
    let response = app.callback(&mut bob, &query).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(continues_to(response, "/account").await);
    let identities: Value = app
        .get(&mut bob, "/api/auth/identities")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(identities["identities"][0]["provider"], PROVIDER);
    assert_eq!(identities["identities"][0]["name"], "Test OP");
    assert_eq!(identities["identities"][0]["email"], "other@example.com");

    // The provider now signs in to bob.
    let mut via = Jar::default();
    assert_eq!(
        round_trip(&app, &mut via, "other").await.status(),
        StatusCode::OK
    );
    let session: Value = app.session(&mut via).await.json().await.expect("JSON");
    assert_eq!(session["user"]["id"], bob_id);

    // Linking the same identity to another account is refused.
    let mut eve = app.signed_in("eve").await;
    let response = app
        .post(&mut eve, &format!("/api/auth/oidc/{PROVIDER}/link"), None)
        .await;
    let authorization = location_of(response).await;
    let query = sign_in_at_op(&authorization, "other").await;
    let response = app.callback(&mut eve, &query).await;
    assert_problem(response, StatusCode::CONFLICT, "identity_in_use").await;

    // Unlink: bob has a password, so it may go.
    let path = format!("/api/auth/oidc/{PROVIDER}/link");
    let response = app
        .send(&mut bob, reqwest::Method::DELETE, &path, None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .send(&mut bob, reqwest::Method::DELETE, &path, None)
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    // And the provider no longer signs in to bob: it makes a new account.
    let mut via = Jar::default();
    assert_eq!(
        round_trip(&app, &mut via, "other").await.status(),
        StatusCode::OK
    );
    let session: Value = app.session(&mut via).await.json().await.expect("JSON");
    assert_ne!(session["user"]["id"], bob_id);
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn the_last_way_to_sign_in_cannot_be_unlinked() {
    let (_op, app) = node_app().await;
    let mut alice = Jar::default();
    assert_eq!(
        round_trip(&app, &mut alice, "alice").await.status(),
        StatusCode::OK
    );
    let path = format!("/api/auth/oidc/{PROVIDER}/link");
    let response = app
        .send(&mut alice, reqwest::Method::DELETE, &path, None)
        .await;
    assert_problem(response, StatusCode::CONFLICT, "last_sign_in_method").await;
    let identities: Value = app
        .get(&mut alice, "/api/auth/identities")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(identities["identities"].as_array().expect("list").len(), 1);
}

#[tokio::test]
async fn linking_and_unlinking_need_a_session_and_refuse_other_sites() {
    let op = FakeOp::spawn().await;
    let app = OidcApp::spawn(free_port(), &op.issuer, &[]).await;
    let path = format!("/api/auth/oidc/{PROVIDER}/link");
    let response = app.post(&mut Jar::default(), &path, None).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app.get(&mut Jar::default(), "/api/auth/identities").await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let bob = app.signed_in("bob").await;
    for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .header("cookie", bob.header().expect("cookies"))
            .header("origin", "https://evil.test")
            .send()
            .await
            .expect("answered");
        assert_problem(response, StatusCode::FORBIDDEN, "cross_site_request").await;
        let response = app
            .client
            .request(method, app.url(&path))
            .header("cookie", bob.header().expect("cookies"))
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .expect("answered");
        assert_problem(response, StatusCode::FORBIDDEN, "cross_site_request").await;
    }
    let mut bob = bob;
    let response = app
        .post(&mut bob, &format!("{path}?next=https://evil.test"), None)
        .await;
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = app.post(&mut bob, "/api/auth/oidc/nope/link", None).await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}
