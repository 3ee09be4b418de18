use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn session_cookies_carry_every_protective_attribute() {
    let app = TestApp::spawn().await;
    let response = app.register(&mut Jar::default(), "ada").await;
    let cookies = set_cookies(response.headers());
    assert_eq!(cookies.len(), 3);
    for (name, max_age) in [
        (ACCESS, 900),
        (REFRESH, 7 * 86_400),
        ("__Host-device", 365 * 86_400),
    ] {
        let c = cookies.iter().find(|c| c.name == name).expect("cookie set");
        for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(
                c.attributes.iter().any(|a| a == attr),
                "{name} lacks {attr}"
            );
        }
        assert!(
            !c.attributes.iter().any(|a| a.starts_with("Domain")),
            "{name} has a Domain"
        );
        assert_eq!(c.max_age, Some(max_age), "{name} Max-Age");
    }
}

#[tokio::test]
async fn names_and_addresses_are_unique_regardless_of_case() {
    let app = TestApp::spawn().await;
    app.signed_in("ada").await;
    let same_name = json!({"username": "ADA", "email": "other@example.com", "password": PASSWORD});
    let response = app
        .post(&mut Jar::default(), "/api/auth/register", Some(same_name))
        .await;
    assert_problem(response, StatusCode::CONFLICT, "account_exists").await;
    let same_email = json!({"username": "grace", "email": "Ada@Example.COM", "password": PASSWORD});
    let response = app
        .post(&mut Jar::default(), "/api/auth/register", Some(same_email))
        .await;
    assert_problem(response, StatusCode::CONFLICT, "account_exists").await;
}

#[tokio::test]
async fn invalid_fields_are_named_by_their_code() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"username": "a", "email": "a@example.com", "password": PASSWORD}),
            "invalid_username",
        ),
        (
            json!({"username": "bad name", "email": "a@example.com", "password": PASSWORD}),
            "invalid_username",
        ),
        (
            json!({"username": "ada", "email": "not-an-address", "password": PASSWORD}),
            "invalid_email",
        ),
        (
            json!({"username": "ada", "email": "a@example.com", "password": "short"}),
            "weak_password",
        ),
        (
            json!({"username": "ada", "email": "a@example.com", "password": "x".repeat(1025)}),
            "weak_password",
        ),
    ];
    for (body, code) in cases {
        let response = app
            .post(&mut Jar::default(), "/api/auth/register", Some(body))
            .await;
        assert!(set_cookies(response.headers()).is_empty());
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, code).await;
        assert!(
            problem["detail"].is_string(),
            "a rule is explained: {problem}"
        );
    }
}

#[tokio::test]
async fn closed_registration_refuses_everyone() {
    let app = TestApp::spawn_with(&[("PORTCULLIS_REGISTRATION", "closed")]).await;
    let response = app.register(&mut Jar::default(), "ada").await;
    assert!(set_cookies(response.headers()).is_empty());
    assert_problem(response, StatusCode::FORBIDDEN, "registration_closed").await;
}

#[tokio::test]
async fn a_registered_user_can_sign_in_by_name_or_address_in_any_case() {
    let app = TestApp::spawn().await;
    app.signed_in("Ada").await;
    for login in ["Ada", "ada", "ADA", "ada@example.com", "ADA@EXAMPLE.COM"] {
        let response = app.login(&mut Jar::default(), login, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{login}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["user"]["username"], "Ada");
    }
}
