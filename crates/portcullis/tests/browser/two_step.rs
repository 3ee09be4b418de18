//! Two-step verification in the pages: set up TOTP by reading the key off
//! the account page, as a person types it into an app, then sign in with the
//! password and a code, and with a recovery code.

use std::time::Duration;

use portcullis::auth::one_time_codes::{STEP_SECONDS, TotpSecret, step_of};
use portcullis::clock::Clock;

use crate::harness::*;

/// The code an authenticator app shows for `secret` at the server's time.
fn code(app: &App, secret: &TotpSecret) -> String {
    secret
        .code_at_step(step_of(app.clock.now()))
        .expect("a code")
}

/// Signs in with the password and waits for the second step.
async fn password_step(tab: &Tab<'_>, app: &App) {
    tab.goto(&app.url("/login")).await;
    tab.type_into("#username", "ada").await;
    tab.type_into("#password", PASSWORD).await;
    tab.click("form[data-form=login] button[type=submit]").await;
    tab.wait_for_path("/login/verify").await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_person_turns_on_totp_and_signs_in_with_a_code_then_a_recovery_code() {
    let keys = tempfile::tempdir().expect("tempdir");
    let key_file = keys.path().join("mfa.key");
    std::fs::write(
        &key_file,
        "a key file of at least thirty-two bytes, for tests",
    )
    .expect("key");
    let key_file = key_file.display().to_string();
    let app = App::spawn(&[("PORTCULLIS_MFA_KEY_FILE", &key_file)]).await;
    let browser = Browser::launch("two_step_totp").await;
    let tab = browser.tab().await;

    sign_up(&tab, &app, "ada").await;
    tab.wait_text("#two-step-state", "Off").await;
    tab.click("button[data-action=totp-begin]").await;
    tab.wait_until("document.getElementById('totp-secret').textContent.length >= 32")
        .await;
    let shown = tab
        .eval("document.getElementById('totp-secret').textContent")
        .await;
    let secret = TotpSecret::from_base32(shown.as_str().expect("text")).expect("a base32 key");
    assert_eq!(
        tab.eval("document.querySelectorAll('#totp-qr svg').length")
            .await,
        1,
        "the QR code is drawn"
    );
    tab.screenshot("enrol").await;
    let right = code(&app, &secret);
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    tab.type_into("#totp_code", wrong).await;
    tab.click("form[data-form=totp-confirm] button[type=submit]")
        .await;
    tab.wait_text("#totp_code-error", "not right").await;
    tab.find("#totp_code").await.clear().await.expect("clear");
    tab.type_into("#totp_code", &right).await;
    tab.click("form[data-form=totp-confirm] button[type=submit]")
        .await;
    tab.wait_until("!document.getElementById('recovery-codes').hidden")
        .await;
    let codes = tab
        .eval("[...document.querySelectorAll('#recovery-code-list li')].map(li => li.textContent)")
        .await;
    let codes: Vec<String> = serde_json::from_value(codes).expect("a list of codes");
    assert_eq!(codes.len(), 10);
    tab.screenshot("recovery-codes").await;
    tab.click("button[data-action=reload]").await;
    tab.wait_text("#two-step-state", "On").await;

    // Out, and in again with the password and a code.
    tab.click("form[data-form=logout] button").await;
    tab.wait_for_path("/login").await;
    app.advance(Duration::from_secs(STEP_SECONDS));
    password_step(&tab, &app).await;
    assert_eq!(tab.cookie(ACCESS).await, None, "no session before the code");
    tab.screenshot("second-step").await;
    tab.type_into("#code", &code(&app, &secret)).await;
    tab.click("form[data-form=mfa] button[type=submit]").await;
    tab.wait_for_path("/account").await;
    tab.wait_text(
        "#sessions .session[data-current]",
        "Password and a one-time code",
    )
    .await;

    // And with a recovery code, typed as printed.
    tab.click("form[data-form=logout] button").await;
    tab.wait_for_path("/login").await;
    password_step(&tab, &app).await;
    tab.click("details summary").await;
    tab.type_into("#recovery_code", &codes[0]).await;
    tab.click("form[data-form=mfa-recovery] button[type=submit]")
        .await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#recovery-left", "9").await;
    tab.screenshot("account").await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn without_script_the_second_step_is_a_form_post() {
    let keys = tempfile::tempdir().expect("tempdir");
    let key_file = keys.path().join("mfa.key");
    std::fs::write(
        &key_file,
        "a key file of at least thirty-two bytes, for tests",
    )
    .expect("key");
    let key_file = key_file.display().to_string();
    let app = App::spawn(&[("PORTCULLIS_MFA_KEY_FILE", &key_file)]).await;
    // Enrol over HTTP, as the API tests do.
    let client = reqwest::Client::new();
    register_over_http(&app, "ada").await;
    let login = client
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({"username": "ada", "password": PASSWORD}))
        .send()
        .await
        .expect("answered");
    let cookies: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect();
    let jar = cookies.join("; ");
    let begun: serde_json::Value = client
        .post(app.url("/api/auth/mfa/totp"))
        .header("cookie", &jar)
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    let secret = TotpSecret::from_base32(begun["secret"].as_str().expect("secret")).expect("key");
    let confirmed = client
        .post(app.url("/api/auth/mfa/totp/confirm"))
        .header("cookie", &jar)
        .json(&serde_json::json!({"code": code(&app, &secret)}))
        .send()
        .await
        .expect("answered");
    assert_eq!(confirmed.status(), 200);
    app.advance(Duration::from_secs(STEP_SECONDS));

    let browser = Browser::launch("two_step_no_script").await;
    let tab = browser
        .tab_with(TabOptions {
            javascript: false,
            ..TabOptions::default()
        })
        .await;
    password_step(&tab, &app).await;
    tab.type_into("#code", &code(&app, &secret)).await;
    tab.click("form[data-form=mfa] button[type=submit]").await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "ada").await;
    tab.close().await;
}
