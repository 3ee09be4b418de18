//! The handlers of `/api/auth/*`. Each converts the request once, calls the
//! auth service, and shapes the answer; the rules live in [`crate::auth`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::bodies::{LoginBody, PasswordBody, RegisterBody};
use super::json::AppJson;
use super::openapi::responses::{
    CrossSite, DatabaseUnavailable, HashingUnavailable, HeadersTooLarge, NotJson, PayloadTooLarge,
    RefreshThrottled, SessionUnavailable, Unauthenticated,
};
use crate::auth::{
    AuthError, NewAccount, PasswordChange, Registered, SignInAttempt, SignInResult, SignedIn,
    UserView,
};
use crate::web::Context;
use crate::web::client::SessionClient;
use crate::web::cookies;
use crate::web::problem::{ApiError, Problem};
use crate::web::session::{Authenticated, unauthenticated};

/// An account as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = User)]
struct UserBody<'a> {
    /// The user's id, also the `sub` claim.
    id: String,
    username: &'a str,
    email: &'a str,
    /// Whether a link mailed to the address has been used.
    email_verified: bool,
}

impl<'a> From<&'a UserView> for UserBody<'a> {
    fn from(u: &'a UserView) -> Self {
        Self {
            id: u.id.to_string(),
            username: &u.username,
            email: &u.email,
            email_verified: u.email_verified,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(super) struct UserEnvelope<'a> {
    user: UserBody<'a>,
}

/// 201 `{"user":…}` with the session's cookies and the device cookie; the
/// tokens are only in the cookies.
pub(super) fn signed_in(state: &Context, signed_in: &SignedIn) -> Response {
    let body = Json(UserEnvelope {
        user: (&signed_in.user).into(),
    });
    cookies::attach(
        (StatusCode::CREATED, body).into_response(),
        state.cookies.sign_in(signed_in),
    )
}

/// `POST /api/auth/register`.
#[utoipa::path(
    post,
    path = "/register",
    tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Registered and signed in; when `require_verified_email` is on, registered but not signed in (only the `__Host-device` cookie is set) until the address is verified with the link mailed to it", body = UserEnvelope, headers(("Set-Cookie" = String, description = "`__Host-access_token`, `__Host-refresh_token` and `__Host-device`"))),
        (status = 400, description = "`invalid_username`, `invalid_email` or `weak_password` (the `detail` says which rule), `malformed_json` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`registration_closed`: registration is closed. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`account_exists`: the username or e-mail address is taken", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, description = "`too_many_attempts`: this client address has registered more often than `address_registrations` allows", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until a registration is accepted again"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(HashingUnavailable)),
    )
)]
pub async fn register(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    AppJson(body): AppJson<RegisterBody>,
) -> Result<Response, AuthError> {
    let account = NewAccount {
        username: &body.username,
        email: &body.email,
        password: &body.password,
    };
    match state.auth.register(account, &client).await? {
        Registered::SignedIn(session) => Ok(signed_in(&state, &session)),
        Registered::VerifyFirst { user, device } => {
            let body = Json(UserEnvelope {
                user: (&user).into(),
            });
            Ok(cookies::attach(
                (StatusCode::CREATED, body).into_response(),
                [state.cookies.device(&device)],
            ))
        }
    }
}

/// `POST /api/auth/login`.
#[utoipa::path(
    post,
    path = "/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "The password is right and the account has a second factor: no session yet. `POST /api/auth/mfa/verify` completes the sign-in within 5 minutes. Only someone with the password sees this answer", body = SecondFactorRequired, headers(("Set-Cookie" = String, description = "`__Host-mfa_pending` only: HttpOnly, Secure, SameSite=Strict, Path=/, 5 minutes"))),
        (status = 201, description = "Signed in", body = UserEnvelope, headers(("Set-Cookie" = String, description = "`__Host-access_token`, `__Host-refresh_token` and a new `__Host-device`"))),
        (status = 400, description = "`malformed_json` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`: unknown account, wrong password or disabled account, never distinguished", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`email_not_verified`: the password is right, but `require_verified_email` is on and the account's address is not verified; a new link is mailed (within the account's mail limit). Never answered to a wrong password. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, description = "`too_many_attempts`: too many sign-in attempts or failures from this client address (`address_login_attempts`, `address_login_failures`; an IPv6 client is its `address_ipv6_prefix` network), or too many recent failures for this account (its username and e-mail address alike, or the name given when no account has it), or, from a browser whose `__Host-device` cookie vouches for it, for that browser", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until the next attempt is accepted"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(HashingUnavailable)),
    )
)]
pub async fn login(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    headers: HeaderMap,
    AppJson(body): AppJson<LoginBody>,
) -> Result<Response, AuthError> {
    let presented = state.cookies.read(&headers);
    let attempt = SignInAttempt {
        login: &body.username,
        password: &body.password,
        device: presented.device,
    };
    match state.auth.login(attempt, &client).await? {
        SignInResult::SignedIn(session) => {
            let response = signed_in(&state, &session);
            // A sign-in at another provider found this account by its
            // verified address and waits for its password: that is this
            // sign-in, if it is to the same account.
            match presented.link {
                Some(link) => {
                    state
                        .auth
                        .complete_pending_link(link, session.user.id, &client)
                        .await?;
                    Ok(cookies::attach(response, [state.cookies.clear_link()]))
                }
                None => Ok(response),
            }
        }
        SignInResult::SecondFactor(pending) => {
            // A pending link is left alone (its cookie too): it is
            // completed by `POST /api/auth/mfa/verify`, once the sign-in is.
            let body = Json(SecondFactorRequired {
                mfa_required: true,
                methods: pending.methods,
            });
            Ok(cookies::attach(
                (StatusCode::OK, body).into_response(),
                [state
                    .cookies
                    .mfa_pending(&pending.token.encode(), pending.lifetime)],
            ))
        }
    }
}

/// The answer to a right password on an account with a second factor.
#[derive(Serialize, ToSchema)]
struct SecondFactorRequired {
    /// Always `true`.
    mfa_required: bool,
    /// What `POST /api/auth/mfa/verify` takes: `totp` (`{"code"}`),
    /// `recovery_code` (`{"recovery_code"}`).
    methods: Vec<&'static str>,
}

/// `POST /api/auth/refresh`.
#[utoipa::path(
    post,
    path = "/refresh",
    tag = "auth",
    security(("refresh_token" = [])),
    responses(
        (status = 204, description = "The refresh token was rotated; both cookies replaced", headers(("Set-Cookie" = String, description = "`__Host-access_token` and `__Host-refresh_token`"))),
        (status = 401, description = "`invalid_refresh_token`, cookies cleared. The `reason` member and the `Portcullis-Refresh-Denied` header say why: `missing`, `malformed`, `unknown`, `revoked`, `reuse_detected` (the session has been revoked), `idle_timeout`, `lifetime_exceeded` or `user_disabled`", body = Problem, content_type = "application/problem+json", headers(("Portcullis-Refresh-Denied" = String, description = "The reason, as in the body"), ("Set-Cookie" = String, description = "Both cookies cleared"))),
        (status = 403, response = inline(CrossSite)),
        (status = 429, description = "`too_many_attempts`: this client address has refreshed more often than `address_refreshes` allows (only a request carrying a refresh cookie counts). The cookies are left alone", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until a refresh is accepted again"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(DatabaseUnavailable)),
    )
)]
pub async fn refresh(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    headers: HeaderMap,
) -> Response {
    let presented = state.cookies.read(&headers);
    match state.auth.refresh(presented.refresh, &client).await {
        Ok(session) => cookies::attach(
            StatusCode::NO_CONTENT.into_response(),
            state.cookies.issue(&session),
        ),
        Err(AuthError::RefreshDenied(reason)) => {
            tracing::info!(reason = reason.as_str(), "refresh refused");
            cookies::attach(
                ApiError::InvalidRefreshToken(reason.as_str()).into_response(),
                state.cookies.clear(),
            )
        }
        Err(other) => other.into_response(),
    }
}

/// `POST /api/auth/logout`: 204 whether or not there was a session.
#[utoipa::path(
    post,
    path = "/logout",
    tag = "auth",
    security((), ("refresh_token" = []), ("access_token" = [])),
    responses(
        (status = 204, description = "Signed out: the session (if any) is revoked, the cookies cleared", headers(("Set-Cookie" = String, description = "Both cookies cleared (`Max-Age=0`)"))),
        (status = 403, response = inline(CrossSite)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(DatabaseUnavailable)),
    )
)]
pub async fn logout(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    headers: HeaderMap,
) -> Result<Response, AuthError> {
    let presented = state.cookies.read(&headers);
    state
        .auth
        .logout(presented.access, presented.refresh, &client)
        .await?;
    Ok(cookies::attach(
        StatusCode::NO_CONTENT.into_response(),
        state.cookies.clear(),
    ))
}

/// `POST /api/auth/logout-all`.
#[utoipa::path(
    post,
    path = "/logout-all",
    tag = "auth",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 204, description = "Every session of the user is revoked, the cookies cleared", headers(("Set-Cookie" = String, description = "Both cookies cleared (`Max-Age=0`)"))),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, response = inline(CrossSite)),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn logout_all(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
) -> Response {
    match state.auth.logout_all(&signed_in.claims, &client).await {
        Ok(_) => cookies::attach(
            StatusCode::NO_CONTENT.into_response(),
            state.cookies.clear(),
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Serialize, ToSchema)]
struct SessionEnvelope<'a> {
    user: UserBody<'a>,
    session: SessionBody,
}

/// The current session.
#[derive(Serialize, ToSchema)]
#[schema(as = Session)]
struct SessionBody {
    id: String,
    /// Sign-in time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    /// The absolute end of the session (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: OffsetDateTime,
}

/// `GET /api/auth/session`.
#[utoipa::path(
    get,
    path = "/session",
    tag = "auth",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 200, description = "The signed-in user and session; new cookies when the session was refreshed to answer", body = SessionEnvelope),
        (status = 401, response = inline(Unauthenticated)),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn session(State(state): State<Context>, signed_in: Authenticated) -> Response {
    match state.auth.current_session(&signed_in.claims).await {
        Ok(current) => {
            let (user, session) = (&current.user, &current.session);
            let body = Json(SessionEnvelope {
                user: user.into(),
                session: SessionBody {
                    id: session.id.to_string(),
                    created_at: session.created_at,
                    expires_at: session.expires_at,
                },
            });
            signed_in.respond(body)
        }
        Err(AuthError::Unauthenticated(_)) => unauthenticated(&state.cookies, true),
        Err(e) => e.into_response(),
    }
}

/// One of the user's live sessions.
#[derive(Serialize, ToSchema)]
struct SessionListEntry {
    id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    /// The last sign-in or refresh.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    last_used_at: OffsetDateTime,
    /// The browser's `User-Agent` at sign-in.
    user_agent: Option<String>,
    /// The identity provider the session was signed in with (its configured
    /// id); `null` when it was signed in with a password.
    idp: Option<String>,
    /// Whether this is the session making the request.
    current: bool,
    /// How the sign-in was proved (RFC 8176): `["pwd"]`, or with a second
    /// factor `["pwd","otp","mfa"]`; at another provider, the registered
    /// values its ID token named (maybe none) and `otp`, `mfa` after a code
    /// of ours; the access token's `amr` claim (left out there when empty).
    amr: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
struct SessionList {
    sessions: Vec<SessionListEntry>,
}

/// `GET /api/auth/sessions`.
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "auth",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 200, description = "The user's live sessions, newest first", body = SessionList),
        (status = 401, response = inline(Unauthenticated)),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn sessions(State(state): State<Context>, signed_in: Authenticated) -> Response {
    match state.auth.list_sessions(&signed_in.claims).await {
        Ok(records) => {
            let current = signed_in.claims.sid.clone();
            let sessions = records
                .into_iter()
                .map(|s| SessionListEntry {
                    current: s.id.to_string() == current,
                    id: s.id.to_string(),
                    created_at: s.created_at,
                    last_used_at: s.last_used_at,
                    user_agent: s.user_agent,
                    idp: s.method.idp().map(str::to_owned),
                    amr: s.method.amr().to_vec(),
                })
                .collect();
            signed_in.respond(Json(SessionList { sessions }))
        }
        Err(e) => e.into_response(),
    }
}

/// `DELETE /api/auth/sessions/{id}`: only the caller's own sessions; any
/// other id is 404, whether or not it exists.
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    tag = "auth",
    security(("access_token" = []), ("refresh_token" = [])),
    params(("id" = String, Path, description = "A session id from `GET /api/auth/sessions`")),
    responses(
        (status = 204, description = "The session is revoked (ending the current one also clears the cookies)"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, response = inline(CrossSite)),
        (status = 404, description = "`not_found`: no such session among the caller's own", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn end_session(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
    Path(id): Path<String>,
) -> Response {
    let is_current = signed_in.claims.sid == id;
    match state
        .auth
        .end_session(&signed_in.claims, &id, &client)
        .await
    {
        Ok(()) if is_current => cookies::attach(
            StatusCode::NO_CONTENT.into_response(),
            state.cookies.clear(),
        ),
        Ok(()) => signed_in.respond(StatusCode::NO_CONTENT),
        Err(e) => signed_in.respond(e),
    }
}

/// `POST /api/auth/password`: every session begun before the change ends,
/// and the caller goes on in a new one.
#[utoipa::path(
    post,
    path = "/password",
    tag = "auth",
    security(("access_token" = []), ("refresh_token" = [])),
    request_body = PasswordBody,
    responses(
        (status = 204, description = "Password changed. Every session of the user begun before the change is revoked, this one included, and the caller is signed in afresh: both cookies are replaced (a new session id)", headers(("Set-Cookie" = String, description = "`__Host-access_token` and `__Host-refresh_token` of the new session"))),
        (status = 400, description = "`weak_password` (the `detail` says which rule), `malformed_json` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, description = "`invalid_credentials`: the current password is wrong. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = inline(PayloadTooLarge)),
        (status = 415, response = inline(NotJson)),
        (status = 429, description = "`too_many_attempts`: a wrong current password counts as a failed sign-in, so the sign-in limits apply (per client address, and per account or, from a browser whose `__Host-device` cookie vouches for it, per browser); or this session's previous password change is still being hashed; or the access token had to be renewed in place and this client address has refreshed more often than `address_refreshes` allows", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until the next attempt is accepted"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, description = "`unavailable`: password hashing is at capacity, the database did not answer, or this instance cannot currently prove that it knows every revoked session. Nothing has changed and the cookies are left alone", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn change_password(
    State(state): State<Context>,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
    headers: HeaderMap,
    AppJson(body): AppJson<PasswordBody>,
) -> Response {
    let presented = state.cookies.read(&headers);
    let change = PasswordChange {
        current: &body.current_password,
        new: &body.new_password,
        device: presented.device,
    };
    let result = state
        .auth
        .change_password(&signed_in.claims, change, &client)
        .await;
    match result {
        Ok(()) => signed_in.respond(StatusCode::NO_CONTENT),
        Err(AuthError::Unauthenticated(_)) => unauthenticated(&state.cookies, true),
        Err(e) => signed_in.respond(e),
    }
}
