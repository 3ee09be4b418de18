//! GitHub, which is OAuth 2.0 without OpenID Connect, against a small GitHub
//! of our own: its OAuth endpoints and REST API as a GitHub Enterprise
//! Server serves them (`{site}/login/oauth/…`, `{site}/api/v3/…`), over real
//! HTTP. What is checked is Portcullis's side: PKCE and the code sent to the
//! token endpoint, the user's id as the subject, the primary address and
//! whether GitHub has verified it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::*;

#[derive(Default)]
struct Github {
    /// The `code_challenge` of the last authorization request, as the test
    /// read it from the URL Portcullis built.
    challenge: Mutex<String>,
    /// The primary address's `verified`.
    verified: Mutex<bool>,
}

async fn token(
    State(gh): State<Arc<Github>>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let good = form.get("code").map(String::as_str) == Some("good-code")
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        && challenge == *gh.challenge.lock().expect("lock");
    // GitHub answers a bad code with 200 and an `error`.
    Json(if good {
        json!({"access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email"})
    } else {
        json!({"error": "bad_verification_code"})
    })
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .is_some_and(|v| v == "Bearer gho_test")
}

async fn user(headers: HeaderMap) -> Result<Json<Value>, StatusCode> {
    if !authorized(&headers) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok(Json(
        json!({"id": 583231, "login": "octocat", "name": "The Octocat", "email": null}),
    ))
}

async fn emails(
    State(gh): State<Arc<Github>>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    if !authorized(&headers) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let verified = *gh.verified.lock().expect("lock");
    Ok(Json(json!([
        {"email": "octo@users.noreply.example.com", "primary": false, "verified": true},
        {"email": "octocat@example.com", "primary": true, "verified": verified},
    ])))
}

async fn spawn_github() -> (String, Arc<Github>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let gh = Arc::new(Github::default());
    let router = Router::new()
        .route("/login/oauth/access_token", post(token))
        .route("/api/v3/user", get(user))
        .route("/api/v3/user/emails", get(emails))
        .with_state(gh.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), gh)
}

#[tokio::test]
async fn github_signs_in_by_its_user_id_with_pkce_and_refuses_a_bad_code() {
    let (site, gh) = spawn_github().await;
    *gh.verified.lock().expect("lock") = true;
    let app = OidcApp::spawn_kind(
        free_port(),
        &format!(r#"kind = "github", issuer = "{site}""#),
        &[],
    )
    .await;

    let mut jar = Jar::default();
    let authorization = app.start(&mut jar, "/account").await;
    assert!(
        authorization
            .as_str()
            .starts_with(&format!("{site}/login/oauth/authorize?"))
    );
    assert_eq!(param(&authorization, "client_id"), CLIENT_ID);
    assert_eq!(param(&authorization, "code_challenge_method"), "S256");
    assert_eq!(param(&authorization, "scope"), "read:user user:email");
    *gh.challenge.lock().expect("lock") = param(&authorization, "code_challenge");
    let state = param(&authorization, "state");
    let response = app
        .callback(&mut jar, &format!("code=good-code&state={state}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = app.session(&mut jar).await.json().await.expect("JSON");
    assert_eq!(session["user"]["username"], "octocat");
    assert_eq!(session["user"]["email"], "octocat@example.com");
    assert_eq!(session["user"]["email_verified"], true);
    assert_eq!(jwt_claims(jar.access().expect("access"))["idp"], PROVIDER);

    // A code GitHub does not know.
    let mut jar = Jar::default();
    let authorization = app.start(&mut jar, "/").await;
    *gh.challenge.lock().expect("lock") = param(&authorization, "code_challenge");
    let state = param(&authorization, "state");
    let response = app
        .callback(&mut jar, &format!("code=bad-code&state={state}"))
        .await;
    let body = assert_problem(response, StatusCode::UNAUTHORIZED, "provider_denied").await;
    assert_eq!(body["detail"], "bad_verification_code");
}

#[tokio::test]
async fn an_unverified_github_address_of_an_existing_account_is_not_linked() {
    let (site, gh) = spawn_github().await;
    let app = OidcApp::spawn_kind(
        free_port(),
        &format!(r#"kind = "github", issuer = "{site}""#),
        &[],
    )
    .await;
    let body = json!({"username": "octo", "email": "octocat@example.com", "password": PASSWORD});
    let response = app
        .post(&mut Jar::default(), "/api/auth/register", Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let mut jar = Jar::default();
    let authorization = app.start(&mut jar, "/").await;
    *gh.challenge.lock().expect("lock") = param(&authorization, "code_challenge");
    let state = param(&authorization, "state");
    let response = app
        .callback(&mut jar, &format!("code=good-code&state={state}"))
        .await;
    assert_problem(response, StatusCode::CONFLICT, "account_exists").await;
}
