//! The problem responses that many operations share, written once so that
//! each `#[utoipa::path]` names them (`response = inline(Unauthenticated)`)
//! instead of repeating their prose; which operations list which is the
//! rule in [`super`].

use utoipa::ToResponse;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder};

/// The media type of every problem document.
const PROBLEM: &str = "application/problem+json";

/// A problem response: `description` over the `Problem` schema.
fn problem(description: &str) -> ResponseBuilder {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM, content)
}

/// The `Retry-After` header of 429 and 503 answers.
fn retry_after(what: &str) -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
        .description(Some(what))
        .build()
}

/// Implements [`ToResponse`] for a unit struct from a builder expression.
macro_rules! shared_response {
    ($(#[$doc:meta])* $name:ident => $build:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), $build.build().into())
            }
        }
    };
}

shared_response! {
    /// 431, on every operation: the header check runs before any route.
    HeadersTooLarge => problem(
        "`request_header_fields_too_large`: the request's headers together exceed 32 KiB, \
         or its cookies 16 KiB. Checked before the route, so any route can answer it",
    )
}

shared_response! {
    /// 403 on a state-changing operation whose only 403 is the cross-site check.
    CrossSite => problem(
        "`cross_site_request`: the `Origin` is not Portcullis's own, or `Sec-Fetch-Site` is \
         neither `same-origin` nor `none`. Checked before anything else; nothing has changed",
    )
}

shared_response! {
    /// 413 where a JSON body is read.
    PayloadTooLarge => problem("`payload_too_large`: the body exceeds 16 KiB")
}

shared_response! {
    /// 415 where a JSON body is read.
    NotJson => problem("`unsupported_media_type`: the body is not `application/json`")
}

shared_response! {
    /// 401 where a session is required.
    Unauthenticated => problem(
        "`unauthenticated`: no valid session. Cookies that no longer hold one are cleared; \
         when a refresh in place was refused, the `Portcullis-Refresh-Denied` header says why",
    )
    .header(
        "Portcullis-Refresh-Denied",
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(
                "Present when the access token was missing or expired and the refresh \
                 token was refused: the reason, as `POST /api/auth/refresh` gives it",
            ))
            .build(),
    )
}

shared_response! {
    /// 429 where a session is required: the access token may be renewed in
    /// place, and that refresh counts against the per-address refresh limit.
    RefreshThrottled => problem(
        "`too_many_attempts`: the access token had to be renewed in place, and this client \
         address has refreshed more often than `address_refreshes` allows",
    )
    .header("Retry-After", retry_after("Seconds until a refresh is accepted again"))
}

shared_response! {
    /// 503 where a session is required and no password is hashed.
    SessionUnavailable => problem(
        "`unavailable`: the database did not answer, or this instance cannot currently \
         prove that it knows every revoked session. The cookies are left alone",
    )
    .header("Retry-After", retry_after("Seconds to wait before trying again"))
}

shared_response! {
    /// 503 where a route hashes a password and uses the database.
    HashingUnavailable => problem(
        "`unavailable`: password hashing is at capacity, or the database did not answer. \
         Nothing has changed and the cookies are left alone",
    )
    .header("Retry-After", retry_after("Seconds to wait before trying again"))
}

shared_response! {
    /// 503 where a route uses the database but neither hashes nor checks a session.
    DatabaseUnavailable => problem(
        "`unavailable`: the database did not answer. Nothing has changed and the cookies \
         are left alone",
    )
    .header("Retry-After", retry_after("Seconds to wait before trying again"))
}
