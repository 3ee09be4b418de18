//! `max_connections`: with the cap reached, a new connection is not served
//! (it waits in the listen backlog) until one of the held connections
//! closes; then it is, on plain HTTP and over TLS alike.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::helpers::*;
use crate::slow_clients::{PATIENCE, connector, request, tls_connect};
use crate::tls::{generate, spawn_with};

/// Two connections at most, and timeouts long enough that none is closed
/// by the server while the test runs.
const CAP_OF_TWO: [(&str, &str); 3] = [
    ("PORTCULLIS_MAX_CONNECTIONS", "2"),
    ("PORTCULLIS_HEADER_READ_TIMEOUT", "5m"),
    ("PORTCULLIS_KEEP_ALIVE_TIMEOUT", "5m"),
];

/// How long the extra connection is watched for an answer it must not get.
/// Waiting longer could only make a broken cap more visible, never fail a
/// working one.
const NOT_SERVED_FOR: Duration = Duration::from_secs(1);

#[tokio::test]
async fn beyond_max_connections_a_new_connection_waits_until_one_closes() {
    let app = TestApp::spawn_with(&CAP_OF_TWO).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(app.addr).await.expect("connects");
        assert!(request(&mut stream).await.starts_with("HTTP/1.1 200 "));
        held.push(stream);
    }

    // The kernel completes the TCP handshake (the backlog) and takes the
    // request's bytes; the server does not take the connection.
    let mut extra = TcpStream::connect(app.addr).await.expect("connects");
    let waiting = request(&mut extra);
    tokio::pin!(waiting);
    assert!(
        timeout(NOT_SERVED_FOR, &mut waiting).await.is_err(),
        "a third connection was served with max_connections = 2"
    );

    drop(held.pop());
    let answer = timeout(PATIENCE, waiting)
        .await
        .expect("served once a slot was free");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
}

#[tokio::test]
async fn over_tls_beyond_max_connections_the_handshake_waits_until_one_closes() {
    let pair = generate();
    let (app, _certs) = spawn_with(&pair, &CAP_OF_TWO).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = tls_connect(&app, &pair, &[b"http/1.1"]).await;
        assert!(request(&mut stream).await.starts_with("HTTP/1.1 200 "));
        held.push(stream);
    }

    let tcp = TcpStream::connect(app.addr).await.expect("connects");
    let name = ServerName::try_from("localhost").expect("a name");
    let handshake = connector(&pair, &[b"http/1.1"]).connect(name, tcp);
    tokio::pin!(handshake);
    assert!(
        timeout(NOT_SERVED_FOR, &mut handshake).await.is_err(),
        "a third TLS connection was taken with max_connections = 2"
    );

    drop(held.pop());
    let mut extra = timeout(PATIENCE, handshake)
        .await
        .expect("taken once a slot was free")
        .expect("handshake");
    assert!(request(&mut extra).await.starts_with("HTTP/1.1 200 "));
}

#[tokio::test]
async fn an_open_websocket_holds_its_place_under_the_cap() {
    let echo = crate::upstreams::spawn_ws_echo().await;
    let mut settings = CAP_OF_TWO.to_vec();
    settings[0] = ("PORTCULLIS_MAX_CONNECTIONS", "1");
    settings.push(("PORTCULLIS_FRONTEND", &echo));
    let app = TestApp::spawn_with(&settings).await;
    let url = format!("ws://{}/_next/webpack-hmr", app.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgraded through the gateway");

    // The HTTP connection became a tunnel; it still takes the one slot.
    let mut extra = TcpStream::connect(app.addr).await.expect("connects");
    let waiting = request(&mut extra);
    tokio::pin!(waiting);
    assert!(
        timeout(NOT_SERVED_FOR, &mut waiting).await.is_err(),
        "a connection was served beside an open WebSocket with max_connections = 1"
    );

    ws.close(None).await.expect("closed");
    drop(ws);
    let answer = timeout(PATIENCE, waiting)
        .await
        .expect("served once the WebSocket closed");
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
}
