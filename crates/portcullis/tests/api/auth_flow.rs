use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn registering_signs_in_with_cookies_and_no_token_in_the_body() {
    let app = TestApp::spawn().await;
    let mut jar = Jar::default();
    let response = app.register(&mut jar, "ada").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookies = set_cookies(response.headers());
    let body = response.text().await.expect("body");
    let user: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(user["user"]["username"], "ada");
    assert_eq!(user["user"]["email"], "ada@example.com");
    assert!(user["user"]["id"].is_string());
    for cookie in &cookies {
        assert!(
            !body.contains(&cookie.value),
            "a token leaked into the body"
        );
    }
    let session = app.session(&mut jar).await;
    assert_eq!(session.status(), StatusCode::OK);
    let session: Value = session.json().await.expect("json");
    assert_eq!(session["user"], user["user"]);
}
