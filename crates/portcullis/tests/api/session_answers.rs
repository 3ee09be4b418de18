//! `GET /api/auth/session` answers from memory once it has read a session,
//! until the user changes: a change made anywhere — on this instance, on
//! another, by an operator's own SQL — must show in every instance's answer,
//! as soon as a revocation would.

use std::sync::Arc;

use portcullis::clock::{Clock, ManualClock, SystemClock};
use reqwest::StatusCode;
use serde_json::Value;

use crate::databases::{SMALL_POOL, TestDb};
use crate::email::PUBLIC_URL;
use crate::helpers::*;
use crate::instances::{PROPAGATION, eventually};
use crate::smtp::SmtpServer;

/// What `app` answers `GET /api/auth/session` with, for `jar`.
async fn user_on(app: &TestApp, jar: &Jar) -> Value {
    let response = app.session(&mut jar.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.expect("JSON")["user"].clone()
}

/// Waits until `app` shows `field` of the user as `want`.
async fn shows(app: &TestApp, jar: &Jar, field: &str, want: Value, what: &str) {
    eventually(PROPAGATION, what, || {
        let want = want.clone();
        async move { user_on(app, jar).await[field] == want }
    })
    .await;
}

/// Two instances on one database and one clock.
async fn two_instances(db: &mut TestDb, vars: &[(&str, &str)]) -> (TestApp, TestApp) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let mut spawn = || {
        let (dir, url) = (db.take_dir(), db.url().to_owned());
        let mut vars = vars.to_vec();
        vars.push(SMALL_POOL);
        let clock = clock.clone();
        async move { TestApp::spawn_with_clock(dir, url, &vars, clock).await }
    };
    let a = spawn().await;
    let b = spawn().await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 with aiosmtpd"]
async fn an_address_verified_on_one_instance_shows_in_the_others_session_answer() {
    let smtp = SmtpServer::start();
    let settings = smtp.settings(PUBLIC_URL);
    let vars: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut db = TestDb::postgres().await;
    let (a, b) = two_instances(&mut db, &vars).await;
    let jar = a.signed_in("ada").await;
    // B reads the session, and remembers its answer.
    assert_eq!(user_on(&b, &jar).await["email_verified"], false);
    assert_eq!(user_on(&b, &jar).await["email_verified"], false);

    let mail = smtp.wait_for_mail_to("ada@example.com", 1).await;
    let verified = a
        .post(
            &mut Jar::default(),
            "/api/auth/email/verify",
            Some(serde_json::json!({ "token": mail.token("/verify-email") })),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::NO_CONTENT);
    // On A at once, on B as soon as the change arrives.
    assert_eq!(user_on(&a, &jar).await["email_verified"], true);
    shows(
        &b,
        &jar,
        "email_verified",
        Value::Bool(true),
        "verified on A, seen by B",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_own_update_on_postgresql_shows_in_every_session_answer() {
    let mut db = TestDb::postgres().await;
    let (a, b) = two_instances(&mut db, &[]).await;
    let jar = a.signed_in("ada").await;
    for app in [&a, &b] {
        assert_eq!(user_on(app, &jar).await["email_verified"], false);
    }
    // No `updated_at`: only the trigger announces this change.
    let pool = sqlx::PgPool::connect(db.url()).await.expect("connects");
    sqlx::query("UPDATE users SET email_verified = TRUE")
        .execute(&pool)
        .await
        .expect("updates");
    pool.close().await;
    for (app, what) in [(&a, "seen by A"), (&b, "seen by B")] {
        shows(app, &jar, "email_verified", Value::Bool(true), what).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_written_by_another_process_on_sqlite_shows_in_the_session_answer() {
    let mut db = TestDb::sqlite();
    let (a, b) = two_instances(&mut db, &[]).await;
    let jar = a.signed_in("ada").await;
    for app in [&a, &b] {
        assert_eq!(user_on(app, &jar).await["email_verified"], false);
    }
    // As another instance or an admin command writes a user: `updated_at`
    // set, nothing announced; every instance finds it by polling.
    let now = a.clock.now().unix_timestamp() * 1000;
    let pool = sqlx::SqlitePool::connect(db.url()).await.expect("opens");
    sqlx::query("UPDATE users SET email_verified = 1, updated_at = $1")
        .bind(now)
        .execute(&pool)
        .await
        .expect("updates");
    pool.close().await;
    for (app, what) in [(&a, "seen by A"), (&b, "seen by B")] {
        shows(app, &jar, "email_verified", Value::Bool(true), what).await;
    }
}

#[tokio::test]
async fn a_disabled_account_has_no_session_answer_even_once_remembered() {
    let app = TestApp::spawn().await;
    let jar = app.signed_in("ada").await;
    assert_eq!(user_on(&app, &jar).await["username"], "ada");
    crate::instances::admin(&app.database_url, &["user", "disable", "ada"]).await;
    eventually(PROPAGATION, "disabled from the command line", || async {
        app.session(&mut jar.clone()).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
}
