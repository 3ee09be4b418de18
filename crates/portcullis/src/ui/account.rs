//! `/` and `/account`: who is signed in, their sessions, and the controls to
//! end them or change the password. The controls are buttons and forms that
//! the script turns into calls to `/api/auth/*`; without script they stay
//! disabled (and say why), rather than doing something half-right.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Redirect, Response};
use maud::{Markup, html};
use portcullis_verifier::Claims;

use super::Ui;
use super::layout::{self, Page, SessionMark, confirming, sentence, timestamp};
use super::recovery;
use super::register::{FieldSpec, field};
use super::second_factor;
use super::visitor::Visitor;
use crate::auth::{SecondFactors, SessionView};
use crate::domain::device;
use crate::domain::{PasswordError, SignInMethod};
use crate::web::Context;
use crate::web::client::SessionClient;
use crate::web::failure::{self, Failure};

/// `GET /`.
pub async fn home(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    Extension(ui): Extension<Ui>,
    headers: HeaderMap,
) -> Response {
    let visitor = Visitor::of(&state, &headers, &client).await;
    if matches!(visitor, Visitor::Unavailable(_)) {
        return layout::unavailable(&visitor, ui);
    }
    let welcome = html! {
        p.lead { "Portcullis keeps your sign-in in cookies that page scripts cannot read." }
        p.actions {
            a.button.primary href="/login" { "Sign in" }
            a.button href="/register" { "Create an account" }
        }
    };
    let mark = SessionMark::of(&visitor);
    let main = html! {
        h1 { "Welcome" }
        @if let Some(claims) = visitor.claims() {
            p.lead {
                "You are signed in as " strong #whoami { (claims.username) }
                " (" (claims.email) ")."
            }
            p.actions {
                a.button.primary href="/account" { "Your account" }
                @if ui.notes { a.button href="/notes" { "Your notes" } }
            }
        } @else if mark == SessionMark::Confirm {
            (confirming(welcome))
        } @else {
            (welcome)
        }
    };
    let page = Page {
        title: "Welcome",
        visitor: &visitor,
        mark,
        signed_out_goto: None,
        ui,
        main,
    }
    .render(StatusCode::OK);
    visitor.respond(&state, page)
}

/// `GET /account`.
pub async fn account(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    Extension(ui): Extension<Ui>,
    headers: HeaderMap,
) -> Response {
    let visitor = Visitor::of(&state, &headers, &client).await;
    let main = match &visitor {
        Visitor::Unavailable(_) => return layout::unavailable(&visitor, ui),
        Visitor::Anonymous { unsure: false, .. } => {
            return visitor.respond(&state, Redirect::to("/login?next=/account"));
        }
        Visitor::Anonymous { unsure: true, .. } => confirming(html! {
            p { "You are not signed in. " a href="/login?next=/account" { "Sign in" } }
        }),
        Visitor::SignedIn { claims, .. } => match state.auth.list_sessions(claims).await {
            Ok(mut sessions) => {
                // This device first, then the others as the store orders them.
                sessions.sort_by_key(|s| s.id.to_string() != claims.sid);
                // Read now, not from the token: a link may have been used
                // since it was issued.
                let unverified = match ui.mail {
                    true => match state.auth.current_session(claims).await {
                        Ok((user, _)) => (!user.email_verified).then_some(user.email),
                        Err(e) => {
                            return failure::attach(
                                Failure::of(e),
                                layout::unavailable(&visitor, ui),
                            );
                        }
                    },
                    false => None,
                };
                let factors = match state.auth.second_factors(claims).await {
                    Ok(factors) => factors,
                    Err(e) => {
                        return failure::attach(Failure::of(e), layout::unavailable(&visitor, ui));
                    }
                };
                let passkeys = match ui.passkeys {
                    true => match state.auth.list_passkeys(claims).await {
                        Ok(list) => Some(list),
                        Err(e) => {
                            return failure::attach(
                                Failure::of(e),
                                layout::unavailable(&visitor, ui),
                            );
                        }
                    },
                    false => None,
                };
                signed_in(
                    claims,
                    &sessions,
                    ui,
                    unverified.as_deref(),
                    (factors, passkeys.as_deref()),
                )
            }
            Err(e) => {
                return failure::attach(Failure::of(e), layout::unavailable(&visitor, ui));
            }
        },
    };
    let page = Page {
        title: "Your account",
        visitor: &visitor,
        mark: SessionMark::of(&visitor),
        signed_out_goto: Some("/login?next=/account"),
        ui,
        main,
    }
    .render(StatusCode::OK);
    visitor.respond(&state, page)
}

fn signed_in(
    claims: &Claims,
    sessions: &[SessionView],
    ui: Ui,
    unverified: Option<&str>,
    factors: (SecondFactors, Option<&[crate::auth::PasskeyView]>),
) -> Markup {
    let password_rules = [
        sentence(&PasswordError::TooShort),
        "Not one of the most common passwords.".to_owned(),
    ];
    html! {
        h1 { "Your account" }
        p.notice #status role="status" aria-live="polite" hidden {}
        div.alert #form-error role="alert" hidden {}
        @if let Some(email) = unverified { (recovery::unverified_banner(email)) }
        section.card aria-labelledby="profile-heading" {
            h2 #profile-heading { "Profile" }
            dl.profile {
                dt { "Username" } dd #profile-username { (claims.username) }
                dt { "E-mail address" } dd #profile-email { (claims.email) }
                dt { "User id" } dd { code { (claims.sub) } }
            }
        }
        section.card aria-labelledby="sessions-heading" {
            h2 #sessions-heading { "Where you are signed in" }
            noscript { p { "Signing out other devices and changing your password need JavaScript." } }
            ul.sessions #sessions {
                @for s in sessions {
                    @let current = s.id.to_string() == claims.sid;
                    @let name = device::describe(s.user_agent.as_deref());
                    li.session data-session-id=(s.id) data-current=[current.then_some("true")] {
                        div.session-head {
                            strong.device title=[s.user_agent.as_deref()] { (name) }
                            @if current { " " span.badge { "This device" } }
                        }
                        dl.session-times {
                            dt { "Signed in" } dd { (timestamp(s.created_at)) }
                            dt { "Last used" } dd { (timestamp(s.last_used_at)) }
                            dt { "Signed in with" } dd.method { (method_text(s.method)) }
                        }
                        button type="button" data-action="end-session" data-id=(s.id)
                            data-current=[current.then_some("true")] disabled data-needs-script {
                            @if current { "Sign out of this device" }
                            @else { "Sign out " span.visually-hidden { (name) } }
                        }
                    }
                }
            }
            p {
                button.danger type="button" data-action="logout-all" disabled data-needs-script { "Sign out everywhere" }
            }
            p.hint { "Signs out every device, this one included." }
        }
        section.card aria-labelledby="password-heading" {
            h2 #password-heading { "Change password" }
            // `post`, so that even without script a password never lands in a URL.
            form method="post" data-form="password" novalidate {
                (field(FieldSpec {
                    id: "current_password", label: "Current password", kind: "password",
                    autocomplete: "current-password", value: None, rules: &[], error: None,
                }))
                (field(FieldSpec {
                    id: "new_password", label: "New password", kind: "password",
                    autocomplete: "new-password", value: None, rules: &password_rules, error: None,
                }))
                button.primary type="submit" disabled data-needs-script { "Change password" }
                p.hint { "Your other devices will be signed out." }
            }
        }
        (second_factor::card(factors.0, factors.1, ui))
        @if ui.mail { (recovery::change_email_card()) }
    }
}

/// How a session began, for people.
fn method_text(method: SignInMethod) -> &'static str {
    match method {
        SignInMethod::Password => "Password",
        SignInMethod::PasswordAndOtp => "Password and a one-time code",
        SignInMethod::HardwarePasskey | SignInMethod::SyncedPasskey => "Passkey",
        SignInMethod::PasswordAndHardwarePasskey | SignInMethod::PasswordAndSyncedPasskey => {
            "Password and a passkey"
        }
    }
}
