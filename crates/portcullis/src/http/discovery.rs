//! `GET /.well-known/openid-configuration`: enough OpenID Connect discovery
//! metadata for standard JWT libraries to find the issuer and the keys.
//!
//! Portcullis is not an OpenID provider (there is no authorization endpoint),
//! so only the members that describe its tokens are published.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use url::Url;
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiError;
use super::openapi::responses::HeadersTooLarge;

/// Where the JWKS is served, relative to the origin.
const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The discovery document.
#[derive(Serialize, ToSchema)]
pub struct Discovery {
    /// The `iss` claim of every token.
    issuer: String,
    /// Absolute URL of the JSON Web Key Set.
    jwks_uri: String,
    /// Algorithms tokens are signed with (`EdDSA`, Ed25519).
    id_token_signing_alg_values_supported: &'static [&'static str],
    /// Kinds of `sub` issued: one stable id per user.
    subject_types_supported: &'static [&'static str],
    /// The claims access tokens carry.
    claims_supported: &'static [&'static str],
}

/// `GET /.well-known/openid-configuration`.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "keys",
    responses(
        (status = 200, description = "Issuer and where its keys are", body = Discovery),
        (status = 400, description = "`invalid_request`: no public URL is configured and the request names no usable host", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 431, response = inline(HeadersTooLarge)),
    )
)]
pub async fn openid_configuration(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let (origin, fixed) = match &state.public_url {
        Some(url) => (url.origin(), true),
        None => {
            let client = state.proxies.client(&parts, state.tls);
            let origin = client
                .host
                .and_then(|host| Url::parse(&format!("{}://{host}", client.scheme)).ok())
                .map(|url| url.origin())
                .filter(url::Origin::is_tuple);
            match origin {
                Some(origin) => (origin, false),
                None => return ApiError::InvalidRequest.into_response(),
            }
        }
    };
    let body = Discovery {
        issuer: state.auth.issuer().to_owned(),
        jwks_uri: format!("{}{JWKS_PATH}", origin.ascii_serialization()),
        id_token_signing_alg_values_supported: &["EdDSA"],
        subject_types_supported: &["public"],
        claims_supported: &[
            "iss", "aud", "sub", "iat", "exp", "jti", "sid", "username", "email",
        ],
    };
    let mut response = Json(body).into_response();
    // Built from the request's Host when no public URL is set: a shared
    // cache must not hand one client's answer to another.
    let cache = if fixed {
        "public, max-age=3600"
    } else {
        "no-store"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
