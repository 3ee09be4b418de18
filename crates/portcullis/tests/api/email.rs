//! Password reset, address verification and change, and security notices,
//! end to end: a real Portcullis sends real mail over STARTTLS with `AUTH`
//! to a real SMTP server (`aiosmtpd`), and the tests follow the links in
//! what arrives.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::auth_attacks::DEVICE;
use crate::helpers::*;
use crate::smtp::{self, SmtpServer};

pub const PUBLIC_URL: &str = "https://auth.example.test";
const NEW_PASSWORD: &str = "a brand new horse battery";

/// A Portcullis that mails through its own SMTP server.
pub struct MailApp {
    pub app: TestApp,
    pub smtp: SmtpServer,
}

impl MailApp {
    pub async fn spawn(extra: &[(&str, &str)]) -> Self {
        let smtp = SmtpServer::start();
        let app = spawn_mailing(&smtp, extra).await;
        Self { app, smtp }
    }
}

/// A test app whose mail goes to `smtp`.
pub async fn spawn_mailing(smtp: &SmtpServer, extra: &[(&str, &str)]) -> TestApp {
    let settings = smtp.settings(PUBLIC_URL);
    let mut vars: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars).await
}

async fn post(app: &TestApp, jar: &mut Jar, path: &str, body: Value) -> reqwest::Response {
    app.post(jar, path, Some(body)).await
}

async fn forgot(app: &TestApp, email: &str) -> reqwest::Response {
    post(
        app,
        &mut Jar::default(),
        "/api/auth/password/forgot",
        json!({ "email": email }),
    )
    .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    post(
        app,
        &mut Jar::default(),
        "/api/auth/password/reset",
        json!({ "token": token, "new_password": password }),
    )
    .await
}

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    post(
        app,
        &mut Jar::default(),
        "/api/auth/email/verify",
        json!({ "token": token }),
    )
    .await
}

/// The payload of a JWT, unverified.
fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

async fn user_of(app: &TestApp, jar: &mut Jar) -> Value {
    let response = app.session(jar).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.expect("JSON")["user"].clone()
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd"]
async fn a_forgotten_password_is_reset_with_the_mailed_link_and_every_session_ends() {
    let MailApp { app, smtp } = MailApp::spawn(&[]).await;
    let mut first = app.signed_in("ada").await;
    let mut second = Jar::default();
    assert_eq!(app.login(&mut second, "ada", PASSWORD).await.status(), 201);
    smtp.wait_for_mail_to("ada@example.com", 1).await; // the verification

    let response = forgot(&app, "ADA@example.com").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.text().await.expect("body"), "");
    let mail = smtp.wait_for_mail_to("ada@example.com", 2).await;
    assert_eq!(mail.subject(), "Reset your password");
    assert_eq!(mail.rcpt_tos, ["ada@example.com"]);
    assert_eq!(mail.login.as_deref(), Some(smtp::USER), "sent with AUTH");
    assert_eq!(
        mail.header("from"),
        Some("Portcullis <no-reply@auth.example.test>")
    );
    assert_eq!(mail.header("to"), Some("ada@example.com"));
    assert_eq!(mail.header("auto-submitted"), Some("auto-generated"));
    assert_eq!(mail.content_type, "multipart/alternative");
    let link = mail.link("/reset-password").expect("a link");
    assert!(
        link.starts_with(&format!("{PUBLIC_URL}/reset-password#token=")),
        "{link}"
    );
    let token = mail.token("/reset-password");
    assert_eq!(token.len(), 43, "32 random bytes, base64url");
    assert!(
        !link.contains('?'),
        "the token is in the fragment only: {link}"
    );
    // minijinja escapes `/` in HTML; a browser reads `&#x2f;` as `/`.
    let html = mail.html.replace("&#x2f;", "/");
    assert!(html.contains(&link), "the HTML part has the same link");
    for tracker in ["<img", "src=", "url("] {
        assert!(!html.contains(tracker), "{tracker} in {html}");
    }
    for href in html.split("href=\"").skip(1) {
        let target = href.split('"').next().unwrap_or_default();
        assert!(target.starts_with(PUBLIC_URL), "a link elsewhere: {target}");
    }
    assert!(mail.text.contains("30 minutes"), "{}", mail.text);

    let response = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for jar in [&mut first, &mut second] {
        jar.cookies.remove(ACCESS);
        assert_eq!(
            app.session(jar).await.status(),
            401,
            "signed out everywhere"
        );
    }
    let mut jar = Jar::default();
    assert_eq!(app.login(&mut jar, "ada", PASSWORD).await.status(), 401);
    assert_eq!(app.login(&mut jar, "ada", NEW_PASSWORD).await.status(), 201);
    assert_eq!(
        user_of(&app, &mut jar).await["email_verified"],
        true,
        "a used reset link proves the address"
    );

    let notice = smtp.wait_for_mail_to("ada@example.com", 3).await;
    assert_eq!(notice.subject(), "Your password was reset");
    assert!(
        notice.text.contains("Every device signed in"),
        "{}",
        notice.text
    );
    assert!(
        notice
            .text
            .contains(&format!("{PUBLIC_URL}/forgot-password"))
    );

    let replayed = reset(&app, &token, "yet another horse battery").await;
    assert_problem(replayed, StatusCode::BAD_REQUEST, "invalid_token").await;
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd"]
async fn an_unknown_address_gets_the_same_answer_and_costs_the_same_but_gets_no_mail() {
    let MailApp { app, smtp } = MailApp::spawn(&[]).await;
    app.signed_in("ada").await;
    smtp.wait_for(1).await;
    let before = queued_resets(&app).await;
    let started = std::time::Instant::now();
    let known = forgot(&app, "ada@example.com").await;
    let known_took = started.elapsed();
    let started = std::time::Instant::now();
    let unknown = forgot(&app, "nobody@example.com").await;
    // Reported, never asserted: the machine is shared and noisy.
    eprintln!(
        "forgot: known address {known_took:?}, unknown address {:?}",
        started.elapsed()
    );
    assert_eq!(known.status(), unknown.status());
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    for header in ["content-type", "content-length", "cache-control"] {
        assert_eq!(
            known.headers().get(header),
            unknown.headers().get(header),
            "{header}"
        );
    }
    assert_eq!(
        known.text().await.expect("body"),
        unknown.text().await.expect("body")
    );
    // The same work on the request's path: one outbox row each.
    assert_eq!(queued_resets(&app).await, before + 2);
    smtp.wait_for(2).await;
    wait_until(|| async { deliveries(&app, "dropped").await == 1 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "the verification and one reset");
    assert!(messages.iter().all(|m| m.rcpt_tos == ["ada@example.com"]));
}

/// `portcullis_mail_queued_total{kind="password_reset"}`.
async fn queued_resets(app: &TestApp) -> u64 {
    metric(app, "portcullis_mail_queued_total{kind=\"password_reset\"}").await
}

/// Password-reset rows dealt with this way.
async fn deliveries(app: &TestApp, outcome: &str) -> u64 {
    metric(
        app,
        &format!(
            "portcullis_mail_deliveries_total{{kind=\"password_reset\",outcome=\"{outcome}\"}}"
        ),
    )
    .await
}

pub async fn metric(app: &TestApp, series: &str) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .map_or(0, |v| v.trim().parse().expect("a count"))
}

pub async fn wait_until<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the condition never held");
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd"]
async fn an_expired_or_superseded_link_is_refused() {
    let MailApp { app, smtp } = MailApp::spawn(&[]).await;
    app.signed_in("ada").await;
    smtp.wait_for(1).await;
    forgot(&app, "ada@example.com").await;
    let older = smtp.wait_for(2).await[1].token("/reset-password");
    forgot(&app, "ada@example.com").await;
    let newer = smtp.wait_for(3).await[2].token("/reset-password");
    assert_ne!(older, newer);
    let superseded = reset(&app, &older, NEW_PASSWORD).await;
    assert_problem(superseded, StatusCode::BAD_REQUEST, "invalid_token").await;

    app.advance(Duration::from_secs(30 * 60 + 1));
    let expired = reset(&app, &newer, NEW_PASSWORD).await;
    assert_problem(expired, StatusCode::BAD_REQUEST, "invalid_token").await;
    for forged in ["", "short", &"A".repeat(43), &format!("{newer}x")] {
        let response = reset(&app, forged, NEW_PASSWORD).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_token").await;
    }
    // A weak password is refused before the link is spent.
    forgot(&app, "ada@example.com").await;
    let fresh = smtp.wait_for(4).await[3].token("/reset-password");
    let weak = reset(&app, &fresh, "password").await;
    assert_problem(weak, StatusCode::BAD_REQUEST, "weak_password").await;
    assert_eq!(reset(&app, &fresh, NEW_PASSWORD).await.status(), 204);
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd"]
async fn registration_mails_a_link_that_verifies_the_address_and_the_claim() {
    let MailApp { app, smtp } = MailApp::spawn(&[]).await;
    let mut jar = Jar::default();
    let registered = app.register(&mut jar, "ada").await;
    assert_eq!(registered.status(), 201);
    let body: Value = registered.json().await.expect("JSON");
    assert_eq!(body["user"]["email_verified"], false);
    let mail = smtp.wait_for_mail_to("ada@example.com", 1).await;
    assert_eq!(mail.subject(), "Confirm your e-mail address");
    let link = mail.link("/verify-email").expect("a link");
    assert!(link.starts_with(&format!("{PUBLIC_URL}/verify-email#token=")));

    assert_eq!(
        verify(&app, &mail.token("/verify-email")).await.status(),
        204
    );
    assert_eq!(user_of(&app, &mut jar).await["email_verified"], true);
    // The access token is reissued with the claim at the next refresh.
    assert_eq!(app.refresh(&mut jar).await.status(), 204);
    let claims = claims_of(jar.access().expect("access cookie"));
    assert_eq!(claims["email_verified"], true);

    let again = verify(&app, &mail.token("/verify-email")).await;
    assert_problem(again, StatusCode::BAD_REQUEST, "invalid_token").await;
    // Verified already: a resend sends nothing more.
    let resent = app.post(&mut jar, "/api/auth/email/resend", None).await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd"]
async fn with_verification_required_only_a_right_password_learns_the_address_is_unverified() {
    let MailApp { app, smtp } =
        MailApp::spawn(&[("PORTCULLIS_REQUIRE_VERIFIED_EMAIL", "true")]).await;
    let mut jar = Jar::default();
    let registered = app.register(&mut jar, "ada").await;
    assert_eq!(registered.status(), 201);
    // Not signed in before verifying; but the browser that set the
    // password is known to the account.
    let only_device = |jar: &Jar| jar.cookies.keys().eq([DEVICE]);
    assert!(only_device(&jar), "{jar:?}");
    let device = jar.cookies[DEVICE].clone();
    smtp.wait_for_mail_to("ada@example.com", 1).await;

    let wrong = app.login(&mut jar, "ada", "not the password at all").await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let right = app.login(&mut jar, "ada", PASSWORD).await;
    assert_problem(right, StatusCode::FORBIDDEN, "email_not_verified").await;
    assert!(only_device(&jar), "{jar:?}");
    assert_eq!(
        jar.cookies[DEVICE], device,
        "a refused sign-in sets nothing"
    );
    // The refused sign-in sent a fresh link, which voids the first.
    let mail = smtp.wait_for_mail_to("ada@example.com", 2).await;
    assert_eq!(
        verify(&app, &mail.token("/verify-email")).await.status(),
        204
    );
    assert_eq!(app.login(&mut jar, "ada", PASSWORD).await.status(), 201);
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd"]
async fn a_new_address_is_confirmed_by_its_link_and_the_old_one_is_told() {
    let MailApp { app, smtp } = MailApp::spawn(&[]).await;
    let mut ada = app.signed_in("ada").await;
    app.signed_in("bob").await;
    smtp.wait_for(2).await;
    let change =
        |email: &str, password: &str| json!({"email": email, "current_password": password});
    let wrong = post(
        &app,
        &mut ada,
        "/api/auth/email",
        change("ada@new.example", "nope nope nope"),
    )
    .await;
    assert_problem(wrong, StatusCode::FORBIDDEN, "invalid_credentials").await;
    let taken = post(
        &app,
        &mut ada,
        "/api/auth/email",
        change("bob@example.com", PASSWORD),
    )
    .await;
    assert_problem(taken, StatusCode::CONFLICT, "account_exists").await;
    let bad = post(
        &app,
        &mut ada,
        "/api/auth/email",
        change("not an address", PASSWORD),
    )
    .await;
    assert_problem(bad, StatusCode::BAD_REQUEST, "invalid_email").await;

    let asked = post(
        &app,
        &mut ada,
        "/api/auth/email",
        change("Ada@New.example", PASSWORD),
    )
    .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let confirm = smtp.wait_for_mail_to("Ada@New.example", 1).await;
    assert_eq!(confirm.subject(), "Confirm your new e-mail address");
    assert_eq!(
        user_of(&app, &mut ada).await["email"],
        "ada@example.com",
        "not yet"
    );

    assert_eq!(
        verify(&app, &confirm.token("/verify-email")).await.status(),
        204
    );
    let user = user_of(&app, &mut ada).await;
    assert_eq!(user["email"], "Ada@New.example");
    assert_eq!(user["email_verified"], true);
    let told = smtp.wait_for_mail_to("ada@example.com", 2).await;
    assert_eq!(told.subject(), "Your account's e-mail address was changed");
    assert!(told.text.contains("A***@New.example"), "{}", told.text);
    let mut jar = Jar::default();
    assert_eq!(
        app.login(&mut jar, "ada@new.example", PASSWORD)
            .await
            .status(),
        201
    );
    assert_eq!(
        app.login(&mut jar, "ada@example.com", PASSWORD)
            .await
            .status(),
        401
    );
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd"]
async fn password_changes_new_devices_and_stolen_refresh_tokens_are_reported() {
    let MailApp { app, smtp } = MailApp::spawn(&[("PORTCULLIS_NOTIFY_NEW_DEVICE", "true")]).await;
    let mut ada = app.signed_in("ada").await;
    smtp.wait_for(1).await;

    // The browser that registered (its device cookie) signs in again: no
    // notice. A browser without one is new, even with the same User-Agent.
    let mut same = ada.clone();
    assert_eq!(app.login(&mut same, "ada", PASSWORD).await.status(), 201);
    let mut lookalike = Jar::default();
    assert_eq!(
        app.login(&mut lookalike, "ada", PASSWORD).await.status(),
        201
    );
    let device = smtp.wait_for_mail_to("ada@example.com", 2).await;
    assert_eq!(device.subject(), "New sign-in to your account");
    // It knows the browser now.
    assert_eq!(
        app.login(&mut lookalike, "ada", PASSWORD).await.status(),
        201
    );
    let other = app
        .client
        .post(app.url("/api/auth/login"))
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        )
        .json(&json!({"username": "ada", "password": PASSWORD}))
        .send()
        .await
        .expect("answered");
    assert_eq!(other.status(), 201);
    let device = smtp.wait_for_mail_to("ada@example.com", 3).await;
    assert_eq!(device.subject(), "New sign-in to your account");
    assert!(device.text.contains("Firefox on Linux"), "{}", device.text);

    let changed = post(
        &app,
        &mut ada,
        "/api/auth/password",
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(changed.status(), 204);
    let notice = smtp.wait_for_mail_to("ada@example.com", 4).await;
    assert_eq!(notice.subject(), "Your password was changed");
    assert!(notice.text.contains("If it was not"), "{}", notice.text);

    // A copy of the refresh token, presented after the grace window of
    // the rotation it missed.
    let stolen = ada.refresh().expect("refresh cookie").to_owned();
    assert_eq!(app.refresh(&mut ada).await.status(), 204);
    app.advance(Duration::from_secs(11));
    let mut thief = Jar::with(&[(REFRESH, &stolen)]);
    let denied = app.refresh(&mut thief).await;
    assert_eq!(
        denied.headers()["portcullis-refresh-denied"],
        "reuse_detected"
    );
    let reuse = smtp.wait_for_mail_to("ada@example.com", 5).await;
    assert_eq!(
        reuse.subject(),
        "We signed out a device that may have been copied"
    );
    assert_eq!(smtp.messages().len(), 5, "each event mailed once");
}

#[tokio::test]
async fn without_a_transport_every_email_route_is_not_found_before_anything_else() {
    let app = TestApp::spawn().await;
    let mut ada = app.signed_in("ada").await;
    for path in [
        "/api/auth/password/forgot",
        "/api/auth/password/reset",
        "/api/auth/email/verify",
        "/api/auth/email/resend",
        "/api/auth/email",
    ] {
        let malformed = app
            .client
            .post(app.url(path))
            .header("content-type", "text/plain")
            .body("{")
            .send()
            .await
            .expect("answered");
        assert_problem(malformed, StatusCode::NOT_FOUND, "not_found").await;
        let signed_in = app.post(&mut ada, path, Some(json!({}))).await;
        assert_problem(signed_in, StatusCode::NOT_FOUND, "not_found").await;
    }
    let page = app
        .client
        .get(app.url("/forgot-password"))
        .send()
        .await
        .expect("answered");
    assert_eq!(page.status(), 404);
    let login = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("answered");
    assert!(
        !login
            .text()
            .await
            .expect("page")
            .contains("Forgot your password?")
    );
}

#[tokio::test]
async fn mail_requests_are_limited_per_client_address_and_per_submitted_address() {
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_SMTP_URL", "log:"),
        ("PORTCULLIS_MAIL_FROM", "no-reply@auth.example.test"),
        ("PORTCULLIS_PUBLIC_URL", PUBLIC_URL),
        ("PORTCULLIS_ACCOUNT_EMAIL_REQUESTS", "2/1h"),
        ("PORTCULLIS_ADDRESS_EMAIL_REQUESTS", "4/1h"),
    ])
    .await;
    for _ in 0..2 {
        assert_eq!(forgot(&app, "nobody@example.com").await.status(), 202);
    }
    let limited = forgot(&app, "NOBODY@example.com").await;
    let body = assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    assert!(body.get("detail").is_none());
    assert_eq!(forgot(&app, "other@example.com").await.status(), 202);
    // Four requests from this client address so far: the fifth is refused
    // whatever it asks.
    let address = forgot(&app, "third@example.com").await;
    assert_eq!(address.status(), 429);
    assert!(address.headers().contains_key("retry-after"));
    app.advance(Duration::from_secs(3601));
    assert_eq!(forgot(&app, "nobody@example.com").await.status(), 202);
}
