use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn unknown_user_wrong_password_and_disabled_account_look_the_same() {
    let app = TestApp::spawn().await;
    app.signed_in("ada").await;
    app.signed_in("mallory").await;
    disable(&app, "mallory").await;

    let mut bodies = Vec::new();
    for (login, password) in [
        ("ada", "wrong password!"),
        ("nobody", PASSWORD),
        ("mallory", PASSWORD),
    ] {
        let response = app.login(&mut Jar::default(), login, password).await;
        assert!(set_cookies(response.headers()).is_empty(), "{login}");
        assert!(response.headers().contains_key("www-authenticate"));
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        bodies.push(response.text().await.expect("body"));
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:?}");
    assert_eq!(
        bodies[0],
        r#"{"type":"about:blank","title":"Unauthorized","status":401,"code":"invalid_credentials"}"#
    );
}

async fn disable(app: &TestApp, username: &str) {
    let status = portcullis_binary()
        .args(["user", "disable", username])
        .env("PORTCULLIS_DATABASE_URL", &app.database_url)
        .output()
        .expect("runs");
    assert!(status.status.success(), "{status:?}");
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after_then_released() {
    let app = TestApp::spawn().await;
    app.signed_in("ada").await;
    for _ in 0..5 {
        let r = app
            .login(&mut Jar::default(), "ada", "wrong password!")
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password waits now.
    let response = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry_after >= 1);
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;

    app.advance(std::time::Duration::from_secs(retry_after));
    let response = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // A success clears the count: one more failure is not throttled.
    let r = app
        .login(&mut Jar::default(), "ada", "wrong password!")
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn throttling_an_unknown_name_looks_like_throttling_a_real_one() {
    let app = TestApp::spawn().await;
    app.signed_in("ada").await;
    let mut last = Vec::new();
    for name in ["ada", "nobody"] {
        let mut response = None;
        for _ in 0..6 {
            response = Some(
                app.login(&mut Jar::default(), name, "wrong password!")
                    .await,
            );
        }
        let response = response.expect("sent");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{name}");
        last.push(response.text().await.expect("body"));
    }
    assert_eq!(last[0], last[1]);
}
