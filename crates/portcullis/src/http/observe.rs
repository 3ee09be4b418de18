//! What every request leaves behind for operators: an id, a log span
//! carrying it and the route, an access-log line, a count and a latency in
//! the metrics, and `GET /metrics` to read them.
//!
//! The span records the method, the matched route and the path — never the
//! query string, a header or a body, which is where tokens, cookies and
//! passwords travel.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::{Instrument, Span};

use super::AppState;
use super::openapi::responses::HeadersTooLarge;
use super::request_id::{self, RequestId};

/// The route label of requests that matched no route (scanners, typos):
/// one series for all of them, whatever their paths.
const UNMATCHED: &str = "unmatched";

/// The span every log line of a request is written in.
pub fn request_span(request: &Request) -> Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .map(RequestId::as_str)
        .unwrap_or_default();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str);
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        route = %route,
        path = %request.uri().path(),
    )
}

/// The outermost layer: assigns the request id and runs the request in its
/// span — logging `started processing request` (debug) and the access-log
/// line `finished processing request` with latency and status (info) —
/// then counts the request and its latency (to the response's head) under
/// its matched route and status, and echoes the id.
pub async fn front(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id::assign(&mut request);
    let span = request_span(&request);
    let method = request.method().clone();
    // The matched route is an `Arc<str>`: kept, not copied, for the count.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = async {
        tracing::debug!("started processing request");
        let response = next.run(request).await;
        tracing::info!(
            latency = %format_args!("{} ms", started.elapsed().as_millis()),
            status = response.status().as_u16(),
            "finished processing request"
        );
        response
    }
    .instrument(span)
    .await;
    state.auth.metrics().http_request(
        &method,
        route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
        response.status(),
        started.elapsed(),
    );
    request_id::echo(&mut response, id);
    response
}

/// `GET /metrics`: Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((
        status = 200,
        description = "Prometheus text format: requests, sign-ins, refreshes, revocations, upstream calls, argon2 queue, database pool",
        body = String,
        content_type = "text/plain; version=0.0.4",
    ), (status = 431, response = inline(HeadersTooLarge)))
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let metrics = state.auth.metrics();
    metrics.record_hash_queue(state.auth.passwords().in_flight());
    match state.auth.store().pool_status().await {
        Ok(pool) => metrics.record_pool(pool),
        Err(e) => tracing::warn!(error = %e, "could not read the database pool's state"),
    }
    let mut response = metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
