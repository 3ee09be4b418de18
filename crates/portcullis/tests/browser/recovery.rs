//! The e-mail flows in a real browser, with the mail delivered to a real SMTP
//! server (`aiosmtpd`) and its links opened as a person would open them.

use crate::harness::*;

#[path = "../api/smtp.rs"]
#[allow(dead_code)]
mod smtp;

use smtp::SmtpServer;

const NEW_PASSWORD: &str = "a brand new horse battery";

/// The app on a port chosen first, so that `public_url` (which every mailed
/// link starts with) is the address the browser reaches it at.
async fn mailing_app(smtp: &SmtpServer) -> App {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let public = format!("http://localhost:{port}");
    let settings = smtp.settings(&public);
    let mut vars: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vars.push(("PORTCULLIS_BIND", &bind));
    let app = App::spawn(&vars).await;
    assert_eq!(app.port, port);
    app
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver and python3 with aiosmtpd"]
async fn a_forgotten_password_is_reset_from_the_mailed_link_and_every_device_is_signed_out() {
    let smtp = SmtpServer::start();
    let browser = Browser::launch("password_reset_by_mail").await;
    let app = mailing_app(&smtp).await;
    let laptop = browser.tab().await;
    sign_up(&laptop, &app, "ada").await;
    let phone = browser.tab().await;
    sign_in(&phone, &app, "ada").await;

    let tab = browser.tab().await;
    tab.goto(&app.url("/login")).await;
    tab.click("a[href='/forgot-password']").await;
    tab.wait_for_path("/forgot-password").await;
    tab.type_into("#email", "ada@example.com").await;
    tab.click("form[data-form=forgot] button[type=submit]")
        .await;
    tab.wait_text("#status", "If an account uses this address")
        .await;
    tab.screenshot("link-sent").await;

    let mail = smtp.wait_for_mail_to("ada@example.com", 2).await;
    assert_eq!(mail.subject(), "Reset your password");
    let link = mail.link("/reset-password").expect("a reset link");
    tab.goto(&link).await;
    // The token leaves the address bar (and the history) at once.
    tab.wait_until("location.hash === ''").await;
    tab.type_into("#new_password", NEW_PASSWORD).await;
    tab.screenshot("new-password").await;
    tab.click("form[data-form=reset] button[type=submit]").await;
    tab.wait_for_path("/login").await;
    tab.wait_text("main", "Your password has been changed")
        .await;

    for device in [&laptop, &phone] {
        device.goto(&app.url("/account")).await;
        device.wait_for_path("/login").await;
    }

    tab.type_into("#username", "ada").await;
    tab.type_into("#password", NEW_PASSWORD).await;
    tab.click("form[data-form=login] button[type=submit]").await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "ada").await;

    // The link is spent: opened again, it says so.
    let again = browser.tab().await;
    again.goto(&link).await;
    again
        .type_into("#new_password", "yet another horse battery")
        .await;
    again
        .click("form[data-form=reset] button[type=submit]")
        .await;
    again
        .wait_text("#form-error", "expired, was already used")
        .await;
    again.screenshot("spent-link").await;
    for t in [laptop, phone, tab, again] {
        t.close().await;
    }
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver and python3 with aiosmtpd"]
async fn a_verification_link_opened_in_another_browser_verifies_the_address() {
    let smtp = SmtpServer::start();
    let browser = Browser::launch("verify_email").await;
    let app = mailing_app(&smtp).await;
    let tab = browser.tab().await;
    sign_up(&tab, &app, "ada").await;
    tab.wait_text("#verify-banner", "is not verified yet").await;
    let first = smtp.wait_for_mail_to("ada@example.com", 1).await;
    tab.click("button[data-action=resend-verification]").await;
    tab.wait_text("#status", "A new link is on its way").await;
    tab.screenshot("unverified").await;
    let second = smtp.wait_for_mail_to("ada@example.com", 2).await;
    assert_eq!(second.subject(), "Confirm your e-mail address");

    // Another browser, not signed in: a phone's mail app, say.
    let other = browser.tab().await;
    other
        .goto(&first.link("/verify-email").expect("a link"))
        .await;
    other.wait_text("#form-error", "a newer one was sent").await;
    other
        .goto(&second.link("/verify-email").expect("a link"))
        .await;
    other
        .wait_text("#status", "Your e-mail address is verified")
        .await;
    other.wait_until("location.hash === ''").await;
    other.screenshot("verified").await;

    tab.goto(&app.url("/account")).await;
    tab.wait_text("#profile-username", "ada").await;
    tab.wait_until("document.getElementById('verify-banner') === null")
        .await;
    tab.close().await;
    other.close().await;
}
