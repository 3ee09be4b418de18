//! The browser-facing HTTP interface: `/api/auth/*`, health, JWKS,
//! discovery, metrics, the OpenAPI document, and the guards every request
//! passes (request id, logging and metrics, cross-site check, body limits,
//! panics caught).

mod auth_routes;
pub mod bodies;
mod client;
pub mod cookies;
mod csrf;
mod discovery;
pub mod error;
mod health;
mod json;
mod limits;
mod observe;
pub mod openapi;
pub mod request_id;
pub mod session;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Router};
use tower_http::catch_panic::CatchPanicLayer;
use url::Url;
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth_routes::SessionClient;
pub use client::{Client, ProxyTrust};
pub use cookies::CookiePolicy;
pub use error::ApiError;

use crate::auth::Auth;
use crate::gateway::{self, Gateway};

/// Largest request body accepted on `/api/auth/*`: far above any real
/// registration, far below anything that costs us to read.
pub const AUTH_BODY_LIMIT: usize = 16 * 1024;

/// What every handler may need, behind one `Arc`: axum clones the state
/// into every request (and every stateful middleware clones it again), so a
/// clone must be one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// The state of an application serving with `services`.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Services {
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
    /// The built-in web UI, unless non-API paths go to a configured frontend.
    pub ui: Option<crate::ui::Ui>,
}

impl Services {
    /// The `User-Agent` and address of a request's client, as sessions and
    /// audit events record them.
    pub fn client_info(&self, parts: &axum::http::request::Parts) -> crate::auth::ClientInfo {
        let client = self.proxies.client(parts, self.tls);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        crate::auth::ClientInfo::new(user_agent, client.addr)
    }
}

/// Every route, and the OpenAPI document that describes them.
///
/// Routes are registered with `routes!`, which reads the method and path
/// from each handler's `#[utoipa::path]`; only the `/api/*` wildcard, which
/// OpenAPI cannot express, is added directly (and described in
/// [`openapi::ApiDoc`]).
pub fn routes() -> (Router<AppState>, OpenApi) {
    let (auth, auth_doc) = OpenApiRouter::new()
        .routes(routes!(auth_routes::register))
        .routes(routes!(auth_routes::login))
        .routes(routes!(auth_routes::refresh))
        .routes(routes!(auth_routes::logout))
        .routes(routes!(auth_routes::logout_all))
        .routes(routes!(auth_routes::session))
        .routes(routes!(auth_routes::sessions))
        .routes(routes!(auth_routes::end_session))
        .routes(routes!(auth_routes::change_password))
        .routes(routes!(openapi::document))
        .split_for_parts();
    let auth = auth
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT));

    let (router, doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::jwks))
        .routes(routes!(discovery::openid_configuration))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(observe::metrics))
        .split_for_parts();
    let router = router
        .nest("/api/auth", auth)
        // Answers 404 `not_found` itself when no upstream is configured.
        .route("/api/{*rest}", any(gateway::api));
    (router, doc.nest("/api/auth", auth_doc))
}

/// The full router.
pub fn router(state: AppState) -> Router {
    let (routes, doc) = routes();
    let document = doc.to_json().unwrap_or_else(|e| {
        // Serialising a tree of strings and maps does not fail; should it
        // anyway, the service is still worth running without its document.
        tracing::error!(error = %e, "could not serialise the OpenAPI document");
        String::from("{}")
    });
    // The pages are for people, not part of the API or its document.
    let routes = match state.ui {
        Some(ui) => routes.merge(crate::ui::router(ui)),
        None => routes,
    };
    let routes = if state.gateway.has_frontend() {
        routes.fallback(gateway::frontend)
    } else {
        routes.fallback(not_found)
    };
    routes
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), admit))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::Internal.into_response()
        }))
        .layer(Extension(openapi::OpenApiJson(document.into())))
        // Outside the panic guard, so that a panic is counted and logged as
        // the 500 it became. One layer for the id, the span, the count and
        // the access log: every layer costs every request a boxed future.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::front,
        ))
        .with_state(state)
}

/// The checks every request passes before its handler — header sizes, then
/// the cross-site check — and `Cache-Control: no-store` on every
/// `/api/auth/*` answer, refusals included: they concern credentials and
/// must not be cached anywhere.
async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let is_auth = request.uri().path().starts_with("/api/auth/");
    let (parts, body) = request.into_parts();
    let admitted = limits::check(&parts.headers).and_then(|()| csrf::check(&state, &parts));
    let mut response = match admitted {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(refusal) => refusal.into_response(),
    };
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
