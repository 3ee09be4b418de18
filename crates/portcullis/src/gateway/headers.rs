//! What changes in a request's head on its way upstream, and in the answer's
//! head on its way back.
//!
//! Everything that describes the request itself passes unchanged. What goes:
//!
//! - hop-by-hop headers (RFC 9110 §7.6.1): `Connection`, the headers it names,
//!   and the classic list (`Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding`,
//!   `Upgrade`, `Proxy-Authorization`, `Proxy-Connection`). They describe the
//!   browser's connection to us, not ours to the upstream; passing them on lets
//!   a client steer our connection pool (`Connection: close`) or hide headers
//!   from us. A WebSocket handshake gets `Connection: upgrade` and
//!   `Upgrade: websocket` back, since upgrading is the point; no other
//!   protocol is ever asked of the upstream (see [`crate::web::upgrade`]);
//! - Portcullis's own cookies: the upstream gets the token in the one place
//!   configured for it, never the refresh token;
//! - any cookie pair that some parser on the other side could read as the
//!   configured token cookie (see [`could_name`]), and any `Authorization`
//!   the browser sent when the token is attached, or
//!   when it looks like a token (`Bearer`, or a JWT) even if no token is
//!   attached: a page must not choose the identity the API or the frontend
//!   sees, signed in or not;
//! - `X-Forwarded-*`, `Forwarded` and `X-Real-IP` from anyone but a trusted
//!   proxy, since they would let a client pose as another address or scheme.
//!
//! `Host` is set by the client to the upstream's own authority, as a reverse
//! proxy does; the host the browser asked for travels in `X-Forwarded-Host`:
//! the configured public URL's when there is one, else the request's own
//! only if it is a host and port (admission refuses any other).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::auth::tokens::AccessToken;
use crate::web::cookies::CookiePolicy;
use crate::web::upgrade::connection_tokens;

/// How the access token reaches the upstream API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TokenPlacement {
    /// `Authorization: Bearer <jwt>`, the default.
    #[default]
    Bearer,
    /// A cookie of this name, for backends written to read it there (the
    /// NestJS pattern's `accessToken`).
    Cookie(String),
}

/// The client of a request, as the upstream is told in `X-Forwarded-*`.
#[derive(Debug, Clone)]
pub struct Forwarding {
    /// The address the request came from.
    pub peer: Option<IpAddr>,
    /// Whether that address is a trusted proxy, whose chain we extend.
    pub peer_trusted: bool,
    /// The scheme the client used (read through trusted proxies).
    pub scheme: &'static str,
    /// The host to name in `X-Forwarded-Host`: the public URL's, or the
    /// one the client asked for (read through trusted proxies), already
    /// checked to be a host and port.
    pub host: Option<String>,
}

/// Headers that always describe a single hop.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

// The forwarding headers, named once: a header named by a `&str` is parsed
// again on every call.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Rewrites a request's headers for the upstream. `websocket` says the
/// request is a WebSocket handshake to pass on as one. `token` is attached
/// where `placement` says; whatever the browser sent in that place goes,
/// token or not.
pub fn rewrite_request(
    headers: &mut HeaderMap,
    cookies: &CookiePolicy,
    placement: &TokenPlacement,
    token: Option<&AccessToken>,
    forwarding: &Forwarding,
    websocket: bool,
) {
    remove_hop_by_hop(headers);
    if websocket {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    headers.remove(header::HOST);

    // The app's own cookies, rejoined into one header as they are read: one
    // buffer, no list of pairs.
    let mut kept = String::new();
    if headers.contains_key(header::COOKIE) {
        let pairs = cookies
            .foreign_pairs(headers)
            .filter(|pair| match placement {
                TokenPlacement::Cookie(name) => !could_name(pair, name),
                TokenPlacement::Bearer => true,
            });
        for pair in pairs {
            if !kept.is_empty() {
                kept.push_str("; ");
            }
            kept.push_str(pair);
        }
    }
    let forged = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .any(is_token_shaped);
    if token.is_some() || forged {
        headers.remove(header::AUTHORIZATION);
    }
    match (placement, token) {
        (TokenPlacement::Bearer, Some(token)) => {
            let token = token.expose();
            let mut value = String::with_capacity(BEARER.len() + token.len());
            value.push_str(BEARER);
            value.push_str(token);
            // Moved into the header, not copied.
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(header::AUTHORIZATION, value);
            }
        }
        (TokenPlacement::Cookie(name), Some(token)) => {
            if !kept.is_empty() {
                kept.push_str("; ");
            }
            kept.push_str(name);
            kept.push('=');
            kept.push_str(token.expose());
        }
        (_, None) => {}
    }
    headers.remove(header::COOKIE);
    if !kept.is_empty()
        && let Ok(value) = HeaderValue::try_from(kept)
    {
        headers.insert(header::COOKIE, value);
    }

    set_forwarded(headers, forwarding);
}

/// The scheme of the `Authorization` header the token travels in.
const BEARER: &str = "Bearer ";

/// Whether some cookie parser could read the pair (one `;`-separated piece
/// of a `Cookie` header) as a cookie called `name`, so that it must not
/// reach the upstream beside the gateway's own.
///
/// The parsers disagree, and each disagreement is a way to smuggle a second
/// token past a byte-for-byte comparison: Express's `cookie` trims spaces
/// and tabs around a name (older versions, and NestJS's `cookie-parser` on
/// them, any JavaScript whitespace); Go and Next.js's edge runtime trim
/// nothing; Python's `http.cookies` also splits on whitespace, ASP.NET Core
/// on `,` and compares names without regard to case; actix-web decodes
/// `%XX` in names. Some take the first value of a name, others (Next.js,
/// Python, ASP.NET Core) the last, so the only safe upstream view is one
/// where the gateway's cookie is the only one. A pair is therefore caught
/// when, after percent-decoding, `name` appears in it in any ASCII case,
/// not glued to a preceding name character (`myaccessToken` is another
/// cookie), and followed, past spaces, tabs and quotes, by `=`, `,`, `;` or
/// the end of the pair. This also catches the name inside another pair's
/// value (`theme=x accessToken=…`, `theme=x,accessToken=…`) and a pair
/// without `=` at all. It may catch an innocent cookie whose value happens
/// to spell `accessToken=`; that cookie is lost, which is the lesser harm.
/// (Bytes outside ASCII never get this far: [`CookiePolicy::foreign_pairs`] drops a
/// `Cookie` header that is not plain text, so whitespace that only Unicode-
/// aware trimming would remove cannot hide a name either.)
fn could_name(pair: &str, name: &str) -> bool {
    // Borrowed unless there is something to decode.
    let decoded: Cow<'_, [u8]> = percent_encoding::percent_decode_str(pair).into();
    let name = name.as_bytes();
    if name.is_empty() || decoded.len() < name.len() {
        return false;
    }
    (0..=decoded.len() - name.len()).any(|at| {
        if !decoded[at..at + name.len()].eq_ignore_ascii_case(name) {
            return false;
        }
        let glued_before = at > 0 && is_name_byte(decoded[at - 1]);
        let after = decoded[at + name.len()..]
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'"'));
        !glued_before && after.is_none_or(|b| matches!(b, b'=' | b',' | b';'))
    })
}

/// A byte that can be part of a cookie name (an RFC 9110 token character).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether an `Authorization` value could pass for a token to an app that
/// reads one there: the `Bearer` scheme in any case, or any word shaped like
/// a compact JWS or JWE (three or five dot-separated base64url segments).
/// Other schemes (`Basic` for a staging site, say) pass. A value that is not
/// text cannot be judged and counts as a token.
fn is_token_shaped(value: &HeaderValue) -> bool {
    let Ok(text) = value.to_str() else {
        return true;
    };
    let mut words = text.split(|c: char| c.is_ascii_whitespace() || c == ',');
    let scheme = words.next().unwrap_or_default();
    scheme.eq_ignore_ascii_case("bearer")
        || std::iter::once(scheme).chain(words).any(|word| {
            let segments: Vec<&str> = word.split('.').collect();
            matches!(segments.len(), 3 | 5)
                && !segments[0].is_empty()
                && segments.iter().all(|s| {
                    s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
                })
        })
}

/// Rewrites the upstream's answer for the browser: hop-by-hop headers out
/// (except on a switch of protocols), and no `Set-Cookie` for Portcullis's own
/// cookies, which only Portcullis sets.
pub fn rewrite_response(headers: &mut HeaderMap, cookies: &CookiePolicy, upgraded: bool) {
    if !upgraded {
        remove_hop_by_hop(headers);
        headers.remove(header::UPGRADE);
    }
    cookies.remove_set_cookies_of_ours(headers);
}

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Most requests have no `Connection` header (HTTP/1.1 keeps alive by
    // default): then there is nothing it names to collect.
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = connection_tokens(headers)
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

fn set_forwarded(headers: &mut HeaderMap, forwarding: &Forwarding) {
    // The chain so far is kept only when it comes from a proxy we trust.
    let mut chain = String::new();
    if forwarding.peer_trusted {
        for value in headers.get_all(&X_FORWARDED_FOR) {
            if let Ok(text) = value.to_str() {
                if !chain.is_empty() {
                    chain.push_str(", ");
                }
                chain.push_str(text);
            }
        }
    } else {
        headers.remove(header::FORWARDED);
        headers.remove(X_REAL_IP);
    }
    headers.remove(&X_FORWARDED_FOR);
    headers.remove(&X_FORWARDED_PROTO);
    headers.remove(&X_FORWARDED_HOST);
    if let Some(peer) = forwarding.peer {
        if !chain.is_empty() {
            chain.push_str(", ");
        }
        // Writing to a `String` cannot fail.
        let _ = write!(chain, "{peer}");
    }
    if !chain.is_empty()
        && let Ok(value) = HeaderValue::try_from(chain)
    {
        headers.insert(X_FORWARDED_FOR, value);
    }
    headers.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(forwarding.scheme),
    );
    if let Some(host) = forwarding.host.as_deref()
        && let Ok(value) = HeaderValue::from_str(host)
    {
        headers.insert(X_FORWARDED_HOST, value);
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

    fn from(peer: &str, trusted: bool) -> Forwarding {
        Forwarding {
            peer: Some(peer.parse().expect("ip")),
            peer_trusted: trusted,
            scheme: "https",
            host: Some("app.test".into()),
        }
    }

    fn token() -> AccessToken {
        AccessToken::presented("eyJ.token.sig")
    }

    #[test]
    fn hop_by_hop_headers_and_those_named_in_connection_are_removed() {
        let mut h = headers(&[
            ("connection", "keep-alive, X-Secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("proxy-authorization", "Basic eDp5"),
            ("upgrade", "h2c"),
            ("accept", "application/json"),
        ]);
        rewrite_request(
            &mut h,
            &CookiePolicy::new(true),
            &TokenPlacement::Bearer,
            None,
            &from("1.2.3.4", false),
            false,
        );
        let names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        for gone in [
            "connection",
            "keep-alive",
            "x-secret",
            "te",
            "trailer",
            "transfer-encoding",
            "proxy-authorization",
            "upgrade",
        ] {
            assert!(!names.contains(&gone), "{gone} in {names:?}");
        }
        assert_eq!(h["accept"], "application/json");
    }

    #[test]
    fn a_websocket_handshake_asks_the_upstream_for_a_websocket_only() {
        let mut h = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        rewrite_request(
            &mut h,
            &CookiePolicy::new(true),
            &TokenPlacement::Bearer,
            None,
            &from("1.2.3.4", false),
            true,
        );
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn the_browsers_authorization_is_replaced_by_the_token() {
        let mut h = headers(&[("authorization", "Bearer forged")]);
        let t = token();
        rewrite_request(
            &mut h,
            &CookiePolicy::new(true),
            &TokenPlacement::Bearer,
            Some(&t),
            &from("1.2.3.4", false),
            false,
        );
        assert_eq!(h.get_all("authorization").iter().count(), 1);
        assert_eq!(h["authorization"], "Bearer eyJ.token.sig");
    }

    #[test]
    fn in_cookie_mode_a_forged_token_cookie_is_replaced_and_authorization_dropped() {
        let mut h = headers(&[
            ("authorization", "Bearer forged"),
            (
                "cookie",
                "accessToken=forged; theme=dark; __Host-access_token=a; __Host-refresh_token=r",
            ),
        ]);
        let t = token();
        rewrite_request(
            &mut h,
            &CookiePolicy::new(true),
            &TokenPlacement::Cookie("accessToken".into()),
            Some(&t),
            &from("1.2.3.4", false),
            false,
        );
        assert!(h.get("authorization").is_none());
        assert_eq!(h["cookie"], "theme=dark; accessToken=eyJ.token.sig");
    }

    #[test]
    fn the_token_cookie_is_matched_as_cookie_parsers_trim_its_name() {
        let mut h = headers(&[(
            "cookie",
            "accessToken =a; \taccessToken=b;theme=dark; accessToken\t=c; accessToken; accessTokens=d",
        )]);
        let placement = TokenPlacement::Cookie("accessToken".into());
        rewrite_request(
            &mut h,
            &CookiePolicy::new(true),
            &placement,
            None,
            &from("1.2.3.4", false),
            false,
        );
        assert_eq!(h["cookie"], "theme=dark; accessTokens=d");
    }

    #[test]
    fn every_spelling_some_parser_reads_as_the_token_cookie_is_caught() {
        for pair in [
            "accessToken=x",
            "accessToken =x",
            "accessToken\t=x",
            "AccessToken=x",
            "ACCESSTOKEN=x",
            "access%54oken=x",
            "%61ccessToken=x",
            "\"accessToken\"=x",
            "accessToken",
            "accessToken,theme=dark",
            "theme=dark,accessToken=x",
            "theme=dark accessToken=x",
            "theme=\"a accessToken=x\"",
            "theme=dark%20accessToken=x",
            "theme=dark%2caccessToken=x",
        ] {
            assert!(could_name(pair, "accessToken"), "{pair} passed");
        }
        for pair in [
            "accessTokens=x",
            "myaccessToken=x",
            "my_accessToken=x",
            "__Host-accessToken=x",
            "accessTokenExpiry=1700000000",
            "theme=dark",
            "access=x",
            "token=accessTokenish",
        ] {
            assert!(!could_name(pair, "accessToken"), "{pair} caught");
        }
    }

    #[test]
    fn the_gateways_token_is_the_only_cookie_of_its_name_upstream() {
        let mut h = headers(&[
            ("cookie", "AccessToken=a; theme=dark"),
            ("cookie", "x=1, accessToken=b; access%54oken=c"),
        ]);
        let t = token();
        rewrite_request(
            &mut h,
            &CookiePolicy::new(true),
            &TokenPlacement::Cookie("accessToken".into()),
            Some(&t),
            &from("1.2.3.4", false),
            false,
        );
        assert_eq!(h.get_all("cookie").iter().count(), 1);
        assert_eq!(h["cookie"], "theme=dark; accessToken=eyJ.token.sig");
    }

    #[test]
    fn without_a_token_only_token_shaped_authorization_is_removed() {
        let shaped = [
            "Bearer abc",
            "bearer",
            "BEARER x.y.z",
            "DPoP eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2ln",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
            "Token a.b.c.d.e",
        ];
        for value in shaped {
            let mut h = headers(&[
                ("authorization", "Basic dXNlcjpwYXNz"),
                ("authorization", value),
            ]);
            rewrite_request(
                &mut h,
                &CookiePolicy::new(true),
                &TokenPlacement::Bearer,
                None,
                &from("1.2.3.4", false),
                false,
            );
            assert!(h.get("authorization").is_none(), "{value} passed");
        }
        for value in ["Basic dXNlcjpwYXNz", "Digest username=\"a.b\", realm=\"x\""] {
            let mut h = headers(&[("authorization", value)]);
            rewrite_request(
                &mut h,
                &CookiePolicy::new(true),
                &TokenPlacement::Bearer,
                None,
                &from("1.2.3.4", false),
                false,
            );
            assert_eq!(h["authorization"], value);
        }
    }

    #[test]
    fn forwarded_headers_from_an_untrusted_peer_are_replaced() {
        let mut h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "evil.test"),
            ("forwarded", "for=6.6.6.6"),
            ("x-real-ip", "6.6.6.6"),
        ]);
        rewrite_request(
            &mut h,
            &CookiePolicy::new(true),
            &TokenPlacement::Bearer,
            None,
            &from("1.2.3.4", false),
            false,
        );
        assert_eq!(h["x-forwarded-for"], "1.2.3.4");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "app.test");
        assert!(h.get("forwarded").is_none() && h.get("x-real-ip").is_none());
    }

    #[test]
    fn a_trusted_proxys_chain_is_extended() {
        let mut h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4")]);
        rewrite_request(
            &mut h,
            &CookiePolicy::new(true),
            &TokenPlacement::Bearer,
            None,
            &from("10.0.0.1", true),
            false,
        );
        assert_eq!(h["x-forwarded-for"], "6.6.6.6, 1.2.3.4, 10.0.0.1");
    }

    #[test]
    fn the_answer_loses_hop_by_hop_headers_and_our_cookies() {
        let mut h = headers(&[
            ("connection", "x-hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("set-cookie", "__Host-access_token=evil; Path=/"),
            ("set-cookie", "theme=dark; Path=/"),
        ]);
        rewrite_response(&mut h, &CookiePolicy::new(true), false);
        assert!(h.get("x-hop").is_none() && h.get("keep-alive").is_none());
        let set: Vec<_> = h.get_all("set-cookie").iter().collect();
        assert_eq!(set, ["theme=dark; Path=/"]);
    }
}
