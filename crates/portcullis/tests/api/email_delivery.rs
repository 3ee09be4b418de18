//! Delivery itself: implicit TLS, a server that is down and comes back, two
//! instances sharing one outbox, and a server whose certificate is not the
//! one trusted.

use std::sync::Arc;
use std::time::Duration;

use portcullis::clock::{Clock, ManualClock, SystemClock};
use serde_json::json;

use crate::databases::TestDb;
use crate::email::{PUBLIC_URL, metric, spawn_mailing, wait_until};
use crate::helpers::*;
use crate::smtp::SmtpServer;

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd"]
async fn mail_goes_out_over_implicit_tls_too() {
    let smtp = SmtpServer::start_on(0, true);
    let app = spawn_mailing(&smtp, &[]).await;
    app.signed_in("ada").await;
    let mail = smtp.wait_for_mail_to("ada@example.com", 1).await;
    assert_eq!(mail.subject(), "Confirm your e-mail address");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 with aiosmtpd"]
async fn mail_queued_while_the_server_is_down_goes_out_once_it_is_back_exactly_once_from_two_instances()
 {
    let mut smtp = SmtpServer::start();
    smtp.stop();
    let db = TestDb::postgres().await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let settings = smtp.settings(PUBLIC_URL);
    let vars: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let spawn = || {
        TestApp::spawn_with_clock(
            tempfile::tempdir().expect("tempdir"),
            db.url().to_owned(),
            &vars,
            clock.clone(),
        )
    };
    let (one, two) = (spawn().await, spawn().await);
    one.signed_in("ada").await;
    two.signed_in("bob").await;
    for (app, email) in [(&one, "ada@example.com"), (&two, "bob@example.com")] {
        let forgot = app
            .post(
                &mut Jar::default(),
                "/api/auth/password/forgot",
                Some(json!({ "email": email })),
            )
            .await;
        assert_eq!(forgot.status(), 202);
    }
    // Every row has been tried and failed.
    let store = db.store().await;
    wait_until(|| async {
        let pending = store.pending_mail().await.expect("outbox");
        pending.len() == 4 && pending.iter().all(|m| m.last_error.is_some())
    })
    .await;

    smtp.restart();
    clock.advance(Duration::from_secs(600));
    let messages = smtp.wait_for(4).await;
    wait_until(|| async { store.pending_mail().await.expect("outbox").is_empty() }).await;
    // Both instances keep polling; nothing goes out twice.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let messages_after = smtp.messages();
    assert_eq!(messages_after.len(), 4, "{messages:?}");
    let mut subjects: Vec<_> = messages_after
        .iter()
        .map(|m| format!("{} {}", m.rcpt_tos[0], m.subject()))
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "ada@example.com Confirm your e-mail address",
            "ada@example.com Reset your password",
            "bob@example.com Confirm your e-mail address",
            "bob@example.com Reset your password",
        ]
    );
    let deferred = metric(
        &one,
        "portcullis_mail_deliveries_total{kind=\"verify_email\",outcome=\"deferred\"}",
    )
    .await
        + metric(
            &two,
            "portcullis_mail_deliveries_total{kind=\"verify_email\",outcome=\"deferred\"}",
        )
        .await;
    assert!(
        deferred >= 2,
        "each verification failed at least once first"
    );
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd"]
async fn a_server_whose_certificate_is_not_trusted_gets_no_mail() {
    let smtp = SmtpServer::start();
    let other = SmtpServer::start();
    let mut settings = smtp.settings(PUBLIC_URL);
    // Trust the other server's certificate only.
    settings[1].1 = other.ca_file.display().to_string();
    let vars: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let app = TestApp::spawn_with(&vars).await;
    app.signed_in("ada").await;
    wait_until(|| async {
        metric(
            &app,
            "portcullis_mail_deliveries_total{kind=\"verify_email\",outcome=\"deferred\"}",
        )
        .await
            >= 1
    })
    .await;
    assert!(smtp.messages().is_empty());
}
