//! Sessions from the page's side: transparent refresh when the access token
//! expires or its signing key is revoked, and signing out other browsers.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::harness::*;

/// Past the default 15-minute access-token lifetime.
const PAST_EXPIRY: Duration = Duration::from_secs(16 * 60);

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn the_page_keeps_working_after_the_access_token_expires() {
    let browser = Browser::launch("transparent_refresh").await;
    let app = App::spawn(&[]).await;
    let tab = browser.tab().await;
    sign_up(&tab, &app, "ada").await;
    let first = tab.cookie(ACCESS).await.expect("access cookie");

    // The token expires on the server's clock while the page is open; the
    // next call the page makes is refreshed in place and succeeds.
    app.advance(PAST_EXPIRY);
    tab.type_into("#current_password", PASSWORD).await;
    tab.type_into("#new_password", "a brand new passphrase")
        .await;
    tab.click("form[data-form=password] button[type=submit]")
        .await;
    tab.wait_text("#status", "Password changed.").await;
    tab.wait_text("#profile-username", "ada").await;
    let second = tab.cookie(ACCESS).await.expect("access cookie");
    assert_ne!(first, second, "a new access token was issued");
    tab.screenshot("after-refresh-in-page").await;

    // Expired again: a plain navigation is refreshed the same way.
    app.advance(PAST_EXPIRY);
    tab.goto(&app.url("/account")).await;
    tab.wait_text("#profile-username", "ada").await;
    let third = tab.cookie(ACCESS).await.expect("access cookie");
    assert_ne!(second, third);

    // The browser itself drops an expired access cookie (its Max-Age is the
    // token's lifetime): the refresh cookie alone carries the session on.
    tab.client().delete_cookie(ACCESS).await.expect("deleted");
    tab.goto(&app.url("/")).await;
    tab.wait_text("#whoami", "ada").await;
    assert!(tab.cookie(ACCESS).await.is_some(), "a new access cookie");
    tab.screenshot("after-refresh-on-navigation").await;
    tab.close().await;
}

/// The `kid` in an access token's header.
fn kid(token: &str) -> String {
    let header = token.split('.').next().expect("a JWS");
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("JSON");
    header["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_revoked_signing_key_does_not_sign_the_person_out() {
    let browser = Browser::launch("revoked_key").await;
    let app = App::spawn(&[]).await;
    let tab = browser.tab().await;
    sign_up(&tab, &app, "ada").await;
    let leaked = kid(&tab.cookie(ACCESS).await.expect("access cookie"));

    let database = app.database_url.clone();
    let revoke = leaked.clone();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
        // The binary refuses variables that are not its settings, such as
        // the test switches.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PORTCULLIS_") {
                command.env_remove(name);
            }
        }
        command
            .args(["--database-url", &database, "keys", "revoke", &revoke])
            .output()
    })
    .await
    .expect("task")
    .expect("portcullis runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The server rereads its keys every second; wait until it has.
    let jwks = app.url("/.well-known/jwks.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(&jwks)
        .await
        .expect("JWKS")
        .text()
        .await
        .expect("body")
        .contains(&leaked)
    {
        assert!(Instant::now() < deadline, "the key was never dropped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    tab.goto(&app.url("/account")).await;
    tab.wait_text("#profile-username", "ada").await;
    let renewed = tab.cookie(ACCESS).await.expect("access cookie");
    assert_ne!(kid(&renewed), leaked, "a token from the new key");
    tab.screenshot("after-key-revocation").await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn signing_out_everywhere_in_one_browser_signs_out_another() {
    let browser = Browser::launch("sign_out_everywhere").await;
    let app = App::spawn(&[]).await;
    let laptop = browser.tab().await;
    let phone = browser
        .tab_with(TabOptions {
            width: 390,
            height: 844,
            ..TabOptions::default()
        })
        .await;
    sign_up(&laptop, &app, "ada").await;
    sign_in(&phone, &app, "ada").await;

    laptop.goto(&app.url("/account")).await;
    laptop
        .wait_until("document.querySelectorAll('#sessions .session').length === 2")
        .await;
    laptop.screenshot("account-two-sessions").await;
    phone.screenshot("phone-account").await;

    laptop.click("button[data-action=logout-all]").await;
    laptop.wait_for_path("/login").await;
    laptop
        .wait_text("main", "You have signed out on every device.")
        .await;
    laptop.screenshot("laptop-signed-out").await;

    // The phone's access token has not expired, but its session is revoked:
    // the very next request finds it signed out, and its cookies are cleared.
    phone.goto(&app.url("/account")).await;
    phone.wait_for_path("/login").await;
    phone.find("form[data-form=login]").await;
    assert_eq!(phone.cookie(ACCESS).await, None);
    assert_eq!(phone.cookie(REFRESH).await, None);
    phone.screenshot("phone-signed-out").await;
    laptop.close().await;
    phone.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn signing_out_one_other_session_from_the_account_page() {
    let browser = Browser::launch("sign_out_one_session").await;
    let app = App::spawn(&[]).await;
    let laptop = browser.tab().await;
    let other = browser.tab().await;
    sign_up(&laptop, &app, "ada").await;
    sign_in(&other, &app, "ada").await;

    laptop.goto(&app.url("/account")).await;
    laptop
        .wait_until("document.querySelectorAll('#sessions .session').length === 2")
        .await;
    laptop
        .click("#sessions .session:not([data-current]) button[data-action=end-session]")
        .await;
    laptop
        .wait_text("#status", "That device has been signed out.")
        .await;
    laptop
        .wait_until("document.querySelectorAll('#sessions .session').length === 1")
        .await;
    // The button that had the focus is gone; the focus went to the new main.
    assert_eq!(laptop.focused_id().await, "main");
    laptop.screenshot("one-session-left").await;

    other.goto(&app.url("/account")).await;
    other.wait_for_path("/login").await;
    assert_eq!(other.cookie(REFRESH).await, None);

    // This device is untouched.
    laptop.goto(&app.url("/account")).await;
    laptop.wait_text("#profile-username", "ada").await;
    laptop.close().await;
    other.close().await;
}
