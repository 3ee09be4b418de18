//! The OpenAPI 3.1 description of the HTTP interface, served at
//! `GET /api/auth/openapi.json`.
//!
//! It is generated from the code, not written beside it: every handler
//! carries its own `#[utoipa::path]` (method, path, body, responses), and the
//! router registers handlers through `utoipa_axum`'s `routes!`, which takes
//! the route from that same attribute. A route and its description cannot
//! disagree, and a test checks that no route was added around them.
//!
//! # Which statuses an operation lists
//!
//! Exactly those its request can be answered with in normal operation,
//! whatever the cause, and no other. `tests/api/openapi_statuses.rs` keeps
//! the table and provokes every entry against a real server.
//!
//! - 431 `request_header_fields_too_large`: every operation, since the
//!   header check runs before routing.
//! - 403 `cross_site_request`: every `POST`, `PUT`, `PATCH` and `DELETE`,
//!   since the cross-site check runs before the handler; never a `GET`.
//! - 400 (`malformed_json`, `invalid_request`, and the field rules), 413 and
//!   415: only where a JSON body is read (register, sign-in, password
//!   change). Other routes never read a body.
//! - 401 `unauthenticated`: where a session is required.
//! - 429 `too_many_attempts`: wherever a per-address limit can refuse —
//!   sign-in (and the per-account throttle), registration, refresh, and every
//!   route that requires a session, because a missing or expired access
//!   token is renewed in place and that refresh counts.
//! - 503 `unavailable`: where the request can hash a password (the hashing
//!   queue is full), waits on the database (it did not answer in time), or
//!   checks an access token (this instance cannot prove its set of revoked
//!   sessions current). The keys, discovery, liveness, metrics and this
//!   document are answered from memory and never answer 503; `/readyz`
//!   answers it by design.
//! - Not listed on any operation: 500 `internal_error`, which only a bug
//!   causes (a panicking handler, caught; the system's random-number
//!   generator or a hashing thread failing); 405 `method_not_allowed`, the
//!   answer to any method a path does not list (and to `TRACE`, `TRACK` and
//!   `CONNECT` on every path); 404 `not_found`, the answer to any path not
//!   listed; and the refusals of a request that is not one of the listed
//!   operations as written: 400 `invalid_request` for a path a server behind
//!   could read as another, a `Host` that is not a host and port, or a switch
//!   to a protocol other than WebSocket, and 403 `cross_site_request` for a
//!   cross-site WebSocket handshake (a `GET` that asks to switch protocols).
//!   The document's description says so.

use std::sync::Arc;

use axum::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub mod responses;

use responses::{
    CrossSite, HeadersTooLarge, RefreshThrottled, SessionUnavailable, Unauthenticated,
};

use crate::web::problem::Problem;

/// The security scheme of the access-token cookie.
pub const ACCESS_SCHEME: &str = "access_token";
/// The security scheme of the refresh-token cookie.
pub const REFRESH_SCHEME: &str = "refresh_token";
/// The security scheme of the cookie of a sign-in waiting for a second factor.
pub const MFA_PENDING_SCHEME: &str = "mfa_pending";

/// The parts of the document that belong to no single handler.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portcullis",
        description = "A self-hosted authentication gateway that keeps JWTs in HttpOnly cookies. \
            Every error is an RFC 9457 problem (`application/problem+json`) with a stable `code`. \
            A state-changing request whose `Origin` is not Portcullis's own, or whose \
            `Sec-Fetch-Site` is not `same-origin`/`none`, is refused with 403 `cross_site_request` \
            before anything else; a request whose headers exceed 32 KiB (or cookies 16 KiB) gets \
            431 `request_header_fields_too_large`. Every `/api/auth/*` response carries \
            `Cache-Control: no-store`; every response carries an `X-Request-Id`. Each operation \
            lists every status it answers in normal operation; beyond those, a method a path does \
            not list gets 405 `method_not_allowed`, a path not listed 404 `not_found`, and a bug \
            500 `internal_error`. Before any route, `TRACE`, `TRACK` and `CONNECT` get 405 \
            `method_not_allowed`; a path with an empty, `.` or `..` segment (plain or \
            percent-encoded), a backslash or an encoded `/`, `\\` or NUL, or `/api` or `/api/auth` \
            spelled another way, a `Host` that is not one host and port, and a request to switch to \
            a protocol other than WebSocket get 400 `invalid_request`; a WebSocket handshake gets \
            the cross-site check of a state-changing request (403 `cross_site_request`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(api_read, api_write),
    components(schemas(Problem)),
    modifiers(&CookieSchemes),
    tags(
        (name = "auth", description = "Accounts, sessions and cookies"),
        (name = "email", description = "Password reset by mail, address verification and change; \
            every route answers 404 `not_found` while no mail transport is configured"),
        (name = "providers", description = "Sign-in with other identity providers (OpenID \
            Connect, GitHub): the start and callback are browser navigations; linking and \
            unlinking need a session"),
        (name = "mfa", description = "Second factors: completing a sign-in with a TOTP or \
            recovery code, TOTP enrolment, recovery codes, and re-authentication before the \
            factors change"),
        (name = "passkeys", description = "Passkeys (WebAuthn): registering, listing, renaming \
            and deleting them, usernameless sign-in, and the challenges of a passkey as the \
            second factor or for re-authentication; every route answers 404 \
            `passkeys_unavailable` while `public_url` is not configured"),
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
        components.add_security_scheme(
            MFA_PENDING_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-mfa_pending",
                "A sign-in whose password was right and that waits for a second factor \
                 (5 minutes); HttpOnly, Secure, SameSite=Strict. It opens nothing by itself.",
            ))),
        );
    }
}

/// Every other `/api/*` path, read: documented here because the route is a
/// wildcard (`/api/{*rest}`), which OpenAPI cannot spell.
#[utoipa::path(
    get,
    path = "/api/{rest}",
    tag = "gateway",
    params(("rest" = String, Path, description = "Any path below /api/ that is not /api/auth/*")),
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = "default", description = "The upstream API's answer, the request having been forwarded with the access token attached"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 404, description = "`not_found`: no upstream is configured", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 502, description = "`upstream_unavailable`: the upstream refused the connection, could not be reached, or closed it before answering", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(SessionUnavailable)),
        (status = 504, description = "`upstream_timeout`: the upstream did not begin to answer within `upstream_timeout`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[allow(dead_code)] // Only its generated description is used.
fn api_read() {}

/// Every other `/api/*` path, written to: as [`api_read`], and the
/// cross-site check applies.
#[utoipa::path(
    method(post, put, patch, delete),
    path = "/api/{rest}",
    tag = "gateway",
    params(("rest" = String, Path, description = "Any path below /api/ that is not /api/auth/*")),
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = "default", description = "The upstream API's answer, the request having been forwarded with the access token attached"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, response = inline(CrossSite)),
        (status = 404, description = "`not_found`: no upstream is configured", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 502, description = "`upstream_unavailable`: the upstream refused the connection, could not be reached, or closed it before answering", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(SessionUnavailable)),
        (status = 504, description = "`upstream_timeout`: the upstream did not begin to answer within `upstream_timeout`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[allow(dead_code)] // Only its generated description is used.
fn api_write() {}

/// The document, serialised once at start.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<str>);

/// `GET /api/auth/openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "This document", content_type = "application/json"),
        (status = 431, response = inline(HeadersTooLarge)),
    ),
)]
pub async fn document(Extension(OpenApiJson(json)): Extension<OpenApiJson>) -> Response {
    let mut response = json.to_string().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
