use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn a_refresh_rotates_both_cookies() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let before = jar.clone();
    app.advance(Duration::from_secs(1));
    let response = app.refresh(&mut jar).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_ne!(jar.refresh(), before.refresh());
    assert_ne!(jar.access(), before.access());
    assert_eq!(app.session(&mut jar).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    let mut victim = app.signed_in("ada").await;
    let stolen = victim.clone();
    assert_eq!(
        app.refresh(&mut victim).await.status(),
        StatusCode::NO_CONTENT
    );
    app.advance(Duration::from_secs(11));

    let mut thief = stolen;
    let response = app.refresh(&mut thief).await;
    assert!(clears_cookies(&response));
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;

    // The victim's live refresh token and even its unexpired access token are dead.
    let response = app
        .session(&mut Jar::with(&[(
            ACCESS,
            victim.access().expect("access"),
        )]))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app.refresh(&mut victim).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn tabs_refreshing_at_once_converge_on_the_same_successor() {
    let app = TestApp::spawn().await;
    let jar = app.signed_in("ada").await;
    let (mut tab1, mut tab2) = (jar.clone(), jar);
    assert_eq!(
        app.refresh(&mut tab1).await.status(),
        StatusCode::NO_CONTENT
    );
    app.advance(Duration::from_secs(9));
    assert_eq!(
        app.refresh(&mut tab2).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        tab1.refresh(),
        tab2.refresh(),
        "both tabs hold the live token"
    );
    // Whichever response the browser kept, the session goes on.
    assert_eq!(
        app.refresh(&mut tab2).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.session(&mut tab2).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_predecessor_after_the_grace_window_is_theft() {
    let app = TestApp::spawn().await;
    let jar = app.signed_in("ada").await;
    let (mut tab1, mut tab2) = (jar.clone(), jar);
    assert_eq!(
        app.refresh(&mut tab1).await.status(),
        StatusCode::NO_CONTENT
    );
    app.advance(Duration::from_secs(10));
    assert_eq!(
        app.refresh(&mut tab2).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&mut tab1).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn only_the_immediate_predecessor_is_forgiven() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let mut oldest = jar.clone();
    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    // Still inside the grace window of the last rotation, but two generations back.
    let response = app.refresh(&mut oldest).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    assert_eq!(
        app.refresh(&mut jar).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn many_concurrent_refreshes_of_one_token_leave_one_live_session() {
    let app = TestApp::spawn().await;
    let jar = app.signed_in("ada").await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let mut tab = jar.clone();
        let client = app.client.clone();
        let url = app.url("/api/auth/refresh");
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .header("cookie", tab.header().expect("cookies"))
                .send()
                .await
                .expect("answered");
            tab.store(response.headers());
            (response.status(), tab)
        }));
    }
    let mut successors = std::collections::BTreeSet::new();
    let mut last = None;
    for task in tasks {
        let (status, tab) = task.await.expect("joins");
        assert_eq!(status, StatusCode::NO_CONTENT);
        successors.insert(tab.refresh().expect("refresh cookie").to_owned());
        last = Some(tab);
    }
    assert_eq!(successors.len(), 1, "the session forked");
    let mut tab = last.expect("50 tabs");
    assert_eq!(app.refresh(&mut tab).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_idle_session_ends_after_the_idle_timeout() {
    let app = TestApp::spawn_with(&[("PORTCULLIS_REFRESH_IDLE_TIMEOUT", "1h")]).await;
    let mut jar = app.signed_in("ada").await;
    app.advance(Duration::from_secs(3599));
    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    app.advance(Duration::from_secs(3600));
    let response = app.refresh(&mut jar).await;
    assert!(clears_cookies(&response));
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn an_active_session_ends_at_its_absolute_lifetime() {
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_REFRESH_IDLE_TIMEOUT", "1h"),
        ("PORTCULLIS_SESSION_MAX_LIFETIME", "3h"),
    ])
    .await;
    let mut jar = app.signed_in("ada").await;
    for _ in 0..5 {
        app.advance(Duration::from_secs(1800));
        assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    }
    // 2h30 in: the refresh cookie may not outlive the session.
    let response = app.refresh(&mut jar).await;
    let refresh = set_cookies(response.headers())
        .into_iter()
        .find(|c| c.name == REFRESH)
        .expect("refresh cookie");
    assert_eq!(refresh.max_age, Some(1800));
    app.advance(Duration::from_secs(1800));
    assert_eq!(
        app.refresh(&mut jar).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn missing_malformed_and_unknown_refresh_tokens_are_refused_and_cleared() {
    let app = TestApp::spawn().await;
    let unknown = "A".repeat(43);
    for mut jar in [
        Jar::default(),
        Jar::with(&[(REFRESH, "not-a-token")]),
        Jar::with(&[(REFRESH, &unknown)]),
        Jar::with(&[(REFRESH, &"A".repeat(10_000))]),
    ] {
        let response = app.refresh(&mut jar).await;
        assert!(clears_cookies(&response));
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    }
}

#[tokio::test]
async fn the_session_endpoint_refreshes_an_expired_access_token_in_place() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let old_refresh = jar.refresh().map(str::to_owned);
    app.advance(Duration::from_secs(15 * 60 + 6));
    let response = app.session(&mut jar).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(set_cookies(response.headers()).len(), 2);
    assert_ne!(jar.refresh().map(str::to_owned), old_refresh);

    // Without an access cookie at all, too.
    jar.cookies.remove(ACCESS);
    let response = app.session(&mut jar).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(jar.access().is_some());
}

#[tokio::test]
async fn an_expired_access_token_alone_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let jar = app.signed_in("ada").await;
    app.advance(Duration::from_secs(15 * 60 + 6));
    let mut only_access = Jar::with(&[(ACCESS, jar.access().expect("access"))]);
    let response = app.session(&mut only_access).await;
    assert!(clears_cookies(&response));
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
