//! Liveness, readiness and the public keys.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::error::ApiError;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: the database answers too, and the revocation set is known
/// to be current (an instance that would answer every signed-in request with
/// 503 should be taken out of the load balancer).
pub async fn readyz(State(state): State<AppState>) -> Response {
    if !state.auth.freshness().is_current() {
        tracing::warn!("not ready: revocation set unverified");
        return ApiError::Unavailable.into_response();
    }
    match state.auth.store().ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database unreachable");
            ApiError::Unavailable.into_response()
        }
    }
}

/// `GET /.well-known/jwks.json`: every key that may still verify a live token.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let jwks = state.auth.keys().current().jwks.clone();
    let mut response = jwks.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Short, so that a rotated-in key is picked up within a minute.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}
