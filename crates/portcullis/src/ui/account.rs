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
use crate::auth::{IdentityView, ProviderInfo, SecondFactors, SessionView};
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
                        Ok(current) => {
                            (!current.user.email_verified).then(|| current.user.email.clone())
                        }
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
                let providers = state.auth.providers();
                let identities = match claims.sub.parse::<crate::domain::UserId>() {
                    Ok(user) if !providers.is_empty() => match state.auth.identities(user).await {
                        Ok(list) => list,
                        Err(e) => {
                            return failure::attach(
                                Failure::of(e),
                                layout::unavailable(&visitor, ui),
                            );
                        }
                    },
                    _ => Vec::new(),
                };
                signed_in(
                    claims,
                    &sessions,
                    ui,
                    unverified.as_deref(),
                    &Linked {
                        providers: &providers,
                        identities: &identities,
                    },
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

/// The configured providers and those linked to the account.
struct Linked<'a> {
    providers: &'a [ProviderInfo],
    identities: &'a [IdentityView],
}

impl Linked<'_> {
    /// One row per provider, linked or not, with the button that changes
    /// it: linking navigates to the provider, so both need script.
    fn markup(&self) -> Markup {
        html! {
            @if !self.providers.is_empty() {
                section.card aria-labelledby="providers-heading" {
                    h2 #providers-heading { "Sign-in providers" }
                    ul.identities #identities {
                        @for p in self.providers {
                            @let linked = self.identities.iter().find(|i| i.provider == p.id);
                            li.identity data-provider=(p.id) data-linked=[linked.map(|_| "true")] {
                                strong { (p.name) }
                                @if let Some(i) = linked {
                                    " " span.badge { "Linked" }
                                    @if let Some(email) = &i.email { " " span.hint { (email) } }
                                    " "
                                    button type="button" data-action="unlink-provider" data-provider=(p.id)
                                        disabled data-needs-script { "Unlink " (p.name) }
                                } @else {
                                    " "
                                    button type="button" data-action="link-provider" data-provider=(p.id)
                                        disabled data-needs-script { "Link " (p.name) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn signed_in(
    claims: &Claims,
    sessions: &[SessionView],
    ui: Ui,
    unverified: Option<&str>,
    linked: &Linked<'_>,
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
                            @if let Some(idp) = s.method.idp() {
                                @let name = linked.providers.iter().find(|p| p.id == idp).map_or(idp, |p| p.name.as_str());
                                " " span.badge.via data-idp=(idp) { "via " (name) }
                            }
                        }
                        dl.session-times {
                            dt { "Signed in" } dd { (timestamp(s.created_at)) }
                            dt { "Last used" } dd { (timestamp(s.last_used_at)) }
                            dt { "Signed in with" } dd.method { (method_text(&s.method)) }
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
        (linked.markup())
        (second_factor::card(factors.0, factors.1, ui))
        @if ui.mail { (recovery::change_email_card()) }
    }
}

/// How a session began, for people.
fn method_text(method: &SignInMethod) -> &'static str {
    match method {
        SignInMethod::Password => "Password",
        SignInMethod::PasswordAndOtp => "Password and a one-time code",
        SignInMethod::HardwarePasskey | SignInMethod::SyncedPasskey => "Passkey",
        SignInMethod::PasswordAndHardwarePasskey | SignInMethod::PasswordAndSyncedPasskey => {
            "Password and a passkey"
        }
        SignInMethod::Federated { amr, .. } if amr.contains(&"otp") => {
            "Another provider and a one-time code"
        }
        SignInMethod::Federated { amr, .. } if amr.contains(&"mfa") => {
            "Another provider and a passkey"
        }
        SignInMethod::Federated { .. } => "Another provider",
    }
}
