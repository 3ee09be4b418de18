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

use super::{Gateway, Upstream, forward};
use crate::config::Config;
use crate::web::Context;
use crate::web::cookies;
use crate::web::failure::{self, Failure};
use crate::web::problem::REFRESH_DENIED;
use crate::web::session::{SessionRejection, authenticate};

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

/// Forwards a request to the frontend, with the visitor's token when the
/// policy asks for it and there is a live session.
///
/// The session is found by the API's rules ([`authenticate`]); only the
/// answer to a missing one differs: the page goes without a token. A
/// rejection that says nothing about the session (the database, the
/// revocation set not proved current, a refresh rate limit) leaves its
/// cookies alone: the session may be perfectly good, and the next request
/// will tell.
pub async fn serve(
    state: &Context,
    gateway: &Gateway,
    upstream: &Upstream,
    request: Request,
) -> Response {
    let policy = &gateway.pages;
    if !policy.token || policy.is_public(request.uri().path()) {
        return forward(state, gateway, upstream, request, None).await;
    }
    let (parts, body) = request.into_parts();
    let session = authenticate(state, &parts.headers, || state.client_info(&parts)).await;
    let request = Request::from_parts(parts, body);
    let rejection = match session {
        Ok(session) => {
            let response = forward(state, gateway, upstream, request, Some(&session)).await;
            return session.respond(response);
        }
        Err(rejection) => rejection,
    };
    let mut response = forward(state, gateway, upstream, request, None).await;
    let (clear, denied) = match rejection {
        SessionRejection::Unauthenticated { clear } => (clear, None),
        SessionRejection::RefreshDenied(reason) => (true, Some(reason.as_str())),
        SessionRejection::Throttled { .. } => (false, None),
        SessionRejection::Failed(error) => {
            // Logged once, by the access-log layer, like any failure of ours.
            response = failure::attach(Failure::of(error), response);
            (false, None)
        }
    };
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
