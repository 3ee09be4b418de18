//! Two-step verification in the pages: the sign-in's second step
//! (`/login/verify`), which works without script too, and the account
//! page's card to turn TOTP on and off and renew recovery codes, which the
//! script drives through `/api/auth/mfa/*`.

use axum::extract::rejection::FormRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::Ui;
use super::layout::{Page, Problem, SessionMark};
use super::login::{DEFAULT_NEXT, PageQuery};
use super::visitor::Visitor;
use crate::auth::{PasskeyView, SecondFactor, SecondFactors};
use crate::web::Context;
use crate::web::client::SessionClient;
use crate::web::cookies;
use crate::web::next::{next_query, safe_next};

/// `GET /login/verify`: the code after the password.
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
    let response = step(&visitor, ui, query.next(), None, StatusCode::OK);
    visitor.respond(&state, response)
}

/// The second step as posted without script: one of the two codes.
#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    code: Option<SecretString>,
    #[serde(default)]
    recovery_code: Option<SecretString>,
    #[serde(default)]
    next: String,
}

/// `POST /login/verify`: success is a `303` to the next page with the
/// cookies; failure is the page again with the reason.
pub async fn submit(
    State(state): State<Context>,
    Extension(ui): Extension<Ui>,
    SessionClient(client): SessionClient,
    headers: HeaderMap,
    form: Result<Form<VerifyForm>, FormRejection>,
) -> Response {
    let anonymous = Visitor::Anonymous {
        unsure: false,
        clear: false,
    };
    let Ok(Form(form)) = form else {
        let problem = Problem::bad_form();
        return step(&anonymous, ui, DEFAULT_NEXT, Some(&problem), problem.status);
    };
    let next = safe_next(&form.next).unwrap_or(DEFAULT_NEXT);
    let filled = |c: &Option<SecretString>| {
        c.as_ref()
            .map(|c| c.expose_secret().trim().to_owned())
            .filter(|c| !c.is_empty())
    };
    let (code, recovery) = (filled(&form.code), filled(&form.recovery_code));
    let factor = match (&code, &recovery) {
        (Some(code), _) => SecondFactor::Totp(code),
        (None, Some(code)) => SecondFactor::RecoveryCode(code),
        (None, None) => {
            let problem = Problem::bad_form();
            return step(&anonymous, ui, next, Some(&problem), problem.status);
        }
    };
    let presented = state.cookies.read(&headers);
    let result = state
        .auth
        .complete_sign_in(presented.mfa_pending, factor, presented.device, &client)
        .await;
    match result {
        Ok(signed_in) => {
            let mut set = state.cookies.sign_in(&signed_in);
            set.push(state.cookies.clear_mfa_pending());
            // As the API's second step does: a pending link from a provider
            // to this account completes with the whole sign-in.
            if let Some(link) = presented.link {
                if let Err(e) = state
                    .auth
                    .complete_pending_link(link, signed_in.user.id, &client)
                    .await
                {
                    return crate::web::failure::attach(
                        crate::web::failure::Failure::of(e),
                        super::layout::unavailable(&anonymous, ui),
                    );
                }
                set.push(state.cookies.clear_link());
            }
            cookies::attach(Redirect::to(next).into_response(), set)
        }
        Err(e) => {
            let problem = Problem::from(e);
            let page = step(&anonymous, ui, next, Some(&problem), problem.status);
            problem.finish(page)
        }
    }
}

/// The second step's page.
fn step(
    visitor: &Visitor,
    ui: Ui,
    next: &str,
    problem: Option<&Problem>,
    status: StatusCode,
) -> Response {
    let error = problem.map(|p| p.message.as_str());
    let main = html! {
        h1 { "Two-step verification" }
        p.lead {
            @if ui.passkeys { "Use your passkey, or enter the 6-digit code from your authenticator app." }
            @else { "Enter the 6-digit code from your authenticator app." }
        }
        div.alert #form-error role="alert" hidden[error.is_none()] { @if let Some(e) = error { (e) } }
        @if ui.passkeys {
            p.actions {
                button.primary type="button" data-action="passkey-verify" data-next=(next)
                    disabled data-needs-script { "Use a passkey" }
            }
        }
        form.card method="post" action="/login/verify" data-form="mfa" data-next=(next) {
            input type="hidden" name="next" value=(next);
            div.field {
                label for="code" { "Code" }
                input #code name="code" type="text" inputmode="numeric" pattern="[0-9 ]*"
                    autocomplete="one-time-code" maxlength="8" required autofocus;
            }
            button.primary type="submit" { "Verify" }
        }
        details.card {
            summary { "Use a recovery code instead" }
            form method="post" action="/login/verify" data-form="mfa-recovery" data-next=(next) {
                input type="hidden" name="next" value=(next);
                div.field {
                    label for="recovery_code" { "Recovery code" }
                    input #recovery_code name="recovery_code" type="text"
                        autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="64";
                }
                button type="submit" { "Use recovery code" }
            }
        }
        p { a href={ "/login?" (next_query(next)) } { "Start again" } }
    };
    Page {
        title: "Two-step verification",
        visitor,
        mark: SessionMark::Anonymous,
        signed_out_goto: None,
        ui,
        main,
    }
    .render(status)
}

/// The account page's "Two-step verification" card. Every control needs
/// script: what it shows (a secret, recovery codes) must not sit in a page
/// that the back button or a cache could bring back.
pub fn card(factors: SecondFactors, passkeys: Option<&[PasskeyView]>, ui: Ui) -> Markup {
    let reauth_with = if factors.totp {
        "code"
    } else if factors.passkey {
        "passkey"
    } else {
        "password"
    };
    html! {
        section.card #two-step aria-labelledby="two-step-heading"
            data-totp=(if factors.totp { "on" } else { "off" }) {
            h2 #two-step-heading { "Two-step verification" }
            @if !ui.totp {
                p { "Authenticator codes are not set up on this server." }
            } @else if factors.totp {
                p #two-step-state { "On: signing in asks for a code from your authenticator app." }
                p #recovery-left { "Recovery codes left: " (factors.recovery_codes_left) }
                p.actions {
                    button type="button" data-action="recovery-codes" disabled data-needs-script { "New recovery codes" }
                    button.danger type="button" data-action="totp-off" disabled data-needs-script { "Turn off" }
                }
            } @else {
                p #two-step-state { "Off: your password alone signs you in." }
                p.actions {
                    button.primary type="button" data-action="totp-begin" disabled data-needs-script { "Set up an authenticator app" }
                }
                div #totp-enrol hidden {
                    p { "Scan this code with your authenticator app, or type the key into it." }
                    div.qr #totp-qr {}
                    p { "Key: " code #totp-secret {} }
                    form data-form="totp-confirm" novalidate {
                        div.field {
                            label for="totp_code" { "Code from the app" }
                            input #totp_code name="totp_code" type="text" inputmode="numeric"
                                autocomplete="one-time-code" maxlength="8";
                            p.field-error #totp_code-error hidden {}
                        }
                        button.primary type="submit" { "Turn on" }
                    }
                }
            }
            div #recovery-codes hidden {
                p { strong { "Your recovery codes." } " Each signs you in once if you lose your phone. Keep them somewhere safe: they are not shown again." }
                ul.codes #recovery-code-list {}
                p { button type="button" data-action="reload" { "Done" } }
            }
            @if let Some(passkeys) = passkeys {
                (passkey_list(passkeys))
            }
            form #reauth data-form="reauth" data-with=(reauth_with) hidden novalidate {
                p { "To change this, confirm it is you." }
                div.field {
                    @if reauth_with == "passkey" {
                        p.field-error #reauth_secret-error hidden {}
                    } @else if factors.totp {
                        label for="reauth_secret" { "Code from your authenticator app" }
                        input #reauth_secret name="reauth_secret" type="text" inputmode="numeric"
                            autocomplete="one-time-code" maxlength="8";
                    } @else {
                        label for="reauth_secret" { "Password" }
                        input #reauth_secret name="reauth_secret" type="password" autocomplete="current-password";
                    }
                    @if reauth_with != "passkey" {
                        p.field-error #reauth_secret-error hidden {}
                    }
                }
                button.primary type="submit" {
                    @if reauth_with == "passkey" { "Confirm with your passkey" } @else { "Confirm" }
                }
            }
        }
    }
}

/// The account's passkeys, each with its name, creation and last use, and
/// the controls to rename, delete and add one (script only: the ceremonies
/// are `navigator.credentials` calls).
fn passkey_list(passkeys: &[PasskeyView]) -> Markup {
    let when = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    html! {
        h3 { "Passkeys" }
        @if passkeys.is_empty() {
            p #passkeys-empty { "No passkeys yet. A passkey signs you in with your device's screen lock, without a password." }
        }
        ul.passkeys #passkey-list {
            @for passkey in passkeys {
                li data-passkey=(passkey.id) {
                    strong.passkey-name { (passkey.name) }
                    " · added " time datetime=(when(passkey.created_at)) { (when(passkey.created_at)) }
                    " · "
                    @match passkey.last_used_at {
                        Some(used) => { "last used " time datetime=(when(used)) { (when(used)) } }
                        None => { "never used" }
                    }
                    " "
                    button type="button" data-action="passkey-rename" data-id=(passkey.id)
                        disabled data-needs-script { "Rename" }
                    button.danger type="button" data-action="passkey-delete" data-id=(passkey.id)
                        disabled data-needs-script { "Delete" }
                }
            }
        }
        form data-form="passkey-add" novalidate {
            div.field {
                label for="passkey_name" { "Name for a new passkey" }
                input #passkey_name name="passkey_name" type="text" maxlength="64"
                    placeholder="e.g. Laptop" autocomplete="off";
                p.field-error #passkey_name-error hidden {}
            }
            button type="submit" disabled data-needs-script { "Add a passkey" }
        }
    }
}
