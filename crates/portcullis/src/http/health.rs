//! Liveness, readiness and the public keys.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::openapi::responses::HeadersTooLarge;

/// `GET /healthz`: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "`{\"status\":\"ok\"}`: the process is up", content_type = "application/json"),
        (status = 431, response = inline(HeadersTooLarge)),
    ),
)]
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: the database answers too, and the revocation set is known
/// to be current (an instance that would answer every signed-in request with
/// 503 should be taken out of the load balancer).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "`{\"status\":\"ready\"}`: the database answers", content_type = "application/json"),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`unavailable`: the database does not answer, or revocations are not known to be current", body = super::error::Problem, content_type = "application/problem+json"),
    ),
)]
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

/// Short, so that a rotated-in key is picked up within a minute; automatic
/// rotation publishes keys longer than this before they sign.
const JWKS_CACHE_CONTROL: &str = "public, max-age=60";

/// `GET /.well-known/jwks.json`: every key that may still verify a live token.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "keys",
    responses((
        status = 200,
        description = "A JSON Web Key Set (RFC 7517) of Ed25519 public keys (`kty` `OKP`, `crv` `Ed25519`), each with its `kid`: the keys that sign now, are about to sign, or signed tokens that have not yet expired",
        content_type = "application/json",
    ), (status = 431, response = inline(HeadersTooLarge))),
)]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let jwks = state.auth.keys().current().jwks.clone();
    let mut response = jwks.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(JWKS_CACHE_CONTROL),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::JWKS_MAX_AGE;

    #[test]
    fn the_jwks_cache_lifetime_is_the_one_key_rotation_plans_for() {
        assert_eq!(
            JWKS_CACHE_CONTROL,
            format!("public, max-age={}", JWKS_MAX_AGE.as_secs())
        );
    }
}
