//! Requests to the frontend, and who they are for.
//!
//! With `frontend_token` on, a server-rendered page learns its visitor the way
//! the API does: the request carries the session's access token (Bearer, or
//! the upstream token cookie), after the same checks — signature, expiry,
//! revocation — and a transparent refresh when the access token has run out.
//! What differs from the API is the answer to a missing or dead session: the
//! page is never refused, it is forwarded without a token and the app decides
//! (render for a stranger, redirect to its sign-in page). Cookies that hold a
//! dead session (revoked, expired, forged) are cleared on the page's answer,
//! so that the browser stops presenting them.
//!
//! Static assets (`/_next/static/` and the configured prefixes) skip all of
//! this: they are the same for everyone, and a page load fetches dozens, which
//! must not each verify a token or, worse, each try a refresh.
//!
//! Whatever the browser itself sent as a token is removed on every path,
//! signed in or not (see [`super::headers`]).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;

use super::{Upstream, forward};
use crate::auth::tokens::AccessToken;
use crate::auth::{AuthError, ClientInfo};
use crate::config::Config;
use crate::http::AppState;
use crate::http::cookies::{self, SetCookies};
use crate::http::error::REFRESH_DENIED;

/// Where Next.js serves its hashed build output.
const NEXT_STATIC: &str = "/_next/static/";

/// How frontend requests are treated.
#[derive(Debug, Clone, Default)]
pub struct FrontendPolicy {
    /// Whether a signed-in visitor's requests carry the access token.
    token: bool,
    /// Path prefixes served without session work, besides [`NEXT_STATIC`].
    public_paths: Vec<String>,
}

impl FrontendPolicy {
    /// The policy a configuration asks for.
    pub fn from_config(config: &Config) -> Self {
        Self {
            token: config.frontend_token,
            public_paths: config.frontend_public_paths.clone(),
        }
    }

    /// Whether a path is a static asset, served without a session.
    fn is_public(&self, path: &str) -> bool {
        path.starts_with(NEXT_STATIC) || self.public_paths.iter().any(|p| path.starts_with(p))
    }
}

/// Who a frontend request is for.
enum Visitor {
    /// A live session: its access token, and new cookies when it had to be
    /// refreshed to answer.
    SignedIn {
        token: AccessToken,
        renewed: Option<SetCookies>,
    },
    /// Nobody. `clear` when the request carried cookies of a session that is
    /// over; `denied` says why a refresh was refused, for the response header.
    Anonymous {
        clear: bool,
        denied: Option<&'static str>,
    },
}

impl Visitor {
    const STRANGER: Self = Self::Anonymous {
        clear: false,
        denied: None,
    };
}

/// Forwards a request to the frontend, with the visitor's token when the
/// policy asks for it and there is a live session.
pub async fn serve(state: &AppState, upstream: &Upstream, request: Request) -> Response {
    let policy = &state.gateway.pages;
    if !policy.token || policy.is_public(request.uri().path()) {
        return forward(state, upstream, request, None).await;
    }
    let (parts, body) = request.into_parts();
    let client = state.client_info(&parts);
    let visitor = identify(state, &parts.headers, &client).await;
    let request = Request::from_parts(parts, body);
    match visitor {
        Visitor::SignedIn { token, renewed } => {
            let response = forward(state, upstream, request, Some(&token)).await;
            match renewed {
                Some(set) => cookies::attach(response, set),
                None => response,
            }
        }
        Visitor::Anonymous { clear, denied } => {
            let mut response = forward(state, upstream, request, None).await;
            if let Some(reason) = denied {
                response
                    .headers_mut()
                    .insert(REFRESH_DENIED, HeaderValue::from_static(reason));
            }
            if clear {
                response = cookies::attach(response, state.cookies.clear());
            }
            response
        }
    }
}

/// The session behind a request's cookies, by the API's rules, except that
/// every failure means "anonymous". A failure that says nothing about the
/// session (the database, the revocation set not proved current, a refresh
/// rate limit) leaves its cookies alone: the session may be perfectly good,
/// and the next request will tell.
async fn identify(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    client: &ClientInfo,
) -> Visitor {
    let presented = state.cookies.read(headers);
    if !presented.any() {
        return Visitor::STRANGER;
    }
    match state.auth.authenticate(presented.access.as_deref()).await {
        Ok(_) => {
            return Visitor::SignedIn {
                // `authenticate` accepts only a present token.
                token: AccessToken::presented(presented.access.as_deref().unwrap_or_default()),
                renewed: None,
            };
        }
        Err(AuthError::Unauthenticated(_)) => {}
        Err(other) => return unknown(&other),
    }
    if presented.refresh.is_none() {
        return Visitor::Anonymous {
            clear: true,
            denied: None,
        };
    }
    match state
        .auth
        .refresh(presented.refresh.as_deref(), client)
        .await
    {
        Ok(signed_in) => Visitor::SignedIn {
            renewed: Some(state.cookies.issue(&signed_in)),
            token: signed_in.access.token,
        },
        Err(AuthError::RefreshDenied(reason)) => {
            tracing::debug!(
                reason = reason.as_str(),
                "page refresh refused: forwarded anonymously"
            );
            Visitor::Anonymous {
                clear: true,
                denied: Some(reason.as_str()),
            }
        }
        Err(other) => unknown(&other),
    }
}

/// A session that could not be checked: the page goes without a token.
fn unknown(error: &AuthError) -> Visitor {
    match error {
        AuthError::TooManyAttempts { .. } | AuthError::RevocationsUnverified => {
            tracing::debug!(error = %error, "session not checked: page forwarded anonymously");
        }
        _ => {
            tracing::warn!(error = %error, cause = ?std::error::Error::source(error), "session check failed: page forwarded anonymously");
        }
    }
    Visitor::STRANGER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_static_assets_and_configured_prefixes_are_public() {
        let policy = FrontendPolicy {
            token: true,
            public_paths: vec!["/favicon.ico".into(), "/images/".into()],
        };
        for public in [
            "/_next/static/chunks/app.js",
            "/favicon.ico",
            "/images/a.png",
        ] {
            assert!(policy.is_public(public), "{public}");
        }
        for page in [
            "/",
            "/dashboard",
            "/_next/data/x.json",
            "/imagesx",
            "/_next/static",
        ] {
            assert!(!policy.is_public(page), "{page}");
        }
    }
}
