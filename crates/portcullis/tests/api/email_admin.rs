//! E-mail from the operator's side: the reset link printed by the admin
//! command, and the settings refused at start.

use std::process::Output;

use portcullis::config::{Config, Sources};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::openapi_email::MAIL_SETTINGS;

fn portcullis(app: &TestApp, args: &[&str], mail: bool) -> Output {
    let mut command = portcullis_binary();
    command
        .args(args)
        .env("PORTCULLIS_DATABASE_URL", &app.database_url);
    if mail {
        command.envs(MAIL_SETTINGS);
    }
    command.output().expect("the binary runs")
}

#[tokio::test]
async fn an_operator_prints_a_reset_link_that_works_once_and_mails_nothing() {
    let app = TestApp::spawn_with(&MAIL_SETTINGS).await;
    let mut ada = app.signed_in("ada").await;
    let out = portcullis(&app, &["user", "reset-link", "ada"], true);
    assert!(out.status.success(), "{out:?}");
    let link = String::from_utf8(out.stdout).expect("text");
    let token = link
        .trim()
        .strip_prefix("https://auth.example.test/reset-password#token=")
        .unwrap_or_else(|| panic!("a reset link, not {link:?}"));
    let reset = |token: &str| {
        app.client
            .post(app.url("/api/auth/password/reset"))
            .json(&json!({"token": token, "new_password": "an operator's horse battery"}))
            .send()
    };
    assert_eq!(reset(token).await.expect("answered").status(), 204);
    ada.cookies.remove(ACCESS);
    assert_eq!(app.session(&mut ada).await.status(), 401);
    let again = reset(token).await.expect("answered");
    assert_problem(again, StatusCode::BAD_REQUEST, "invalid_token").await;

    let unknown = portcullis(&app, &["user", "reset-link", "nobody"], true);
    assert!(!unknown.status.success());
    let off = portcullis(&app, &["user", "reset-link", "ada"], false);
    assert!(!off.status.success());
    let message = String::from_utf8_lossy(&off.stderr);
    assert!(message.contains("password reset is off"), "{message}");
}

fn refusal(vars: &[(&str, &str)]) -> String {
    let mut env = vec![("PORTCULLIS_DATABASE_URL", "sqlite://unused.db")];
    env.extend_from_slice(vars);
    Config::from_sources(&Sources::from_env(env.iter().copied()))
        .expect_err("refused")
        .to_string()
}

#[test]
fn e_mail_settings_that_cannot_work_stop_the_start_and_say_why() {
    let smtp = ("PORTCULLIS_SMTP_URL", "smtp://mail.example.com");
    let from = ("PORTCULLIS_MAIL_FROM", "no-reply@example.com");
    let public = ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com");
    assert!(refusal(&[smtp, from]).contains("public_url"));
    assert!(refusal(&[smtp, public]).contains("mail_from"));
    assert!(refusal(&[from]).contains("mail_from needs e-mail"));
    let required = ("PORTCULLIS_REQUIRE_VERIFIED_EMAIL", "true");
    assert!(refusal(&[required]).contains("require_verified_email needs e-mail"));
    let both = ("PORTCULLIS_SMTP_URL_FILE", "/nonexistent");
    assert!(refusal(&[smtp, from, public, both]).contains("smtp_url_file"));
    let ttl = ("PORTCULLIS_PASSWORD_RESET_TTL", "30d");
    assert!(refusal(&[smtp, from, public, ttl]).contains("password_reset_ttl"));

    // A bad URL is refused without echoing it: it may hold a password.
    let leaky = (
        "PORTCULLIS_SMTP_URL",
        "smtp://u:hunter2@mail.example.com?tls=none",
    );
    let message = refusal(&[leaky, from, public]);
    assert!(message.contains("PORTCULLIS_SMTP_URL"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn the_smtp_url_may_come_from_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("smtp-url");
    std::fs::write(&file, "smtps://u:p@mail.example.com\n").expect("written");
    let path = file.display().to_string();
    let env = [
        ("PORTCULLIS_DATABASE_URL", "sqlite://unused.db"),
        ("PORTCULLIS_SMTP_URL_FILE", path.as_str()),
        ("PORTCULLIS_MAIL_FROM", "no-reply@example.com"),
        ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
    ];
    let config = Config::from_sources(&Sources::from_env(env)).expect("valid");
    let mail = config.mail.expect("e-mail on");
    match mail.transport {
        portcullis::config::MailTransport::Smtp(server) => {
            assert_eq!(
                (server.host.as_str(), server.port),
                ("mail.example.com", 465)
            );
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(&file, "smtp://u:hunter2@mail.example.com?tls=none\n").expect("written");
    let message = Config::from_sources(&Sources::from_env(env))
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains("smtp-url") && !message.contains("hunter2"),
        "{message}"
    );
}
