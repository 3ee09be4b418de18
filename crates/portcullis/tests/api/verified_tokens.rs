//! A token verified once is remembered (see `auth::verified_tokens`); these
//! prove that remembering it never outlives what made it valid.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

/// Uses the access token alone, so that no refresh can rescue it.
async fn with_access_only(app: &TestApp, jar: &Jar) -> reqwest::Response {
    let mut only_access = Jar::with(&[(ACCESS, jar.access().expect("access"))]);
    app.session(&mut only_access).await
}

#[tokio::test]
async fn a_token_accepted_before_is_refused_once_expired() {
    let app = TestApp::spawn().await;
    let jar = app.signed_in("ada").await;
    for _ in 0..3 {
        assert_eq!(with_access_only(&app, &jar).await.status(), StatusCode::OK);
    }
    app.advance(Duration::from_secs(15 * 60 + 6));
    let response = with_access_only(&app, &jar).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn a_token_accepted_before_is_refused_at_once_when_its_session_is_revoked() {
    let app = TestApp::spawn().await;
    let laptop = app.signed_in("ada").await;
    let mut phone = Jar::default();
    let response = app.login(&mut phone, "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        with_access_only(&app, &laptop).await.status(),
        StatusCode::OK
    );
    let response = app.post(&mut phone, "/api/auth/logout-all", None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = with_access_only(&app, &laptop).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn a_token_differing_by_one_character_is_not_the_remembered_one() {
    let app = TestApp::spawn().await;
    let jar = app.signed_in("ada").await;
    assert_eq!(with_access_only(&app, &jar).await.status(), StatusCode::OK);
    let token = jar.access().expect("access");
    let last = token.chars().last().expect("non-empty");
    let flipped = if last == 'A' { 'B' } else { 'A' };
    let forged = format!("{}{flipped}", &token[..token.len() - 1]);
    let mut forged = Jar::with(&[(ACCESS, &forged)]);
    let response = app.session(&mut forged).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
