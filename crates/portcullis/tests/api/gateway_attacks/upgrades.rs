//! Attack 3: switching to anything but a WebSocket. `Upgrade: h2c` passed
//! on to an upstream that speaks it hands the client an HTTP/2 connection
//! straight to the upstream, on which its requests bypass every check of
//! the gateway ("h2c smuggling"). Only `Upgrade: websocket` is tunnelled;
//! anything else is refused with 400 `invalid_request` and never reaches the
//! upstream. A WebSocket over HTTP/2 (an extended `CONNECT`) is tunnelled,
//! after the same checks as one over HTTP/1.1.

use axum::body::Body;
use hyper::Request;
use hyper::ext::Protocol;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_tungstenite::tungstenite::protocol::Role;

use super::*;
use crate::upstreams::Recorder;

#[tokio::test]
async fn an_h2c_upgrade_or_several_protocols_are_refused_and_never_reach_the_upstream() {
    let recorder = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &recorder.url()),
        ("PORTCULLIS_FRONTEND", &recorder.url()),
    ])
    .await;
    let jar = app.signed_in("ada").await;
    let asks = [
        "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
        "Connection: upgrade\r\nUpgrade: websocket, h2c",
        "Connection: upgrade\r\nUpgrade: h2c\r\nUpgrade: websocket",
        "Connection: upgrade\r\nUpgrade: TLS/1.2",
        "Connection: upgrade",
    ];
    for path in ["/api/things", "/page"] {
        for ask in asks {
            let head = format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\n{}\r\n{ask}",
                app.addr,
                cookie_line(&jar)
            );
            let answer = raw(app.addr, &head).await;
            answer.assert_problem(400, "invalid_request");
            assert!(
                answer.json()["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("websocket") || d.contains("Upgrade")),
                "{}",
                answer.json()
            );
        }
    }
    assert_eq!(recorder.calls(), 0, "the upstream was reached");
}

#[tokio::test]
async fn an_upgrade_header_without_connection_upgrade_is_dropped_not_forwarded() {
    let recorder = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &recorder.url())]).await;
    let jar = app.signed_in("ada").await;
    let head = format!(
        "GET /api/things HTTP/1.1\r\nHost: {}\r\n{}\r\nUpgrade: h2c",
        app.addr,
        cookie_line(&jar)
    );
    let answer = raw(app.addr, &head).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    let received = answer.json()["headers"].clone();
    assert!(
        !received.to_string().to_ascii_lowercase().contains("h2c"),
        "{received}"
    );
}

/// A WebSocket over an HTTP/2 stream (RFC 8441), spoken with prior
/// knowledge on a plain connection: the status of the answer, and the
/// WebSocket when it is 200.
async fn http2_websocket(
    app: &TestApp,
    path: &str,
    jar: &Jar,
    headers: &[(&str, &str)],
) -> (
    u16,
    Option<WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>>,
) {
    let tcp = TcpStream::connect(app.addr).await.expect("connects");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("HTTP/2 with prior knowledge");
    tokio::spawn(connection);
    // The server's SETTINGS, which must allow extended CONNECT, arrive
    // before its first answer.
    let first = Request::get(app.url("/healthz"))
        .body(Body::empty())
        .expect("request");
    sender.send_request(first).await.expect("answered");
    let mut request = Request::connect(app.url(path))
        .extension(Protocol::from_static("websocket"))
        .header("sec-websocket-version", "13")
        .header("cookie", jar.header().expect("signed in"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(request.body(Body::empty()).expect("request"))
        .await
        .expect("answered");
    let status = response.status().as_u16();
    if status != 200 {
        return (status, None);
    }
    let stream = hyper::upgrade::on(response)
        .await
        .expect("the stream opens");
    let ws = WebSocketStream::from_raw_socket(TokioIo::new(stream), Role::Client, None).await;
    (status, Some(ws))
}

#[tokio::test]
async fn a_websocket_over_http2_is_tunnelled_after_the_same_checks() {
    let echo = Echo::spawn().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &echo.url)]).await;
    let jar = app.signed_in("ada").await;
    let (status, _) = http2_websocket(
        &app,
        "/api/ws",
        &jar,
        &[("origin", "https://user-content.app.test")],
    )
    .await;
    assert_eq!(status, 403, "a cross-site handshake over HTTP/2");
    assert_eq!(echo.connections(), 0);

    let (status, ws) = http2_websocket(&app, "/api/ws", &jar, &[]).await;
    assert_eq!(status, 200);
    let mut ws = ws.expect("a WebSocket");
    for text in ["over", "one", "stream"] {
        ws.send(Message::text(text)).await.expect("sent");
        let echoed = ws.next().await.expect("a message").expect("ok");
        assert_eq!(echoed, Message::text(text));
    }
    // Bound to the session like any tunnel.
    app.post(&mut jar.clone(), "/api/auth/logout", None).await;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the HTTP/2 tunnel stayed open after sign-out"
    );
}

#[tokio::test]
async fn an_http2_websocket_the_upstream_does_not_switch_to_is_502() {
    let recorder = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &recorder.url())]).await;
    let jar = app.signed_in("ada").await;
    // The recorder answers 200 to anything: over HTTP/2 a 200 would open the
    // stream as a tunnel to nothing.
    let (status, _) = http2_websocket(&app, "/api/things", &jar, &[]).await;
    assert_eq!(status, 502);
}
