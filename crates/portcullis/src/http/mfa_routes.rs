//! The handlers of second factors: completing a sign-in that waits for one,
//! TOTP enrolment and removal, recovery codes, and re-authentication. The
//! rules live in the auth service; these translate.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth_routes::signed_in;
use super::bodies::{MfaVerifyBody, ReauthenticateBody, TotpConfirmBody};
use super::json::AppJson;
use super::openapi::responses::{
    HeadersTooLarge, NotJson, PayloadTooLarge, RefreshThrottled, SessionUnavailable,
    Unauthenticated,
};
use crate::auth::{AuthError, Reauthentication, SecondFactor};
use crate::web::Context;
use crate::web::client::SessionClient;
use crate::web::cookies;
use crate::web::problem::{ApiError, Problem};
use crate::web::session::{Authenticated, unauthenticated};

/// `POST /api/auth/mfa/verify`: completes the sign-in waiting under the
/// `__Host-mfa_pending` cookie.
#[utoipa::path(
    post,
    path = "/mfa/verify",
    tag = "mfa",
    request_body = MfaVerifyBody,
    security(("mfa_pending" = [])),
    responses(
        (status = 201, description = "Signed in: the pending cookie is cleared and the session's cookies set, as by a sign-in", body = super::auth_routes::UserEnvelope, headers(("Set-Cookie" = String, description = "`__Host-access_token`, `__Host-refresh_token`, a new `__Host-device`, and `__Host-mfa_pending` cleared"))),
        (status = 400, description = "`malformed_json` or `invalid_request` (not exactly one of `code`, `recovery_code` and `webauthn`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_code`: the code is wrong, was used before (a TOTP code's time step is accepted once), or is no code; counted as a failed sign-in. `invalid_passkey`: the `webauthn` assertion is malformed, answers no challenge of `POST /api/auth/mfa/webauthn/start` for this sign-in, is not of the account's passkeys, or does not verify; counted as a failed sign-in. `mfa_expired`: no sign-in waits under the pending cookie (none sent, older than 5 minutes, completed already, or the account's password changed since), and the cookie is cleared", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`email_not_verified`: as for `POST /api/auth/login`, once the second factor is right. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`passkeys_unavailable`: a `webauthn` assertion was sent, but `public_url` is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, description = "`too_many_attempts`: the sign-in limits, which every code checked counts against (per client address, and per account or, from a browser whose `__Host-device` cookie vouches for it, per browser)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until the next attempt is accepted"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`unavailable`: the database did not answer. `totp_unavailable`: a TOTP code was sent, but `mfa_key_file` is not configured or does not open the account's secret (a recovery code still works)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn verify(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    headers: HeaderMap,
    AppJson(body): AppJson<MfaVerifyBody>,
) -> Response {
    let factor = match (&body.code, &body.recovery_code, &body.webauthn) {
        (Some(code), None, None) => SecondFactor::Totp(code.expose_secret()),
        (None, Some(code), None) => SecondFactor::RecoveryCode(code.expose_secret()),
        (None, None, Some(assertion)) => SecondFactor::Passkey(assertion),
        _ => return ApiError::InvalidRequest.into_response(),
    };
    let presented = state.cookies.read(&headers);
    let result = state
        .auth
        .complete_sign_in(presented.mfa_pending, factor, presented.device, &client)
        .await;
    match result {
        Ok(session) => {
            let mut set = vec![state.cookies.clear_mfa_pending()];
            // A pending link from a provider waited for the whole sign-in,
            // code included (see `POST /api/auth/login`): it completes now.
            if let Some(link) = presented.link {
                if let Err(e) = state
                    .auth
                    .complete_pending_link(link, session.user.id, &client)
                    .await
                {
                    return e.into_response();
                }
                set.push(state.cookies.clear_link());
            }
            cookies::attach(signed_in(&state, &session), set)
        }
        Err(AuthError::MfaExpired) => cookies::attach(
            ApiError::MfaExpired.into_response(),
            [state.cookies.clear_mfa_pending()],
        ),
        Err(e) => e.into_response(),
    }
}

/// A new TOTP secret, shown once.
#[derive(Serialize, ToSchema)]
struct TotpEnrolmentBody<'a> {
    /// The secret in base32, to type into an authenticator app.
    secret: &'a str,
    /// `otpauth://totp/…`, what the QR code holds.
    otpauth_uri: &'a str,
    /// The QR code of `otpauth_uri` as an SVG document.
    qr_svg: &'a str,
}

/// `POST /api/auth/mfa/totp`: begins a TOTP enrolment.
#[utoipa::path(
    post,
    path = "/mfa/totp",
    tag = "mfa",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 200, description = "A new secret (replacing an enrolment not yet confirmed); TOTP is on once `POST /api/auth/mfa/totp/confirm` accepts its first code", body = TotpEnrolmentBody),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, description = "`reauthentication_required`: the session's sign-in or last re-authentication is older than `reauthentication_window`; see `POST /api/auth/reauthenticate`. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`totp_already_enabled`: turn it off first", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`totp_unavailable`: `mfa_key_file` is not configured. `unavailable`: the database did not answer, or this instance cannot currently prove that it knows every revoked session", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn begin_totp(State(state): State<Context>, signed_in: Authenticated) -> Response {
    match state.auth.begin_totp(&signed_in.claims).await {
        Ok(enrolment) => {
            let body = Json(TotpEnrolmentBody {
                secret: enrolment.secret.expose_secret(),
                otpauth_uri: enrolment.otpauth_uri.expose_secret(),
                qr_svg: &enrolment.qr_svg,
            });
            signed_in.respond(body)
        }
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// Recovery codes, shown once.
#[derive(Serialize, ToSchema)]
struct RecoveryCodesBody {
    /// Ten one-time codes (`abcd-efgh-ijkl-mnop`), each of which completes
    /// one sign-in in place of a TOTP code.
    recovery_codes: Vec<String>,
}

impl RecoveryCodesBody {
    fn of(codes: &[SecretString]) -> Json<Self> {
        Json(Self {
            recovery_codes: codes.iter().map(|c| c.expose_secret().to_owned()).collect(),
        })
    }
}

/// `POST /api/auth/mfa/totp/confirm`: turns TOTP on.
#[utoipa::path(
    post,
    path = "/mfa/totp/confirm",
    tag = "mfa",
    security(("access_token" = []), ("refresh_token" = [])),
    request_body = TotpConfirmBody,
    responses(
        (status = 200, description = "TOTP is on; from now on a sign-in asks for a code. The recovery codes are never shown again", body = RecoveryCodesBody),
        (status = 400, description = "`malformed_json` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_code`: not the secret's code now (a step either side accepted). `unauthenticated`: no valid session, as for every signed-in route", body = Problem, content_type = "application/problem+json"),
        (status = 403, response = inline(super::openapi::responses::CrossSite)),
        (status = 409, description = "`no_totp_enrolment`: no enrolment begun. `totp_already_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`totp_unavailable`: `mfa_key_file` is not configured. `unavailable`: the database did not answer, or this instance cannot currently prove that it knows every revoked session", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn confirm_totp(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
    AppJson(body): AppJson<TotpConfirmBody>,
) -> Response {
    let code = body.code.expose_secret();
    match state
        .auth
        .confirm_totp(&signed_in.claims, code, &client)
        .await
    {
        Ok(codes) => signed_in.respond(RecoveryCodesBody::of(&codes)),
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// `DELETE /api/auth/mfa/totp`: turns TOTP off.
#[utoipa::path(
    delete,
    path = "/mfa/totp",
    tag = "mfa",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 204, description = "TOTP is off and the recovery codes are gone; a sign-in asks for the password only"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, description = "`reauthentication_required`: the session's sign-in or last re-authentication is older than `reauthentication_window`. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`no_second_factor`: TOTP is not on", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn remove_totp(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
) -> Response {
    match state.auth.remove_totp(&signed_in.claims, &client).await {
        Ok(()) => signed_in.respond(StatusCode::NO_CONTENT),
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// `POST /api/auth/mfa/recovery-codes`: new recovery codes.
#[utoipa::path(
    post,
    path = "/mfa/recovery-codes",
    tag = "mfa",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 200, description = "Ten new recovery codes; the old ones no longer work", body = RecoveryCodesBody),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, description = "`reauthentication_required`: the session's sign-in or last re-authentication is older than `reauthentication_window`. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`no_second_factor`: TOTP is not on", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn regenerate_recovery_codes(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
) -> Response {
    match state
        .auth
        .regenerate_recovery_codes(&signed_in.claims, &client)
        .await
    {
        Ok(codes) => signed_in.respond(RecoveryCodesBody::of(&codes)),
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// The second factors of the signed-in user.
#[derive(Serialize, ToSchema)]
struct SecondFactorsBody {
    /// Whether TOTP is on.
    totp: bool,
    /// Recovery codes not used yet.
    recovery_codes_left: i64,
    /// Whether the user has a passkey.
    passkey: bool,
    /// What a sign-in asks for after the password: as in the login answer,
    /// empty when nothing is.
    methods: Vec<&'static str>,
}

/// `GET /api/auth/mfa`.
#[utoipa::path(
    get,
    path = "/mfa",
    tag = "mfa",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 200, description = "The user's second factors", body = SecondFactorsBody),
        (status = 401, response = inline(Unauthenticated)),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn second_factors(State(state): State<Context>, signed_in: Authenticated) -> Response {
    match state.auth.second_factors(&signed_in.claims).await {
        Ok(factors) => {
            let mut methods = Vec::new();
            if factors.totp {
                methods.extend(["totp", "recovery_code"]);
            }
            if factors.passkey {
                methods.push("webauthn");
            }
            signed_in.respond(Json(SecondFactorsBody {
                totp: factors.totp,
                recovery_codes_left: factors.recovery_codes_left,
                passkey: factors.passkey,
                methods,
            }))
        }
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// `POST /api/auth/reauthenticate`: proves the user again.
#[utoipa::path(
    post,
    path = "/reauthenticate",
    tag = "mfa",
    security(("access_token" = []), ("refresh_token" = [])),
    request_body = ReauthenticateBody,
    responses(
        (status = 204, description = "Proved: for `reauthentication_window` from now, this session may change the second factors"),
        (status = 400, description = "`malformed_json` or `invalid_request` (not exactly one of `password`, `code` and `webauthn`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_code`: the TOTP code is wrong or was used before; counted as a failed sign-in. `invalid_passkey`: the `webauthn` assertion answers no challenge of `POST /api/auth/reauthenticate/webauthn/start` on this session, is not of the account's passkeys, or does not verify; counted as a failed sign-in. `unauthenticated`: no valid session, as for every signed-in route", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`invalid_credentials`: the password is wrong (a failed sign-in, counted and audited as one). `reauthentication_required`: a password was sent, but the account has a second factor, which must be used instead. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, description = "`too_many_attempts`: the sign-in limits, which a wrong password or code counts against; or this session's previous password check is still being hashed; or the access token had to be renewed in place and this client address has refreshed more often than `address_refreshes` allows", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until the next attempt is accepted"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 404, description = "`passkeys_unavailable`: a `webauthn` assertion was sent, but `public_url` is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`: password hashing is at capacity, the database did not answer, or this instance cannot currently prove that it knows every revoked session. `totp_unavailable`: a code was sent, but `mfa_key_file` is not configured", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn reauthenticate(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
    headers: HeaderMap,
    AppJson(body): AppJson<ReauthenticateBody>,
) -> Response {
    let proof = match (&body.password, &body.code, &body.webauthn) {
        (Some(password), None, None) => Reauthentication::Password(password),
        (None, Some(code), None) => Reauthentication::Totp(code.expose_secret()),
        (None, None, Some(assertion)) => Reauthentication::Passkey(assertion),
        _ => return signed_in.respond(ApiError::InvalidRequest),
    };
    let presented = state.cookies.read(&headers);
    match state
        .auth
        .reauthenticate(&signed_in.claims, proof, presented.device, &client)
        .await
    {
        Ok(()) => signed_in.respond(StatusCode::NO_CONTENT),
        Err(e) => refuse(&state, signed_in, e),
    }
}

/// The answer to a refusal on a signed-in route: a session found gone on
/// the way is 401 with its cookies cleared, anything else the error's own
/// problem (with renewed cookies, if any).
fn refuse(state: &Context, signed_in: Authenticated, error: AuthError) -> Response {
    match error {
        AuthError::Unauthenticated(_) => unauthenticated(&state.cookies, true),
        e => signed_in.respond(e),
    }
}
