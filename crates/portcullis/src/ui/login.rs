//! `/login` and `/logout`: the sign-in page, its no-script form post, and the
//! no-script sign-out.
//!
//! With script on, the page's form is sent as JSON to `/api/auth/login` and
//! the script follows up; with script off the browser posts the form here,
//! and the answer is a redirect carrying the session's cookies — built by the
//! one cookie module, like every other `Set-Cookie`.

use axum::extract::rejection::FormRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;

use super::Ui;
use super::layout::{Page, Problem, SessionMark, continue_with};
use super::visitor::Visitor;
use crate::auth::ProviderInfo;
use crate::auth::{SignInAttempt, SignInResult};
use crate::web::Context;
use crate::web::client::SessionClient;
use crate::web::cookies;
use crate::web::failure::Failure;
use crate::web::next::{next_query, safe_next};

/// Where a visitor goes after signing in when the link did not say.
pub const DEFAULT_NEXT: &str = "/account";

/// A message the sign-in page shows after a redirect. Only these fixed texts
/// can be shown: the query names one, it never supplies the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    SignedOut,
    SignedOutEverywhere,
    SessionEnded,
    PasswordReset,
    VerifyEmail,
    LinkProvider,
}

impl Notice {
    fn parse(key: &str) -> Option<Self> {
        match key {
            "signed-out" => Some(Notice::SignedOut),
            "signed-out-everywhere" => Some(Notice::SignedOutEverywhere),
            "session-ended" => Some(Notice::SessionEnded),
            "password-reset" => Some(Notice::PasswordReset),
            "verify-email" => Some(Notice::VerifyEmail),
            "link-provider" => Some(Notice::LinkProvider),
            _ => None,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Notice::SignedOut => "You have signed out.",
            Notice::SignedOutEverywhere => "You have signed out on every device.",
            Notice::SessionEnded => "Your session has ended. Please sign in again.",
            Notice::PasswordReset => {
                "Your password has been changed, and every device signed out. Sign in with the new one."
            }
            Notice::VerifyEmail => {
                "Your account is created. Open the link we mailed you to verify your address, then sign in."
            }
            Notice::LinkProvider => {
                "An account here has the e-mail address you signed in with. Sign in to it with its password to link the two; from then on, either signs you in."
            }
        }
    }
}

/// The `?next=` and `?notice=` of a page URL; anything else is ignored.
#[derive(Debug, Default)]
pub struct PageQuery {
    next: Option<String>,
    notice: Option<Notice>,
}

impl PageQuery {
    /// Parses a raw query; malformed parts are skipped, never an error.
    pub fn parse(raw: Option<&str>) -> Self {
        let mut query = Self::default();
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match &*key {
                "next" => query.next = safe_next(&value).map(str::to_owned),
                "notice" => query.notice = Notice::parse(&value),
                _ => {}
            }
        }
        query
    }

    /// The page to go to after signing in.
    pub fn next(&self) -> &str {
        self.next.as_deref().unwrap_or(DEFAULT_NEXT)
    }
}

/// `GET /login`.
pub async fn page(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    Extension(ui): Extension<Ui>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = PageQuery::parse(raw.as_deref());
    let visitor = Visitor::of(&state, &headers, &client).await;
    if matches!(visitor, Visitor::SignedIn { .. }) {
        return visitor.respond(&state, Redirect::to(query.next()));
    }
    let providers = state.auth.providers();
    let view = LoginView {
        username: "",
        next: query.next(),
        notice: query.notice,
        problem: None,
        providers: &providers,
    };
    let response = view.page(&visitor, ui, StatusCode::OK);
    visitor.respond(&state, response)
}

/// The sign-in form as posted without script.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: SecretString,
    #[serde(default)]
    next: String,
}

/// `POST /login`: the no-script sign-in. Success is a `303` to the next page
/// with the cookies; failure is the page again, with the API's status and the
/// reason beside the form.
pub async fn submit(
    State(state): State<Context>,
    Extension(ui): Extension<Ui>,
    SessionClient(client): SessionClient,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let anonymous = Visitor::Anonymous {
        unsure: false,
        clear: false,
    };
    let Ok(Form(form)) = form else {
        let problem = Problem::bad_form();
        return LoginView::failed("", DEFAULT_NEXT, &problem, &[]).page(
            &anonymous,
            ui,
            problem.status,
        );
    };
    let next = safe_next(&form.next).unwrap_or(DEFAULT_NEXT);
    let presented = state.cookies.read(&headers);
    let attempt = SignInAttempt {
        login: &form.username,
        password: &form.password,
        device: presented.device,
    };
    match state.auth.login(attempt, &client).await {
        Ok(SignInResult::SignedIn(signed_in)) => {
            let mut set = state.cookies.sign_in(&signed_in);
            // As the API's sign-in does: a pending link to this account
            // from a provider is completed by this password.
            if let Some(link) = presented.link {
                if let Err(e) = state
                    .auth
                    .complete_pending_link(link, signed_in.user.id, &client)
                    .await
                {
                    return crate::web::failure::attach(
                        Failure::of(e),
                        super::layout::unavailable(&anonymous, ui),
                    );
                }
                set.push(state.cookies.clear_link());
            }
            cookies::attach(Redirect::to(next).into_response(), set)
        }
        Ok(SignInResult::SecondFactor(pending)) => {
            // A pending link waits, its cookie kept, for the second factor:
            // the sign-in is not complete yet.
            let step = format!("/login/verify?{}", next_query(next));
            cookies::attach(
                Redirect::to(&step).into_response(),
                [state
                    .cookies
                    .mfa_pending(&pending.token.encode(), pending.lifetime)],
            )
        }
        Err(e) => {
            let problem = Problem::from(e);
            let providers = state.auth.providers();
            let page = LoginView::failed(&form.username, next, &problem, &providers).page(
                &anonymous,
                ui,
                problem.status,
            );
            problem.finish(page)
        }
    }
}

/// `POST /logout`: the no-script sign-out, answered with a redirect to the
/// sign-in page. A database failure leaves the cookies alone, as the API does.
pub async fn logout(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    Extension(ui): Extension<Ui>,
    headers: HeaderMap,
) -> Response {
    let presented = state.cookies.read(&headers);
    match state
        .auth
        .logout(presented.access, presented.refresh, &client)
        .await
    {
        Ok(()) => cookies::attach(
            Redirect::to("/login?notice=signed-out").into_response(),
            state.cookies.clear(),
        ),
        Err(e) => {
            // The page says only that we are down; the log gets the cause.
            super::layout::unavailable(&Visitor::Unavailable(Failure::of(e)), ui)
        }
    }
}

struct LoginView<'a> {
    username: &'a str,
    next: &'a str,
    notice: Option<Notice>,
    problem: Option<&'a Problem>,
    /// The identity providers to offer beside the form.
    providers: &'a [ProviderInfo],
}

impl<'a> LoginView<'a> {
    fn failed(
        username: &'a str,
        next: &'a str,
        problem: &'a Problem,
        providers: &'a [ProviderInfo],
    ) -> Self {
        Self {
            username,
            next,
            notice: None,
            problem: Some(problem),
            providers,
        }
    }

    fn page(&self, visitor: &Visitor, ui: Ui, status: StatusCode) -> Response {
        Page {
            title: "Sign in",
            visitor,
            mark: SessionMark::Anonymous,
            signed_out_goto: None,
            ui,
            main: self.markup(ui),
        }
        .render(status)
    }

    fn markup(&self, ui: Ui) -> Markup {
        let error = self.problem.map(|p| p.message.as_str());
        html! {
            h1 { "Sign in" }
            @if let Some(notice) = self.notice {
                p.notice role="status" { (notice.text()) }
            }
            div.alert #form-error role="alert" hidden[error.is_none()] { @if let Some(e) = error { (e) } }
            form.card method="post" action="/login" data-form="login" data-next=(self.next) {
                input type="hidden" name="next" value=(self.next);
                div.field {
                    label for="username" { "Username or e-mail address" }
                    // "webauthn": the browser may offer this site's passkeys
                    // in the field's autofill (conditional mediation).
                    input #username name="username" type="text" value=(self.username)
                        autocomplete=(if ui.passkeys { "username webauthn" } else { "username" })
                        autocapitalize="none" spellcheck="false"
                        required autofocus;
                }
                div.field {
                    label for="password" { "Password" }
                    input #password name="password" type="password"
                        autocomplete="current-password" required;
                }
                button.primary type="submit" { "Sign in" }
            }
            @if ui.passkeys {
                p.actions #passkey-sign-in-box {
                    button type="button" data-action="passkey-sign-in" data-next=(self.next)
                        disabled data-needs-script { "Sign in with a passkey" }
                }
            }
            (continue_with(self.providers, self.next))
            @if ui.mail {
                p { a href="/forgot-password" { "Forgot your password?" } }
            }
            p { "New here? " a href="/register" { "Create an account" } "." }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_be_a_path_on_this_site() {
        for ok in ["/", "/account", "/notes?x=1"] {
            assert_eq!(safe_next(ok), Some(ok));
        }
        for bad in [
            "",
            "account",
            "//evil.test",
            "/\\evil.test",
            "https://evil.test/",
            "/a\nb",
            "/a\\b",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_query_names_a_notice_but_never_supplies_its_text() {
        let q = PageQuery::parse(Some("notice=signed-out&next=%2Fnotes"));
        assert_eq!(q.notice, Some(Notice::SignedOut));
        assert_eq!(q.next(), "/notes");
        let q = PageQuery::parse(Some("notice=%3Cscript%3E&next=//evil.test"));
        assert_eq!(q.notice, None);
        assert_eq!(q.next(), DEFAULT_NEXT);
    }
}
