//! The server above the three adapters: its state, the router that mounts the
//! API ([`crate::http`]), the gateway ([`crate::gateway`]) and the pages
//! ([`crate::ui`]), the guards every request passes, and the fallbacks.
//!
//! Why a module of its own: the adapters are siblings that must not know
//! one another, yet something has to hold all three and put them behind the
//! same guards. It lives here, above them, and only here; [`crate::app`]
//! above it binds the socket and runs the result.
//!
//! - `admit`: header sizes, the cross-site check (upgrades included), and
//!   the method, `Host` and path a request may ask for (`target`), before
//!   any handler;
//! - `observe`: the request id, the span, the access log (with the failure
//!   behind an error answer, logged once there), the metrics;
//! - the fallbacks: 404 and 405 problems, or the frontend when one is
//!   configured; a panic becomes a 500 problem.

mod admit;
mod csrf;
mod limits;
mod observe;
pub mod request_id;
mod target;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Level;
use utoipa::openapi::OpenApi;

use crate::gateway::{self, Gateway};
use crate::http::{self, openapi::OpenApiJson};
use crate::ui::{self, Ui};
use crate::web::Context;
use crate::web::failure::Failure;
use crate::web::problem::ApiError;

/// Largest request body accepted on `/api/auth/*` and by the pages' forms:
/// far above any real registration, far below anything that costs us to
/// read.
pub const AUTH_BODY_LIMIT: usize = 16 * 1024;

/// The router's state: each handler takes only the part it needs, through
/// `FromRef` (`State<Context>`, `State<Arc<Gateway>>`). Cheap to clone: two
/// reference counts.
#[derive(Clone)]
pub struct AppState {
    /// What every adapter needs: the auth service, the cookie policy, whose
    /// forwarded headers to believe.
    pub web: Context,
    /// Where proxied requests go.
    pub gateway: Arc<Gateway>,
    /// The built-in web UI, unless non-API paths go to a configured frontend.
    pub ui: Option<Ui>,
}

impl FromRef<AppState> for Context {
    fn from_ref(state: &AppState) -> Self {
        state.web.clone()
    }
}

impl FromRef<AppState> for Arc<Gateway> {
    fn from_ref(state: &AppState) -> Self {
        state.gateway.clone()
    }
}

/// Every route, and the OpenAPI document that describes them.
///
/// The adapters register their handlers with `utoipa_axum`'s `routes!`,
/// which reads the method and path from each handler's `#[utoipa::path]`;
/// only the `/api/*` wildcard, which OpenAPI cannot express, is added
/// directly (and described in [`http::openapi::ApiDoc`]).
pub fn routes() -> (Router<AppState>, OpenApi) {
    let (auth, auth_doc) = http::auth_routes().split_for_parts();
    // Unknown `/api/auth/*` paths are ours to refuse, never the upstream's.
    let auth = auth
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT));
    let (router, doc) = http::routes().split_for_parts();
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
        Some(ui) => routes.merge(ui::router(ui).layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT))),
        None => routes,
    };
    let routes = if state.gateway.has_frontend() {
        routes.fallback(gateway::frontend)
    } else {
        routes.fallback(not_found)
    };
    routes
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.web.clone(),
            admit::admit,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            Failure::new(Level::ERROR, "a request handler panicked")
                .attach(ApiError::Internal.into_response())
        }))
        .layer(Extension(OpenApiJson(document.into())))
        // Outside the panic guard, so that a panic is counted and logged as
        // the 500 it became. One layer for the id, the span, the count and
        // the access log: every layer costs every request a boxed future.
        .layer(axum::middleware::from_fn_with_state(
            state.web.clone(),
            observe::front,
        ))
        .with_state(state)
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}
