//! Signing in with another provider in Chromium: the provider's own page,
//! back signed in on the very first page, signing out and in again,
//! linking and unlinking from the account page, and an account's own second
//! factor (a code, a passkey) after the provider.

use portcullis::clock::{Clock, SystemClock};

use crate::harness::*;

/// Moves the server's clock up to the real time: the provider's ID tokens
/// carry the real time, and the server's clock stands still in tests.
fn catch_up(app: &App) {
    let behind = SystemClock.now() - app.clock.now();
    if behind.is_positive() {
        app.advance(behind.unsigned_abs());
    }
}

/// At the provider's page (or already back, when the provider remembers
/// the person), signs in as `login` there.
async fn sign_in_at_provider(app: &App, tab: &Tab<'_>, login: &str) {
    catch_up(app);
    tab.wait_until(
        "!!document.querySelector('#op-login') || ['/account', '/login/verify'].includes(location.pathname)",
    )
    .await;
    if tab.url().await.path().starts_with("/interaction/") {
        tab.screenshot("provider").await;
        tab.type_into("#op-login", login).await;
        tab.type_into("#op-password", "anything").await;
        tab.click("#op-submit").await;
    }
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver, node and tests/node/oidc-provider's packages"]
async fn continue_with_a_provider_signs_in_and_the_first_page_already_sees_the_session() {
    let browser = Browser::launch("oidc_sign_in").await;
    let (app, op, _secrets) = app_with_provider().await;
    let tab = browser.tab().await;

    tab.goto(&app.url("/login?next=/account")).await;
    let button = tab
        .wait_text("a[data-provider=test]", "Continue with Test OP")
        .await;
    assert_eq!(button, "Continue with Test OP");
    tab.screenshot("sign-in-page").await;
    tab.click("a[data-provider=test]").await;
    tab.wait_until(&format!("location.origin === '{}'", op.issuer))
        .await;
    sign_in_at_provider(&app, &tab, "alice").await;

    // Back through the callback's own page to /account, which the server
    // renders signed in: without the session cookies on this very request it
    // would have redirected to /login instead.
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "alice").await;
    assert!(tab.cookie(ACCESS).await.is_some());
    assert!(
        tab.cookie("__Host-oidc_flow").await.is_none(),
        "the flow cookie is spent"
    );
    tab.wait_text("#sessions .session[data-current]", "via Test OP")
        .await;
    tab.wait_text("#identities", "Linked").await;
    tab.screenshot("account").await;

    tab.click("form[data-form=logout] button").await;
    tab.wait_for_path("/login").await;
    assert_eq!(tab.cookie(ACCESS).await, None);

    // Again: the same account.
    tab.click("a[data-provider=test]").await;
    sign_in_at_provider(&app, &tab, "alice").await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "alice").await;
    let accounts = reqwest::get(app.url("/api/auth/oidc/providers"))
        .await
        .expect("answered");
    assert!(accounts.status().is_success());
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver, node and tests/node/oidc-provider's packages"]
async fn a_provider_is_linked_and_unlinked_from_the_account_page() {
    let browser = Browser::launch("oidc_link").await;
    let (app, op, _secrets) = app_with_provider().await;
    let tab = browser.tab().await;
    sign_up(&tab, &app, "bob").await;

    tab.click("button[data-action=link-provider]").await;
    tab.wait_until(&format!("location.origin === '{}'", op.issuer))
        .await;
    sign_in_at_provider(&app, &tab, "bobby").await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "bob").await;
    tab.wait_text("#identities", "Linked").await;
    tab.wait_text("#identities", "bobby@example.com").await;
    tab.screenshot("linked").await;

    tab.click("button[data-action=unlink-provider]").await;
    tab.wait_text("#status", "unlinked").await;
    tab.wait_text(
        "#identities button[data-action=link-provider]",
        "Link Test OP",
    )
    .await;
    tab.screenshot("unlinked").await;

    // Signing in as bobby now makes a new account, not bob.
    tab.click("form[data-form=logout] button").await;
    tab.wait_for_path("/login").await;
    tab.click("a[data-provider=test]").await;
    sign_in_at_provider(&app, &tab, "bobby").await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "bobby").await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver, node and tests/node/oidc-provider's packages"]
async fn an_account_with_totp_signed_in_at_its_provider_types_its_code_on_the_second_step() {
    use portcullis::auth::one_time_codes::{TotpSecret, step_of};

    let browser = Browser::launch("oidc_two_step").await;
    let (app, op, _secrets) = app_with_provider().await;
    let tab = browser.tab().await;
    tab.goto(&app.url("/login?next=/account")).await;
    tab.click("a[data-provider=test]").await;
    tab.wait_until(&format!("location.origin === '{}'", op.issuer))
        .await;
    sign_in_at_provider(&app, &tab, "gina").await;
    tab.wait_for_path("/account").await;

    // Just signed in at the provider: recent enough to turn TOTP on.
    tab.click("button[data-action=totp-begin]").await;
    tab.wait_until("document.getElementById('totp-secret').textContent.length >= 32")
        .await;
    let shown = tab
        .eval("document.getElementById('totp-secret').textContent")
        .await;
    let secret = TotpSecret::from_base32(shown.as_str().expect("text")).expect("a base32 key");
    let now = secret
        .code_at_step(step_of(app.clock.now()))
        .expect("a code");
    tab.type_into("#totp_code", &now).await;
    tab.click("form[data-form=totp-confirm] button[type=submit]")
        .await;
    tab.wait_until("!document.getElementById('recovery-codes').hidden")
        .await;
    tab.click("button[data-action=reload]").await;
    tab.wait_text("#two-step-state", "On").await;

    tab.click("form[data-form=logout] button").await;
    tab.wait_for_path("/login").await;
    tab.goto(&app.url("/login?next=/account")).await;
    tab.click("a[data-provider=test]").await;
    sign_in_at_provider(&app, &tab, "gina").await;
    // The provider's word is not the account's second factor.
    tab.wait_for_path("/login/verify").await;
    assert_eq!(tab.cookie(ACCESS).await, None, "no session before the code");
    tab.screenshot("second-step").await;
    // The next step's code: the enrolment spent this one (codes are taken
    // one step either side).
    let next = secret
        .code_at_step(step_of(app.clock.now()) + 1)
        .expect("a code");
    tab.type_into("#code", &next).await;
    tab.click("form[data-form=mfa] button[type=submit]").await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "gina").await;
    tab.wait_text(
        "#sessions .session[data-current]",
        "Another provider and a one-time code",
    )
    .await;
    tab.wait_text("#sessions .session[data-current]", "via Test OP")
        .await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver, node and tests/node/oidc-provider's packages"]
async fn an_account_with_a_passkey_signed_in_at_its_provider_uses_it_on_the_second_step() {
    let browser = Browser::launch("oidc_passkey").await;
    let (app, op, _secrets) = app_with_provider().await;
    let tab = browser.tab().await;
    tab.client()
        .issue_cmd(crate::passkeys::AddVirtualAuthenticator)
        .await
        .expect("a virtual authenticator");
    tab.goto(&app.url("/login?next=/account")).await;
    tab.click("a[data-provider=test]").await;
    tab.wait_until(&format!("location.origin === '{}'", op.issuer))
        .await;
    sign_in_at_provider(&app, &tab, "hugo").await;
    tab.wait_for_path("/account").await;

    // Just signed in at the provider: recent enough to add a passkey.
    tab.type_into("#passkey_name", "Laptop").await;
    tab.click("form[data-form=passkey-add] button[type=submit]")
        .await;
    tab.wait_text("#passkey-list li", "Laptop").await;

    // Out, and in at the provider again, straight from its start route: the
    // sign-in page would offer the passkey alone, in its autofill.
    crate::passkeys::sign_out(&tab).await;
    tab.goto(&app.url("/api/auth/oidc/test/start?next=/account"))
        .await;
    sign_in_at_provider(&app, &tab, "hugo").await;
    // The provider's word is not the account's second factor.
    tab.wait_for_path("/login/verify").await;
    assert_eq!(
        tab.cookie(ACCESS).await,
        None,
        "no session before the passkey"
    );
    tab.screenshot("second-step").await;
    tab.click("button[data-action=passkey-verify]").await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "hugo").await;
    tab.wait_text(
        "#sessions .session[data-current]",
        "Another provider and a passkey",
    )
    .await;
    tab.wait_text("#sessions .session[data-current]", "via Test OP")
        .await;
    tab.close().await;
}
