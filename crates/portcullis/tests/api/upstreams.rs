//! The servers Portcullis proxies to in these tests, each on port 0:
//!
//! - [`Recorder`], a raw upstream that reports exactly what it received
//!   (method, path and query, every header, the body's length, counted
//!   without keeping it), plus routes that fail, never answer, or stream;
//! - the example notes API (`examples/upstream-api`) on the verifier;
//! - a WebSocket echo server, as a frontend's live-reload socket would be.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::{SinkExt, StreamExt, stream};
use portcullis_verifier::Verifier;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Size of the chunks the streaming routes produce.
pub const CHUNK: usize = 64 * 1024;

/// A raw upstream that reports what it received.
#[derive(Clone, Default)]
pub struct Recorder {
    pub addr: Option<SocketAddr>,
    calls: Arc<AtomicUsize>,
    /// Notified when `/api/upload-probe` has received the first bytes.
    pub first_bytes_arrived: Arc<Notify>,
    /// Notified by the test to let `/api/drip` send the rest of its body.
    pub send_the_rest: Arc<Notify>,
}

impl Recorder {
    pub async fn spawn() -> Self {
        let listener = bind().await;
        let recorder = Self {
            addr: Some(listener.local_addr().expect("addr")),
            ..Self::default()
        };
        let router = Router::new()
            .route("/api/status/{code}", any(status))
            .route("/api/never", any(never))
            .route("/api/download/{bytes}", get(download))
            .route("/api/upload-probe", any(upload_probe))
            .route("/api/drip", get(drip))
            .fallback(record)
            .with_state(recorder.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        recorder
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr.expect("spawned"))
    }

    /// How many requests reached it.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

pub async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.expect("bind")
}

/// A URL on which nothing listens: the port was bound, then released.
pub async fn closed_url() -> String {
    let listener = bind().await;
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// Counts a body's bytes without keeping them.
async fn body_len(body: Body) -> Result<u64, axum::Error> {
    let mut stream = body.into_data_stream();
    let mut len = 0u64;
    while let Some(chunk) = stream.next().await {
        len += chunk?.len() as u64;
    }
    Ok(len)
}

/// Everything it received, as JSON; and, in its answer, headers the gateway
/// must not pass back (hop-by-hop, our cookies) beside one it must.
async fn record(State(recorder): State<Recorder>, request: Request) -> Response {
    recorder.count();
    let (parts, body) = request.into_parts();
    let headers: Vec<Value> = parts
        .headers
        .iter()
        .map(|(k, v)| json!([k.as_str(), v.to_str().unwrap_or("<binary>")]))
        .collect();
    let Ok(len) = body_len(body).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let report = json!({
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "headers": headers,
        "body_len": len,
    });
    let mut response = axum::Json(report).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONNECTION,
        HeaderValue::from_static("x-upstream-hop"),
    );
    h.insert("x-upstream-hop", HeaderValue::from_static("1"));
    h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static("__Host-access_token=planted; Path=/; Secure"),
    );
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static("__Host-device=planted; Path=/; Secure"),
    );
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static("app_pref=1; Path=/"),
    );
    h.insert("x-app-header", HeaderValue::from_static("kept"));
    response
}

async fn status(State(recorder): State<Recorder>, Path(code): Path<u16>) -> Response {
    recorder.count();
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, r#"{"error":"from the upstream"}"#).into_response();
    response
        .headers_mut()
        .insert("x-upstream-error", HeaderValue::from_static("yes"));
    response
}

async fn never(State(recorder): State<Recorder>) -> Response {
    recorder.count();
    std::future::pending().await
}

/// `bytes` bytes, made as they are sent.
async fn download(Path(bytes): Path<usize>) -> Response {
    let chunks = (0..bytes.div_ceil(CHUNK)).map(move |i| {
        let len = CHUNK.min(bytes - i * CHUNK);
        Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; len]))
    });
    let mut response = Body::from_stream(stream::iter(chunks)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes as u64));
    response
}

/// Says when the first bytes of the upload arrive, then counts the rest. A
/// gateway that buffered the body would deliver nothing until the client had
/// sent it all — and the test's client waits for this signal before sending
/// the rest.
async fn upload_probe(State(recorder): State<Recorder>, request: Request) -> Response {
    recorder.count();
    let mut stream = request.into_body().into_data_stream();
    let mut len = 0u64;
    let mut announced = false;
    while let Some(Ok(chunk)) = stream.next().await {
        len += chunk.len() as u64;
        if !announced && len > 0 {
            recorder.first_bytes_arrived.notify_one();
            announced = true;
        }
    }
    axum::Json(json!({ "body_len": len })).into_response()
}

/// Sends one chunk, then waits for the test to say it arrived before sending
/// the last one: only a streamed answer can pass.
async fn drip(State(recorder): State<Recorder>) -> Response {
    let go = recorder.send_the_rest.clone();
    let chunks = stream::iter([0u8, 1])
        .then(move |i| {
            let go = go.clone();
            async move {
                if i == 1 {
                    go.notified().await;
                }
                Ok::<_, std::io::Error>(Bytes::from(vec![b'a' + i; CHUNK]))
            }
        })
        .boxed();
    Body::from_stream(chunks).into_response()
}

/// The example notes API on `listener`, verifying with `verifier`.
pub fn serve_example_api(listener: TcpListener, verifier: Verifier) {
    tokio::spawn(async move { axum::serve(listener, upstream_api::router(verifier)).await });
}

/// A WebSocket server that echoes every text and binary message.
pub async fn spawn_ws_echo() -> String {
    let listener = bind().await;
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// Waits for `notify`, failing the test (instead of hanging it) if it never
/// comes: a generous bound on an event, not a measurement.
pub async fn expect_notified(notify: &Notify, what: &str) {
    tokio::time::timeout(Duration::from_secs(30), notify.notified())
        .await
        .unwrap_or_else(|_| panic!("{what} never happened"));
}

/// The report of a [`Recorder`] answer.
pub struct Report(pub Value);

impl Report {
    pub async fn of(response: reqwest::Response) -> Self {
        Self(response.json().await.expect("a report"))
    }

    /// Every value of header `name`, as received.
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.0["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .filter(|pair| pair[0] == name)
            .map(|pair| pair[1].as_str().expect("text").to_owned())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let mut all = self.headers(name);
        assert!(all.len() <= 1, "{name} received {} times", all.len());
        all.pop()
    }
}
