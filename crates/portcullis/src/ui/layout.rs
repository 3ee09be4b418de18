//! The frame every page shares — head, navigation, main — and the few pieces
//! of markup and text that several pages use.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::Ui;
use super::visitor::Visitor;
use crate::auth::{AuthError, ProviderInfo};
use crate::web::failure::{self, Failure};
use crate::web::problem::ApiError;

/// How the page's script should treat the session the page was rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMark {
    /// Rendered for a signed-in visitor.
    SignedIn,
    /// Rendered for a visitor surely signed out.
    Anonymous,
    /// Rendered without cookies that may only have been withheld: the script
    /// must confirm with a same-origin request, then re-render.
    Confirm,
}

impl SessionMark {
    fn as_str(self) -> &'static str {
        match self {
            SessionMark::SignedIn => "signed-in",
            SessionMark::Anonymous => "anonymous",
            SessionMark::Confirm => "confirm",
        }
    }

    /// The mark for a visitor, on a page that cares about the session.
    pub fn of(visitor: &Visitor) -> Self {
        match visitor {
            Visitor::SignedIn { .. } => SessionMark::SignedIn,
            Visitor::Anonymous { unsure: true, .. } => SessionMark::Confirm,
            _ => SessionMark::Anonymous,
        }
    }
}

/// A page to render.
pub struct Page<'a> {
    /// The `<title>` and, usually, the heading.
    pub title: &'a str,
    /// Who the navigation is for.
    pub visitor: &'a Visitor,
    /// The session mark for the script.
    pub mark: SessionMark,
    /// Where the script sends a visitor it finds signed out, on pages that
    /// need a session.
    pub signed_out_goto: Option<&'a str>,
    /// The deployment.
    pub ui: Ui,
    /// The content of `<main>`.
    pub main: Markup,
}

impl Page<'_> {
    /// The complete response: status, HTML, and no caching, since a page
    /// shows who is signed in.
    pub fn render(self, status: StatusCode) -> Response {
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title) " · Portcullis" }
                    link rel="icon" href="/assets/icon.svg" type="image/svg+xml";
                    link rel="stylesheet" href="/assets/app.css";
                    script src="/assets/app.js" defer {}
                }
                body data-session=(self.mark.as_str()) data-signed-out-goto=[self.signed_out_goto] {
                    a.skip href="#main" { "Skip to content" }
                    (navigation(self.visitor, self.mark, self.ui))
                    main #main tabindex="-1" { (self.main) }
                }
            }
        };
        let mut response = (status, Html(markup.into_string())).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

fn navigation(visitor: &Visitor, mark: SessionMark, ui: Ui) -> Markup {
    html! {
        header.bar {
            a.brand href="/" { "Portcullis" }
            nav aria-label="Main" {
                @if let Some(claims) = visitor.claims() {
                    a href="/account" { "Account" }
                    @if ui.notes { a href="/notes" { "Notes" } }
                    form.inline method="post" action="/logout" data-form="logout" {
                        button.link type="submit" {
                            "Sign out " span.visually-hidden { (claims.username) }
                        }
                    }
                } @else if mark != SessionMark::Confirm {
                    a href="/login" { "Sign in" }
                    a href="/register" { "Register" }
                }
            }
        }
    }
}

/// A date and time, readable without script (UTC) and localised by it.
pub fn timestamp(at: OffsetDateTime) -> Markup {
    let utc = at.to_offset(time::UtcOffset::UTC);
    let machine = utc.format(&Rfc3339).unwrap_or_default();
    let human = utc
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default();
    html! { time datetime=(machine) { (human) } }
}

/// The body of a page shown while the script confirms a session the browser
/// may have withheld: a status for everyone, and for those without script a
/// link that, being a same-origin navigation, will carry the cookies.
pub fn confirming(anonymous: Markup) -> Markup {
    html! {
        p.notice data-confirming role="status" { "Checking whether you are signed in…" }
        div data-anonymous hidden { (anonymous) }
        noscript {
            p { "If you are signed in, " a href="/account" { "continue to your account" } "." }
        }
    }
}

/// The page for a database outage: nobody is told they are signed out. The
/// outage's cause, when the visitor could not be identified because of it,
/// goes to the log with the page.
pub fn unavailable(visitor: &Visitor, ui: Ui) -> Response {
    let page = Page {
        title: "Temporarily unavailable",
        visitor,
        mark: SessionMark::Anonymous,
        signed_out_goto: None,
        ui,
        main: html! {
            h1 { "Temporarily unavailable" }
            p role="alert" { (UNAVAILABLE) }
        },
    };
    let mut response = page.render(StatusCode::SERVICE_UNAVAILABLE);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    match visitor {
        Visitor::Unavailable(cause) => failure::attach(cause.clone(), response),
        _ => response,
    }
}

/// Said whenever the server cannot do its part.
pub const UNAVAILABLE: &str = "The server is unavailable right now. Please try again in a moment.";

/// Which form field a problem belongs next to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The username.
    Username,
    /// The e-mail address.
    Email,
    /// The (new) password.
    Password,
}

/// Why a form post failed, as the page explains it.
#[derive(Debug)]
pub struct Problem {
    /// The status the page is served with (the API's for the same failure).
    pub status: StatusCode,
    /// The field to show the message beside, or none for the whole form.
    pub field: Option<Field>,
    /// What to tell the person.
    pub message: String,
    /// Seconds to wait before trying again, for `Retry-After`.
    pub retry_after: Option<u64>,
    /// What failed on our side, for the log, when something did.
    pub failure: Option<Failure>,
}

impl Problem {
    /// A problem with the request itself (a form the browser mangled).
    pub fn bad_form() -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            field: None,
            message: "The form could not be read. Please try again.".into(),
            retry_after: None,
            failure: None,
        }
    }

    /// Adds `Retry-After` to a response when the problem has one, and the
    /// failure behind it for the log.
    pub fn finish(&self, mut response: Response) -> Response {
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        failure::attach(self.failure.clone(), response)
    }
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        let (field, message, retry_after) = match &e {
            AuthError::InvalidUsername(why) => (Some(Field::Username), sentence(why), None),
            AuthError::InvalidEmail(why) => (Some(Field::Email), sentence(why), None),
            AuthError::WeakPassword(why) => (Some(Field::Password), sentence(why), None),
            AuthError::AccountExists => (
                Some(Field::Username),
                "An account with this username or e-mail address already exists.".into(),
                None,
            ),
            AuthError::RegistrationClosed => {
                (None, "Registration is closed on this server.".into(), None)
            }
            AuthError::InvalidCredentials => (
                None,
                "Wrong username, e-mail address or password.".into(),
                None,
            ),
            AuthError::TooManyAttempts { retry_after } => {
                // Round up, as `Retry-After` does: a second early only fails again.
                let secs =
                    (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1);
                (None, too_many_attempts(secs), Some(secs))
            }
            AuthError::EmailNotVerified => (
                None,
                "Your e-mail address is not verified yet. We have mailed you a link: open it, then sign in.".into(),
                None,
            ),
            AuthError::InvalidCode => (
                None,
                "That code is not right, or was used already. Try the next one your app shows.".into(),
                None,
            ),
            AuthError::MfaExpired => (
                None,
                "This sign-in has expired. Please sign in again.".into(),
                None,
            ),
            AuthError::TotpUnavailable => (
                None,
                "Authenticator codes are unavailable on this server right now; a recovery code still works.".into(),
                Some(1),
            ),
            AuthError::Overloaded(_) | AuthError::Store(_) => (None, UNAVAILABLE.into(), Some(1)),
            _ => (None, "Something went wrong. Please try again.".into(), None),
        };
        // The one status mapping lives in the API error.
        let (status, _) = ApiError::from(&e).status_and_code();
        Self {
            status,
            field,
            message,
            retry_after,
            failure: Failure::of(e),
        }
    }
}

/// The throttling message; the script words it the same way.
pub fn too_many_attempts(secs: u64) -> String {
    let unit = if secs == 1 { "second" } else { "seconds" };
    format!("Too many attempts. Please wait {secs} {unit} before trying again.")
}

/// A domain error's lower-case message as a sentence.
pub fn sentence(why: &impl std::fmt::Display) -> String {
    let text = why.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// "Continue with …" for each identity provider: plain links to the start
/// route, which redirects to the provider, so they work without script.
pub fn continue_with(providers: &[ProviderInfo], next: &str) -> Markup {
    let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    html! {
        @if !providers.is_empty() {
            section.providers aria-label="Other ways to sign in" {
                p.divider { "or" }
                @for p in providers {
                    a.button.provider href={ "/api/auth/oidc/" (p.id) "/start?next=" (next) }
                        data-provider=(p.id) {
                        "Continue with " (p.name)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PasswordError;

    #[test]
    fn domain_errors_read_as_sentences_beside_their_field() {
        let p = Problem::from(AuthError::WeakPassword(PasswordError::TooShort));
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert_eq!(p.field, Some(Field::Password));
        assert_eq!(p.message, "A password has at least 8 characters.");
    }

    #[test]
    fn throttling_says_how_long_to_wait_rounded_up() {
        let p = Problem::from(AuthError::TooManyAttempts {
            retry_after: std::time::Duration::from_millis(1500),
        });
        assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(p.retry_after, Some(2));
        assert!(p.message.contains("wait 2 seconds"), "{}", p.message);
    }

    #[test]
    fn timestamps_are_utc_for_people_and_rfc3339_for_script() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("in range");
        assert_eq!(
            timestamp(at).into_string(),
            r#"<time datetime="2027-01-15T08:00:00Z">2027-01-15 08:00 UTC</time>"#
        );
    }
}
