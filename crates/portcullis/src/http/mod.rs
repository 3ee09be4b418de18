//! The JSON API: the `/api/auth/*` handlers, and the operations endpoints
//! beside them — health, the public keys, discovery, metrics and the OpenAPI
//! document. It only translates between HTTP and the auth service; what it
//! shares with the gateway and the pages (problems, cookies, the session
//! check) is in [`crate::web`], and where it is mounted is up to
//! [`crate::server`].

mod auth_routes;
pub mod bodies;
mod discovery;
mod health;
mod json;
mod metrics;
mod mfa_routes;
mod oidc_routes;
pub mod openapi;
mod passkey_routes;
mod recovery_routes;

use axum::extract::FromRef;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::web::Context;

/// The `/api/auth/*` routes, relative to `/api/auth`, each with its
/// description.
pub fn auth_routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Context: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(auth_routes::register))
        .routes(routes!(auth_routes::login))
        .routes(routes!(auth_routes::refresh))
        .routes(routes!(auth_routes::logout))
        .routes(routes!(auth_routes::logout_all))
        .routes(routes!(auth_routes::session))
        .routes(routes!(auth_routes::sessions))
        .routes(routes!(auth_routes::end_session))
        .routes(routes!(auth_routes::change_password))
        .routes(routes!(recovery_routes::forgot_password))
        .routes(routes!(recovery_routes::reset_password))
        .routes(routes!(recovery_routes::verify_email))
        .routes(routes!(recovery_routes::resend_verification))
        .routes(routes!(recovery_routes::change_email))
        .routes(routes!(oidc_routes::providers))
        .routes(routes!(oidc_routes::start))
        .routes(routes!(oidc_routes::callback))
        .routes(routes!(oidc_routes::link, oidc_routes::unlink))
        .routes(routes!(oidc_routes::identities))
        .routes(routes!(mfa_routes::verify))
        .routes(routes!(mfa_routes::begin_totp, mfa_routes::remove_totp))
        .routes(routes!(mfa_routes::confirm_totp))
        .routes(routes!(mfa_routes::regenerate_recovery_codes))
        .routes(routes!(mfa_routes::second_factors))
        .routes(routes!(mfa_routes::reauthenticate))
        .routes(routes!(passkey_routes::begin_registration))
        .routes(routes!(passkey_routes::finish_registration))
        .routes(routes!(passkey_routes::list))
        .routes(routes!(passkey_routes::rename, passkey_routes::delete))
        .routes(routes!(passkey_routes::begin_sign_in))
        .routes(routes!(passkey_routes::finish_sign_in))
        .routes(routes!(passkey_routes::begin_second_factor))
        .routes(routes!(passkey_routes::begin_reauthentication))
        .routes(routes!(openapi::document))
}

/// The operations routes, at the root, in the document that also holds what
/// belongs to no single handler ([`openapi::ApiDoc`]).
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Context: FromRef<S>,
{
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::jwks))
        .routes(routes!(discovery::openid_configuration))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::metrics))
}
