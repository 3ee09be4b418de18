//! The handlers of passkeys: registering, listing, renaming and deleting
//! them, usernameless sign-in, and the challenges of a passkey used as the
//! second factor or to re-authenticate. The rules live in the auth service;
//! these translate. Every route answers 404 `passkeys_unavailable` without
//! `public_url`, which the relying party is made of.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::auth_routes::signed_in;
use super::bodies::{PasskeyRegisterBody, PasskeyRenameBody, PasskeySignInBody};
use super::json::AppJson;
use super::openapi::responses::{
    HeadersTooLarge, NotJson, PayloadTooLarge, RefreshThrottled, SessionUnavailable,
    Unauthenticated,
};
use crate::auth::{AuthError, PasskeyView};
use crate::web::Context;
use crate::web::client::SessionClient;
use crate::web::cookies;
use crate::web::problem::{ApiError, Problem};
use crate::web::session::{Authenticated, unauthenticated};

/// A passkey as its owner sees it.
#[derive(Serialize, ToSchema)]
pub(crate) struct PasskeyBody {
    /// Its id, for renaming and deleting.
    id: String,
    /// Its name.
    name: String,
    /// When it was registered (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    created_at: OffsetDateTime,
    /// When it last signed in or proved its user; `null`: never.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    last_used_at: Option<OffsetDateTime>,
}

impl From<PasskeyView> for PasskeyBody {
    fn from(v: PasskeyView) -> Self {
        Self {
            id: v.id,
            name: v.name,
            created_at: v.created_at,
            last_used_at: v.last_used_at,
        }
    }
}

/// The signed-in user's passkeys.
#[derive(Serialize, ToSchema)]
struct PasskeysBody {
    /// Oldest first.
    passkeys: Vec<PasskeyBody>,
}

/// A usernameless sign-in begun.
#[derive(Serialize, ToSchema)]
struct PasskeySignInStartBody {
    /// Sent back with the assertion to `POST /api/auth/passkeys/login/finish`;
    /// valid for 5 minutes, once.
    ceremony: String,
    /// What `navigator.credentials.get` takes (`{"publicKey": …}`, binary
    /// fields base64url): a challenge with an empty `allowCredentials`, so
    /// that any of this site's passkeys may answer.
    #[schema(value_type = Object)]
    options: serde_json::Value,
}

/// Options for `navigator.credentials.create` or `.get`: `{"publicKey": …}`
/// with binary fields in base64url.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
struct WebauthnOptions(serde_json::Value);

fn options<T: Serialize>(value: &T) -> Json<serde_json::Value> {
    // The options are plain data webauthn-rs made: they always serialise.
    Json(serde_json::to_value(value).unwrap_or_default())
}

/// `POST /api/auth/passkeys/register/start`.
#[utoipa::path(
    post,
    path = "/passkeys/register/start",
    tag = "passkeys",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 200, description = "What `navigator.credentials.create` takes: a challenge for a discoverable credential with user verification; the account's passkeys are excluded. The challenge waits 5 minutes for `POST /api/auth/passkeys/register/finish` on this session; starting again replaces it", body = WebauthnOptions),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, description = "`reauthentication_required`: the session's sign-in or last re-authentication is older than `reauthentication_window`. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`passkeys_unavailable`: `public_url` is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`too_many_passkeys`: the account holds 20 passkeys already", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn begin_registration(
    State(state): State<Context>,
    signed_in: Authenticated,
) -> Response {
    match state
        .auth
        .begin_passkey_registration(&signed_in.claims)
        .await
    {
        Ok(options) => signed_in.respond(Json(options)),
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// `POST /api/auth/passkeys/register/finish`.
#[utoipa::path(
    post,
    path = "/passkeys/register/finish",
    tag = "passkeys",
    security(("access_token" = []), ("refresh_token" = [])),
    request_body = PasskeyRegisterBody,
    responses(
        (status = 201, description = "The passkey is registered: it signs in alone, and a sign-in with the password now asks for a second factor (`webauthn` among the `methods`)", body = PasskeyBody),
        (status = 400, description = "`invalid_passkey`: the credential is malformed, answers no challenge given on this session (or one answered already, or expired), or does not verify (another origin, no user verification). `invalid_passkey_name`: empty, longer than 64 characters, or with control characters. `malformed_json` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, description = "`reauthentication_required`. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`passkeys_unavailable`: `public_url` is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`passkey_exists`: this credential is registered already", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn finish_registration(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
    AppJson(body): AppJson<PasskeyRegisterBody>,
) -> Response {
    match state
        .auth
        .finish_passkey_registration(&signed_in.claims, &body.name, &body.credential, &client)
        .await
    {
        Ok(passkey) => signed_in.respond((StatusCode::CREATED, Json(PasskeyBody::from(passkey)))),
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// `GET /api/auth/passkeys`.
#[utoipa::path(
    get,
    path = "/passkeys",
    tag = "passkeys",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 200, description = "The user's passkeys", body = PasskeysBody),
        (status = 401, response = inline(Unauthenticated)),
        (status = 404, description = "`passkeys_unavailable`: `public_url` is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn list(State(state): State<Context>, signed_in: Authenticated) -> Response {
    match state.auth.list_passkeys(&signed_in.claims).await {
        Ok(passkeys) => signed_in.respond(Json(PasskeysBody {
            passkeys: passkeys.into_iter().map(PasskeyBody::from).collect(),
        })),
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// `PATCH /api/auth/passkeys/{id}`.
#[utoipa::path(
    patch,
    path = "/passkeys/{id}",
    tag = "passkeys",
    security(("access_token" = []), ("refresh_token" = [])),
    params(("id" = String, Path, description = "A passkey id from `GET /api/auth/passkeys`")),
    request_body = PasskeyRenameBody,
    responses(
        (status = 204, description = "Renamed"),
        (status = 400, description = "`invalid_passkey_name`, `malformed_json` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, description = "`reauthentication_required`. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such passkey among the caller's own. `passkeys_unavailable`: `public_url` is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn rename(
    State(state): State<Context>,
    signed_in: Authenticated,
    Path(id): Path<String>,
    AppJson(body): AppJson<PasskeyRenameBody>,
) -> Response {
    match state
        .auth
        .rename_passkey(&signed_in.claims, &id, &body.name)
        .await
    {
        Ok(()) => signed_in.respond(StatusCode::NO_CONTENT),
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// `DELETE /api/auth/passkeys/{id}`.
#[utoipa::path(
    delete,
    path = "/passkeys/{id}",
    tag = "passkeys",
    security(("access_token" = []), ("refresh_token" = [])),
    params(("id" = String, Path, description = "A passkey id from `GET /api/auth/passkeys`")),
    responses(
        (status = 204, description = "Deleted: it no longer signs in or completes one"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, description = "`reauthentication_required`. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such passkey among the caller's own. `passkeys_unavailable`: `public_url` is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_sign_in_method`: it is the account's last passkey, and the account has no password and no identity at a provider; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn delete(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
    Path(id): Path<String>,
) -> Response {
    match state
        .auth
        .delete_passkey(&signed_in.claims, &id, &client)
        .await
    {
        Ok(()) => signed_in.respond(StatusCode::NO_CONTENT),
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// `POST /api/auth/passkeys/login/start`.
#[utoipa::path(
    post,
    path = "/passkeys/login/start",
    tag = "passkeys",
    responses(
        (status = 200, description = "A usernameless sign-in begun", body = PasskeySignInStartBody),
        (status = 403, response = inline(super::openapi::responses::CrossSite)),
        (status = 404, description = "`passkeys_unavailable`: `public_url` is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`unavailable`: the database did not answer", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn begin_sign_in(State(state): State<Context>) -> Response {
    match state.auth.begin_passkey_sign_in().await {
        Ok(start) => Json(PasskeySignInStartBody {
            ceremony: start.ceremony,
            options: options(&start.options).0,
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/auth/passkeys/login/finish`.
#[utoipa::path(
    post,
    path = "/passkeys/login/finish",
    tag = "passkeys",
    request_body = PasskeySignInBody,
    responses(
        (status = 201, description = "Signed in, as by `POST /api/auth/login` (no second factor is asked: the passkey verified its user)", body = super::auth_routes::UserEnvelope, headers(("Set-Cookie" = String, description = "`__Host-access_token`, `__Host-refresh_token` and a new `__Host-device`"))),
        (status = 400, description = "`malformed_json` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_passkey`: the assertion is malformed, answers no challenge given (or one answered already, or expired), is of an unknown or deleted passkey or a disabled account, does not verify (signature, origin, user verification), or its counter did not advance (a cloned authenticator); counted as a failed sign-in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`email_not_verified`: as for `POST /api/auth/login`. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`passkeys_unavailable`: `public_url` is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, description = "`too_many_attempts`: the sign-in limits (per client address, and per account or device)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until the next attempt is accepted"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`unavailable`: the database did not answer", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn finish_sign_in(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    headers: HeaderMap,
    AppJson(body): AppJson<PasskeySignInBody>,
) -> Response {
    let presented = state.cookies.read(&headers);
    match state
        .auth
        .finish_passkey_sign_in(&body.ceremony, &body.credential, presented.device, &client)
        .await
    {
        Ok(session) => signed_in(&state, &session),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/auth/mfa/webauthn/start`: the challenge for the passkey that
/// completes the sign-in waiting under the `__Host-mfa_pending` cookie.
#[utoipa::path(
    post,
    path = "/mfa/webauthn/start",
    tag = "passkeys",
    security(("mfa_pending" = [])),
    responses(
        (status = 200, description = "What `navigator.credentials.get` takes, listing the account's passkeys; answer it with `POST /api/auth/mfa/verify` `{\"webauthn\": …}` within 5 minutes", body = WebauthnOptions),
        (status = 401, description = "`mfa_expired`: no sign-in waits under the pending cookie", body = Problem, content_type = "application/problem+json"),
        (status = 403, response = inline(super::openapi::responses::CrossSite)),
        (status = 404, description = "`passkeys_unavailable`: `public_url` is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`no_second_factor`: the account has no passkey", body = Problem, content_type = "application/problem+json"),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`unavailable`: the database did not answer", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn begin_second_factor(State(state): State<Context>, headers: HeaderMap) -> Response {
    let presented = state.cookies.read(&headers);
    match state
        .auth
        .begin_passkey_second_factor(presented.mfa_pending)
        .await
    {
        Ok(challenge) => options(&challenge).into_response(),
        Err(AuthError::MfaExpired) => cookies::attach(
            ApiError::MfaExpired.into_response(),
            [state.cookies.clear_mfa_pending()],
        ),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/auth/reauthenticate/webauthn/start`.
#[utoipa::path(
    post,
    path = "/reauthenticate/webauthn/start",
    tag = "passkeys",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 200, description = "What `navigator.credentials.get` takes, listing the account's passkeys; answer it with `POST /api/auth/reauthenticate` `{\"webauthn\": …}` within 5 minutes", body = WebauthnOptions),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, response = inline(super::openapi::responses::CrossSite)),
        (status = 404, description = "`passkeys_unavailable`: `public_url` is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`no_second_factor`: the account has no passkey", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn begin_reauthentication(
    State(state): State<Context>,
    signed_in: Authenticated,
) -> Response {
    match state
        .auth
        .begin_passkey_reauthentication(&signed_in.claims)
        .await
    {
        Ok(challenge) => signed_in.respond(options(&challenge)),
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// The answer to a refusal on a signed-in route (see `mfa_routes`).
fn refuse(state: &Context, signed_in: Authenticated, error: AuthError) -> Response {
    match error {
        AuthError::Unauthenticated(_) => unauthenticated(&state.cookies, true),
        e => signed_in.respond(e),
    }
}
