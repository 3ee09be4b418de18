//! `GET /metrics`: the counts the access-log layer and the auth service keep,
//! for Prometheus.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::openapi::responses::HeadersTooLarge;
use crate::web::Context;

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
pub async fn metrics(State(state): State<Context>) -> Response {
    let mut response = state.auth.scrape_metrics().await.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
