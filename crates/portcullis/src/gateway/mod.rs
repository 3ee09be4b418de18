//! The gateway: the job the pattern's BFF and its axios interceptor do.
//!
//! `/api/*` outside `/api/auth/` goes to the configured upstream API with the
//! session's access token attached; every other path goes to the configured
//! frontend (a Next.js server, say), WebSocket upgrades included. The request
//! is forwarded as it came — method, path, query, body — except for the
//! headers that describe the hop rather than the request (see [`headers`]).
//!
//! - [`frontend`](mod@frontend) decides who a frontend request is for, when
//!   pages get the token too (`frontend_token`).
//! - [`headers`] rewrites the request head: hop-by-hop headers out, our cookies
//!   out, the token in, `X-Forwarded-*` set.
//! - [`upstream`] holds the one pooled HTTP/1.1 client of the process and sends
//!   with the deadline that turns into 504.
//! - [`body`] lets that deadline start only once the request body has been sent,
//!   so a long upload is not cut off for being long.
//! - [`upgrade`] splices the two upgraded connections of a WebSocket together,
//!   until either closes or the session the tunnel was opened with ends.
//!
//! Bodies are never collected: the request body is handed to the client as
//! the server received it, and the upstream's body is handed back to the
//! server the same way, so memory per request is a few buffers however large
//! the body is.

pub mod body;
pub mod frontend;
pub mod headers;
pub mod upgrade;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use tracing::Level;

pub use headers::TokenPlacement;
pub use upstream::{ProxyError, Upstream, UpstreamError};

use crate::config::Config;
use crate::telemetry::UpstreamOutcome;
use crate::web::Context;
use crate::web::failure::Failure;
use crate::web::problem::ApiError;
use crate::web::session::{Authenticated, authenticate};
use crate::web::upgrade::Upgrade;

/// Where proxied requests go; cheap to clone.
#[derive(Clone, Default)]
pub struct Gateway {
    /// The API behind `/api/*`, when configured.
    api: Option<Upstream>,
    /// The frontend behind every non-API path, when configured.
    frontend: Option<Upstream>,
    /// How the access token is attached, for the API and the frontend alike.
    token: TokenPlacement,
    /// Whether pages get the token, and which paths skip the session.
    pages: frontend::FrontendPolicy,
}

impl Gateway {
    /// The gateway a configuration asks for. Both targets share one client,
    /// so one pool of keep-alive connections serves the whole process.
    pub fn from_config(config: &Config) -> Result<Self, UpstreamError> {
        let client = upstream::client(config.upstream_timeout);
        let target = |url: &Option<url::Url>| {
            url.as_ref()
                .map(|u| Upstream::new(u, client.clone(), config.upstream_timeout))
                .transpose()
        };
        Ok(Self {
            api: target(&config.upstream)?,
            frontend: target(&config.frontend)?,
            token: match &config.upstream_token_cookie {
                Some(name) => TokenPlacement::Cookie(name.clone()),
                None => TokenPlacement::Bearer,
            },
            pages: frontend::FrontendPolicy::from_config(config),
        })
    }

    /// Whether non-API paths go to a frontend.
    pub fn has_frontend(&self) -> bool {
        self.frontend.is_some()
    }
}

/// Any `/api/*` request outside `/api/auth/`: authenticated, then forwarded
/// with the token. Without a session the upstream is never called.
pub async fn api(
    State(state): State<Context>,
    State(gateway): State<Arc<Gateway>>,
    request: Request,
) -> Response {
    let Some(upstream) = &gateway.api else {
        return ApiError::NotFound.into_response();
    };
    let (parts, body) = request.into_parts();
    let session = match authenticate(&state, &parts.headers, || state.client_info(&parts)).await {
        Ok(session) => session,
        Err(rejection) => return rejection.into_problem(&state.cookies),
    };
    let request = Request::from_parts(parts, body);
    let response = forward(&state, &gateway, upstream, request, Some(&session)).await;
    session.respond(response)
}

/// Every path that is neither `/api/*` nor one of Portcullis's own: passed to
/// the frontend, with the visitor's token when `frontend_token` is on (see
/// [`frontend`](mod@frontend)), never refused for want of a session.
pub async fn frontend(
    State(state): State<Context>,
    State(gateway): State<Arc<Gateway>>,
    request: Request,
) -> Response {
    let Some(upstream) = &gateway.frontend else {
        return ApiError::NotFound.into_response();
    };
    frontend::serve(&state, &gateway, upstream, request).await
}

/// Sends `request` to `upstream`, with the session's access token placed
/// as the gateway's configuration says, if there is a session. A WebSocket
/// opened with a session is tunnelled until the session ends.
async fn forward(
    state: &Context,
    gateway: &Gateway,
    upstream: &Upstream,
    request: Request,
    session: Option<&Authenticated>,
) -> Response {
    let (mut parts, mut body) = request.into_parts();
    // Admission has refused every other kind of upgrade.
    let upgrade = Upgrade::of(&parts);
    let websocket = upgrade.is_websocket();
    let client_upgrade = parts.extensions.remove::<OnUpgrade>();
    if websocket {
        // A handshake has no body; over HTTP/2 the stream's data is the
        // tunnel's, never a request body for the upstream.
        body = Body::empty();
    }
    if upgrade == Upgrade::WebSocketOverHttp2
        && let Err(e) = upgrade::as_http1_handshake(&mut parts)
    {
        return Failure::new(Level::ERROR, "no randomness for a WebSocket key")
            .caused_by(e)
            .attach(ApiError::Internal.into_response());
    }
    let forwarding = forwarding(state, &parts);
    headers::rewrite_request(
        &mut parts.headers,
        &state.cookies,
        &gateway.token,
        session.map(|s| &s.token),
        &forwarding,
        websocket,
    );
    let outgoing = match upstream.request(parts, body) {
        Ok(outgoing) => outgoing,
        Err(e) => return e.into_response(),
    };
    let started = Instant::now();
    let sent = upstream.send(outgoing).await;
    let outcome = match &sent {
        Ok(response) => UpstreamOutcome::Answered(response.status()),
        Err(ProxyError::Timeout) => UpstreamOutcome::Timeout,
        Err(_) => UpstreamOutcome::Unavailable,
    };
    state.auth.metrics().upstream(started.elapsed(), outcome);
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => return e.into_response(),
    };
    let upgraded = websocket && response.status() == hyper::StatusCode::SWITCHING_PROTOCOLS;
    let over_http2 = upgrade == Upgrade::WebSocketOverHttp2;
    if over_http2 && !upgraded && response.status().is_success() {
        // On an HTTP/2 stream any 2xx opens the tunnel: passing on the
        // upstream's 200 would give the browser a WebSocket to nothing.
        return Failure::new(
            Level::WARN,
            "the upstream refused a WebSocket with a success",
        )
        .attach(ApiError::UpstreamUnavailable.into_response());
    }
    match (upgraded, client_upgrade) {
        (true, Some(client)) => {
            let watch = session.map(|s| state.auth.watch_session(s.claims.clone()));
            upgrade::tunnel(client, &mut response, watch, state.auth.metrics().clone());
        }
        // The upstream switched protocols but our client connection cannot:
        // answering 101 would leave the browser talking to nothing.
        (true, None) => return ApiError::UpstreamUnavailable.into_response(),
        _ => {}
    }
    let (mut head, incoming) = response.into_parts();
    // An HTTP/2 stream keeps no hop-by-hop headers, switched or not.
    headers::rewrite_response(&mut head.headers, &state.cookies, upgraded && !over_http2);
    if upgraded && over_http2 {
        upgrade::as_http2_answer(&mut head);
    }
    Response::from_parts(head, Body::new(incoming))
}

/// Who asked, as the upstream will be told in `X-Forwarded-*`.
fn forwarding(state: &Context, parts: &Parts) -> headers::Forwarding {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let client = state.proxies.client(parts, state.tls);
    // With a public URL, the host is ours to state, never the client's.
    let host = match state.public_url.as_deref() {
        Some(url) => url.host_str().map(|host| match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }),
        None => client.host,
    };
    headers::Forwarding {
        peer,
        peer_trusted: peer.is_some_and(|p| state.proxies.trusts(p)),
        scheme: client.scheme,
        host,
    }
}

/// A proxied request without an answer, as the gateway answers it: 502 or
/// 504, with the cause on its way to the log.
impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let (problem, message) = match &self {
            ProxyError::Timeout => (ApiError::UpstreamTimeout, "upstream did not answer in time"),
            ProxyError::Unavailable(_) => (ApiError::UpstreamUnavailable, "upstream unavailable"),
            ProxyError::BadTarget(_) => {
                (ApiError::UpstreamUnavailable, "cannot address the upstream")
            }
        };
        let failure = Failure::new(Level::WARN, message);
        // A timeout has no cause beyond itself.
        let failure = match self {
            ProxyError::Timeout => failure,
            other => failure.caused_by(other),
        };
        failure.attach(problem.into_response())
    }
}
