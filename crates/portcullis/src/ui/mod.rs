//! The built-in web UI: server-rendered pages for signing in, registering and
//! managing the account, plus, when the `notes_page` setting turns it on, a
//! demo page that shows the whole flow through the gateway to
//! `examples/upstream-api`.
//!
//! The pages are rendered with `maud`, which escapes every interpolated value,
//! so nothing a user typed can become markup. One small script
//! ([`assets`]) enhances them: forms post JSON to the same `/api/auth/*`
//! endpoints any app would use. Signing in, registering and signing out also
//! work with JavaScript off, as ordinary form posts answered with a redirect.
//!
//! Two browser facts shape the design:
//!
//! - The session cookies are `SameSite=Strict`, so the first navigation from a
//!   link on another site arrives without them. A page rendered for a visitor
//!   without cookies therefore asks the script to confirm the session with a
//!   same-origin request before concluding anyone is signed out
//!   ([`visitor`]); nothing on that path ever clears a cookie.
//! - Every page is served with a Content Security Policy that allows scripts
//!   and styles from our own origin only (no `'unsafe-inline'`), cannot be
//!   framed, and is never cached, since it shows who is signed in.

mod account;
mod assets;
mod layout;
mod login;
mod notes;
mod recovery;
mod register;
mod second_factor;
mod visitor;

use axum::Router;
use axum::extract::{FromRef, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::web::Context;

/// What the UI needs to know about the deployment.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// Whether the demo notes page and its links are on (`notes_page`): it
    /// calls `/api/notes`, which only `examples/upstream-api` answers, so an
    /// operator's own upstream is not enough to show it.
    pub notes: bool,
    /// Whether e-mail is on: the reset and verification pages, the
    /// "Forgot your password?" link and the account's address controls.
    pub mail: bool,
    /// Whether TOTP is available (`mfa_key_file`): the account page's
    /// controls to set it up.
    pub totp: bool,
    /// Whether passkeys are available (`public_url`): the sign-in page's
    /// passkey button and autofill, the account page's passkey list.
    pub passkeys: bool,
}

/// Scripts, styles, images and fetches from our own origin only; no inline
/// script or style (so an injected `<script>` or `style=` attribute does
/// nothing); forms may only post to us; no page may frame ours.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The UI's routes, to be merged into the main router (and so behind its
/// cross-site guard and body limit).
pub fn router<S>(ui: Ui) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Context: FromRef<S>,
{
    let mut pages = Router::new()
        .route("/", get(account::home))
        .route("/account", get(account::account))
        .route("/login", get(login::page).post(login::submit))
        .route(
            "/login/verify",
            get(second_factor::page).post(second_factor::submit),
        )
        .route("/logout", post(login::logout))
        .route("/register", get(register::page).post(register::submit))
        .route("/assets/{name}", get(assets::serve));
    if ui.notes {
        pages = pages.route("/notes", get(notes::page));
    }
    if ui.mail {
        pages = pages
            .route(
                "/forgot-password",
                get(recovery::forgot_page).post(recovery::forgot_submit),
            )
            .route("/reset-password", get(recovery::reset_page))
            .route("/verify-email", get(recovery::verify_page));
    }
    pages
        .layer(axum::Extension(ui))
        .layer(middleware::from_fn(security_headers))
}

/// Adds the page security headers to every UI response, errors included.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        // For browsers that predate `frame-ancestors`.
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Our URLs can carry `?next=`; other sites need not see them.
        (header::REFERRER_POLICY, "same-origin"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
