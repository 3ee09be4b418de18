//! Request header limits, checked before any handler reads a header.
//!
//! hyper already refuses a request whose head does not fit its read buffer;
//! these lower bounds turn an oversized head into a clear 431 problem and keep
//! every later parser (cookies, tokens, JSON) working on bounded input.

use axum::http::{HeaderMap, header};

use crate::web::problem::ApiError;

/// Largest total size of all header names and values.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Largest total size of the `Cookie` header(s): browsers cap one cookie at
/// 4 KiB; this leaves room for an app's cookies beside ours.
pub const MAX_COOKIE_BYTES: usize = 16 * 1024;

/// The refusal for headers or cookies larger than the limits, if they are.
pub fn check(headers: &HeaderMap) -> Result<(), ApiError> {
    let total: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    let cookies: usize = headers
        .get_all(header::COOKIE)
        .iter()
        .map(|v| v.len())
        .sum();
    if total > MAX_HEADER_BYTES || cookies > MAX_COOKIE_BYTES {
        return Err(ApiError::HeadersTooLarge);
    }
    Ok(())
}
