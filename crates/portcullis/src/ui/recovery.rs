//! The pages of the e-mail flows, mounted only while e-mail is on:
//! `/forgot-password` (ask for a reset link), `/reset-password` (choose a new
//! password) and `/verify-email` (the verification landing page).
//!
//! A mailed link carries its token in the URL's fragment, which browsers
//! never send to a server (nor in a `Referer`). So the two landing pages are
//! rendered without it, and the script reads the fragment, removes it from
//! the address bar and the history, and posts the token to the API like
//! any app would. Without script they cannot work, and say so.

use axum::Extension;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::Ui;
use super::layout::{Page, Problem, SessionMark, sentence};
use super::register::{FieldSpec, field};
use super::visitor::Visitor;
use crate::domain::PasswordError;
use crate::web::Context;
use crate::web::client::SessionClient;

/// What the forgot page says once a link has been asked for: the same
/// whether or not an account has the address.
pub const LINK_SENT: &str = "If an account uses this address, a link to choose a new password is on its way. It works for a short while and only once.";

/// `GET /forgot-password`.
pub async fn forgot_page(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    Extension(ui): Extension<Ui>,
    headers: HeaderMap,
) -> Response {
    let visitor = Visitor::of(&state, &headers, &client).await;
    let page = forgot(&visitor, ui, None, None, StatusCode::OK);
    visitor.respond(&state, page)
}

/// The forgot form as posted without script.
#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// `POST /forgot-password`: the no-script request, answered with the page
/// and the same words whatever the address.
pub async fn forgot_submit(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    Extension(ui): Extension<Ui>,
    form: Result<Form<ForgotForm>, FormRejection>,
) -> Response {
    let anonymous = Visitor::Anonymous {
        unsure: false,
        clear: false,
    };
    let Ok(Form(form)) = form else {
        let problem = Problem::bad_form();
        return forgot(&anonymous, ui, None, Some(&problem), problem.status);
    };
    match state.auth.forgot_password(&form.email, &client).await {
        Ok(()) => forgot(&anonymous, ui, Some(LINK_SENT), None, StatusCode::OK),
        Err(e) => {
            let problem = Problem::from(e);
            let page = forgot(&anonymous, ui, None, Some(&problem), problem.status);
            problem.finish(page)
        }
    }
}

fn forgot(
    visitor: &Visitor,
    ui: Ui,
    notice: Option<&str>,
    problem: Option<&Problem>,
    status: StatusCode,
) -> Response {
    let error = problem.map(|p| p.message.as_str());
    let main = html! {
        h1 { "Forgot your password?" }
        p { "Enter the e-mail address of your account, and we will send it a link to choose a new password." }
        p.notice #status role="status" aria-live="polite" hidden[notice.is_none()] {
            @if let Some(n) = notice { (n) }
        }
        div.alert #form-error role="alert" hidden[error.is_none()] { @if let Some(e) = error { (e) } }
        form.card method="post" action="/forgot-password" data-form="forgot" {
            (field(FieldSpec {
                id: "email", label: "E-mail address", kind: "email", autocomplete: "email",
                value: None, rules: &[], error: None,
            }))
            button.primary type="submit" { "Send me a link" }
        }
        p { a href="/login" { "Back to sign in" } }
    };
    Page {
        title: "Forgot your password?",
        visitor,
        mark: SessionMark::Anonymous,
        signed_out_goto: None,
        ui,
        main,
    }
    .render(status)
}

/// `GET /reset-password`: the form; the token is in the fragment, for the
/// script.
pub async fn reset_page(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    Extension(ui): Extension<Ui>,
    headers: HeaderMap,
) -> Response {
    let visitor = Visitor::of(&state, &headers, &client).await;
    let password_rules = [
        sentence(&PasswordError::TooShort),
        "Not one of the most common passwords.".to_owned(),
    ];
    let main = html! {
        h1 { "Choose a new password" }
        (needs_script())
        div.alert #form-error role="alert" hidden {}
        form.card method="post" data-form="reset" novalidate {
            (field(FieldSpec {
                id: "new_password", label: "New password", kind: "password",
                autocomplete: "new-password", value: None, rules: &password_rules, error: None,
            }))
            button.primary type="submit" disabled data-needs-script { "Set the new password" }
            p.hint { "Every device signed in to your account will be signed out." }
        }
    };
    let page = Page {
        title: "Choose a new password",
        visitor: &visitor,
        mark: SessionMark::Anonymous,
        signed_out_goto: None,
        ui,
        main,
    }
    .render(StatusCode::OK);
    visitor.respond(&state, page)
}

/// `GET /verify-email`: the script posts the fragment's token and says
/// how it went.
pub async fn verify_page(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    Extension(ui): Extension<Ui>,
    headers: HeaderMap,
) -> Response {
    let visitor = Visitor::of(&state, &headers, &client).await;
    let main = html! {
        h1 { "Confirm your e-mail address" }
        (needs_script())
        p.notice #status role="status" aria-live="polite" data-verify-email {
            "Confirming your address…"
        }
        div.alert #form-error role="alert" hidden {}
        p.actions #verified-next hidden {
            a.button.primary href="/account" { "Go to your account" }
        }
    };
    let page = Page {
        title: "Confirm your e-mail address",
        visitor: &visitor,
        mark: SessionMark::Anonymous,
        signed_out_goto: None,
        ui,
        main,
    }
    .render(StatusCode::OK);
    visitor.respond(&state, page)
}

fn needs_script() -> Markup {
    html! {
        noscript {
            p.alert { "This page needs JavaScript: the link's secret stays in your browser, and only a script can hand it over." }
        }
    }
}

/// The account page's banner while the address is unverified, with the
/// button that mails a new link.
pub fn unverified_banner(email: &str) -> Markup {
    html! {
        div.notice #verify-banner role="status" {
            p { "Your e-mail address " strong { (email) } " is not verified yet. Open the link we mailed you to verify it." }
            button type="button" data-action="resend-verification" disabled data-needs-script {
                "Send the link again"
            }
        }
    }
}

/// The account page's card to change the address.
pub fn change_email_card() -> Markup {
    html! {
        section.card aria-labelledby="email-heading" {
            h2 #email-heading { "Change e-mail address" }
            form method="post" data-form="email" novalidate {
                (field(FieldSpec {
                    id: "new_email", label: "New e-mail address", kind: "email",
                    autocomplete: "email", value: None, rules: &[], error: None,
                }))
                (field(FieldSpec {
                    id: "email_password", label: "Current password", kind: "password",
                    autocomplete: "current-password", value: None, rules: &[], error: None,
                }))
                button.primary type="submit" disabled data-needs-script { "Send a confirmation link" }
                p.hint { "The address changes once you open the link we send to the new one; the old one will be told." }
            }
        }
    }
}
