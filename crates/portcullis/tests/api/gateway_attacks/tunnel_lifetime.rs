//! Attack 2: a WebSocket opened with a session kept carrying traffic after
//! the session ended — signed out, signed out everywhere, the password
//! changed, the account disabled, reuse detected, revoked by an
//! administrator — and long after its access token's `exp`. A tunnel must
//! close when its session is revoked on any instance, and must not outlive
//! its token unless the session is still live.

use std::time::Duration;

use portcullis::clock::{Clock, ManualClock, SystemClock};
use portcullis::domain::UserId;
use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::databases::{SMALL_POOL, TestDb};

async fn user_id(app: &TestApp, jar: &mut Jar) -> UserId {
    let session = app.session(jar).await;
    assert_eq!(session.status(), StatusCode::OK);
    let body: serde_json::Value = session.json().await.expect("JSON");
    body["user"]["id"]
        .as_str()
        .expect("an id")
        .parse()
        .expect("a user id")
}

async fn metrics(app: &TestApp) -> String {
    let response = app.get(&mut Jar::default(), "/metrics").await;
    response.text().await.expect("text")
}

/// Waits until `/metrics` shows `line`.
async fn metrics_show(app: &TestApp, line: &str) {
    for _ in 0..300 {
        if metrics(app).await.lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/metrics never showed {line}:\n{}", metrics(app).await);
}

#[tokio::test]
async fn every_way_a_session_ends_closes_its_open_websocket() {
    let echo = Echo::spawn().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &echo.url)]).await;
    let ways = [
        "sign-out",
        "sign-out everywhere",
        "a password change",
        "ending the session from another device",
        "reuse of a rotated refresh token",
        "a disabled account",
        "an administrator",
    ];
    for (n, way) in ways.iter().enumerate() {
        let name = format!("user{n}");
        let mut victim = app.signed_in(&name).await;
        let mut ws = websocket(&app, "/api/ws", Some(&victim), &[])
            .await
            .expect("tunnelled");
        echoes(&mut ws, "before").await;
        let mut other = Jar::default();
        let signed_in = app.login(&mut other, &name, PASSWORD).await;
        assert_eq!(signed_in.status(), StatusCode::CREATED);
        match *way {
            "sign-out" => {
                let r = app.post(&mut victim, "/api/auth/logout", None).await;
                assert_eq!(r.status(), StatusCode::NO_CONTENT);
            }
            "sign-out everywhere" => {
                let r = app.post(&mut other, "/api/auth/logout-all", None).await;
                assert_eq!(r.status(), StatusCode::NO_CONTENT);
            }
            "a password change" => {
                let body = json!({"current_password": PASSWORD, "new_password": "a new and long passphrase"});
                let r = app.post(&mut other, "/api/auth/password", Some(body)).await;
                assert_eq!(r.status(), StatusCode::NO_CONTENT);
            }
            "ending the session from another device" => {
                let listed: serde_json::Value = app
                    .get(&mut victim.clone(), "/api/auth/sessions")
                    .await
                    .json()
                    .await
                    .expect("JSON");
                let mine = listed["sessions"]
                    .as_array()
                    .expect("sessions")
                    .iter()
                    .find(|s| s["current"] == true)
                    .expect("the current session")["id"]
                    .as_str()
                    .expect("an id")
                    .to_owned();
                let path = format!("/api/auth/sessions/{mine}");
                let r = app
                    .send(&mut other, reqwest::Method::DELETE, &path, None)
                    .await;
                assert_eq!(r.status(), StatusCode::NO_CONTENT);
            }
            "reuse of a rotated refresh token" => {
                let spent = Jar::with(&[(REFRESH, victim.refresh().expect("refresh"))]);
                assert_eq!(
                    app.refresh(&mut victim).await.status(),
                    StatusCode::NO_CONTENT
                );
                app.advance(Duration::from_secs(11));
                let r = app.refresh(&mut spent.clone()).await;
                assert_eq!(r.headers()["portcullis-refresh-denied"], "reuse_detected");
            }
            "a disabled account" => {
                let id = user_id(&app, &mut victim.clone()).await;
                assert!(app.auth.disable_user(id).await.expect("disabled"));
            }
            "an administrator" => {
                let id = user_id(&app, &mut victim.clone()).await;
                app.auth
                    .revoke_sessions_by_administrator(id)
                    .await
                    .expect("revoked");
            }
            other => unreachable!("{other}"),
        }
        closes(&mut ws, way).await;
    }
    let closed = format!(
        r#"portcullis_tunnels_closed_total{{reason="revoked"}} {}"#,
        ways.len()
    );
    metrics_show(&app, &closed).await;
    metrics_show(&app, "portcullis_tunnels_open 0").await;
    assert_eq!(echo.connections(), ways.len());
}

#[tokio::test]
async fn a_password_change_leaves_the_changing_devices_websocket_open() {
    let echo = Echo::spawn().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &echo.url)]).await;
    let mut phone = app.signed_in("ada").await;
    let mut laptop = Jar::default();
    app.login(&mut laptop, "ada", PASSWORD).await;
    let mut phone_ws = websocket(&app, "/api/ws", Some(&phone), &[])
        .await
        .expect("open");
    let mut laptop_ws = websocket(&app, "/api/ws", Some(&laptop), &[])
        .await
        .expect("open");
    let body = json!({"current_password": PASSWORD, "new_password": "a new and long passphrase"});
    let r = app.post(&mut phone, "/api/auth/password", Some(body)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    closes(&mut laptop_ws, "the other device's tunnel").await;
    echoes(&mut phone_ws, "still here").await;
}

#[tokio::test]
async fn a_revocation_on_another_instance_closes_the_tunnel() {
    let echo = Echo::spawn().await;
    let mut db = TestDb::postgres().await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let vars = [SMALL_POOL, ("PORTCULLIS_UPSTREAM", echo.url.as_str())];
    let a =
        TestApp::spawn_with_clock(db.take_dir(), db.url().to_owned(), &vars, clock.clone()).await;
    let b = TestApp::spawn_with_clock(db.take_dir(), db.url().to_owned(), &vars, clock).await;
    let mut jar = a.signed_in("ada").await;
    let mut ws = websocket(&a, "/api/ws", Some(&jar), &[])
        .await
        .expect("open");
    echoes(&mut ws, "before").await;
    let r = b.post(&mut jar, "/api/auth/logout", None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    closes(&mut ws, "signed out on the other instance").await;
}

#[tokio::test]
async fn a_frontend_websocket_is_bound_to_its_session_only_when_it_carries_a_token() {
    let echo = Echo::spawn().await;
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_FRONTEND", &echo.url),
        ("PORTCULLIS_FRONTEND_TOKEN", "true"),
    ])
    .await;
    let mut jar = app.signed_in("ada").await;
    let mut signed_in = websocket(&app, "/live", Some(&jar), &[])
        .await
        .expect("open");
    let mut anonymous = websocket(&app, "/_next/webpack-hmr", None, &[])
        .await
        .expect("open");
    app.post(&mut jar, "/api/auth/logout", None).await;
    closes(&mut signed_in, "the signed-in page's socket").await;
    echoes(&mut anonymous, "live reload goes on").await;
}

#[tokio::test]
async fn a_tunnel_is_cut_when_its_token_runs_out_and_the_session_has_ended() {
    let echo = Echo::spawn().await;
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &echo.url),
        ("PORTCULLIS_ACCESS_TOKEN_TTL", "2s"),
    ])
    .await;
    let jar = app.signed_in("ada").await;
    let mut ws = websocket(&app, "/api/ws", Some(&jar), &[])
        .await
        .expect("open");
    echoes(&mut ws, "before").await;
    // Nothing revokes the session: it goes idle for longer than
    // `refresh_idle_timeout` (7 days), so it can no longer be refreshed.
    app.advance(Duration::from_secs(8 * 86_400));
    closes(&mut ws, "the token ran out on an ended session").await;
    metrics_show(
        &app,
        r#"portcullis_tunnels_closed_total{reason="expired"} 1"#,
    )
    .await;
}

#[tokio::test]
async fn a_tunnel_outlives_its_token_while_the_session_is_live() {
    let echo = Echo::spawn().await;
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &echo.url),
        ("PORTCULLIS_ACCESS_TOKEN_TTL", "2s"),
    ])
    .await;
    let jar = app.signed_in("ada").await;
    let mut ws = websocket(&app, "/api/ws", Some(&jar), &[])
        .await
        .expect("open");
    // Well past the token's `exp`, by the server's clock and by the time the
    // tunnel waits before asking (a quarter of the lifetime ahead of it).
    app.advance(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_secs(4)).await;
    echoes(&mut ws, "the session is live").await;
    let text = metrics(&app).await;
    assert!(text.contains("portcullis_tunnels_open 1"), "{text}");
    assert!(!text.contains("portcullis_tunnels_closed_total"), "{text}");
}
