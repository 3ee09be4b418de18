//! Accepting and serving client connections, plain or over TLS, so that no
//! client can hold the server's connections for free.
//!
//! `axum::serve` leaves hyper without a timer, which turns its header-read
//! timeout off, and accepts without limit: one client sending a header byte
//! now and then (slowloris) holds a connection for ever, and enough of them
//! exhaust the file descriptors. So the server runs its own accept loop:
//!
//! - **A cap.** At most `max_connections` are held at once. The loop takes a
//!   slot before it accepts, so beyond the cap new connections wait in the
//!   kernel's listen backlog (and past that, the kernel refuses them) until
//!   one closes. Waiting rather than accepting and closing at once means a
//!   burst of real visitors is served late rather than refused, while every
//!   slot an attacker holds comes back within a timeout below. A slot stays
//!   taken for as long as the socket is open: through the TLS handshake, and
//!   after an upgrade for as long as the WebSocket tunnel lives.
//! - **A watchdog per connection** (see [`activity`]): a new connection has
//!   `header_read_timeout` for its TLS handshake and again for its first
//!   request head; later, once a request's first byte has arrived, the head
//!   must be whole within `header_read_timeout`; a connection without a
//!   request in progress is closed after `keep_alive_timeout`. hyper's own
//!   HTTP/1 header timeout is not used: it also runs while a kept-alive
//!   connection waits for its next request, which would tie the keep-alive
//!   time to the header time, and it does not cover the first bytes that
//!   tell HTTP/1 from HTTP/2.
//! - **Shutdown.** When the stop signal comes, the listener is closed, every
//!   connection is asked to finish (idle ones close at once, requests in
//!   flight complete), and after `shutdown_timeout` whatever is left is cut
//!   off.
//!
//! HTTP/1.1 and HTTP/2 are told apart by the connection's first bytes (over
//! TLS, ALPN has already agreed which); upgrades (WebSockets) are served; the
//! peer's address reaches handlers as axum's `ConnectInfo`.

mod activity;
mod open_files;
mod service;

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::ConnectionLimits;
use crate::tls::{Acceptor, TlsConfig};
use activity::{Activity, Verdict};
use service::{ConnectionService, Socket};

/// How long a connection that ran out of time gets to close politely (an
/// HTTP/2 GOAWAY) before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// HTTP/2 pings find peers that vanished while a response streams to them.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);
/// At most one "connection limit reached" warning this often.
const FULL_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// What every connection task shares.
struct Shared {
    router: Router,
    /// Present when serving HTTPS.
    tls: Option<Acceptor>,
    limits: ConnectionLimits,
    http: auto::Builder<TokioExecutor>,
}

/// Serves `router` on `listener` (over TLS with `tls`) until `stop` turns
/// true, then lets requests in flight finish for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsConfig>,
    router: Router,
    limits: ConnectionLimits,
    stop: watch::Receiver<bool>,
    grace: Duration,
) {
    open_files::raise_limit_for(limits.max_connections);
    let shared = Arc::new(Shared {
        router,
        tls: tls.map(Acceptor::start),
        limits,
        http: http_builder(),
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    let mut warned_full: Option<Instant> = None;
    loop {
        while let Some(done) = connections.try_join_next() {
            report(done);
        }
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if warned_full.is_none_or(|at| at.elapsed() >= FULL_WARNING_INTERVAL) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached; new connections wait until one closes"
                    );
                    warned_full = Some(Instant::now());
                }
                tokio::select! {
                    () = stopped(stop.clone()) => break,
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        // The semaphore is never closed.
                        Err(_) => break,
                    },
                }
            }
        };
        let (tcp, peer) = tokio::select! {
            () = stopped(stop.clone()) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, typically: back off rather
                    // than spin, as axum's own loop does.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        connections.spawn(connection(tcp, peer, slot, shared.clone(), stop.clone()));
    }
    drop(listener);
    tracing::info!(
        timeout = %humantime::format_duration(grace),
        "stopped accepting; finishing requests in flight"
    );
    let drained = tokio::time::timeout(grace, async {
        while let Some(done) = connections.join_next().await {
            report(done);
        }
    })
    .await;
    if drained.is_err() {
        // Dropping the set aborts the connections still open.
        tracing::warn!("requests still in flight at the shutdown timeout were cut off");
    }
}

/// HTTP/1.1 and HTTP/2, with upgrades and (as `axum::serve` has it) the
/// extended CONNECT of WebSockets over HTTP/2.
fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT)
        .enable_connect_protocol();
    builder
}

/// One client connection, from the accepted socket to its close.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    // Small responses go out at once rather than waiting to coalesce.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    let Some(acceptor) = &shared.tls else {
        return http(tcp, peer, slot, &shared, stop).await;
    };
    // The TLS handshake and a TLS connection are boxed: held inline, their
    // state (a rustls session, its buffers) would size every connection's
    // task, plain HTTP ones included, for the largest of its states.
    let accept = Box::pin(tokio::time::timeout(
        shared.limits.header_read_timeout,
        acceptor.accept(tcp),
    ));
    let handshake = tokio::select! {
        () = stopped(stop.clone()) => return,
        done = accept => done,
    };
    match handshake {
        Ok(Ok(tls)) => Box::pin(http(tls, peer, slot, &shared, stop)).await,
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

/// Serves HTTP on an established stream until the client closes it, it runs
/// out of time, or the server stops.
async fn http<S>(
    stream: S,
    peer: SocketAddr,
    slot: OwnedSemaphorePermit,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let socket = Socket::new(stream, activity.clone(), slot);
    let service = ConnectionService::new(shared.router.clone(), peer, activity.clone());
    let mut conn = pin!(
        shared
            .http
            .serve_connection_with_upgrades(TokioIo::new(socket), service)
    );
    let limits = &shared.limits;
    let mut watchdog = pin!(tokio::time::sleep(Activity::look_interval(limits)));
    let mut stopping = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = &mut watchdog => match activity.deadline(limits, Instant::now()) {
                Verdict::WaitUntil(at) => watchdog.as_mut().reset(at),
                Verdict::Close => break,
            },
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
    // Out of time with no request in progress: nothing is owed to the
    // client but a close.
    tracing::debug!(%peer, "closed a connection that ran out of time");
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
}

/// Resolves once shutdown has been asked for.
async fn stopped(mut stop: watch::Receiver<bool>) {
    // An error means the sender is gone, which happens only once the signal
    // has fired (or can no longer fire): stop either way.
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// A connection task that panicked is a bug; say so.
fn report(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(error = %e, "a connection task panicked");
    }
}
