//! Switching protocols (WebSocket): once the upstream has answered 101, the
//! browser's connection and the upstream's are spliced together and bytes are
//! copied both ways until either side closes — or until the session the
//! tunnel was opened with ends.
//!
//! A tunnel opened with a session (every one on `/api/*`, and those to the
//! frontend when `frontend_token` attached a token) waits on a
//! [`SessionWatch`] beside its traffic: when the session is revoked, on any
//! instance, or its access token runs out without a live session behind it,
//! both connections are closed. Only bytes are copied, never parsed, so the
//! tunnel cannot slip a WebSocket close frame between the upstream's frames:
//! the browser sees the connection drop (close code 1006) and reconnects,
//! which with a dead session fails the handshake with 401. A tunnel opened
//! without a session (a dev server's live reload) is bound to nothing.
//!
//! Browsers may also open a WebSocket as an HTTP/2 stream (RFC 8441's
//! extended `CONNECT`). The upstream is always spoken to in HTTP/1.1, so the
//! stream's request becomes an HTTP/1.1 handshake (a `GET` with its own
//! `Sec-WebSocket-Key`), and the upstream's 101 becomes the 200 that opens
//! the stream.

use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header, response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::auth::{SessionEnd, SessionWatch};
use crate::telemetry::{Metrics, TunnelEnd};

/// Turns an HTTP/2 extended `CONNECT` into the HTTP/1.1 handshake the
/// upstream expects: a `GET` with a fresh `Sec-WebSocket-Key`
/// (`Connection` and `Upgrade` are added with the other headers). The
/// browser's `Sec-WebSocket-Version`, `-Protocol` and `-Extensions` pass
/// as they are, as RFC 8441 §5 asks.
pub fn as_http1_handshake(parts: &mut Parts) -> Result<(), getrandom::Error> {
    let mut key = [0u8; 16];
    getrandom::fill(&mut key)?;
    parts.method = Method::GET;
    // Base64 is always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&STANDARD.encode(key)) {
        parts.headers.insert(header::SEC_WEBSOCKET_KEY, value);
    }
    Ok(())
}

/// The upstream's 101 as an HTTP/2 stream's answer: 200, without the
/// headers of the HTTP/1.1 handshake, which HTTP/2 has no use for (the
/// hop-by-hop ones have already gone).
pub fn as_http2_answer(head: &mut response::Parts) {
    head.status = StatusCode::OK;
    head.headers.remove(header::SEC_WEBSOCKET_ACCEPT);
}

/// Spawns the splice. `client` completes once our answer has reached the
/// browser; the upstream's side is taken from its 101 answer. With a
/// `watch`, the tunnel closes when that session ends.
pub fn tunnel(
    client: OnUpgrade,
    upstream_response: &mut axum::http::Response<Incoming>,
    watch: Option<SessionWatch>,
    metrics: Metrics,
) {
    let upstream = hyper::upgrade::on(upstream_response);
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(both) => both,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade abandoned");
                return;
            }
        };
        let _open = metrics.tunnel_opened();
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        let copy = tokio::io::copy_bidirectional(&mut client, &mut upstream);
        let end = match watch {
            None => {
                copied(copy.await);
                TunnelEnd::Closed
            }
            Some(mut watch) => tokio::select! {
                result = copy => {
                    copied(result);
                    TunnelEnd::Closed
                }
                ended = watch.ended() => match ended {
                    SessionEnd::Revoked => TunnelEnd::Revoked,
                    SessionEnd::Expired => TunnelEnd::Expired,
                },
            },
        };
        if end != TunnelEnd::Closed {
            tracing::info!(reason = ?end, "tunnel closed: its session ended");
        }
        metrics.tunnel_closed(end);
        // Both connections close as `client` and `upstream` drop here.
    });
}

/// Ends when either side closes; an error is a dropped connection, which
/// ends the tunnel just the same.
fn copied(result: std::io::Result<(u64, u64)>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "upgraded connection ended");
    }
}
