//! Who is signed in: the access cookie, or, when it is missing or no longer
//! valid, a transparent refresh with the refresh cookie. The same mechanism
//! serves `/api/auth/session` and every proxied request.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use portcullis_verifier::Claims;

use super::AppState;
use super::cookies::{self, SetCookies};
use super::error::{ApiError, REFRESH_DENIED};
use crate::auth::tokens::AccessToken;
use crate::auth::{AuthError, ClientInfo};

/// A request with a valid session.
pub struct Authenticated {
    /// The access token's claims.
    pub claims: Arc<Claims>,
    /// The access token itself — the cookie's, or the one just issued — for
    /// the gateway to forward.
    pub token: AccessToken,
    /// New cookies, when the session had to be refreshed to answer.
    pub renewed: Option<SetCookies>,
}

impl Authenticated {
    /// Finishes a response, attaching renewed cookies if there are any.
    pub fn respond(self, response: impl IntoResponse) -> Response {
        let response = response.into_response();
        match self.renewed {
            Some(set) => cookies::attach(response, set),
            None => response,
        }
    }
}

impl FromRequestParts<AppState> for Authenticated {
    /// The complete response to send: 401 (clearing stale cookies), 429 or 503.
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let client = state.client_info(parts);
        authenticate(state, &parts.headers, &client).await
    }
}

/// Authenticates a request; the `Err` is the complete response to send.
///
/// A refresh that is refused ends the session in the browser too (the cookies
/// are cleared); a database failure answers 503 and leaves them alone, since
/// the session may be perfectly good.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    client: &ClientInfo,
) -> Result<Authenticated, Response> {
    let presented = state.cookies.read(headers);
    match state.auth.authenticate(presented.access.as_deref()).await {
        Ok(claims) => {
            // `authenticate` accepts only a present token, so `access` is `Some`.
            let token = AccessToken::presented(presented.access.as_deref().unwrap_or_default());
            return Ok(Authenticated {
                claims,
                token,
                renewed: None,
            });
        }
        Err(AuthError::Unauthenticated(_)) => {}
        Err(other) => return Err(ApiError::from(other).into_response()),
    }
    if presented.refresh.is_none() {
        return Err(unauthenticated(state, presented.any()));
    }
    match state
        .auth
        .refresh(presented.refresh.as_deref(), client)
        .await
    {
        Ok(signed_in) => Ok(Authenticated {
            renewed: Some(state.cookies.issue(&signed_in)),
            token: signed_in.access.token,
            claims: Arc::new(signed_in.access.claims),
        }),
        Err(AuthError::RefreshDenied(reason)) => {
            tracing::debug!(reason = reason.as_str(), "transparent refresh refused");
            // The code stays `unauthenticated`; the header tells a client
            // that wonders why its session ended.
            let mut response = unauthenticated(state, true);
            response
                .headers_mut()
                .insert(REFRESH_DENIED, HeaderValue::from_static(reason.as_str()));
            Err(response)
        }
        Err(other) => Err(ApiError::from(other).into_response()),
    }
}

/// 401 `unauthenticated`, clearing cookies that no longer hold a session.
pub fn unauthenticated(state: &AppState, clear: bool) -> Response {
    let response = ApiError::Unauthenticated.into_response();
    if clear {
        cookies::attach(response, state.cookies.clear())
    } else {
        response
    }
}
