//! Registering, signing in and out, and the errors the sign-in and
//! registration pages explain.

use fantoccini::key::Key;

use crate::harness::*;

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_person_registers_signs_out_and_signs_in_again_with_the_keyboard() {
    let browser = Browser::launch("register_sign_out_sign_in").await;
    let app = App::spawn(&[]).await;
    let tab = browser.tab().await;

    tab.goto(&app.url("/register")).await;
    let rules = tab
        .wait_text("#password-rules", "at least 8 characters")
        .await;
    assert!(rules.contains("Any characters"), "{rules}");
    tab.screenshot("register").await;
    sign_up(&tab, &app, "ada").await;
    tab.wait_text("#sessions .session[data-current]", "This device")
        .await;

    tab.click("form[data-form=logout] button").await;
    tab.wait_for_path("/login").await;
    tab.wait_text("main", "You have signed out.").await;
    assert_eq!(tab.cookie(ACCESS).await, None);
    assert_eq!(tab.cookie(REFRESH).await, None);

    // The keyboard alone: the first field has the focus, Tab moves to the
    // password, Enter submits.
    assert_eq!(tab.focused_id().await, "username");
    tab.keys("ada").await;
    tab.keys(&Key::Tab.to_string()).await;
    assert_eq!(tab.focused_id().await, "password");
    tab.keys(PASSWORD).await;
    tab.screenshot("sign-in").await;
    tab.keys(&Key::Enter.to_string()).await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "ada").await;

    // Only the new session is live; it is this device, named from its agent.
    let sessions = tab
        .eval("document.querySelectorAll('#sessions .session').length")
        .await;
    assert_eq!(sessions, 1);
    let this = tab
        .wait_text("#sessions .session[data-current]", "This device")
        .await;
    assert!(this.contains("Chrome on Linux"), "{this}");
    assert!(
        this.contains("Signed in") && this.contains("Last used"),
        "{this}"
    );
    tab.screenshot("account").await;

    // Readable on a phone: nothing wider than the screen.
    tab.client()
        .set_window_size(390, 844)
        .await
        .expect("phone size");
    tab.goto(&app.url("/account")).await;
    tab.wait_text("#profile-username", "ada").await;
    tab.wait_until("document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    tab.screenshot("account-phone").await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn strangers_failing_as_a_person_do_not_lock_out_the_browser_they_signed_in_with() {
    let browser = Browser::launch("device_cookie").await;
    let app = App::spawn(&[]).await;
    let tab = browser.tab().await;
    sign_up(&tab, &app, "ada").await;
    let device = tab
        .cookies()
        .await
        .into_iter()
        .find(|c| c.name() == "__Host-device")
        .expect("the browser holds a device cookie");
    assert_eq!(device.http_only(), Some(true));
    assert_eq!(device.same_site(), Some(cookie::SameSite::Strict));
    let visible = tab.eval("document.cookie").await;
    assert!(
        !visible.as_str().expect("text").contains("device"),
        "{visible}"
    );

    tab.click("form[data-form=logout] button").await;
    tab.wait_for_path("/login").await;
    assert!(
        tab.cookie("__Host-device").await.is_some(),
        "kept on sign-out"
    );

    // Somebody else runs up the account's throttle.
    for _ in 0..5 {
        fail_sign_in_over_http(&app, "ada").await;
    }
    let stranger = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({"username": "ada", "password": PASSWORD}))
        .send()
        .await
        .expect("answered");
    assert_eq!(stranger.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);

    // Ada's own browser signs in all the same.
    sign_in(&tab, &app, "ada").await;
    tab.screenshot("signed-in-despite-the-throttle").await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn page_script_can_neither_read_nor_overwrite_the_session_cookies() {
    let browser = Browser::launch("cookies_out_of_reach").await;
    let app = App::spawn(&[]).await;
    let tab = browser.tab().await;
    sign_up(&tab, &app, "ada").await;

    let cookies = tab.cookies().await;
    for name in [ACCESS, REFRESH] {
        let cookie = cookies
            .iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("the browser holds {name}"));
        assert_eq!(cookie.http_only(), Some(true), "{name}");
        assert_eq!(cookie.secure(), Some(true), "{name}");
        assert_eq!(cookie.same_site(), Some(cookie::SameSite::Strict), "{name}");
    }
    let access = tab.cookie(ACCESS).await.expect("access cookie");
    let refresh = tab.cookie(REFRESH).await.expect("refresh cookie");

    let visible = tab.eval("document.cookie").await;
    let visible = visible.as_str().expect("a string");
    for secret in [
        ACCESS,
        REFRESH,
        "access_token",
        "refresh_token",
        &access,
        &refresh,
    ] {
        assert!(
            !visible.contains(secret),
            "page script sees {secret}: {visible}"
        );
    }
    // A script that tries to plant its own token is ignored: the browser
    // will not let script overwrite an HttpOnly cookie.
    tab.eval("(document.cookie = '__Host-access_token=planted; Secure; Path=/', document.cookie)")
        .await;
    assert_eq!(tab.cookie(ACCESS).await.as_deref(), Some(access.as_str()));
    // Nor does any response body the page can read carry a token.
    let body = tab
        .client()
        .execute_async(
            "const done = arguments[0];
             fetch('/api/auth/session').then(r => r.text()).then(done, e => done(String(e)));",
            vec![],
        )
        .await
        .expect("fetch runs");
    let body = body.as_str().expect("text");
    assert!(body.contains("\"username\":\"ada\""), "{body}");
    assert!(
        !body.contains(&access) && !body.contains(&refresh),
        "{body}"
    );
    tab.screenshot("account").await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn sign_in_explains_wrong_credentials_throttling_and_an_unavailable_server() {
    let browser = Browser::launch("sign_in_errors").await;
    let mut app = App::spawn(&[]).await;
    register_over_http(&app, "ada").await;
    let tab = browser.tab().await;
    tab.goto(&app.url("/login")).await;

    tab.type_into("#username", "ada").await;
    tab.type_into("#password", "not my password").await;
    tab.click("form[data-form=login] button[type=submit]").await;
    tab.wait_text("#form-error", "Wrong username, e-mail address or password.")
        .await;
    tab.screenshot("wrong-credentials").await;

    // Four failures are free; after the fifth the name waits 2 s, and the
    // server's clock stands still, so the wait is exactly that.
    for _ in 0..4 {
        fail_sign_in_over_http(&app, "ada").await;
    }
    tab.click("form[data-form=login] button[type=submit]").await;
    tab.wait_text(
        "#form-error",
        "Too many attempts. Please wait 2 seconds before trying again.",
    )
    .await;
    let held = tab
        .eval("document.querySelector('form[data-form=login] button[type=submit]').disabled")
        .await;
    assert_eq!(held, true, "the button waits out the throttle");
    tab.screenshot("throttled").await;

    // The database goes away: the server answers 503 and the page says so.
    let db = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("database");
    sqlx::query("DROP TABLE login_failures")
        .execute(&db)
        .await
        .expect("table dropped");
    db.close().await;
    tab.goto(&app.url("/login")).await;
    tab.type_into("#username", "ada").await;
    tab.type_into("#password", PASSWORD).await;
    tab.click("form[data-form=login] button[type=submit]").await;
    tab.wait_text("#form-error", "The server is unavailable right now.")
        .await;
    tab.screenshot("unavailable").await;

    // The server itself goes away: the page says it cannot reach it.
    app.stop().await;
    tab.click("form[data-form=login] button[type=submit]").await;
    tab.wait_text("#form-error", "Can't reach the server.")
        .await;
    tab.screenshot("unreachable").await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn registration_errors_appear_beside_the_field_they_are_about() {
    let browser = Browser::launch("register_errors").await;
    let app = App::spawn(&[]).await;
    register_over_http(&app, "ada").await;
    let tab = browser.tab().await;
    tab.goto(&app.url("/register")).await;

    tab.type_into("#username", "ada").await;
    tab.type_into("#email", "someone@example.com").await;
    tab.type_into("#password", PASSWORD).await;
    tab.click("form[data-form=register] button[type=submit]")
        .await;
    tab.wait_text("#username-error", "already exists").await;
    assert_eq!(tab.focused_id().await, "username");
    let invalid = tab
        .eval("document.getElementById('username').getAttribute('aria-invalid')")
        .await;
    assert_eq!(invalid, "true");

    tab.find("#username").await.clear().await.expect("cleared");
    tab.type_into("#username", "grace").await;
    tab.find("#password").await.clear().await.expect("cleared");
    tab.type_into("#password", "short").await;
    tab.click("form[data-form=register] button[type=submit]")
        .await;
    tab.wait_text("#password-error", "A password has at least 8 characters.")
        .await;
    assert_eq!(tab.focused_id().await, "password");
    let stale = tab
        .eval("document.getElementById('username-error').hidden")
        .await;
    assert_eq!(stale, true, "the old error is gone");
    tab.screenshot("register-errors").await;

    tab.find("#email").await.clear().await.expect("cleared");
    tab.type_into("#email", "not-an-address").await;
    tab.find("#password").await.clear().await.expect("cleared");
    tab.type_into("#password", PASSWORD).await;
    tab.click("form[data-form=register] button[type=submit]")
        .await;
    tab.wait_text("#email-error", "name@example.com").await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn with_javascript_off_registering_and_signing_in_are_form_posts() {
    let browser = Browser::launch("no_javascript").await;
    let app = App::spawn(&[]).await;
    let tab = browser
        .tab_with(TabOptions {
            javascript: false,
            ..TabOptions::default()
        })
        .await;

    // The server renders the error beside the field.
    tab.goto(&app.url("/register")).await;
    tab.type_into("#username", "ada").await;
    tab.type_into("#email", "ada@example.com").await;
    tab.type_into("#password", "short").await;
    tab.click("form[data-form=register] button[type=submit]")
        .await;
    tab.wait_text("#password-error", "A password has at least 8 characters.")
        .await;
    assert_eq!(
        tab.find("#username")
            .await
            .prop("value")
            .await
            .expect("prop"),
        Some("ada".to_owned()),
        "what was typed is kept"
    );
    tab.type_into("#password", PASSWORD).await;
    tab.click("form[data-form=register] button[type=submit]")
        .await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "ada").await;
    // Controls that need script say so instead of half-working.
    let disabled = tab
        .find("button[data-action=logout-all]")
        .await
        .attr("disabled")
        .await
        .expect("attribute");
    assert!(disabled.is_some());

    tab.click("form[data-form=logout] button").await;
    tab.wait_for_path("/login").await;
    tab.wait_text("main", "You have signed out.").await;

    tab.type_into("#username", "ada").await;
    tab.type_into("#password", "wrong password").await;
    tab.click("form[data-form=login] button[type=submit]").await;
    tab.wait_text("#form-error", "Wrong username, e-mail address or password.")
        .await;
    tab.type_into("#password", PASSWORD).await;
    tab.click("form[data-form=login] button[type=submit]").await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "ada").await;
    tab.screenshot("account-without-javascript").await;
    tab.close().await;
}
