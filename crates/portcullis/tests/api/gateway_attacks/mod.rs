//! Attacks on the gateway, each performed against the real server over real
//! sockets: WebSocket handshakes (HTTP/1.1 and HTTP/2) to a real WebSocket
//! upstream, raw request lines that no HTTP client library would send as
//! written, and the token cookie as real cookie parsers read it. Each module
//! is one attack of issue 13; each failed against the gateway before its fix.
//!
//! The helpers here speak the wire protocols themselves where the client
//! libraries would tidy the attack away (`reqwest` resolves `..` and
//! refuses odd `Host` values).

mod cookie_parsers;
mod forwarded;
mod odd_paths;
mod token_cookie;
mod tunnel_lifetime;
mod upgrades;
mod websocket_origin;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::*;
use crate::upstreams::bind;

/// A WebSocket client connection through the gateway.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket server that echoes every message and counts the connections
/// that reached it, handshake or not.
pub struct Echo {
    pub url: String,
    connections: Arc<AtomicUsize>,
}

impl Echo {
    pub async fn spawn() -> Self {
        let listener = bind().await;
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    while let Some(Ok(message)) = ws.next().await {
                        if (message.is_text() || message.is_binary())
                            && ws.send(message).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Self { url, connections }
    }

    /// How many connections reached it.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Opens a WebSocket to `path` through `app`, with `jar`'s cookies and
/// the extra headers.
pub async fn websocket(
    app: &TestApp,
    path: &str,
    jar: Option<&Jar>,
    headers: &[(&'static str, &str)],
) -> Result<Ws, tungstenite::Error> {
    let mut request = format!("ws://{}{path}", app.addr)
        .into_client_request()
        .expect("a WebSocket URL");
    let h = request.headers_mut();
    if let Some(cookie) = jar.and_then(Jar::header) {
        h.insert("cookie", HeaderValue::from_str(&cookie).expect("cookie"));
    }
    for (name, value) in headers {
        h.append(*name, HeaderValue::from_str(value).expect("header"));
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
}

/// The status and body of a refused WebSocket handshake.
pub fn refusal(result: Result<Ws, tungstenite::Error>) -> (u16, serde_json::Value) {
    match result {
        Ok(_) => panic!("the handshake was accepted"),
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            let problem = serde_json::from_slice(&body).expect("a problem body");
            (response.status().as_u16(), problem)
        }
        Err(other) => panic!("the handshake failed without an answer: {other}"),
    }
}

/// Sends `text` and expects it back: the tunnel carries traffic.
pub async fn echoes(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.expect("sent");
    let echoed = tokio::time::timeout(Duration::from_secs(30), ws.next())
        .await
        .expect("an answer in time")
        .expect("a message")
        .expect("not an error");
    assert_eq!(echoed, Message::text(text));
}

/// Waits for the gateway to close the tunnel, failing the test if it is
/// still open after a generous bound (an event awaited, not a measurement).
pub async fn closes(ws: &mut Ws, what: &str) {
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "{what}: the tunnel stayed open");
}

/// An answer read off a raw socket.
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("a JSON body in {}", self.head))
    }

    /// Asserts a problem answer with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.head);
        assert_eq!(self.json()["code"], code, "{}", self.head);
    }
}

/// Sends `head` (the request line and headers, without the blank line) as
/// written, with `Connection: close`, and reads the whole answer.
pub async fn raw(addr: SocketAddr, head: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let request = format!("{head}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    RawResponse {
        status,
        head,
        body: answer[split + 4..].to_vec(),
    }
}

/// `Cookie: …` for a raw request carrying `jar`.
pub fn cookie_line(jar: &Jar) -> String {
    format!("Cookie: {}", jar.header().expect("signed in"))
}
