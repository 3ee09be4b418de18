//! The handlers of `/api/auth/*`. Each converts the request once, calls the
//! auth service, and shapes the answer; the rules live in [`crate::auth`].

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;

use super::AppState;
use super::bodies::{LoginBody, PasswordBody, RegisterBody};
use super::cookies;
use super::error::ApiError;
use super::json::AppJson;
use super::session::{authenticate, unauthenticated};
use crate::auth::{AuthError, ClientInfo, NewAccount, SignedIn};
use crate::store::UserRecord;

/// The `User-Agent` and address a new session is recorded with.
pub struct SessionClient(ClientInfo);

impl FromRequestParts<AppState> for SessionClient {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = state.proxies.client(parts, state.tls);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        Ok(Self(ClientInfo::new(user_agent, client.addr)))
    }
}

#[derive(Serialize)]
struct UserBody<'a> {
    id: String,
    username: &'a str,
    email: &'a str,
}

impl<'a> From<&'a UserRecord> for UserBody<'a> {
    fn from(u: &'a UserRecord) -> Self {
        Self {
            id: u.id.to_string(),
            username: &u.username,
            email: &u.email,
        }
    }
}

#[derive(Serialize)]
struct UserEnvelope<'a> {
    user: UserBody<'a>,
}

/// 201 `{"user":…}` with the session's cookies; the tokens are only in the cookies.
fn signed_in(state: &AppState, signed_in: &SignedIn) -> Response {
    let body = Json(UserEnvelope {
        user: (&signed_in.user).into(),
    });
    cookies::attach(
        (StatusCode::CREATED, body).into_response(),
        state.cookies.issue(signed_in),
    )
}

/// `POST /api/auth/register`.
pub async fn register(
    State(state): State<AppState>,
    SessionClient(client): SessionClient,
    AppJson(body): AppJson<RegisterBody>,
) -> Result<Response, ApiError> {
    let account = NewAccount {
        username: &body.username,
        email: &body.email,
        password: &body.password,
    };
    let session = state.auth.register(account, &client).await?;
    Ok(signed_in(&state, &session))
}

/// `POST /api/auth/login`.
pub async fn login(
    State(state): State<AppState>,
    SessionClient(client): SessionClient,
    AppJson(body): AppJson<LoginBody>,
) -> Result<Response, ApiError> {
    let session = state
        .auth
        .login(&body.username, &body.password, &client)
        .await?;
    Ok(signed_in(&state, &session))
}

/// `POST /api/auth/refresh`.
pub async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let presented = state.cookies.read(&headers);
    match state.auth.refresh(presented.refresh.as_deref()).await {
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
        Err(other) => ApiError::from(other).into_response(),
    }
}

/// `POST /api/auth/logout`: 204 whether or not there was a session.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let presented = state.cookies.read(&headers);
    state
        .auth
        .logout(presented.access.as_deref(), presented.refresh.as_deref())
        .await?;
    Ok(cookies::attach(
        StatusCode::NO_CONTENT.into_response(),
        state.cookies.clear(),
    ))
}

/// `POST /api/auth/logout-all`.
pub async fn logout_all(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let signed_in = match authenticate(&state, &headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    match state.auth.logout_all(&signed_in.claims).await {
        Ok(_) => cookies::attach(
            StatusCode::NO_CONTENT.into_response(),
            state.cookies.clear(),
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Serialize)]
struct SessionEnvelope<'a> {
    user: UserBody<'a>,
    session: SessionBody,
}

#[derive(Serialize)]
struct SessionBody {
    id: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// `GET /api/auth/session`.
pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let signed_in = match authenticate(&state, &headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    match state.auth.current_session(&signed_in.claims).await {
        Ok((user, session)) => {
            let body = Json(SessionEnvelope {
                user: (&user).into(),
                session: SessionBody {
                    id: session.id.to_string(),
                    created_at: session.created_at,
                    expires_at: session.expires_at,
                },
            });
            signed_in.respond(body)
        }
        Err(AuthError::Unauthenticated(_)) => unauthenticated(&state, true),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Serialize)]
struct SessionListEntry {
    id: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_used_at: OffsetDateTime,
    user_agent: Option<String>,
    current: bool,
}

#[derive(Serialize)]
struct SessionList {
    sessions: Vec<SessionListEntry>,
}

/// `GET /api/auth/sessions`.
pub async fn sessions(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let signed_in = match authenticate(&state, &headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    match state.auth.list_sessions(&signed_in.claims).await {
        Ok(records) => {
            let current = signed_in.claims.sid.clone();
            let sessions = records
                .into_iter()
                .map(|s| SessionListEntry {
                    current: s.id.to_string() == current,
                    id: s.id.to_string(),
                    created_at: s.created_at,
                    last_used_at: s.refreshed_at,
                    user_agent: s.user_agent,
                })
                .collect();
            signed_in.respond(Json(SessionList { sessions }))
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `DELETE /api/auth/sessions/{id}`: only the caller's own sessions; any
/// other id is 404, whether or not it exists.
pub async fn end_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let signed_in = match authenticate(&state, &headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let is_current = signed_in.claims.sid == id;
    match state.auth.end_session(&signed_in.claims, &id).await {
        Ok(()) if is_current => cookies::attach(
            StatusCode::NO_CONTENT.into_response(),
            state.cookies.clear(),
        ),
        Ok(()) => signed_in.respond(StatusCode::NO_CONTENT),
        Err(e) => signed_in.respond(ApiError::from(e)),
    }
}

/// `POST /api/auth/password`: other sessions are revoked, this one stays.
pub async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(body): AppJson<PasswordBody>,
) -> Response {
    let signed_in = match authenticate(&state, &headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let result = state
        .auth
        .change_password(
            &signed_in.claims,
            &body.current_password,
            &body.new_password,
        )
        .await;
    match result {
        Ok(()) => signed_in.respond(StatusCode::NO_CONTENT),
        Err(AuthError::Unauthenticated(_)) => unauthenticated(&state, true),
        Err(e) => signed_in.respond(ApiError::from(e)),
    }
}
