//! Requests that ask to switch protocols, read the same way by the guards
//! that admit them and by the gateway that tunnels them.
//!
//! Only WebSockets are tunnelled: over HTTP/1.1 a `GET` whose `Connection`
//! names `upgrade` and whose `Upgrade` is the single token `websocket`; over
//! HTTP/2 an extended `CONNECT` (RFC 8441) whose `:protocol` is `websocket`.
//! Anything else that asks to switch is refused rather than passed on:
//! `Upgrade: h2c` in particular would hand the client an HTTP/2 connection
//! straight to the upstream, on which it could send requests that never pass
//! through the gateway's checks ("h2c smuggling"). An `Upgrade` header
//! without `upgrade` in `Connection` is not a request to switch (RFC 9110
//! §7.8) and is dropped with the other hop-by-hop headers.

use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};

/// What a request asks for, as far as switching protocols goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrade {
    /// An ordinary request.
    None,
    /// A WebSocket handshake over HTTP/1.1 (`Upgrade: websocket`).
    WebSocket,
    /// A WebSocket over HTTP/2: an extended `CONNECT` with
    /// `:protocol = websocket`.
    WebSocketOverHttp2,
    /// A switch Portcullis does not make; says why, for the problem's detail.
    Refused(&'static str),
}

impl Upgrade {
    /// Reads a request's head.
    pub fn of(parts: &Parts) -> Self {
        if parts.method == Method::CONNECT {
            return match parts.extensions.get::<hyper::ext::Protocol>() {
                Some(p) if p.as_str().eq_ignore_ascii_case("websocket") => {
                    Upgrade::WebSocketOverHttp2
                }
                Some(_) => Upgrade::Refused("only the websocket protocol is tunnelled"),
                // A plain `CONNECT` is not an upgrade: the method check refuses it.
                None => Upgrade::None,
            };
        }
        if !asks_to_upgrade(&parts.headers) {
            return Upgrade::None;
        }
        let mut protocols = parts
            .headers
            .get_all(header::UPGRADE)
            .iter()
            // A value that is not text names no protocol we would switch to.
            .map(|v| v.to_str().unwrap_or("\u{0}"))
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let only = match (protocols.next(), protocols.next()) {
            (Some(only), None) => only,
            (None, _) => return Upgrade::Refused("`Connection: upgrade` without an `Upgrade`"),
            (Some(_), Some(_)) => {
                return Upgrade::Refused("only `Upgrade: websocket` is tunnelled, alone");
            }
        };
        if !only.eq_ignore_ascii_case("websocket") {
            return Upgrade::Refused("only `Upgrade: websocket` is tunnelled");
        }
        if parts.method != Method::GET {
            return Upgrade::Refused("a WebSocket handshake is a GET request");
        }
        Upgrade::WebSocket
    }

    /// Whether the request asks to switch protocols at all, WebSocket or not.
    pub fn is_requested(self) -> bool {
        self != Upgrade::None
    }

    /// Whether it is a WebSocket to tunnel.
    pub fn is_websocket(self) -> bool {
        matches!(self, Upgrade::WebSocket | Upgrade::WebSocketOverHttp2)
    }
}

/// Whether `Connection` names `upgrade` (in any case, in any of its lines).
pub fn asks_to_upgrade(headers: &HeaderMap) -> bool {
    connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

/// The tokens of every `Connection` line. A line that is not text names
/// nothing we could act on.
pub fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn of(method: Method, pairs: &[(&'static str, &str)]) -> Upgrade {
        let mut request = Request::builder().method(method).uri("/ws");
        for (k, v) in pairs {
            request = request.header(*k, *v);
        }
        let (parts, ()) = request.body(()).expect("request").into_parts();
        Upgrade::of(&parts)
    }

    #[test]
    fn a_websocket_handshake_is_recognised_in_any_case() {
        for (connection, upgrade) in [
            ("Upgrade", "websocket"),
            ("keep-alive, upgrade", "WebSocket"),
            ("UPGRADE", " websocket "),
        ] {
            let u = of(
                Method::GET,
                &[("connection", connection), ("upgrade", upgrade)],
            );
            assert_eq!(u, Upgrade::WebSocket, "{connection} / {upgrade}");
        }
    }

    #[test]
    fn other_protocols_several_protocols_and_non_get_handshakes_are_refused() {
        for (method, pairs) in [
            (
                Method::GET,
                &[
                    ("connection", "Upgrade, HTTP2-Settings"),
                    ("upgrade", "h2c"),
                ][..],
            ),
            (
                Method::GET,
                &[("connection", "upgrade"), ("upgrade", "websocket, h2c")],
            ),
            (
                Method::GET,
                &[
                    ("connection", "upgrade"),
                    ("upgrade", "websocket"),
                    ("upgrade", "h2c"),
                ],
            ),
            (
                Method::GET,
                &[("connection", "upgrade"), ("upgrade", "TLS/1.2")],
            ),
            (Method::GET, &[("connection", "upgrade")]),
            (
                Method::POST,
                &[("connection", "upgrade"), ("upgrade", "websocket")],
            ),
        ] {
            assert!(
                matches!(of(method.clone(), pairs), Upgrade::Refused(_)),
                "{method} {pairs:?}"
            );
        }
    }

    #[test]
    fn an_upgrade_header_not_named_in_connection_asks_for_nothing() {
        assert_eq!(of(Method::GET, &[("upgrade", "h2c")]), Upgrade::None);
        assert_eq!(of(Method::GET, &[]), Upgrade::None);
    }

    #[test]
    fn an_extended_connect_is_a_websocket_only_for_that_protocol() {
        let connect = |protocol: &'static str| {
            let (parts, ()) = Request::builder()
                .method(Method::CONNECT)
                .uri("/ws")
                .extension(hyper::ext::Protocol::from_static(protocol))
                .body(())
                .expect("request")
                .into_parts();
            Upgrade::of(&parts)
        };
        assert_eq!(connect("websocket"), Upgrade::WebSocketOverHttp2);
        assert!(matches!(connect("webtransport"), Upgrade::Refused(_)));
        assert_eq!(of(Method::CONNECT, &[]), Upgrade::None);
    }
}
