//! The admin commands, run as the real binary against the server's database.

use std::io::Write;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::*;

fn portcullis(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    let mut child = portcullis_binary()
        .args(args)
        .env("PORTCULLIS_DATABASE_URL", &app.database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writes");
    child.wait_with_output().expect("exits")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn user_add_reads_the_password_from_stdin_and_the_user_can_sign_in() {
    let app = TestApp::spawn().await;
    let out = portcullis(
        &app,
        &["user", "add", "ada", "--email", "ada@example.com"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        app.login(&mut Jar::default(), "ada", PASSWORD)
            .await
            .status(),
        StatusCode::CREATED
    );
    let list = portcullis(&app, &["user", "list"], "");
    assert!(
        stdout(&list).contains("ada@example.com"),
        "{}",
        stdout(&list)
    );
    assert!(!stdout(&list).contains("argon2"), "hashes are never shown");
}

#[tokio::test]
async fn user_add_refuses_bad_input_with_a_clear_message() {
    let app = TestApp::spawn().await;
    let weak = portcullis(
        &app,
        &["user", "add", "ada", "--email", "ada@example.com"],
        "short\n",
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 8 characters"));
    app.signed_in("grace").await;
    let taken = portcullis(
        &app,
        &["user", "add", "Grace", "--email", "g2@example.com"],
        &format!("{PASSWORD}\n"),
    );
    assert!(!taken.status.success());
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_and_sign_ins() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let out = portcullis(&app, &["user", "disable", "ada"], "");
    assert!(out.status.success(), "{out:?}");
    wait_until_rejected(&app, &jar).await;
    assert_eq!(
        app.refresh(&mut jar).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let response = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = portcullis(&app, &["user", "disable", "nobody"], "");
    assert!(!unknown.status.success());
}

#[tokio::test]
async fn sessions_revoke_reaches_the_running_server_within_seconds() {
    let app = TestApp::spawn().await;
    let jar = app.signed_in("ada").await;
    let out = portcullis(&app, &["sessions", "revoke", "--user", "ada"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("revoked 1 session"));
    wait_until_rejected(&app, &jar).await;
}

/// The server polls revocations made elsewhere every second; allow a few.
async fn wait_until_rejected(app: &TestApp, jar: &Jar) {
    let access_only = Jar::with(&[(ACCESS, jar.access().expect("access"))]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if app.session(&mut access_only.clone()).await.status() == StatusCode::UNAUTHORIZED {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the revocation never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn keys_rotate_adds_a_signing_key_and_keeps_the_old_one_published() {
    let app = TestApp::spawn().await;
    let old = app.signed_in("ada").await;
    let out = portcullis(&app, &["keys", "rotate"], "");
    assert!(out.status.success(), "{out:?}");
    let list = stdout(&portcullis(&app, &["keys", "list"], ""));
    assert!(list.contains("signing"), "{list}");
    assert!(list.contains("retired, verifies until"), "{list}");

    // A server started now signs with the new key and still accepts the old token.
    let restarted = TestApp::spawn_on(
        tempfile::tempdir().expect("dir"),
        app.database_url.clone(),
        &[],
    )
    .await;
    let jwks: serde_json::Value = restarted
        .client
        .get(restarted.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    assert_eq!(jwks["keys"].as_array().expect("keys").len(), 2);
    let new = restarted.signed_in("grace").await;
    assert_ne!(
        kid(new.access().expect("access")),
        kid(old.access().expect("access"))
    );
    let response = restarted
        .session(&mut Jar::with(&[(ACCESS, old.access().expect("access"))]))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // And the first server learns the new key the first time it meets it.
    let response = app
        .session(&mut Jar::with(&[(ACCESS, new.access().expect("access"))]))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

fn kid(token: &str) -> String {
    use base64::Engine;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().expect("header"))
            .expect("b64"),
    )
    .expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test]
async fn a_bad_setting_stops_the_binary_with_a_message_naming_it() {
    let out = portcullis_binary()
        .args(["serve"])
        .env("PORTCULLIS_ACCESS_TOKEN_TTL", "forever")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PORTCULLIS_ACCESS_TOKEN_TTL"), "{stderr}");
}
