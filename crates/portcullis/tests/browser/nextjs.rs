//! The Next.js App Router example (`examples/nextjs`, a production build
//! served by `next start`) behind Portcullis with `frontend_token` on, the
//! example notes API behind it, driven in Chromium.
//!
//! Chromium → recording proxy → Portcullis (in this process, on a clock the
//! test moves) → `next start` → the notes API. Every test ends by searching
//! everything the browser received for the tokens Portcullis issued.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::*;

/// The whole stack; dropping it stops everything.
struct Stack {
    app: App,
    proxy: RecordingProxy,
    _next: NextServer,
    _api: ExampleApi,
}

impl Stack {
    async fn start() -> Self {
        let next_port = free_port();
        let frontend = format!("http://127.0.0.1:{next_port}");
        let (app, api) = App::with_example_api_and(&[
            ("PORTCULLIS_FRONTEND", &frontend),
            ("PORTCULLIS_FRONTEND_TOKEN", "true"),
        ])
        .await;
        let jwks = format!("http://127.0.0.1:{}/.well-known/jwks.json", app.port);
        let next = NextServer::start(next_port, &jwks, &api.url).await;
        let proxy = RecordingProxy::start(app.port).await;
        Self {
            app,
            proxy,
            _next: next,
            _api: api,
        }
    }

    fn url(&self, path: &str) -> String {
        self.proxy.url(path)
    }

    /// The last document the browser loaded at `target`, as text.
    fn document(&self, target: &str) -> String {
        let exchange = self
            .proxy
            .exchanges()
            .into_iter()
            .rev()
            .find(|e| e.target == target && e.is_document())
            .unwrap_or_else(|| panic!("the browser loaded no document at {target}"));
        // React separates adjacent text with empty comments.
        exchange.text().replace("<!-- -->", "")
    }
}

/// Fills the example's sign-up form and waits until the layout greets the user.
async fn sign_up_in_next(tab: &Tab<'_>, stack: &Stack, username: &str) {
    tab.goto(&stack.url("/register")).await;
    tab.type_into("#username", username).await;
    tab.type_into("#email", &format!("{username}@example.com"))
        .await;
    tab.type_into("#password", PASSWORD).await;
    tab.click("form[data-form=sign-up] button[type=submit]")
        .await;
    tab.wait_for_path("/").await;
    tab.wait_text("#signed-in-as", username).await;
}

async fn sign_in_in_next(tab: &Tab<'_>, username: &str) {
    tab.type_into("#username", username).await;
    tab.type_into("#password", PASSWORD).await;
    tab.click("form[data-form=sign-in] button[type=submit]")
        .await;
}

/// No access or refresh token Portcullis issued appears in anything the
/// browser received except the `Set-Cookie` that carried it, nor in
/// `document.cookie`.
async fn assert_no_token_reached_the_page(stack: &Stack, tabs: &[&Tab<'_>]) {
    let exchanges = stack.proxy.exchanges();
    let mut tokens = BTreeSet::new();
    for exchange in &exchanges {
        for value in exchange.headers.get_all("set-cookie") {
            let text = value.to_str().expect("ascii cookie");
            let (name, rest) = text.split_once('=').expect("name=value");
            let value = rest.split(';').next().unwrap_or_default();
            if (name == ACCESS || name == REFRESH) && !value.is_empty() {
                tokens.insert(value.to_owned());
            }
        }
    }
    for tab in tabs {
        for cookie in tab.cookies().await {
            if cookie.name() == ACCESS || cookie.name() == REFRESH {
                tokens.insert(cookie.value().to_owned());
            }
        }
        let script_sees = tab.eval("document.cookie").await;
        let script_sees = script_sees.as_str().expect("a string");
        for token in &tokens {
            assert!(
                !script_sees.contains(token.as_str()),
                "document.cookie holds a token"
            );
        }
    }
    assert!(!tokens.is_empty(), "the test signed in");
    // A JWT is also searched for by its signature alone, in case a page
    // re-encoded the rest.
    let needles: BTreeSet<&str> = tokens
        .iter()
        .flat_map(|t| [t.as_str(), t.rsplit('.').next().unwrap_or(t)])
        .collect();
    for exchange in &exchanges {
        let body = exchange.text();
        let headers: Vec<String> = exchange
            .headers
            .iter()
            .filter(|(name, _)| *name != "set-cookie")
            .map(|(_, v)| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        for needle in &needles {
            assert!(
                !body.contains(needle) && !headers.iter().any(|h| h.contains(needle)),
                "a token reached the browser in {} {} ({})",
                exchange.method,
                exchange.target,
                exchange.status
            );
        }
    }
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver and the built Next.js example"]
async fn after_sign_up_the_home_page_is_rendered_on_the_server_for_the_user() {
    let browser = Browser::launch("nextjs_home").await;
    let stack = Stack::start().await;
    let tab = browser.tab().await;

    tab.goto(&stack.url("/")).await;
    tab.find("#anonymous").await;
    assert!(stack.document("/").contains(r#"<p id="anonymous">"#));

    sign_up_in_next(&tab, &stack, "ada").await;
    tab.goto(&stack.url("/")).await;
    tab.wait_text("#greeting", "Hello, ada").await;
    tab.screenshot("home").await;
    let html = stack.document("/");
    assert!(
        html.contains(r#"<h1 id="greeting">Hello, ada</h1>"#),
        "{html}"
    );
    assert!(html.contains(r#"<span id="signed-in-as">ada</span>"#));

    assert_no_token_reached_the_page(&stack, &[&tab]).await;
    let rsc = stack
        .proxy
        .exchanges()
        .iter()
        .filter(|e| e.is_rsc())
        .count();
    assert!(
        rsc > 0,
        "the router fetched RSC payloads, and they were searched"
    );
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver and the built Next.js example"]
async fn the_dashboard_sends_strangers_to_sign_in_then_renders_their_notes_on_the_server() {
    let browser = Browser::launch("nextjs_dashboard").await;
    let stack = Stack::start().await;
    register_over_http(&stack.app, "ada").await;
    let tab = browser.tab().await;

    tab.goto(&stack.url("/dashboard")).await;
    tab.wait_for_path("/login").await;
    assert_eq!(tab.url().await.query(), Some("next=/dashboard"));
    sign_in_in_next(&tab, "ada").await;
    tab.wait_for_path("/dashboard").await;
    tab.find("#no-notes").await;

    // Added from the browser, through Portcullis to the notes API.
    tab.type_into("#note-text", "buy milk").await;
    tab.click("form[data-form=note] button[type=submit]").await;
    tab.wait_text("#notes", "buy milk").await;

    // A fresh load: the list is in the HTML the server sent, fetched by the
    // server component from the notes API with the forwarded token.
    tab.goto(&stack.url("/dashboard")).await;
    tab.wait_text("#notes", "buy milk").await;
    tab.screenshot("dashboard").await;
    let html = stack.document("/dashboard");
    assert!(html.contains("<span>buy milk</span>"), "{html}");
    assert!(html.contains("ada’s notes"));

    // A server action deletes it, on the server, as the user.
    tab.click("#notes .note button[type=submit]").await;
    tab.find("#no-notes").await;

    assert_no_token_reached_the_page(&stack, &[&tab]).await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver and the built Next.js example"]
async fn a_wrong_password_is_explained_beside_the_field() {
    let browser = Browser::launch("nextjs_problems").await;
    let stack = Stack::start().await;
    register_over_http(&stack.app, "ada").await;
    let tab = browser.tab().await;

    tab.goto(&stack.url("/login")).await;
    tab.type_into("#username", "ada").await;
    tab.type_into("#password", "not the password").await;
    tab.click("form[data-form=sign-in] button[type=submit]")
        .await;
    tab.wait_text("#password-error", "Wrong username or password.")
        .await;

    tab.goto(&stack.url("/register")).await;
    tab.type_into("#username", "ada").await;
    tab.type_into("#email", "not-an-address").await;
    tab.type_into("#password", PASSWORD).await;
    tab.click("form[data-form=sign-up] button[type=submit]")
        .await;
    tab.wait_text("#email-error", "does not look like an e-mail address")
        .await;
    tab.screenshot("problem").await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver and the built Next.js example"]
async fn an_expired_access_token_is_refreshed_on_navigation_and_the_page_still_knows_the_user() {
    let browser = Browser::launch("nextjs_refresh").await;
    let stack = Stack::start().await;
    let tab = browser.tab().await;
    sign_up_in_next(&tab, &stack, "ada").await;
    let first = tab.cookie(REFRESH).await.expect("signed in");

    // A document load after expiry.
    stack.app.advance(Duration::from_secs(16 * 60));
    tab.goto(&stack.url("/dashboard")).await;
    tab.wait_for_path("/dashboard").await;
    tab.wait_text("h1", "ada’s notes").await;
    let second = tab.cookie(REFRESH).await.expect("still signed in");
    assert_ne!(first, second, "the session was refreshed");
    assert!(stack.document("/dashboard").contains("ada’s notes"));

    // A client-side navigation (an RSC fetch) after expiry.
    stack.app.advance(Duration::from_secs(16 * 60));
    tab.click("nav a[href='/']").await;
    tab.wait_text("#greeting", "Hello, ada").await;
    let third = tab.cookie(REFRESH).await.expect("still signed in");
    assert_ne!(second, third, "refreshed again");

    assert_no_token_reached_the_page(&stack, &[&tab]).await;
    tab.close().await;
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver and the built Next.js example"]
async fn signing_out_here_or_everywhere_leaves_the_next_page_anonymous() {
    let browser = Browser::launch("nextjs_sign_out").await;
    let stack = Stack::start().await;
    let laptop = browser.tab().await;
    let phone = browser.tab().await;
    sign_up_in_next(&laptop, &stack, "ada").await;

    laptop.click("#sign-out").await;
    laptop.wait_for_path("/").await;
    laptop.find("#anonymous").await;
    laptop.goto(&stack.url("/")).await;
    assert!(stack.document("/").contains(r#"<p id="anonymous">"#));
    assert_eq!(laptop.cookie(REFRESH).await, None);

    // Signed in on two devices; the phone signs out everywhere.
    laptop.goto(&stack.url("/login")).await;
    sign_in_in_next(&laptop, "ada").await;
    laptop.wait_text("#signed-in-as", "ada").await;
    phone.goto(&stack.url("/login?next=/dashboard")).await;
    sign_in_in_next(&phone, "ada").await;
    phone.wait_for_path("/dashboard").await;
    phone.click("#sign-out-everywhere").await;
    phone.wait_for_path("/").await;
    phone.find("#anonymous").await;

    // The laptop's access token has not expired, but its session is revoked:
    // the next navigation is anonymous and its cookies are gone.
    laptop.goto(&stack.url("/")).await;
    laptop.find("#anonymous").await;
    assert!(stack.document("/").contains(r#"<p id="anonymous">"#));
    assert_eq!(laptop.cookie(ACCESS).await, None);
    laptop.goto(&stack.url("/dashboard")).await;
    laptop.wait_for_path("/login").await;

    assert_no_token_reached_the_page(&stack, &[&laptop, &phone]).await;
    laptop.close().await;
    phone.close().await;
}
