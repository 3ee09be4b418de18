//! What a request may ask for before any route sees it: its method, its
//! `Host` and its path.
//!
//! Portcullis routes on the path as received, then forwards it unchanged;
//! the server behind may read the same path differently. Express, NestJS,
//! Spring and most frameworks collapse `//`, resolve `.` and `..`, decode
//! `%2e`, `%2f` and `%5c`, and Tomcat cuts `;params` off a segment before
//! it routes; ASP.NET routes without regard to case. Then
//! `/api/notes/..%2fauth/x` is a gateway path here and an auth path there,
//! and reaches it with the caller's token. Rather than guess each
//! normalisation, anything that one of them could read as another path is
//! refused, for the API, the frontend and Portcullis's own routes alike: an
//! empty segment (except a trailing `/`), a segment that decodes (once or
//! more) to `.` or `..` (with or without `;params`), an encoded `/` or `\`,
//! a raw `\`, an encoded NUL, and `/api` or `/api/auth` spelled any other
//! way. The query string is never looked at.
//!
//! `TRACE` (and IIS's `TRACK`) would echo the request, cookies and the
//! attached token included, and `CONNECT` would open a raw tunnel; neither is
//! passed on. An HTTP/2 `CONNECT` that opens a WebSocket (RFC 8441) is the
//! one exception.
//!
//! A `Host` that is not a host and port, or two of them, is refused as RFC
//! 9112 §3.2 asks; the same rule reads a request's own origin and what the
//! upstream is told in `X-Forwarded-Host`.

use std::borrow::Cow;

use axum::http::request::Parts;
use axum::http::{Method, header};
use percent_encoding::percent_decode;

use crate::web::client::is_host_and_port;
use crate::web::problem::ApiError;
use crate::web::upgrade::Upgrade;

/// How many rounds of percent-decoding a segment gets: an upstream that
/// decodes twice (a proxy, then the framework) must not find a `..` either.
const DECODE_ROUNDS: usize = 3;

/// Refuses a request whose method, `Host`, path or upgrade Portcullis does
/// not pass on.
pub fn check(parts: &Parts, upgrade: Upgrade) -> Result<(), ApiError> {
    let tunnelling_method = parts.method == Method::CONNECT && upgrade.is_websocket();
    if matches!(parts.method.as_str(), "TRACE" | "TRACK" | "CONNECT") && !tunnelling_method {
        return Err(ApiError::MethodNotAllowed);
    }
    check_host(parts)?;
    if let Some(detail) = path_refusal(parts.uri.path()) {
        return Err(ApiError::RefusedRequest(detail));
    }
    if let Upgrade::Refused(detail) = upgrade {
        return Err(ApiError::RefusedRequest(detail));
    }
    Ok(())
}

fn check_host(parts: &Parts) -> Result<(), ApiError> {
    let refused = ApiError::RefusedRequest("the `Host` is not one host and port");
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    if let Some(host) = hosts.next() {
        let valid = host.to_str().is_ok_and(is_host_and_port);
        if !valid || hosts.next().is_some() {
            return Err(refused);
        }
    }
    // The request target's own authority: HTTP/2's `:authority`, or an
    // HTTP/1.1 request in absolute form.
    if let Some(authority) = parts.uri.authority()
        && !is_host_and_port(authority.as_str())
    {
        return Err(refused);
    }
    Ok(())
}

/// Why a path is refused, if it is.
fn path_refusal(path: &str) -> Option<&'static str> {
    const EMPTY: &str = "the path has an empty segment (`//`)";
    const DOTS: &str = "the path has a `.` or `..` segment, plain or encoded";
    const SEPARATOR: &str = "the path has a `\\`, or an encoded `/`, `\\` or NUL";
    const SPELLING: &str = "`/api` and `/api/auth` are spelled only that way, in lower case";

    if path == "*" {
        // `OPTIONS *`: the server as a whole, not a path.
        return None;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Some(EMPTY);
    };
    // Whether the first segment reads as `api` to a normalising server.
    let mut under_api = false;
    let mut segments = rest.split('/').enumerate().peekable();
    while let Some((i, raw)) = segments.next() {
        if raw.is_empty() {
            if segments.peek().is_none() {
                break;
            }
            return Some(EMPTY);
        }
        if raw.contains('\\') {
            return Some(SEPARATOR);
        }
        let decoded = decode(raw);
        if decoded.iter().any(|b| matches!(b, b'/' | b'\\' | 0)) {
            return Some(SEPARATOR);
        }
        let name = decoded.split(|b| *b == b';').next().unwrap_or_default();
        if name == b"." || name == b".." {
            return Some(DOTS);
        }
        let (word, reads) = match i {
            0 => ("api", name.eq_ignore_ascii_case(b"api")),
            1 => ("auth", under_api && name.eq_ignore_ascii_case(b"auth")),
            _ => continue,
        };
        if reads && raw != word {
            return Some(SPELLING);
        }
        under_api = i == 0 && reads;
    }
    None
}

/// A segment percent-decoded until nothing changes, at most
/// [`DECODE_ROUNDS`] times.
fn decode(segment: &str) -> Cow<'_, [u8]> {
    let mut bytes = Cow::Borrowed(segment.as_bytes());
    for _ in 0..DECODE_ROUNDS {
        if !bytes.contains(&b'%') {
            break;
        }
        let next: Vec<u8> = percent_decode(&bytes).collect();
        if next == *bytes {
            break;
        }
        bytes = Cow::Owned(next);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    #[test]
    fn paths_a_normalising_server_would_read_otherwise_are_refused() {
        for path in [
            "/api//auth/x",
            "//api/notes",
            "/api/a/../auth/x",
            "/api/./auth/x",
            "/api/%2e%2e/auth/x",
            "/api/.%2E/auth/x",
            "/api/%252e%252e/auth/x",
            "/api/..;/auth/x",
            "/api/x/.;a=b/y",
            "/api/auth%2fx",
            "/api/auth%2Fx",
            "/api/notes%5c..%5cauth",
            "/api/notes\\..\\auth",
            "/api/notes%00.json",
            "/api/%252f",
            "/API/notes",
            "/%61pi/notes",
            "/api/Auth/session",
            "/api/auth;x/session",
            "/api/%61uth/session",
            "/..",
            "/.",
            "relative",
        ] {
            assert!(path_refusal(path).is_some(), "{path} passed");
        }
    }

    #[test]
    fn ordinary_paths_pass_frontend_ones_included() {
        for path in [
            "/",
            "*",
            "/api/notes",
            "/api/notes/",
            "/api/auth/session",
            "/api/auth",
            "/api/authors",
            "/apis/x",
            "/_next/static/chunks/app/%5Bid%5D/page-0a1b.js",
            "/_next/data/build/en/index.json",
            "/blog/2024/hello-world",
            "/files/report%2Epdf",
            "/a.b/c..d/...",
            "/search/100%25",
            "/users/%E2%9C%93",
            "/dashboard/",
        ] {
            assert_eq!(path_refusal(path), None, "{path}");
        }
    }

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.body(()).expect("request").into_parts().0
    }

    #[test]
    fn trace_track_and_plain_connect_are_not_allowed() {
        for method in ["TRACE", "TRACK", "CONNECT"] {
            let p = parts(method, "/api/notes", &[("host", "app.test")]);
            let refused = check(&p, Upgrade::of(&p));
            assert!(
                matches!(refused, Err(ApiError::MethodNotAllowed)),
                "{method}"
            );
        }
        let p = parts("GET", "/api/notes", &[("host", "app.test")]);
        assert!(check(&p, Upgrade::of(&p)).is_ok());
    }

    #[test]
    fn a_host_that_is_not_one_host_and_port_is_refused() {
        for headers in [
            &[("host", "evil.test/x")][..],
            &[("host", "a@b.test")],
            &[("host", "app.test"), ("host", "evil.test")],
        ] {
            let p = parts("GET", "/", headers);
            assert!(
                matches!(check(&p, Upgrade::None), Err(ApiError::RefusedRequest(_))),
                "{headers:?}"
            );
        }
        let p = parts("GET", "/", &[]);
        assert!(check(&p, Upgrade::None).is_ok(), "no Host (HTTP/1.0)");
    }
}
