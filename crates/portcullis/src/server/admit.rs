//! The checks every request passes before its handler.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{csrf, limits, target};
use crate::web::Context;
use crate::web::upgrade::Upgrade;

/// Header sizes (431), then the cross-site check (403), then the method,
/// `Host`, path and upgrade (405, 400); and `Cache-Control: no-store` on
/// every `/api/auth/*` answer, refusals included: they concern credentials
/// and must not be cached anywhere.
pub async fn admit(State(context): State<Context>, request: Request, next: Next) -> Response {
    let is_auth = request.uri().path().starts_with("/api/auth/");
    let (parts, body) = request.into_parts();
    let upgrade = Upgrade::of(&parts);
    let admitted = limits::check(&parts.headers)
        .and_then(|()| csrf::check(&context, &parts, upgrade))
        .and_then(|()| target::check(&parts, upgrade));
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
