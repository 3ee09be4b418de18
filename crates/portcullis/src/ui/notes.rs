//! `/notes`: a small page that calls the upstream API through the gateway —
//! `GET`/`POST /api/notes`, `DELETE /api/notes/{id}` — to show the whole flow:
//! browser → Portcullis (cookie in, bearer token out) → API. The page is a
//! shell; the script does the calls, as any single-page app would.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Redirect, Response};
use maud::html;

use super::Ui;
use super::layout::{self, Page, SessionMark, confirming};
use super::visitor::Visitor;
use crate::http::{AppState, SessionClient};

/// `GET /notes`, mounted only when `notes_page` is on (with an upstream).
pub async fn page(
    State(state): State<AppState>,
    SessionClient(client): SessionClient,
    Extension(ui): Extension<Ui>,
    headers: HeaderMap,
) -> Response {
    let visitor = Visitor::of(&state, &headers, &client).await;
    let main = match &visitor {
        Visitor::Unavailable => return layout::unavailable(&visitor, ui),
        Visitor::Anonymous { unsure: false, .. } => {
            return visitor.respond(&state, Redirect::to("/login?next=/notes"));
        }
        Visitor::Anonymous { unsure: true, .. } => confirming(html! {
            p { "You are not signed in. " a href="/login?next=/notes" { "Sign in" } }
        }),
        Visitor::SignedIn { .. } => html! {
            h1 { "Your notes" }
            p.hint {
                "Kept by the upstream API. Your browser sends its cookie to Portcullis, "
                "which calls the API with your token attached."
            }
            div.alert #form-error role="alert" hidden {}
            form.card method="post" data-form="note" novalidate {
                div.field {
                    label for="note-text" { "New note" }
                    input #note-text name="text" type="text" maxlength="1000" required
                        aria-describedby="note-text-error";
                    p.field-error #note-text-error hidden {}
                }
                button.primary type="submit" disabled data-needs-script { "Add note" }
            }
            noscript { p { "The notes page needs JavaScript." } }
            p.notice #status role="status" aria-live="polite" { "Loading your notes…" }
            ul.notes #notes data-notes {}
        },
    };
    let page = Page {
        title: "Your notes",
        visitor: &visitor,
        mark: SessionMark::of(&visitor),
        signed_out_goto: Some("/login?next=/notes"),
        ui,
        main,
    }
    .render(StatusCode::OK);
    visitor.respond(&state, page)
}
