//! The handlers of the e-mail flows: a password reset by mail, verifying
//! the account's address, and changing it. With no mail transport
//! configured, each answers 404 `not_found` before reading anything.

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;

use super::bodies::{EmailChangeBody, ForgotBody, ResetBody, VerifyBody};
use super::json::AppJson;
use super::openapi::responses::{
    HeadersTooLarge, NotJson, PayloadTooLarge, SessionUnavailable, Unauthenticated,
};
use crate::auth::{AuthError, EmailChange, PasswordReset};
use crate::web::Context;
use crate::web::client::SessionClient;
use crate::web::problem::{ApiError, Problem};
use crate::web::session::{Authenticated, unauthenticated};

/// Refuses the request with 404 `not_found` when e-mail is off. First among
/// a handler's extractors, so that the answer does not depend on the body
/// or the session.
pub struct MailOn;

impl<S> FromRequestParts<S> for MailOn
where
    Context: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if Context::from_ref(state).auth.mail_enabled() {
            Ok(MailOn)
        } else {
            Err(ApiError::NotFound)
        }
    }
}

/// `POST /api/auth/password/forgot`: 202 whatever the address.
#[utoipa::path(
    post,
    path = "/password/forgot",
    tag = "email",
    request_body = ForgotBody,
    responses(
        (status = 202, description = "Accepted, whether or not an account has the address: if one has, a link to choose a new password is mailed to it. The body is empty"),
        (status = 400, description = "`malformed_json` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 403, response = inline(super::openapi::responses::CrossSite)),
        (status = 404, description = "`not_found`: e-mail is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, description = "`too_many_attempts`: this client address has used the e-mail routes more often than `address_email_requests` allows, or this address has asked for more mail than `account_email_requests` allows (counted whether or not an account has it)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until a request is accepted again"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`unavailable`: the database did not answer. Nothing was queued", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn forgot_password(
    State(state): State<Context>,
    _: MailOn,
    SessionClient(client): SessionClient,
    AppJson(body): AppJson<ForgotBody>,
) -> Result<StatusCode, AuthError> {
    state.auth.forgot_password(&body.email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/auth/password/reset`.
#[utoipa::path(
    post,
    path = "/password/reset",
    tag = "email",
    request_body = ResetBody,
    responses(
        (status = 204, description = "The password is changed. Every session of the account is revoked on every instance (and any that a sign-in racing the reset stores later is void), its failed sign-ins are forgotten (the account's, and this browser's when its `__Host-device` cookie is for the account), its address counts as verified, and a notice is mailed"),
        (status = 400, description = "`invalid_token`: the link is unknown, used, expired or superseded by a newer one. `weak_password` (the `detail` says which rule; checked first, so that the link is not spent), `malformed_json` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 403, response = inline(super::openapi::responses::CrossSite)),
        (status = 404, description = "`not_found`: e-mail is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, description = "`too_many_attempts`: this client address has used the e-mail routes more often than `address_email_requests` allows, or this account's links more often than `account_email_requests` allows", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until a request is accepted again"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`unavailable`: password hashing is at capacity, or the database did not answer. Nothing has changed and the link still works", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn reset_password(
    State(state): State<Context>,
    _: MailOn,
    SessionClient(client): SessionClient,
    headers: HeaderMap,
    AppJson(body): AppJson<ResetBody>,
) -> Result<StatusCode, AuthError> {
    let presented = state.cookies.read(&headers);
    let reset = PasswordReset {
        token: &body.token,
        new: &body.new_password,
        device: presented.device,
    };
    state.auth.reset_password(reset, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/auth/email/verify`.
#[utoipa::path(
    post,
    path = "/email/verify",
    tag = "email",
    request_body = VerifyBody,
    responses(
        (status = 204, description = "The account's address is verified; or, for a link sent to a new address, that address is now the account's (verified), and the old one has been told"),
        (status = 400, description = "`invalid_token`: the link is unknown, used, expired, superseded by a newer one, or for an address the account no longer has. `malformed_json` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 403, response = inline(super::openapi::responses::CrossSite)),
        (status = 404, description = "`not_found`: e-mail is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`account_exists`: another account has taken the new address since the change was asked for; nothing has changed", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, description = "`too_many_attempts`: this client address has used the e-mail routes more often than `address_email_requests` allows", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until a request is accepted again"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`unavailable`: the database did not answer. Nothing has changed and the link still works", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn verify_email(
    State(state): State<Context>,
    _: MailOn,
    SessionClient(client): SessionClient,
    AppJson(body): AppJson<VerifyBody>,
) -> Result<StatusCode, AuthError> {
    state
        .auth
        .verify_email(body.token.expose_secret(), &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/auth/email/resend`.
#[utoipa::path(
    post,
    path = "/email/resend",
    tag = "email",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 202, description = "A new verification link is mailed to the account's address, unless it is verified already. The body is empty"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, response = inline(super::openapi::responses::CrossSite)),
        (status = 404, description = "`not_found`: e-mail is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: this client address has used the e-mail routes more often than `address_email_requests` allows, this account has asked for more mail than `account_email_requests` allows, or the access token had to be renewed in place and this client address has refreshed more often than `address_refreshes` allows", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until a request is accepted again"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn resend_verification(
    State(state): State<Context>,
    _: MailOn,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
) -> Response {
    match state
        .auth
        .resend_verification(&signed_in.claims, &client)
        .await
    {
        Ok(()) => signed_in.respond(StatusCode::ACCEPTED),
        Err(AuthError::Unauthenticated(_)) => unauthenticated(&state.cookies, true),
        Err(e) => signed_in.respond(e),
    }
}

/// `POST /api/auth/email`.
#[utoipa::path(
    post,
    path = "/email",
    tag = "email",
    security(("access_token" = []), ("refresh_token" = [])),
    request_body = EmailChangeBody,
    responses(
        (status = 202, description = "A link is mailed to the new address; the account's address changes when it is used (`POST /api/auth/email/verify`), and the old address is then told. The body is empty"),
        (status = 400, description = "`invalid_email`, `malformed_json` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, description = "`invalid_credentials`: the current password is wrong (a failed sign-in, counted and audited as one). `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: e-mail is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`account_exists`: another account has this address", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, description = "`too_many_attempts`: this client address has used the e-mail routes more often than `address_email_requests` allows, this account has asked for more mail than `account_email_requests` allows, the sign-in limits refuse a guess of the current password (as for `POST /api/auth/password`), this session's previous check of its password is still being hashed (`Retry-After: 1`), or the access token had to be renewed in place and this client address has refreshed more often than `address_refreshes` allows", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until a request is accepted again"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`unavailable`: password hashing is at capacity, the database did not answer, or this instance cannot currently prove that it knows every revoked session. Nothing was queued", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn change_email(
    State(state): State<Context>,
    _: MailOn,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
    headers: HeaderMap,
    AppJson(body): AppJson<EmailChangeBody>,
) -> Response {
    let presented = state.cookies.read(&headers);
    let change = EmailChange {
        email: &body.email,
        current: &body.current_password,
        device: presented.device,
    };
    match state
        .auth
        .change_email(&signed_in.claims, change, &client)
        .await
    {
        Ok(()) => signed_in.respond(StatusCode::ACCEPTED),
        Err(AuthError::Unauthenticated(_)) => unauthenticated(&state.cookies, true),
        Err(e) => signed_in.respond(e.into_response()),
    }
}
