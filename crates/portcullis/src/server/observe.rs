//! What every request leaves behind for operators: an id, a log span
//! carrying it and the route, an access-log line — preceded, when the answer
//! is an error of ours, by the one line that says why — and a count and a
//! latency in the metrics (read at `GET /metrics`, in [`crate::http`]).
//!
//! The span records the method, the matched route and the path — never the
//! query string, a header or a body, which is where tokens, cookies and
//! passwords travel.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::{Instrument, Span};

use super::request_id::{self, RequestId};
use crate::web::Context;
use crate::web::failure::Failure;

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
/// span — logging `started processing request` (debug), the [`Failure`]
/// behind an error answer if there is one, and the access-log line
/// `finished processing request` with latency and status (info) —
/// then counts the request and its latency (to the response's head) under
/// its matched route and status, and echoes the id.
pub async fn front(State(state): State<Context>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id::assign(&mut request);
    let span = request_span(&request);
    let method = request.method().clone();
    // The matched route is an `Arc<str>`: kept, not copied, for the count.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = async {
        tracing::debug!("started processing request");
        let response = next.run(request).await;
        if let Some(failure) = response.extensions().get::<Failure>() {
            failure.log();
        }
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
