//! The browser-facing HTTP interface: `/api/auth/*`, health, JWKS, and the
//! guards every request passes (cross-site check, body limits, panics caught).

mod auth_routes;
pub mod bodies;
mod client;
pub mod cookies;
mod csrf;
pub mod error;
mod health;
mod json;
mod limits;
pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use url::Url;

pub use client::{Client, ProxyTrust};
pub use cookies::CookiePolicy;
pub use error::ApiError;

use crate::auth::Auth;
use crate::gateway::{self, Gateway};

/// Largest request body accepted on `/api/auth/*`: far above any real
/// registration, far below anything that costs us to read.
pub const AUTH_BODY_LIMIT: usize = 16 * 1024;

/// What every handler may need; each field is a cheap handle.
#[derive(Clone)]
pub struct AppState {
    /// The auth service.
    pub auth: Auth,
    /// Cookie names and attributes.
    pub cookies: CookiePolicy,
    /// Whose forwarded headers are believed.
    pub proxies: ProxyTrust,
    /// Our fixed public origin, when configured.
    pub public_url: Option<Arc<Url>>,
    /// Whether we serve TLS ourselves.
    pub tls: bool,
    /// Where proxied requests go.
    pub gateway: Gateway,
}

/// The full router.
pub fn router(state: AppState) -> Router {
    let auth = Router::new()
        .route("/register", post(auth_routes::register))
        .route("/login", post(auth_routes::login))
        .route("/refresh", post(auth_routes::refresh))
        .route("/logout", post(auth_routes::logout))
        .route("/logout-all", post(auth_routes::logout_all))
        .route("/session", get(auth_routes::session))
        .route("/sessions", get(auth_routes::sessions))
        .route("/sessions/{id}", delete(auth_routes::end_session))
        .route("/password", post(auth_routes::change_password))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT));

    let router = Router::new()
        .nest("/api/auth", auth)
        .route("/.well-known/jwks.json", get(health::jwks))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // Answers 404 `not_found` itself when no upstream is configured.
        .route("/api/{*rest}", any(gateway::api));
    let router = if state.gateway.has_frontend() {
        router.fallback(gateway::frontend)
    } else {
        router.fallback(not_found)
    };
    router
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::guard,
        ))
        .layer(axum::middleware::from_fn(no_store_on_auth_routes))
        .layer(axum::middleware::from_fn(limits::header_limits))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::Internal.into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Every `/api/auth/*` answer — errors, fallbacks and refusals included —
/// concerns credentials and must not be cached anywhere.
async fn no_store_on_auth_routes(request: Request, next: Next) -> Response {
    let is_auth = request.uri().path().starts_with("/api/auth/");
    let mut response = next.run(request).await;
    if is_auth {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}
