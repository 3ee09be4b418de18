//! Passkeys in Chromium, answered by chromedriver's virtual authenticator
//! (the WebDriver WebAuthn extension: a CTAP2 platform authenticator with
//! resident keys and user verification that always succeeds): add one on the
//! account page, sign in with it alone, use it after the password, delete
//! it and see it refused.

use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::json;

use crate::harness::*;

/// `POST /session/{id}/webauthn/authenticator`.
#[derive(Debug)]
pub struct AddVirtualAuthenticator;

impl WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/webauthn/authenticator"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// The app at a port chosen first, so that `public_url` — the relying
/// party — is the origin the browser sees (`localhost`, a secure context).
async fn relying_party() -> App {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let public = format!("http://localhost:{port}");
    let app = App::spawn(&[
        ("PORTCULLIS_BIND", &bind),
        ("PORTCULLIS_PUBLIC_URL", &public),
    ])
    .await;
    assert_eq!(app.port, port);
    app
}

/// Signs out through the API from the page, so that no page navigates on
/// its own afterwards.
pub async fn sign_out(tab: &Tab<'_>) {
    let status = tab
        .eval("fetch('/api/auth/logout', {method: 'POST'}).then((r) => r.status)")
        .await;
    assert_eq!(status, 204);
    assert_eq!(tab.cookie(ACCESS).await, None);
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_passkey_signs_in_alone_then_as_a_second_factor_until_deleted() {
    let app = relying_party().await;
    let browser = Browser::launch("passkeys").await;
    let tab = browser.tab().await;
    tab.client()
        .issue_cmd(AddVirtualAuthenticator)
        .await
        .expect("a virtual authenticator");

    sign_up(&tab, &app, "ada").await;
    tab.wait_text("#passkeys-empty", "No passkeys").await;
    tab.type_into("#passkey_name", "Laptop").await;
    tab.click("form[data-form=passkey-add] button[type=submit]")
        .await;
    tab.wait_text("#passkey-list li", "Laptop").await;
    tab.wait_text("#passkey-list li", "never used").await;
    tab.screenshot("added").await;

    // Out, and in with the passkey alone: the sign-in page asks for a
    // passkey in the name field's autofill (conditional mediation), which
    // the virtual authenticator answers as a person picking it would.
    sign_out(&tab).await;
    tab.goto(&app.url("/login")).await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#sessions .session[data-current]", "Passkey")
        .await;
    tab.wait_text("#passkey-list li", "last used").await;

    // Out, and in with the password (sent from a page without the passkey
    // autofill): the passkey is the second step.
    sign_out(&tab).await;
    tab.goto(&app.url("/register")).await;
    let login = format!(
        "fetch('/api/auth/login', {{method: 'POST', headers: {{'Content-Type': 'application/json'}}, \
         body: JSON.stringify({{username: 'ada', password: '{PASSWORD}'}})}}).then((r) => r.json())"
    );
    let answer = tab.eval(&login).await;
    assert_eq!(
        answer,
        json!({"mfa_required": true, "methods": ["webauthn"]})
    );
    tab.goto(&app.url("/login/verify")).await;
    tab.screenshot("second-step").await;
    tab.click("button[data-action=passkey-verify]").await;
    tab.wait_for_path("/account").await;
    tab.wait_text("#sessions .session[data-current]", "Password and a passkey")
        .await;

    // Deleted: the authenticator still holds the key, the server refuses it.
    tab.click("button[data-action=passkey-delete]").await;
    tab.wait_text("#passkeys-empty", "No passkeys").await;
    sign_out(&tab).await;
    tab.goto(&app.url("/login")).await;
    tab.wait_text("#form-error", "didn't work").await;
    // And the button, which asks outside the autofill.
    tab.eval("document.getElementById('form-error').textContent = ''")
        .await;
    tab.click("button[data-action=passkey-sign-in]").await;
    tab.wait_text("#form-error", "didn't work").await;
    assert_eq!(tab.url().await.path(), "/login");
    assert_eq!(tab.cookie(ACCESS).await, None, "no session");
    tab.screenshot("refused").await;
    tab.close().await;
}
