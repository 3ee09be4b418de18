//! An example resource server behind Portcullis: per-user notes, kept in
//! memory, every route guarded by `portcullis-verifier`'s extractor.
//!
//! It is the API of the README's walkthrough and the upstream of Portcullis's
//! integration tests, so it is written the way a real service would be: it
//! never sees a password or a session, only the access token that Portcullis
//! attaches, which it verifies on its own (JWKS, or a shared HS256 secret in
//! compatibility mode). The user is whoever the token's `sub` says.
//!
//! | route | answers |
//! |---|---|
//! | `GET /api/notes` | 200 `{"notes":[{"id","text"}]}`: the caller's notes |
//! | `POST /api/notes` `{"text"}` | 201 `{"note":{"id","text"}}` |
//! | `DELETE /api/notes/{id}` | 204, or 404 when the caller has no such note |
//! | `GET /api/me` | 200: the verified claims, as the API sees them |
//!
//! Every route answers 401 without a valid token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use portcullis_verifier::{Claims, VerifiedClaims, Verifier};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 10_000;
/// Most notes one user may keep: memory is the only store here.
pub const MAX_NOTES_PER_USER: usize = 1_000;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// Checks the token on every request (through [`VerifiedClaims`]).
    verifier: Verifier,
    /// Notes by user id (`sub`).
    notes: Arc<Mutex<HashMap<String, Vec<Note>>>>,
}

impl FromRef<ApiState> for Verifier {
    fn from_ref(state: &ApiState) -> Verifier {
        state.verifier.clone()
    }
}

/// One note.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    /// Random id.
    pub id: String,
    /// The text.
    pub text: String,
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

/// The API's router.
pub fn router(verifier: Verifier) -> Router {
    let state = ApiState {
        verifier,
        notes: Arc::default(),
    };
    Router::new()
        .route("/api/notes", get(list).post(create))
        .route("/api/notes/{id}", delete(remove))
        .route("/api/me", get(me))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "not_found") })
        .with_state(state)
}

impl ApiState {
    fn with_notes<T>(&self, sub: &str, f: impl FnOnce(&mut Vec<Note>) -> T) -> T {
        // A panic while holding the lock cannot leave the map inconsistent:
        // every change is a single push or remove.
        let mut all = self.notes.lock().unwrap_or_else(PoisonError::into_inner);
        f(all.entry(sub.to_owned()).or_default())
    }
}

async fn list(State(state): State<ApiState>, VerifiedClaims(claims): VerifiedClaims) -> Response {
    let notes = state.with_notes(&claims.sub, |notes| notes.clone());
    Json(json!({ "notes": notes })).into_response()
}

async fn create(
    State(state): State<ApiState>,
    VerifiedClaims(claims): VerifiedClaims,
    body: Result<Json<NewNote>, JsonRejection>,
) -> Response {
    let Ok(Json(new)) = body else {
        return problem(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let text = new.text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return problem(StatusCode::BAD_REQUEST, "invalid_note");
    }
    let note = Note {
        id: uuid::Uuid::new_v4().simple().to_string(),
        text: text.to_owned(),
    };
    let added = state.with_notes(&claims.sub, |notes| {
        if notes.len() >= MAX_NOTES_PER_USER {
            return false;
        }
        notes.push(note.clone());
        true
    });
    if !added {
        return problem(StatusCode::CONFLICT, "too_many_notes");
    }
    (StatusCode::CREATED, Json(json!({ "note": note }))).into_response()
}

async fn remove(
    State(state): State<ApiState>,
    VerifiedClaims(claims): VerifiedClaims,
    Path(id): Path<String>,
) -> Response {
    // Only the caller's own notes are searched: another user's id is a 404.
    let removed = state.with_notes(&claims.sub, |notes| {
        let before = notes.len();
        notes.retain(|n| n.id != id);
        notes.len() != before
    });
    if removed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        problem(StatusCode::NOT_FOUND, "not_found")
    }
}

async fn me(VerifiedClaims(claims): VerifiedClaims) -> Json<Claims> {
    Json(claims)
}

fn problem(status: StatusCode, code: &'static str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "code": code,
    });
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/problem+json"),
    );
    response
}
