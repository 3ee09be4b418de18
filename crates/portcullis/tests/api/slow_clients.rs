//! Slow and silent clients, on real sockets, over plain HTTP and TLS: a
//! client that trickles its request head a byte a second (slowloris), one
//! that connects and says nothing, and connections left idle, must all be
//! closed by the server within their timeouts instead of held for ever.
//!
//! Each test sets the timeout it attacks to a couple of seconds and the
//! others long, and then gives the server far longer than that (a trickled
//! request takes half a minute to send whole) — so a server without the
//! timeout fails the test, and a slow machine does not.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use reqwest::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::helpers::*;
use crate::tls::{Pair, generate, spawn_with};

/// A generous bound on what must happen: the tests fail when it is
/// exceeded, they do not measure anything.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A whole request; sent a byte a second it takes over half a minute.
pub const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";

/// The timeouts under attack, short; the others long.
const SHORT_HEADERS: [(&str, &str); 2] = [
    ("PORTCULLIS_HEADER_READ_TIMEOUT", "2s"),
    ("PORTCULLIS_KEEP_ALIVE_TIMEOUT", "5m"),
];
const SHORT_KEEP_ALIVE: [(&str, &str); 2] = [
    ("PORTCULLIS_HEADER_READ_TIMEOUT", "5m"),
    ("PORTCULLIS_KEEP_ALIVE_TIMEOUT", "2s"),
];

/// What the server did while a client sent `bytes` one a second.
#[derive(Debug, PartialEq, Eq)]
enum Trickled {
    /// It closed the connection after this many bytes, without an answer.
    Closed { after: usize },
    /// It answered.
    Answered(String),
    /// It waited for every byte.
    Waited,
}

async fn trickle<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> Trickled {
    let mut buf = [0u8; 1024];
    for (sent, byte) in bytes.iter().enumerate() {
        if stream.write_all(&[*byte]).await.is_err() || stream.flush().await.is_err() {
            return Trickled::Closed { after: sent };
        }
        match timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            // A second passed in silence: the next byte.
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => return Trickled::Closed { after: sent + 1 },
            Ok(Ok(n)) => return Trickled::Answered(String::from_utf8_lossy(&buf[..n]).into()),
        }
    }
    Trickled::Waited
}

fn assert_cut_off(outcome: Trickled) {
    assert!(
        matches!(outcome, Trickled::Closed { after } if after < REQUEST.len()),
        "the trickled request was not cut off: {outcome:?}"
    );
}

/// Reads until the server closes the connection (or `PATIENCE` runs out,
/// which fails); returns what it sent before closing.
pub async fn closed_by_server<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match timeout(PATIENCE, stream.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open for {PATIENCE:?}"),
            Ok(Ok(0) | Err(_)) => return received,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `REQUEST` whole and reads its answer (headers and a
/// `Content-Length` body), leaving the connection open.
pub async fn request<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> String {
    stream.write_all(REQUEST).await.expect("sends");
    stream.flush().await.expect("flushes");
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("answered in time")
            .expect("reads");
        assert!(n > 0, "closed before answering");
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|n| n.parse().ok())
                .expect("a content length");
            if body.len() >= length {
                return text;
            }
        }
    }
}

/// A TLS client trusting `pair`, offering `alpn`.
pub fn connector(pair: &Pair, alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(pair.der.clone()))
        .expect("the certificate is a root");
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

/// A TLS connection to `app`, handshake done.
pub async fn tls_connect(app: &TestApp, pair: &Pair, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(app.addr).await.expect("connects");
    let name = ServerName::try_from("localhost").expect("a name");
    connector(pair, alpn)
        .connect(name, tcp)
        .await
        .expect("handshake")
}

#[tokio::test]
async fn a_client_trickling_its_request_head_a_byte_a_second_is_cut_off() {
    let app = TestApp::spawn_with(&SHORT_HEADERS).await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connects");
    assert_cut_off(trickle(&mut stream, REQUEST).await);
}

#[tokio::test]
async fn a_kept_alive_connection_trickling_its_next_request_is_cut_off_too() {
    let app = TestApp::spawn_with(&SHORT_HEADERS).await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connects");
    assert!(request(&mut stream).await.starts_with("HTTP/1.1 200 "));
    // The keep-alive timeout is minutes; the head's bytes started the
    // header-read timeout.
    assert_cut_off(trickle(&mut stream, REQUEST).await);
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let app = TestApp::spawn_with(&SHORT_HEADERS).await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connects");
    assert_eq!(closed_by_server(&mut stream).await, b"");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let app = TestApp::spawn_with(&SHORT_KEEP_ALIVE).await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connects");
    assert!(request(&mut stream).await.starts_with("HTTP/1.1 200 "));
    assert_eq!(closed_by_server(&mut stream).await, b"");
}

#[tokio::test]
async fn a_kept_alive_connection_may_wait_longer_than_the_header_read_timeout() {
    // A load balancer reuses its idle connections; closing them as soon as
    // the header timeout passes would race its next request.
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_HEADER_READ_TIMEOUT", "1s"),
        ("PORTCULLIS_KEEP_ALIVE_TIMEOUT", "5m"),
    ])
    .await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connects");
    assert!(request(&mut stream).await.starts_with("HTTP/1.1 200 "));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(request(&mut stream).await.starts_with("HTTP/1.1 200 "));
}

#[tokio::test]
async fn over_tls_a_client_trickling_its_request_head_is_cut_off() {
    let pair = generate();
    let (app, _certs) = spawn_with(&pair, &SHORT_HEADERS).await;
    let mut stream = tls_connect(&app, &pair, &[b"http/1.1"]).await;
    assert_cut_off(trickle(&mut stream, REQUEST).await);
}

#[tokio::test]
async fn over_tls_a_client_that_completes_the_handshake_and_sends_nothing_is_closed() {
    let pair = generate();
    let (app, _certs) = spawn_with(&pair, &SHORT_HEADERS).await;
    let mut stream = tls_connect(&app, &pair, &[b"http/1.1"]).await;
    assert_eq!(closed_by_server(&mut stream).await, b"");
}

#[tokio::test]
async fn over_tls_a_client_that_never_starts_its_handshake_is_closed() {
    let pair = generate();
    let (app, _certs) = spawn_with(&pair, &SHORT_HEADERS).await;
    let mut tcp = TcpStream::connect(app.addr).await.expect("connects");
    assert_eq!(closed_by_server(&mut tcp).await, b"");
}

#[tokio::test]
async fn an_idle_http2_connection_over_tls_is_closed_after_the_keep_alive_timeout() {
    let pair = generate();
    let (app, _certs) = spawn_with(&pair, &SHORT_KEEP_ALIVE).await;
    let stream = tls_connect(&app, &pair, &[b"h2"]).await;
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("HTTP/2 handshake");
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get(format!("https://localhost:{}/healthz", app.addr.port()))
        .body(String::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    drop(response);
    // The connection future ends when the server closes the connection.
    timeout(PATIENCE, connection)
        .await
        .expect("the server closed the idle HTTP/2 connection")
        .expect("the connection task")
        .expect("a clean close (GOAWAY)");
    // Only now: a client dropping its sender closes the connection itself.
    drop(sender);
}
