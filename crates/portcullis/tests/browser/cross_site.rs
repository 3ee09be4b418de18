//! Another site — `http://127.0.0.1:OTHER`, a different site from
//! `http://localhost:PORT` — can neither act for the user nor, by linking to
//! the app, make them look signed out.

use crate::harness::*;

/// A page that posts a form to `action` as soon as it loads.
fn auto_post(action: &str) -> String {
    format!(
        r#"<!doctype html><title>Win a prize</title>
        <form id="f" method="post" action="{action}"><input name="text" value="pwned"></form>
        <script>document.getElementById('f').submit();</script>"#
    )
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn forms_posted_from_another_site_change_nothing() {
    let browser = Browser::launch("cross_site_posts").await;
    let upstream = NotesApi::start().await;
    let app = App::spawn(&[("PORTCULLIS_UPSTREAM", &upstream.url())]).await;
    let evil = Site::serve(vec![
        ("/logout-all", auto_post(&app.url("/api/auth/logout-all"))),
        ("/notes", auto_post(&app.url("/api/notes"))),
        ("/logout", auto_post(&app.url("/logout"))),
    ])
    .await;
    let tab = browser.tab().await;
    sign_up(&tab, &app, "ada").await;
    let before = (tab.cookie(ACCESS).await, tab.cookie(REFRESH).await);

    for (page, target) in [
        ("/logout-all", "/api/auth/logout-all"),
        ("/notes", "/api/notes"),
        ("/logout", "/logout"),
    ] {
        tab.goto(&evil.url(page)).await;
        tab.wait_for_path(target).await;
        tab.wait_text("body", "cross_site_request").await;
        tab.screenshot(&format!("refused{}", page.replace('/', "-")))
            .await;
    }

    assert_eq!(upstream.requests(), 0, "nothing reached the upstream");
    let after = (tab.cookie(ACCESS).await, tab.cookie(REFRESH).await);
    assert_eq!(before, after, "the cookies are untouched");
    tab.goto(&app.url("/account")).await;
    tab.wait_text("#profile-username", "ada").await;
    tab.wait_until("document.querySelectorAll('#sessions .session').length === 1")
        .await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn following_a_link_from_another_site_shows_the_person_signed_in() {
    let browser = Browser::launch("cross_site_link").await;
    let app = App::spawn(&[]).await;
    let mail = Site::serve(vec![(
        "/",
        format!(
            r#"<!doctype html><title>Your mail</title>
            <p><a id="account" href="{}">Review your account</a></p>
            <p><a id="home" href="{}">Open Portcullis</a></p>"#,
            app.url("/account"),
            app.url("/"),
        ),
    )])
    .await;
    let tab = browser.tab().await;
    sign_up(&tab, &app, "ada").await;
    let before = (tab.cookie(ACCESS).await, tab.cookie(REFRESH).await);

    tab.goto(&mail.url("/")).await;
    tab.screenshot("mail").await;
    tab.click("#account").await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#profile-username", "ada").await;
    // "confirmed" is set only when the page was rendered without cookies and
    // the script recovered the session: proof that the navigation really
    // came without them, and that nobody had to do anything about it.
    let how = tab.eval("document.body.dataset.session").await;
    assert_eq!(how, "confirmed");
    tab.wait_text("#sessions .session[data-current]", "This device")
        .await;
    tab.screenshot("account-after-link").await;

    tab.goto(&mail.url("/")).await;
    tab.click("#home").await;
    tab.wait_text("#whoami", "ada").await;
    assert_eq!(tab.eval("document.body.dataset.session").await, "confirmed");

    // Never signed out by it.
    let after = (tab.cookie(ACCESS).await, tab.cookie(REFRESH).await);
    assert_eq!(before, after);
    tab.goto(&app.url("/account")).await;
    tab.wait_text("#profile-username", "ada").await;
    assert_eq!(tab.eval("document.body.dataset.session").await, "signed-in");
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn following_a_link_from_another_site_when_signed_out_leads_to_sign_in() {
    let browser = Browser::launch("cross_site_link_signed_out").await;
    let app = App::spawn(&[]).await;
    let mail = Site::serve(vec![(
        "/",
        format!(
            r#"<a id="account" href="{}">Account</a> <a id="home" href="{}">Home</a>"#,
            app.url("/account"),
            app.url("/"),
        ),
    )])
    .await;
    let tab = browser.tab().await;
    tab.goto(&mail.url("/")).await;
    tab.click("#account").await;
    tab.wait_for_path("/login").await;
    let next = tab.url().await;
    assert_eq!(next.query(), Some("next=/account"));
    tab.find("form[data-form=login]").await;
    tab.screenshot("sign-in-after-link").await;

    // The home page, checked and found signed out, offers the way in.
    tab.goto(&mail.url("/")).await;
    tab.click("#home").await;
    tab.wait_until("document.body.dataset.session === 'anonymous'")
        .await;
    tab.wait_text(".bar nav", "Sign in").await;
    tab.wait_text("main", "Create an account").await;
    tab.screenshot("home-after-link").await;
    tab.close().await;
}
