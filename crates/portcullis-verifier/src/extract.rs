//! The axum extractor: a handler that takes [`VerifiedClaims`] runs only for a
//! request with a valid token — the equivalent of NestJS's JWT guard.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use portcullis_verifier::{Claims, JwksCache, Validation, VerifiedClaims, Verifier};
//!
//! async fn me(VerifiedClaims(claims): VerifiedClaims) -> Json<Claims> {
//!     Json(claims)
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = JwksCache::new("http://127.0.0.1:8080/.well-known/jwks.json")?;
//! let verifier = Verifier::from_jwks(keys, Validation::new("portcullis", "portcullis"));
//! // The state may be the `Verifier` itself, or any state it can be taken
//! // from with `FromRef`.
//! let app: Router = Router::new().route("/api/me", get(me)).with_state(verifier);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::{Claims, Verifier, VerifyError};

/// The claims of the request's verified access token.
///
/// The token is read from `Authorization: Bearer <jwt>`, or, when the request
/// has no bearer token and the [`Verifier`] names a cookie
/// ([`Verifier::with_token_cookie`]), from that cookie.
#[derive(Debug, Clone)]
pub struct VerifiedClaims(pub Claims);

/// Why a request was refused: answered as 401 with `WWW-Authenticate: Bearer`
/// (RFC 6750) and a problem body with the code `unauthenticated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The request carried no token where the verifier looks.
    #[error("no access token")]
    Missing,
    /// The token was rejected; the reason is for logs, never sent.
    #[error("invalid access token: {0}")]
    Invalid(VerifyError),
}

impl<S> FromRequestParts<S> for VerifiedClaims
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let token = token(&parts.headers, verifier.token_cookie()).ok_or(Rejection::Missing)?;
        verifier
            .verify(token)
            .await
            .map(VerifiedClaims)
            .map_err(Rejection::Invalid)
    }
}

/// The bearer token, else the named cookie's value.
fn token<'a>(headers: &'a HeaderMap, cookie: Option<&str>) -> Option<&'a str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    bearer.or_else(|| {
        let name = cookie?;
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v)
    })
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        // RFC 6750 §3.1: name the error only when a token was presented.
        let challenge = match self {
            Rejection::Missing => r#"Bearer realm="api""#,
            Rejection::Invalid(_) => r#"Bearer realm="api", error="invalid_token""#,
        };
        let body = r#"{"type":"about:blank","title":"Unauthorized","status":401,"code":"unauthenticated"}"#;
        let mut response = (StatusCode::UNAUTHORIZED, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("valid header"));
        }
        h
    }

    #[test]
    fn a_bearer_token_wins_over_the_cookie() {
        let h = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "accessToken=def"),
        ]);
        assert_eq!(token(&h, Some("accessToken")), Some("abc"));
        let h = headers(&[("authorization", "bearer  abc ")]);
        assert_eq!(token(&h, None), Some("abc"));
    }

    #[test]
    fn the_cookie_is_read_only_when_configured() {
        let h = headers(&[("cookie", "theme=dark; accessToken=def")]);
        assert_eq!(token(&h, Some("accessToken")), Some("def"));
        assert_eq!(token(&h, None), None);
        assert_eq!(token(&h, Some("access")), None);
    }

    #[test]
    fn other_schemes_and_empty_values_are_no_token() {
        for h in [
            headers(&[("authorization", "Basic YTpi")]),
            headers(&[("authorization", "Bearer ")]),
            headers(&[("authorization", "Bearer")]),
            headers(&[("cookie", "accessToken=")]),
        ] {
            assert_eq!(token(&h, Some("accessToken")), None, "{h:?}");
        }
    }

    #[test]
    fn a_rejection_is_a_401_with_a_bearer_challenge() {
        let response = Rejection::Invalid(VerifyError::Expired).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="api", error="invalid_token""#
        );
        let missing = Rejection::Missing.into_response();
        assert_eq!(
            missing.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="api""#
        );
    }
}
