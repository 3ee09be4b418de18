//! A sign-in completed with a second factor passes the same admission as a
//! password sign-in, and a password reset by mail leaves the factors on.

use portcullis::domain::UserId;
use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::openapi_email::MAIL_SETTINGS;

pub(crate) async fn id_of(app: &TestApp, name: &str) -> UserId {
    app.auth
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username == name)
        .expect("the user")
        .id
}

/// Sets the address's verification behind the server's back, as the
/// mailed link (or its absence) would.
pub(crate) async fn set_verified(app: &TestApp, id: UserId, verified: bool) {
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("the test database");
    sqlx::query("UPDATE users SET email_verified = $1 WHERE id = $2")
        .bind(verified)
        .bind(id.to_string())
        .execute(&pool)
        .await
        .expect("updated");
    pool.close().await;
}

#[tokio::test]
async fn an_unverified_address_is_refused_only_after_the_right_code() {
    let mut settings = MAIL_SETTINGS.to_vec();
    settings.push(("PORTCULLIS_REQUIRE_VERIFIED_EMAIL", "true"));
    let app = MfaApp::spawn_with(&settings).await;
    // Registration signs nobody in while the address is unverified: verify
    // it to enrol, then take the verification back.
    let mut jar = Jar::default();
    assert_eq!(
        app.register(&mut jar, "ada").await.status(),
        StatusCode::CREATED
    );
    let id = id_of(&app, "ada").await;
    set_verified(&app, id, true).await;
    let mut owner = Jar::default();
    assert_eq!(
        app.login(&mut owner, "ada", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let secret = app.begin(&mut owner).await;
    let code = app.code(&secret, 0);
    assert_eq!(
        app.confirm(&mut owner, &code).await.status(),
        StatusCode::OK
    );
    set_verified(&app, id, false).await;
    app.advance(std::time::Duration::from_secs(STEP_SECONDS));

    let mut waiting = app.password_step("ada").await;
    let wrong = if app.code(&secret, 0) == "000000" {
        "000001"
    } else {
        "000000"
    };
    let response = app.verify(&mut waiting, json!({ "code": wrong })).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    let code = app.code(&secret, 0);
    let response = app.verify(&mut waiting, json!({ "code": code })).await;
    assert_problem(response, StatusCode::FORBIDDEN, "email_not_verified").await;
    assert!(waiting.access().is_none());
}

#[tokio::test]
async fn a_password_reset_by_mail_leaves_the_second_factor_on() {
    let app = MfaApp::spawn_with(&MAIL_SETTINGS).await;
    let (_, secret, _) = app.enrolled("ada").await;
    let id = id_of(&app, "ada").await;
    let link = app.auth.reset_link(id).await.expect("a link");
    let token = link.split_once("#token=").expect("a token").1;
    let new_password = "a password from the mailbox";
    let body = json!({"token": token, "new_password": new_password});
    let mut jar = Jar::default();
    let response = app
        .post(&mut jar, "/api/auth/password/reset", Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.advance(std::time::Duration::from_millis(5));
    let response = app.login(&mut jar, "ada", new_password).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a code is still asked for"
    );
    let code = app.code(&secret, 0);
    let response = app.verify(&mut jar, json!({ "code": code })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}
