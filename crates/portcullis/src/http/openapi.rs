//! The OpenAPI 3.1 description of the HTTP interface, served at
//! `GET /api/auth/openapi.json`.
//!
//! It is generated from the code, not written beside it: every handler
//! carries its own `#[utoipa::path]` (method, path, body, responses), and the
//! router registers handlers through `utoipa_axum`'s `routes!`, which takes
//! the route from that same attribute. A route and its description cannot
//! disagree, and a test checks that no route was added around them.

use std::sync::Arc;

use axum::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::web::problem::Problem;

/// The security scheme of the access-token cookie.
pub const ACCESS_SCHEME: &str = "access_token";
/// The security scheme of the refresh-token cookie.
pub const REFRESH_SCHEME: &str = "refresh_token";

/// The parts of the document that belong to no single handler.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portcullis",
        description = "A self-hosted authentication gateway that keeps JWTs in HttpOnly cookies. \
            Every error is an RFC 9457 problem (`application/problem+json`) with a stable `code`. \
            A state-changing request whose `Origin` is not Portcullis's own, or whose \
            `Sec-Fetch-Site` is not `same-origin`/`none`, is refused with 403 `cross_site_request` \
            before anything else; every `/api/auth/*` response carries `Cache-Control: no-store`; \
            every response carries an `X-Request-Id`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(api_proxy),
    modifiers(&CookieSchemes),
    tags(
        (name = "auth", description = "Accounts, sessions and cookies"),
        (name = "keys", description = "What resource servers need to verify access tokens"),
        (name = "gateway", description = "Requests forwarded to the upstream API"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

/// Declares the two cookies as `apiKey` security schemes.
struct CookieSchemes;

impl Modify for CookieSchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            ACCESS_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-access_token",
                "The access JWT (EdDSA), set by sign-in and refresh; HttpOnly, Secure, \
                 SameSite=Strict. When it is missing or expired but the refresh cookie is \
                 valid, the request is refreshed in place and new cookies ride on the answer.",
            ))),
        );
        components.add_security_scheme(
            REFRESH_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-refresh_token",
                "The opaque, single-use refresh token; HttpOnly, Secure, SameSite=Strict.",
            ))),
        );
    }
}

/// Every other `/api/*` path: documented here because the route is a
/// wildcard (`/api/{*rest}`), which OpenAPI cannot spell.
#[utoipa::path(
    method(get, post, put, patch, delete),
    path = "/api/{rest}",
    tag = "gateway",
    params(("rest" = String, Path, description = "Any path below /api/ that is not /api/auth/*")),
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = "default", description = "The upstream API's answer, the request having been forwarded with `Authorization: Bearer <access token>`"),
        (status = 401, description = "`unauthenticated`: no valid session", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no upstream is configured", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`upstream_unavailable`", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "`upstream_timeout`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[allow(dead_code)] // Only its generated description is used.
fn api_proxy() {}

/// The document, serialised once at start.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<str>);

/// `GET /api/auth/openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document", content_type = "application/json")),
)]
pub async fn document(Extension(OpenApiJson(json)): Extension<OpenApiJson>) -> Response {
    let mut response = json.to_string().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
