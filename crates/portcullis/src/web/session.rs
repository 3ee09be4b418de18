//! Who is signed in: the access cookie, or, when it is missing or no longer
//! valid, a transparent refresh with the refresh cookie. The same mechanism
//! serves `/api/auth/session`, every proxied request and every page; when it
//! finds no session it says why in a [`SessionRejection`], and each of them
//! answers that in its own way.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use portcullis_verifier::Claims;

use super::Context;
use super::cookies::{self, CookiePolicy, SetCookies};
use super::problem::{ApiError, REFRESH_DENIED};
use crate::auth::rotation::RefreshDenial;
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

/// Why a request has no usable session. Each adapter answers it in its own
/// way: the API and the gateway with a problem
/// ([`SessionRejection::into_problem`]), the pages with a page or a redirect.
#[derive(Debug)]
pub enum SessionRejection {
    /// No valid session; `clear` when the request carried cookies that no
    /// longer hold one, which are to be cleared.
    Unauthenticated {
        /// Whether to clear the cookies.
        clear: bool,
    },
    /// The refresh cookie was refused for this reason: the session has ended
    /// and both cookies are to be cleared.
    RefreshDenied(RefreshDenial),
    /// Too many refreshes from this client's address.
    Throttled {
        /// How long until the next attempt is accepted.
        retry_after: Duration,
    },
    /// The session could not be checked — the database failed, the
    /// revocation set is not known to be current, or a bug — so nobody can
    /// be told they are signed out, and the cookies are left alone.
    Failed(AuthError),
}

impl SessionRejection {
    /// The answer of the JSON interfaces, the API and the gateway: 401
    /// `unauthenticated` clearing dead cookies (a refused refresh also names
    /// its reason in a header), 429, or the failure's own problem.
    pub fn into_problem(self, cookies: &CookiePolicy) -> Response {
        match self {
            SessionRejection::Unauthenticated { clear } => unauthenticated(cookies, clear),
            SessionRejection::RefreshDenied(reason) => {
                // The code stays `unauthenticated`; the header tells a client
                // that wonders why its session ended.
                let mut response = unauthenticated(cookies, true);
                response
                    .headers_mut()
                    .insert(REFRESH_DENIED, HeaderValue::from_static(reason.as_str()));
                response
            }
            SessionRejection::Throttled { retry_after } => {
                ApiError::TooManyAttempts(retry_after).into_response()
            }
            SessionRejection::Failed(e) => e.into_response(),
        }
    }
}

impl<S> FromRequestParts<S> for Authenticated
where
    Context: FromRef<S>,
    S: Send + Sync,
{
    /// The API's answer to a [`SessionRejection`].
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let context = Context::from_ref(state);
        authenticate(&context, &parts.headers, || context.client_info(parts))
            .await
            .map_err(|rejection| rejection.into_problem(&context.cookies))
    }
}

/// Authenticates a request. `client` says who is asking; it is read only
/// when the session must be refreshed, which most requests never need.
///
/// A refresh that is refused ends the session in the browser too (the cookies
/// are to be cleared); a database failure leaves them alone, since the
/// session may be perfectly good.
pub async fn authenticate(
    context: &Context,
    headers: &HeaderMap,
    client: impl FnOnce() -> ClientInfo,
) -> Result<Authenticated, SessionRejection> {
    let presented = context.cookies.read(headers);
    match context.auth.authenticate(presented.access).await {
        Ok(claims) => {
            // `authenticate` accepts only a present token, so `access` is `Some`.
            let token = AccessToken::presented(presented.access.unwrap_or_default());
            return Ok(Authenticated {
                claims,
                token,
                renewed: None,
            });
        }
        Err(AuthError::Unauthenticated(_)) => {}
        Err(other) => return Err(SessionRejection::Failed(other)),
    }
    if presented.refresh.is_none() {
        return Err(SessionRejection::Unauthenticated {
            clear: presented.any(),
        });
    }
    match context.auth.refresh(presented.refresh, &client()).await {
        Ok(signed_in) => Ok(Authenticated {
            renewed: Some(context.cookies.issue(&signed_in)),
            token: signed_in.access.token,
            claims: Arc::new(signed_in.access.claims),
        }),
        Err(AuthError::RefreshDenied(reason)) => {
            tracing::debug!(reason = reason.as_str(), "transparent refresh refused");
            Err(SessionRejection::RefreshDenied(reason))
        }
        Err(AuthError::TooManyAttempts { retry_after }) => {
            Err(SessionRejection::Throttled { retry_after })
        }
        Err(other) => Err(SessionRejection::Failed(other)),
    }
}

/// 401 `unauthenticated`, clearing cookies that no longer hold a session.
pub fn unauthenticated(cookies: &CookiePolicy, clear: bool) -> Response {
    let response = ApiError::Unauthenticated.into_response();
    if clear {
        cookies::attach(response, cookies.clear())
    } else {
        response
    }
}
