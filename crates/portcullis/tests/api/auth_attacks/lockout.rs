//! Anyone can fail sign-ins as a known user to keep the account answering
//! 429, even to its owner; and the username and the e-mail address, as
//! separate throttle keys, doubled an attacker's guesses.

use reqwest::StatusCode;

use super::{DEVICE, retry_after};
use crate::helpers::*;
use crate::upstreams::Recorder;

/// Fails `n` sign-ins as `login` from fresh jars, as an attacker would.
async fn fail(app: &TestApp, login: &str, n: usize) {
    for _ in 0..n {
        let response = app.login(&mut Jar::default(), login, "wrong guess!").await;
        assert!(
            matches!(
                response.status(),
                StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
            ),
            "{}",
            response.status()
        );
    }
}

#[tokio::test]
async fn a_browser_that_signed_in_before_keeps_signing_in_while_strangers_wait() {
    let app = TestApp::spawn().await;
    let mut browser = app.signed_in("ada").await;
    assert_eq!(
        app.post(&mut browser, "/api/auth/logout", None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert!(browser.cookies.contains_key(DEVICE), "{browser:?}");
    fail(&app, "ada", 12).await;
    let stranger = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    assert_problem(stranger, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;

    let response = app.login(&mut browser, "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // And by e-mail address, from the same browser.
    let response = app.login(&mut browser, "ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_username_and_the_email_address_share_one_budget() {
    let app = TestApp::spawn().await;
    app.signed_in("ada").await;
    fail(&app, "ada", 3).await;
    fail(&app, "ADA@example.com", 2).await;
    let response = app.login(&mut Jar::default(), "Ada", PASSWORD).await;
    assert!(retry_after(&response) >= 1);
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

#[tokio::test]
async fn a_device_that_keeps_failing_is_locked_out_without_locking_the_account() {
    let app = TestApp::spawn().await;
    let mut device = app.signed_in("ada").await;
    for _ in 0..5 {
        let response = app.login(&mut device, "ada", "wrong guess!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app.login(&mut device, "ada", PASSWORD).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // The account's budget for other clients is untouched.
    let response = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_device_cookie_vouches_only_for_its_own_account_and_cannot_be_forged() {
    let app = TestApp::spawn().await;
    let ada = app.signed_in("ada").await;
    app.signed_in("bob").await;
    let cookie = ada.cookies.get(DEVICE).expect("a device cookie").clone();
    fail(&app, "ada", 6).await;
    fail(&app, "bob", 6).await;

    // Ada's device cookie is a stranger's for Bob.
    let mut borrowed = Jar::with(&[(DEVICE, &cookie)]);
    let response = app.login(&mut borrowed, "bob", PASSWORD).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // Any change to it makes it nobody's.
    let mut tampered = cookie.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for value in [tampered.as_str(), "", "x.y.z", &"A".repeat(4000)] {
        let mut forged = Jar::with(&[(DEVICE, value)]);
        let response = app.login(&mut forged, "ada", PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{value:.40}"
        );
    }
    let mut genuine = Jar::with(&[(DEVICE, &cookie)]);
    let response = app.login(&mut genuine, "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_device_cookie_is_host_only_http_only_strict_and_long_lived() {
    let app = TestApp::spawn().await;
    app.signed_in("ada").await;
    let response = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let set = set_cookies(response.headers());
    let device = set
        .iter()
        .find(|c| c.name == DEVICE)
        .expect("a device cookie on sign-in");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(
            device.attributes.iter().any(|a| a == attribute),
            "{attribute} in {device:?}"
        );
    }
    assert!(!device.attributes.iter().any(|a| a.starts_with("Domain")));
    assert!(
        device.max_age.expect("Max-Age") >= 180 * 86_400,
        "{device:?}"
    );
    // Signing out leaves it: it says the browser signed in before.
    let mut jar = Jar::default();
    jar.store(response.headers());
    let response = app.post(&mut jar, "/api/auth/logout", None).await;
    assert!(
        !set_cookies(response.headers())
            .iter()
            .any(|c| c.name == DEVICE)
    );
}

#[tokio::test]
async fn the_upstream_neither_sees_nor_sets_the_device_cookie() {
    let upstream = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &upstream.url())]).await;
    let mut ada = app.signed_in("ada").await;
    assert!(ada.cookies.contains_key(DEVICE));
    let response = app.get(&mut ada, "/api/anything").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !set_cookies(response.headers())
            .iter()
            .any(|c| c.name == DEVICE),
        "the upstream set the device cookie"
    );
    let report: serde_json::Value = response.json().await.expect("JSON");
    assert!(
        !report.to_string().contains(DEVICE),
        "the upstream saw the device cookie: {report}"
    );
}
