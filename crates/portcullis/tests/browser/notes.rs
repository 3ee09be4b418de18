//! The whole flow: browser → Portcullis (cookie in, bearer token out) →
//! the example notes API (`examples/upstream-api`), which verifies the token
//! on its own against Portcullis's JWKS.

use crate::harness::*;

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn notes_round_trip_through_the_gateway_to_the_example_api() {
    let browser = Browser::launch("notes").await;
    let (app, _api) = App::with_example_api().await;
    let tab = browser.tab().await;
    sign_up(&tab, &app, "ada").await;

    tab.click("nav a[href='/notes']").await;
    tab.wait_for_path("/notes").await;
    tab.wait_text("#status", "No notes yet.").await;

    // Markup in a note is shown as text, never run.
    let sneaky = "<img src=x onerror=alert(1)> buy milk";
    tab.type_into("#note-text", sneaky).await;
    tab.click("form[data-form=note] button[type=submit]").await;
    tab.wait_text("#notes", sneaky).await;
    assert_eq!(
        tab.eval("document.querySelectorAll('#notes img').length")
            .await,
        0
    );
    tab.type_into("#note-text", "call Grace").await;
    tab.click("form[data-form=note] button[type=submit]").await;
    tab.wait_text("#status", "2 notes.").await;
    tab.screenshot("notes").await;

    // Kept upstream, per user: a reload shows them, another user has none.
    tab.goto(&app.url("/notes")).await;
    tab.wait_text("#notes", "call Grace").await;
    tab.click("#notes .note:first-child button[data-action=delete-note]")
        .await;
    tab.wait_text("#status", "1 note.").await;

    let other = browser.tab().await;
    sign_up(&other, &app, "grace").await;
    other.goto(&app.url("/notes")).await;
    other.wait_text("#status", "No notes yet.").await;
    tab.close().await;
    other.close().await;
}
