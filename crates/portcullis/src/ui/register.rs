//! `/register`: the rules are on the page before anything is typed, and each
//! of the contract's errors comes back beside the field it is about — from the
//! script after a JSON post, or from here after a no-script form post.

use axum::extract::rejection::FormRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;

use super::Ui;
use super::layout::{Field, Page, Problem, SessionMark, continue_with, sentence};
use super::login::PageQuery;
use super::visitor::Visitor;
use crate::auth::{NewAccount, ProviderInfo, Registered};
use crate::domain::{PasswordError, UsernameError};
use crate::web::Context;
use crate::web::client::SessionClient;
use crate::web::cookies;
use crate::web::next::safe_next;

/// `GET /register`.
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
    let view = RegisterView {
        username: "",
        email: "",
        next: query.next(),
        problem: None,
        providers: &providers,
    };
    let response = view.page(&visitor, ui, StatusCode::OK);
    visitor.respond(&state, response)
}

/// The registration form as posted without script.
#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: SecretString,
    #[serde(default)]
    next: String,
}

/// `POST /register`: the no-script registration.
pub async fn submit(
    State(state): State<Context>,
    Extension(ui): Extension<Ui>,
    SessionClient(client): SessionClient,
    form: Result<Form<RegisterForm>, FormRejection>,
) -> Response {
    let anonymous = Visitor::Anonymous {
        unsure: false,
        clear: false,
    };
    let Ok(Form(form)) = form else {
        let problem = Problem::bad_form();
        let view = RegisterView {
            username: "",
            email: "",
            next: super::login::DEFAULT_NEXT,
            problem: Some(&problem),
            providers: &[],
        };
        return view.page(&anonymous, ui, problem.status);
    };
    let next = safe_next(&form.next).unwrap_or(super::login::DEFAULT_NEXT);
    let account = NewAccount {
        username: &form.username,
        email: &form.email,
        password: &form.password,
    };
    match state.auth.register(account, &client).await {
        Ok(Registered::SignedIn(signed_in)) => cookies::attach(
            Redirect::to(next).into_response(),
            state.cookies.sign_in(&signed_in),
        ),
        Ok(Registered::VerifyFirst { device, .. }) => cookies::attach(
            Redirect::to("/login?notice=verify-email").into_response(),
            [state.cookies.device(&device)],
        ),
        Err(e) => {
            let problem = Problem::from(e);
            let providers = state.auth.providers();
            let view = RegisterView {
                username: &form.username,
                email: &form.email,
                next,
                problem: Some(&problem),
                providers: &providers,
            };
            problem.finish(view.page(&anonymous, ui, problem.status))
        }
    }
}

struct RegisterView<'a> {
    username: &'a str,
    email: &'a str,
    next: &'a str,
    /// The identity providers to offer beside the form.
    providers: &'a [ProviderInfo],
    problem: Option<&'a Problem>,
}

impl RegisterView<'_> {
    fn page(&self, visitor: &Visitor, ui: Ui, status: StatusCode) -> Response {
        Page {
            title: "Create an account",
            visitor,
            mark: SessionMark::Anonymous,
            signed_out_goto: None,
            ui,
            main: self.markup(),
        }
        .render(status)
    }

    /// The message for `field`, if the problem is about it.
    fn error(&self, field: Field) -> Option<&str> {
        self.problem
            .filter(|p| p.field == Some(field))
            .map(|p| p.message.as_str())
    }

    fn markup(&self) -> Markup {
        let form_error = self
            .problem
            .filter(|p| p.field.is_none())
            .map(|p| p.message.as_str());
        // The rules are the domain's own error messages, so the page cannot
        // drift from what the server enforces.
        let username_rules = [
            sentence(&UsernameError::Length),
            sentence(&UsernameError::Characters),
        ];
        let password_rules = [
            sentence(&PasswordError::TooShort),
            "Not one of the most common passwords.".to_owned(),
            "Any characters, spaces included: a few unrelated words make a strong one.".to_owned(),
        ];
        html! {
            h1 { "Create an account" }
            div.alert #form-error role="alert" hidden[form_error.is_none()] { @if let Some(e) = form_error { (e) } }
            form.card method="post" action="/register" data-form="register" data-next=(self.next) {
                input type="hidden" name="next" value=(self.next);
                (field(FieldSpec {
                    id: "username", label: "Username", kind: "text", autocomplete: "username",
                    value: Some(self.username), rules: &username_rules,
                    error: self.error(Field::Username),
                }))
                (field(FieldSpec {
                    id: "email", label: "E-mail address", kind: "email", autocomplete: "email",
                    value: Some(self.email), rules: &[],
                    error: self.error(Field::Email),
                }))
                (field(FieldSpec {
                    id: "password", label: "Password", kind: "password", autocomplete: "new-password",
                    value: None, rules: &password_rules,
                    error: self.error(Field::Password),
                }))
                button.primary type="submit" { "Create account" }
            }
            (continue_with(self.providers, self.next))
            p { "Already have an account? " a href="/login" { "Sign in" } "." }
        }
    }
}

/// One labelled input with its rules and its error slot.
pub struct FieldSpec<'a> {
    /// The input's `id` and `name`.
    pub id: &'a str,
    /// The visible label.
    pub label: &'a str,
    /// The input `type`.
    pub kind: &'a str,
    /// The `autocomplete` hint.
    pub autocomplete: &'a str,
    /// The value to refill (never for passwords).
    pub value: Option<&'a str>,
    /// Rules shown under the input before anything is typed.
    pub rules: &'a [String],
    /// The error to show beside it.
    pub error: Option<&'a str>,
}

/// Renders a field. The rules and the error are tied to the input with
/// `aria-describedby`, so a screen reader reads them with the label.
pub fn field(spec: FieldSpec<'_>) -> Markup {
    let rules_id = format!("{}-rules", spec.id);
    let error_id = format!("{}-error", spec.id);
    let described = if spec.rules.is_empty() {
        error_id.clone()
    } else {
        format!("{rules_id} {error_id}")
    };
    html! {
        div.field {
            label for=(spec.id) { (spec.label) }
            input id=(spec.id) name=(spec.id) type=(spec.kind) value=[spec.value]
                autocomplete=(spec.autocomplete) autocapitalize="none" spellcheck="false"
                required aria-describedby=(described)
                aria-invalid=[spec.error.map(|_| "true")];
            @if !spec.rules.is_empty() {
                ul.rules id=(rules_id) {
                    @for rule in spec.rules { li { (rule) } }
                }
            }
            p.field-error id=(error_id) hidden[spec.error.is_none()] {
                @if let Some(e) = spec.error { (e) }
            }
        }
    }
}
