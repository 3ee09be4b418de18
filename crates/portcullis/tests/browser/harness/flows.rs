//! Steps that many tests take.

use reqwest::StatusCode;
use serde_json::json;

use super::{App, PASSWORD, Tab};

/// The session cookies' names.
pub const ACCESS: &str = "__Host-access_token";
/// The refresh cookie's name.
pub const REFRESH: &str = "__Host-refresh_token";

/// Registers `username` through the page, as a person would, and waits for
/// the account page.
pub async fn sign_up(tab: &Tab<'_>, app: &App, username: &str) {
    tab.goto(&app.url("/register")).await;
    tab.type_into("#username", username).await;
    tab.type_into("#email", &format!("{username}@example.com"))
        .await;
    tab.type_into("#password", PASSWORD).await;
    tab.click("form[data-form=register] button[type=submit]")
        .await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", username).await;
}

/// Signs in through the page.
pub async fn sign_in(tab: &Tab<'_>, app: &App, username: &str) {
    tab.goto(&app.url("/login")).await;
    tab.type_into("#username", username).await;
    tab.type_into("#password", PASSWORD).await;
    tab.click("form[data-form=login] button[type=submit]").await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", username).await;
}

/// Creates an account over plain HTTP, without a browser.
pub async fn register_over_http(app: &App, username: &str) {
    let response = reqwest::Client::new()
        .post(app.url("/api/auth/register"))
        .json(&json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "password": PASSWORD,
        }))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// A failed sign-in over plain HTTP, to run up the throttle.
pub async fn fail_sign_in_over_http(app: &App, username: &str) {
    let response = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "username": username, "password": "wrong password" }))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
