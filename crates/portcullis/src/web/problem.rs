//! Every failure the API, the gateway and the pages answer with, as RFC 9457
//! problem details with a stable `code`; the one place that knows statuses.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthError;

/// A failure, one variant per contract code. Internal details are never
/// returned: they travel beside the answer to the log (see
/// [`super::failure`]).
#[derive(Debug)]
pub enum ApiError {
    /// 400 `invalid_username`: the username breaks the rules (the detail says which).
    InvalidUsername(String),
    /// 400 `invalid_email`.
    InvalidEmail(String),
    /// 400 `weak_password`: the detail says which rule.
    WeakPassword(String),
    /// 409 `account_exists`.
    AccountExists,
    /// 403 `registration_closed`.
    RegistrationClosed,
    /// 401 `invalid_credentials`: unknown user, wrong password or disabled
    /// account, never distinguished.
    InvalidCredentials,
    /// 403 `invalid_credentials`: the current password given to change it is
    /// wrong. 403, not 401: the caller is signed in, the proof is what failed.
    WrongCurrentPassword,
    /// 429 `too_many_attempts`, with `Retry-After`.
    TooManyAttempts(Duration),
    /// 401 `invalid_refresh_token`; the reason (`reuse_detected`, `revoked`
    /// …) is also sent, in the `reason` member and the
    /// [`REFRESH_DENIED`] header, so that a client can tell why it was
    /// signed out.
    InvalidRefreshToken(&'static str),
    /// 401 `unauthenticated`: no valid session.
    Unauthenticated,
    /// 404 `not_found`.
    NotFound,
    /// 405 `method_not_allowed`.
    MethodNotAllowed,
    /// 403 `cross_site_request`: a state-changing request from another site.
    CrossSiteRequest,
    /// 503 `unavailable`: the database is unreachable or hashing is at capacity.
    Unavailable,
    /// 400 `malformed_json`: the body is not JSON.
    MalformedJson,
    /// 400 `invalid_request`: the JSON lacks a field or has one of the wrong type.
    InvalidRequest,
    /// 400 `invalid_request`: the request itself is one Portcullis does not
    /// pass on — a path that could be read as another, a `Host` that is not
    /// a host, a switch to a protocol other than WebSocket; the detail says
    /// which.
    RefusedRequest(&'static str),
    /// 415 `unsupported_media_type`: the body is not `application/json`.
    UnsupportedMediaType,
    /// 413 `payload_too_large`.
    PayloadTooLarge,
    /// 431 `request_header_fields_too_large`.
    HeadersTooLarge,
    /// 502 `upstream_unavailable`: the upstream refused the connection, could
    /// not be reached, or broke it before answering.
    UpstreamUnavailable,
    /// 504 `upstream_timeout`: the upstream did not begin to answer in time.
    UpstreamTimeout,
    /// 500 `internal_error`: a bug; the cause is in the log.
    Internal,
    /// 400 `invalid_token`: a mailed link's token is unknown, used, expired
    /// or superseded by a newer link.
    InvalidToken,
    /// 403 `email_not_verified`: the password was right, but the account's
    /// address must be verified before it may sign in.
    EmailNotVerified,
    /// 502 `provider_unavailable`: the identity provider could not be
    /// reached or answered something that is not OpenID Connect.
    ProviderUnavailable,
    /// 401 `provider_denied`: the provider, or the person there, refused;
    /// the detail is the provider's error code.
    ProviderDenied(String),
    /// 401 `invalid_id_token`: the provider's ID token failed a check.
    InvalidIdToken,
    /// 400 `invalid_flow`: a callback that no sign-in of this browser is
    /// waiting for (no or an unknown flow cookie, used, expired, another
    /// `state` or issuer); the detail says which.
    InvalidFlow(&'static str),
    /// 403 `email_required`: the provider gave no e-mail address, which a
    /// new account needs.
    EmailRequired,
    /// 409 `identity_in_use`: the identity is linked to an account already,
    /// or this account has one at that provider already.
    IdentityInUse,
    /// 409 `last_sign_in_method`: unlinking a provider or deleting a passkey
    /// would leave the account without a way to sign in.
    LastSignInMethod,
    /// 401 `invalid_code`: a second factor's code is wrong, was used
    /// before, or is no code.
    InvalidCode,
    /// 401 `mfa_expired`: no sign-in waits for a second factor under the
    /// pending cookie (none, expired, completed, or its account changed).
    MfaExpired,
    /// 403 `reauthentication_required`: the change needs a recent proof of
    /// identity (`POST /api/auth/reauthenticate`).
    ReauthenticationRequired,
    /// 503 `totp_unavailable`: no `mfa_key_file` is configured, or its key
    /// does not open the stored secrets.
    TotpUnavailable,
    /// 409 `totp_already_enabled`.
    TotpAlreadyEnabled,
    /// 409 `no_totp_enrolment`: nothing to confirm; begin an enrolment first.
    NoTotpEnrolment,
    /// 409 `no_second_factor`: the account has no second factor.
    NoSecondFactor,
    /// 404 `passkeys_unavailable`: passkeys need `public_url`.
    PasskeysUnavailable,
    /// 401 `invalid_passkey`: a passkey's assertion was refused.
    InvalidPasskey,
    /// 400 `invalid_passkey`: a passkey's registration was refused.
    InvalidPasskeyRegistration,
    /// 409 `passkey_exists`: this passkey is registered already.
    PasskeyExists,
    /// 400 `invalid_passkey_name`.
    InvalidPasskeyName,
    /// 409 `too_many_passkeys`.
    TooManyPasskeys,
}

/// Names, on a refused refresh, the machine-readable reason: the same
/// value as the problem's `reason` member.
pub const REFRESH_DENIED: HeaderName = HeaderName::from_static("portcullis-refresh-denied");

/// An RFC 9457 problem document, as every error is answered.
#[derive(Serialize, ToSchema)]
#[schema(
    as = Problem,
    example = json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "code": "invalid_credentials"})
)]
pub(crate) struct Problem<'a> {
    /// Always `about:blank`: the `code` member carries the meaning.
    r#type: &'static str,
    /// The status's reason phrase.
    title: &'a str,
    /// The HTTP status.
    status: u16,
    /// The stable, machine-readable error code.
    code: &'static str,
    /// What exactly was wrong, for people; not stable.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    /// On `invalid_refresh_token` only: why the refresh was refused —
    /// `missing`, `malformed`, `unknown`, `revoked`, `reuse_detected`,
    /// `idle_timeout`, `lifetime_exceeded` or `user_disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

impl ApiError {
    /// The status and the stable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use ApiError::*;
        match self {
            InvalidUsername(_) => (StatusCode::BAD_REQUEST, "invalid_username"),
            InvalidEmail(_) => (StatusCode::BAD_REQUEST, "invalid_email"),
            WeakPassword(_) => (StatusCode::BAD_REQUEST, "weak_password"),
            AccountExists => (StatusCode::CONFLICT, "account_exists"),
            RegistrationClosed => (StatusCode::FORBIDDEN, "registration_closed"),
            InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            WrongCurrentPassword => (StatusCode::FORBIDDEN, "invalid_credentials"),
            TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            InvalidRefreshToken(_) => (StatusCode::UNAUTHORIZED, "invalid_refresh_token"),
            Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            NotFound => (StatusCode::NOT_FOUND, "not_found"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            CrossSiteRequest => (StatusCode::FORBIDDEN, "cross_site_request"),
            Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            MalformedJson => (StatusCode::BAD_REQUEST, "malformed_json"),
            InvalidRequest | RefusedRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request_header_fields_too_large",
            ),
            UpstreamUnavailable => (StatusCode::BAD_GATEWAY, "upstream_unavailable"),
            UpstreamTimeout => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
            Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            InvalidToken => (StatusCode::BAD_REQUEST, "invalid_token"),
            EmailNotVerified => (StatusCode::FORBIDDEN, "email_not_verified"),
            ProviderUnavailable => (StatusCode::BAD_GATEWAY, "provider_unavailable"),
            ProviderDenied(_) => (StatusCode::UNAUTHORIZED, "provider_denied"),
            InvalidIdToken => (StatusCode::UNAUTHORIZED, "invalid_id_token"),
            InvalidFlow(_) => (StatusCode::BAD_REQUEST, "invalid_flow"),
            EmailRequired => (StatusCode::FORBIDDEN, "email_required"),
            IdentityInUse => (StatusCode::CONFLICT, "identity_in_use"),
            LastSignInMethod => (StatusCode::CONFLICT, "last_sign_in_method"),
            InvalidCode => (StatusCode::UNAUTHORIZED, "invalid_code"),
            MfaExpired => (StatusCode::UNAUTHORIZED, "mfa_expired"),
            ReauthenticationRequired => (StatusCode::FORBIDDEN, "reauthentication_required"),
            TotpUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "totp_unavailable"),
            TotpAlreadyEnabled => (StatusCode::CONFLICT, "totp_already_enabled"),
            NoTotpEnrolment => (StatusCode::CONFLICT, "no_totp_enrolment"),
            NoSecondFactor => (StatusCode::CONFLICT, "no_second_factor"),
            PasskeysUnavailable => (StatusCode::NOT_FOUND, "passkeys_unavailable"),
            InvalidPasskey => (StatusCode::UNAUTHORIZED, "invalid_passkey"),
            InvalidPasskeyRegistration => (StatusCode::BAD_REQUEST, "invalid_passkey"),
            PasskeyExists => (StatusCode::CONFLICT, "passkey_exists"),
            InvalidPasskeyName => (StatusCode::BAD_REQUEST, "invalid_passkey_name"),
            TooManyPasskeys => (StatusCode::CONFLICT, "too_many_passkeys"),
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            ApiError::InvalidUsername(d)
            | ApiError::InvalidEmail(d)
            | ApiError::WeakPassword(d) => Some(d),
            ApiError::RefusedRequest(d) | ApiError::InvalidFlow(d) => Some(d),
            ApiError::ProviderDenied(d) => Some(d),
            ApiError::MalformedJson => Some("the request body is not valid JSON"),
            ApiError::InvalidRequest => {
                Some("the request body lacks a required field or has one of the wrong type")
            }
            ApiError::UnsupportedMediaType => Some("the request body must be application/json"),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let problem = Problem {
            r#type: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            code,
            detail: self.detail(),
            reason: match &self {
                ApiError::InvalidRefreshToken(reason) => Some(*reason),
                _ => None,
            },
        };
        // Serialising a struct of strings and a number cannot fail.
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::TooManyAttempts(wait) => {
                // Round up: retrying a second early would only fail again.
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            ApiError::InvalidRefreshToken(reason) => {
                // The reasons are `RefreshDenial::as_str` constants: lower-case
                // ASCII and underscores, valid header values.
                headers.insert(REFRESH_DENIED, HeaderValue::from_static(reason));
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Cookie realm="portcullis""#),
                );
            }
            ApiError::Unauthenticated
            | ApiError::InvalidCredentials
            | ApiError::InvalidCode
            | ApiError::InvalidPasskey
            | ApiError::MfaExpired => {
                // RFC 9110 asks a 401 to name a scheme; the session lives in cookies.
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Cookie realm="portcullis""#),
                );
            }
            ApiError::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

/// The contract code of each auth error. Pure: what an internal cause says
/// is logged from the response (see [`super::failure`]), not from here.
impl From<&AuthError> for ApiError {
    fn from(e: &AuthError) -> Self {
        match e {
            AuthError::InvalidUsername(e) => ApiError::InvalidUsername(e.to_string()),
            AuthError::InvalidEmail(e) => ApiError::InvalidEmail(e.to_string()),
            AuthError::WeakPassword(e) => ApiError::WeakPassword(e.to_string()),
            AuthError::AccountExists => ApiError::AccountExists,
            AuthError::RegistrationClosed => ApiError::RegistrationClosed,
            AuthError::InvalidCredentials => ApiError::InvalidCredentials,
            AuthError::WrongCurrentPassword => ApiError::WrongCurrentPassword,
            AuthError::TooManyAttempts { retry_after } => ApiError::TooManyAttempts(*retry_after),
            AuthError::RefreshDenied(reason) => ApiError::InvalidRefreshToken(reason.as_str()),
            AuthError::Unauthenticated(_) => ApiError::Unauthenticated,
            AuthError::SessionNotFound
            | AuthError::MailOff
            | AuthError::UnknownProvider
            | AuthError::NotLinked => ApiError::NotFound,
            AuthError::ProviderUnavailable(_) => ApiError::ProviderUnavailable,
            AuthError::ProviderDenied(reason) => ApiError::ProviderDenied(reason.clone()),
            AuthError::InvalidIdToken(_) => ApiError::InvalidIdToken,
            AuthError::InvalidFlow(why) => ApiError::InvalidFlow(why),
            AuthError::EmailRequired => ApiError::EmailRequired,
            AuthError::IdentityInUse => ApiError::IdentityInUse,
            AuthError::LastSignInMethod => ApiError::LastSignInMethod,
            AuthError::InvalidToken => ApiError::InvalidToken,
            AuthError::EmailNotVerified => ApiError::EmailNotVerified,
            AuthError::InvalidCode => ApiError::InvalidCode,
            AuthError::MfaExpired => ApiError::MfaExpired,
            AuthError::ReauthenticationRequired => ApiError::ReauthenticationRequired,
            AuthError::TotpUnavailable => ApiError::TotpUnavailable,
            AuthError::TotpAlreadyEnabled => ApiError::TotpAlreadyEnabled,
            AuthError::NoTotpEnrolment => ApiError::NoTotpEnrolment,
            AuthError::NoSecondFactor => ApiError::NoSecondFactor,
            AuthError::PasskeysUnavailable => ApiError::PasskeysUnavailable,
            AuthError::InvalidPasskey => ApiError::InvalidPasskey,
            AuthError::InvalidAttestation => ApiError::InvalidPasskeyRegistration,
            AuthError::PasskeyExists => ApiError::PasskeyExists,
            AuthError::InvalidPasskeyName => ApiError::InvalidPasskeyName,
            AuthError::PasskeyNotFound => ApiError::NotFound,
            AuthError::TooManyPasskeys => ApiError::TooManyPasskeys,
            AuthError::Overloaded(_) | AuthError::Store(_) | AuthError::RevocationsUnverified => {
                ApiError::Unavailable
            }
            AuthError::Internal(_) => ApiError::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("small body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn a_problem_has_exactly_the_contract_members() {
        let response = ApiError::InvalidCredentials.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(
            body(response).await,
            r#"{"type":"about:blank","title":"Unauthorized","status":401,"code":"invalid_credentials"}"#
        );
    }

    #[tokio::test]
    async fn a_refused_refresh_says_why_in_the_body_and_a_header() {
        let response = ApiError::InvalidRefreshToken("reuse_detected").into_response();
        assert_eq!(response.headers()[REFRESH_DENIED], "reuse_detected");
        assert_eq!(
            body(response).await,
            r#"{"type":"about:blank","title":"Unauthorized","status":401,"code":"invalid_refresh_token","reason":"reuse_detected"}"#
        );
    }

    #[tokio::test]
    async fn too_many_attempts_says_when_to_retry_rounded_up() {
        let response = ApiError::TooManyAttempts(Duration::from_millis(2500)).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }
}
