//! Two small servers: [`Site`], another web site (on `127.0.0.1`, which is a
//! different site from `localhost` to the browser), and [`NotesApi`], an
//! upstream shaped like `examples/upstream-api` that counts every request it
//! gets, to prove that none did.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Serves `router` on `127.0.0.1:0` until the returned sender is dropped.
async fn serve(router: Router) -> (u16, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    (port, tx)
}

/// Another site: fixed HTML pages at fixed paths.
pub struct Site {
    port: u16,
    _stop: oneshot::Sender<()>,
}

impl Site {
    /// Serves each `(path, html)`.
    pub async fn serve(pages: Vec<(&'static str, String)>) -> Self {
        let mut router = Router::new();
        for (path, html) in pages {
            router = router.route(path, get(move || async move { Html(html) }));
        }
        let (port, stop) = serve(router).await;
        Self { port, _stop: stop }
    }

    /// A URL on this site.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

#[derive(Default)]
struct Notes {
    by_user: Mutex<HashMap<String, Vec<Value>>>,
    next_id: AtomicUsize,
    requests: AtomicUsize,
}

/// An upstream shaped like the example: `GET`/`POST /api/notes` and
/// `DELETE /api/notes/{id}`, per user, keyed by the bearer token's `sub`.
/// It trusts the gateway to have verified the token (the real example, used
/// by the notes test, verifies it itself); what it adds is a count of every
/// request it gets.
pub struct NotesApi {
    port: u16,
    notes: Arc<Notes>,
    _stop: oneshot::Sender<()>,
}

impl NotesApi {
    /// Starts the upstream.
    pub async fn start() -> Self {
        let notes = Arc::new(Notes::default());
        let router = Router::new()
            .route("/api/notes", get(list).post(create))
            .route("/api/notes/{id}", delete(remove))
            .with_state(notes.clone());
        let (port, stop) = serve(router).await;
        Self {
            port,
            notes,
            _stop: stop,
        }
    }

    /// Its base URL, for `PORTCULLIS_UPSTREAM`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests reached it.
    pub fn requests(&self) -> usize {
        self.notes.requests.load(Ordering::SeqCst)
    }
}

/// The `sub` claim of the bearer token, read without verification.
fn user(notes: &Notes, headers: &HeaderMap) -> Result<String, StatusCode> {
    notes.requests.fetch_add(1, Ordering::SeqCst);
    let sub = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|jwt| jwt.split('.').nth(1))
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
        .and_then(|claims| claims["sub"].as_str().map(str::to_owned));
    sub.ok_or(StatusCode::UNAUTHORIZED)
}

async fn list(State(notes): State<Arc<Notes>>, headers: HeaderMap) -> Response {
    let user = match user(&notes, &headers) {
        Ok(u) => u,
        Err(status) => return status.into_response(),
    };
    let mine = notes
        .by_user
        .lock()
        .expect("lock")
        .get(&user)
        .cloned()
        .unwrap_or_default();
    axum::Json(json!({ "notes": mine })).into_response()
}

async fn create(
    State(notes): State<Arc<Notes>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let user = match user(&notes, &headers) {
        Ok(u) => u,
        Err(status) => return status.into_response(),
    };
    let id = notes.next_id.fetch_add(1, Ordering::SeqCst) + 1;
    let note = json!({ "id": id.to_string(), "text": body["text"] });
    notes
        .by_user
        .lock()
        .expect("lock")
        .entry(user)
        .or_default()
        .push(note.clone());
    (StatusCode::CREATED, axum::Json(json!({ "note": note }))).into_response()
}

async fn remove(
    State(notes): State<Arc<Notes>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match user(&notes, &headers) {
        Ok(u) => u,
        Err(status) => return status.into_response(),
    };
    let mut all = notes.by_user.lock().expect("lock");
    let mine = all.entry(user).or_default();
    let before = mine.len();
    mine.retain(|n| n["id"] != id.as_str());
    if mine.len() == before {
        StatusCode::NOT_FOUND.into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}
