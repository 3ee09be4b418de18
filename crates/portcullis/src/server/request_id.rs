//! Request ids: one per request, on every log line it causes, echoed in the
//! response and handed to the upstream, so that one id follows a request
//! through the browser, Portcullis and the API behind it.
//!
//! An incoming `X-Request-Id` (from a load balancer, or a client retrying) is
//! kept only when it is short and made of safe characters: the id is written
//! into logs and forwarded headers, and an attacker-chosen value there could
//! forge log lines or bloat every record. Anything else is replaced by a
//! fresh UUID.
//!
//! The id is available to every later layer and handler as the [`RequestId`]
//! request extension, and the request's own `X-Request-Id` header is set to
//! it, so a proxy that copies request headers forwards the checked id.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use uuid::Uuid;

/// The header that carries the id, in both directions.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming id accepted: room for a UUID, a ULID or a trace id with
/// a prefix.
const MAX_LEN: usize = 64;

/// The id of the request being served: read it with
/// `request.extensions().get::<RequestId>()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A fresh random id.
    fn generate() -> Self {
        // Written on the stack, copied once into the header value.
        let mut buffer = Uuid::encode_buffer();
        let id = Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
        // A hyphenated UUID is ASCII hex digits and hyphens: a valid header value.
        Self(
            HeaderValue::from_bytes(id.as_bytes())
                .unwrap_or_else(|_| HeaderValue::from_static("invalid")),
        )
    }

    /// The id received, when it is well-formed.
    fn accept(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        let well_formed = (1..=MAX_LEN).contains(&bytes.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        well_formed.then(|| Self(value.clone()))
    }

    /// The id as text (always ASCII).
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored: see `accept` and `generate`.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value, e.g. to forward it upstream.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Assigns the request its id (header and extension) and returns it, for
/// the response to echo.
pub fn assign(request: &mut Request) -> RequestId {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(RequestId::accept)
        .unwrap_or_else(RequestId::generate);
    request
        .headers_mut()
        .insert(X_REQUEST_ID, id.header_value().clone());
    request.extensions_mut().insert(id.clone());
    id
}

/// Echoes the request's id in its response.
pub fn echo(response: &mut Response, id: RequestId) {
    response.headers_mut().insert(X_REQUEST_ID, id.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids_are_kept_and_others_refused() {
        for good in ["abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "req_01.x"] {
            let value = HeaderValue::from_static(good);
            assert_eq!(
                RequestId::accept(&value).map(|id| id.to_string()),
                Some(good.into())
            );
        }
        let long = "a".repeat(MAX_LEN + 1);
        for bad in ["", "has space", "new\tline", "quote\"", "é", long.as_str()] {
            let Ok(value) = HeaderValue::from_bytes(bad.as_bytes()) else {
                continue;
            };
            assert_eq!(RequestId::accept(&value), None, "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_uuids() {
        let id = RequestId::generate();
        assert!(Uuid::parse_str(id.as_str()).is_ok(), "{id}");
    }
}
