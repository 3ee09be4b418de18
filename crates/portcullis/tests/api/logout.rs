use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn logout_revokes_the_session_at_once_even_for_a_copied_access_token() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let copy = Jar::with(&[(ACCESS, jar.access().expect("access"))]);
    let response = app.post(&mut jar, "/api/auth/logout", None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(clears_cookies(&response));
    assert_eq!(response.headers()["cache-control"], "no-store");
    // Only the device cookie stays: the browser has signed in before.
    assert_eq!(jar.cookies.keys().collect::<Vec<_>>(), ["__Host-device"]);
    let response = app.session(&mut copy.clone()).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn logout_without_a_session_still_answers_204() {
    let app = TestApp::spawn().await;
    for mut jar in [
        Jar::default(),
        Jar::with(&[(ACCESS, "garbage"), (REFRESH, "garbage")]),
    ] {
        let response = app.post(&mut jar, "/api/auth/logout", None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(clears_cookies(&response));
    }
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_and_no_one_elses() {
    let app = TestApp::spawn().await;
    let mut laptop = app.signed_in("ada").await;
    let mut phone = Jar::default();
    assert_eq!(
        app.login(&mut phone, "ada", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let mut other = app.signed_in("grace").await;

    let response = app.post(&mut laptop, "/api/auth/logout-all", None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(clears_cookies(&response));
    assert_eq!(
        app.session(&mut phone.clone()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&mut phone).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.session(&mut other).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_all_without_a_session_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let response = app
        .post(&mut Jar::default(), "/api/auth/logout-all", None)
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn sessions_lists_the_users_live_sessions_and_marks_this_one() {
    let app = TestApp::spawn().await;
    let mut laptop = app.signed_in("ada").await;
    let mut phone = Jar::default();
    let login = app
        .client
        .post(app.url("/api/auth/login"))
        .header("user-agent", "PhoneBrowser/1.0")
        .json(&json!({"username": "ada", "password": PASSWORD}))
        .send()
        .await
        .expect("answered");
    phone.store(login.headers());
    app.signed_in("grace").await;

    let response = app.get(&mut laptop, "/api/auth/sessions").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.expect("json");
    let sessions = body["sessions"].as_array().expect("list");
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_entry = sessions
        .iter()
        .find(|s| s["current"] == false)
        .expect("phone");
    assert_eq!(phone_entry["user_agent"], "PhoneBrowser/1.0");
    for key in ["id", "created_at", "last_used_at"] {
        assert!(phone_entry[key].is_string(), "{key}");
    }

    // Sign the phone out from the laptop.
    let id = phone_entry["id"].as_str().expect("id");
    let response = app
        .send(
            &mut laptop,
            Method::DELETE,
            &format!("/api/auth/sessions/{id}"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        set_cookies(response.headers()).is_empty(),
        "the laptop keeps its cookies"
    );
    assert_eq!(
        app.session(&mut phone).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.session(&mut laptop).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn another_users_session_or_a_bad_id_is_not_found() {
    let app = TestApp::spawn().await;
    let mut ada = app.signed_in("ada").await;
    let mut grace = app.signed_in("grace").await;
    let body: serde_json::Value = app.session(&mut grace).await.json().await.expect("json");
    let graces = body["session"]["id"].as_str().expect("id").to_owned();
    for id in [
        graces.as_str(),
        "not-an-id",
        "00000000-0000-0000-0000-000000000000",
        &graces.to_uppercase(),
    ] {
        let response = app
            .send(
                &mut ada,
                Method::DELETE,
                &format!("/api/auth/sessions/{id}"),
                None,
            )
            .await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_eq!(app.session(&mut grace).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn ending_the_current_session_clears_its_cookies() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let body: serde_json::Value = app.session(&mut jar).await.json().await.expect("json");
    let id = body["session"]["id"].as_str().expect("id").to_owned();
    let response = app
        .send(
            &mut jar,
            Method::DELETE,
            &format!("/api/auth/sessions/{id}"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(clears_cookies(&response));
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let app = TestApp::spawn().await;
    let mut laptop = app.signed_in("ada").await;
    let mut phone = Jar::default();
    app.login(&mut phone, "ada", PASSWORD).await;
    let new = "a whole new passphrase";

    let wrong = json!({"current_password": "not it at all", "new_password": new});
    let response = app
        .post(&mut laptop, "/api/auth/password", Some(wrong))
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "invalid_credentials").await;
    let weak = json!({"current_password": PASSWORD, "new_password": "short"});
    let response = app
        .post(&mut laptop, "/api/auth/password", Some(weak))
        .await;
    assert_problem(response, StatusCode::BAD_REQUEST, "weak_password").await;

    let ok = json!({"current_password": PASSWORD, "new_password": new});
    let response = app.post(&mut laptop, "/api/auth/password", Some(ok)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.session(&mut laptop).await.status(), StatusCode::OK);
    assert_eq!(
        app.session(&mut phone).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&mut Jar::default(), "ada", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&mut Jar::default(), "ada", new).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn changing_the_password_requires_a_session() {
    let app = TestApp::spawn().await;
    let body = json!({"current_password": PASSWORD, "new_password": "another passphrase"});
    let response = app
        .post(&mut Jar::default(), "/api/auth/password", Some(body))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
