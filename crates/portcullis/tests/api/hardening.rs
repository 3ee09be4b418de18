//! Issue-6 defences: per-address limits, equal work for every failed sign-in,
//! and the append-only audit log.

use std::sync::Arc;
use std::time::Duration;

use portcullis::auth::{Auth, ClientInfo, NewAccount, SignInAttempt};
use portcullis::clock::SystemClock;
use portcullis::config::{Config, Sources};
use portcullis::store::{AuditFilter, Store};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn an_address_that_keeps_failing_is_throttled_across_accounts() {
    let app = TestApp::spawn_with(&[("PORTCULLIS_ADDRESS_LOGIN_FAILURES", "3/10m")]).await;
    app.signed_in("ada").await;
    // A spray: one common guess against several accounts.
    for name in ["bob", "carol", "dave"] {
        let r = app.login(&mut Jar::default(), name, "Summer2026!").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app.login(&mut Jar::default(), "erin", "Summer2026!").await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the budget is spent, not yet exceeded"
    );
    // Now even a correct sign-in from this address waits.
    let response = app.login(&mut Jar::default(), "ada", PASSWORD).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    app.advance(Duration::from_secs(200));
    assert_eq!(
        app.login(&mut Jar::default(), "ada", PASSWORD)
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn successful_sign_ins_from_one_address_are_not_limited_by_failures() {
    let app = TestApp::spawn_with(&[("PORTCULLIS_ADDRESS_LOGIN_FAILURES", "2/10m")]).await;
    app.signed_in("ada").await;
    for _ in 0..6 {
        assert_eq!(
            app.login(&mut Jar::default(), "ada", PASSWORD)
                .await
                .status(),
            StatusCode::CREATED
        );
    }
}

#[tokio::test]
async fn registrations_and_refreshes_are_limited_per_address() {
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_ADDRESS_REGISTRATIONS", "2/1h"),
        ("PORTCULLIS_ADDRESS_REFRESHES", "2/1m"),
    ])
    .await;
    let mut jar = app.signed_in("ada").await;
    app.signed_in("bob").await;
    let response = app.register(&mut Jar::default(), "carol").await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;

    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    let response = app.refresh(&mut jar).await;
    assert!(
        set_cookies(response.headers()).is_empty(),
        "a throttled refresh keeps the session"
    );
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    app.advance(Duration::from_secs(30));
    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn every_failed_sign_in_costs_exactly_one_argon2_verification() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let config = Config::from_sources(&Sources::from_env([(
        "PORTCULLIS_DATABASE_URL",
        url.as_str(),
    )]))
    .expect("config");
    let store = Store::connect(&config.database).await.expect("store");
    let auth = Auth::load(&config, store, Arc::new(SystemClock))
        .await
        .expect("auth");
    let client = ClientInfo::default();
    let password = SecretString::from(PASSWORD);
    let ada = NewAccount {
        username: "ada",
        email: "ada@example.com",
        password: &password,
    };
    auth.create_user(ada).await.expect("created");
    let mallory = NewAccount {
        username: "mallory",
        email: "m@example.com",
        password: &password,
    };
    let mallory = auth.create_user(mallory).await.expect("created");
    auth.disable_user(mallory.id).await.expect("disabled");
    auth.passwords().warm_up().await.expect("dummy hash");

    for (name, password) in [
        ("ada", "wrong password!"),
        ("nobody", PASSWORD),
        ("mallory", PASSWORD),
        ("ada", PASSWORD),
    ] {
        let before = auth.passwords().completed();
        let attempt = SignInAttempt {
            login: name,
            password: &SecretString::from(password),
            device: None,
        };
        let _ = auth.login(attempt, &client).await;
        assert_eq!(auth.passwords().completed() - before, 1, "{name}");
    }
}

#[tokio::test]
async fn security_events_are_audited_without_secrets() {
    let app = TestApp::spawn().await;
    let mut ada = app.signed_in("ada").await;
    let stolen = ada.clone();
    // A user agent and a failed sign-in where a password went into the name field.
    let failed = app
        .client
        .post(app.url("/api/auth/login"))
        .header("user-agent", "AuditTest/1.0")
        .json(&json!({"username": "hunter2-typed-here", "password": "nope nope nope"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    app.login(&mut Jar::default(), "ada", "also wrong!!").await;
    let mut phone = Jar::default();
    app.login(&mut phone, "ada", PASSWORD).await;
    assert_eq!(app.refresh(&mut ada).await.status(), StatusCode::NO_CONTENT);
    app.advance(Duration::from_secs(11));
    assert_eq!(
        app.refresh(&mut stolen.clone()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let new = "another long passphrase";
    let body = json!({"current_password": PASSWORD, "new_password": new});
    assert_eq!(
        app.post(&mut phone, "/api/auth/password", Some(body))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.post(&mut phone, "/api/auth/logout-all", None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    let out = portcullis_binary()
        .args(["audit", "--since", "1h", "--limit", "50"])
        .env("PORTCULLIS_DATABASE_URL", &app.database_url)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    for kind in [
        "registered",
        "sign_in_failed",
        "sign_in_ok",
        "refresh_reuse_detected",
        "password_changed",
        "logout_all",
    ] {
        assert!(log.contains(kind), "{kind} missing from:\n{log}");
    }
    assert!(
        log.contains("AuditTest/1.0") && log.contains("127.0.0.1"),
        "{log}"
    );
    for secret in [
        PASSWORD,
        new,
        "also wrong!!",
        "hunter2-typed-here",
        "nope nope nope",
    ] {
        assert!(!log.contains(secret), "{secret} leaked into the audit log");
    }
    for cookie in stolen.cookies.values().chain(ada.cookies.values()) {
        assert!(
            !log.contains(cookie.as_str()),
            "a token leaked into the audit log"
        );
    }

    let only_ada = portcullis_binary()
        .args(["audit", "--user", "ada"])
        .env("PORTCULLIS_DATABASE_URL", &app.database_url)
        .output()
        .expect("runs");
    let only_ada = String::from_utf8_lossy(&only_ada.stdout).into_owned();
    assert!(
        only_ada.lines().skip(1).all(|l| l.contains("ada")),
        "{only_ada}"
    );
    assert!(!only_ada.contains("hunter2"));
}

#[tokio::test]
async fn the_audit_log_cannot_be_rewritten() {
    let app = TestApp::spawn().await;
    app.signed_in("ada").await;
    let config = Config::from_sources(&Sources::from_env([(
        "PORTCULLIS_DATABASE_URL",
        app.database_url.as_str(),
    )]))
    .expect("config");
    let store = Store::connect(&config.database).await.expect("store");
    let filter = AuditFilter {
        limit: 10,
        ..AuditFilter::default()
    };
    assert!(!store.audit_events(&filter).await.expect("read").is_empty());
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("raw connection");
    for statement in [
        "UPDATE audit_events SET kind = 'nothing'",
        "DELETE FROM audit_events",
    ] {
        let err = sqlx::query(statement)
            .execute(&pool)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
}
