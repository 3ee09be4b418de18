//! A reverse proxy between Chromium and Portcullis that keeps a copy of every
//! exchange: what the browser asked for and exactly what it received, bodies
//! included. Searching these copies is how the tests prove that no token
//! reached the browser in any HTML, RSC payload, script or JSON, which the
//! DOM alone cannot show (an RSC payload is never part of it).
//!
//! It forwards the browser's `Host` as it is, so Portcullis sees the origin
//! the browser uses (its cross-site check and `X-Forwarded-Host` depend on
//! it), and drops `Accept-Encoding`, so bodies arrive as plain text to search.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Largest body either way: far above any page of the example.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// One request and the answer the browser got.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request method.
    pub method: Method,
    /// Path and query.
    pub target: String,
    /// The request's headers, as the browser sent them.
    pub request_headers: HeaderMap,
    /// The answer's status.
    pub status: StatusCode,
    /// The answer's headers.
    pub headers: HeaderMap,
    /// The answer's body, whole.
    pub body: Bytes,
}

impl Exchange {
    /// Whether this was a document load (not an RSC fetch, script or asset).
    pub fn is_document(&self) -> bool {
        self.request_headers.get("rsc").is_none()
            && self
                .headers
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/html"))
    }

    /// Whether this was a React Server Components payload fetched by the router.
    pub fn is_rsc(&self) -> bool {
        self.request_headers.get("rsc").is_some()
    }

    /// The body as text (lossy: only searched).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Clone)]
struct Shared {
    target_port: u16,
    client: reqwest::Client,
    log: Arc<Mutex<Vec<Exchange>>>,
}

/// The proxy; it stops when dropped.
pub struct RecordingProxy {
    port: u16,
    log: Arc<Mutex<Vec<Exchange>>>,
    _stop: oneshot::Sender<()>,
}

impl RecordingProxy {
    /// Starts a proxy to `127.0.0.1:target_port` on a port of its own.
    pub async fn start(target_port: u16) -> Self {
        let shared = Shared {
            target_port,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            log: Arc::default(),
        };
        let log = shared.log.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let router = Router::new().fallback(forward).with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            port,
            log,
            _stop: stop,
        }
    }

    /// A URL through the proxy, on `localhost` (a secure context for the
    /// `__Host-` cookies).
    pub fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port)
    }

    /// Every exchange so far, oldest first.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().expect("lock").clone()
    }
}

async fn forward(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut sent = parts.headers.clone();
    for hop in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
        header::ACCEPT_ENCODING,
        header::UPGRADE,
    ] {
        sent.remove(hop);
    }
    let answer = shared
        .client
        .request(
            parts.method.clone(),
            format!("http://127.0.0.1:{}{target}", shared.target_port),
        )
        .headers(sent)
        .body(body)
        .send()
        .await;
    let Ok(answer) = answer else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let mut headers = answer.headers().clone();
    let Ok(body) = answer.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    for hop in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
    ] {
        headers.remove(hop);
    }
    shared.log.lock().expect("lock").push(Exchange {
        method: parts.method,
        target,
        request_headers: parts.headers,
        status,
        headers: headers.clone(),
        body: body.clone(),
    });
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}
