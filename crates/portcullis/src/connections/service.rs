//! The three wrappers through which a connection reports its
//! [`Activity`]: the socket (bytes arriving while idle), the service
//! (a request beginning) and the response body (the request ending once it
//! has been sent, or abandoned).
//!
//! None allocates: each holds the connection's `Arc` and forwards every call.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tower::Service;

use super::activity::{Activity, InFlight};

/// A client's socket (TCP, or TLS over TCP), holding its place under the
/// connection cap for as long as it is open — including after an upgrade,
/// when the WebSocket tunnel owns it.
pub(super) struct Socket<S> {
    inner: S,
    activity: Arc<Activity>,
    _slot: OwnedSemaphorePermit,
}

impl<S> Socket<S> {
    pub(super) fn new(inner: S, activity: Arc<Activity>, slot: OwnedSemaphorePermit) -> Self {
        Self {
            inner,
            activity,
            _slot: slot,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Socket<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.activity.read();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Socket<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The router as one connection's hyper service: it adds the peer's address
/// (axum's `ConnectInfo`) and counts the request in the connection's
/// activity.
#[derive(Clone)]
pub(super) struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl ConnectionService {
    pub(super) fn new(router: Router, peer: SocketAddr, activity: Arc<Activity>) -> Self {
        Self {
            router,
            peer,
            activity,
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<CountedBody>;
    type Error = Infallible;
    type Future = Counted<<Router as Service<Request<Incoming>>>::Future>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.begin(request.version());
        request.extensions_mut().insert(ConnectInfo(self.peer));
        // A router is always ready (its `poll_ready` returns `Ready` at
        // once), so it may be called without asking.
        let future = self.router.clone().call(request);
        Counted {
            future,
            in_flight: Some(in_flight),
        }
    }
}

/// The router's future, handing the request's [`InFlight`] to the response
/// body when the response is ready.
pub(super) struct Counted<F> {
    future: F,
    in_flight: Option<InFlight>,
}

impl<F> Future for Counted<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>> + Unpin,
{
    type Output = Result<Response<CountedBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(response) = ready!(Pin::new(&mut self.future).poll(cx));
        let in_flight = self.in_flight.take();
        Poll::Ready(Ok(response.map(|body| CountedBody {
            body,
            _in_flight: in_flight,
        })))
    }
}

/// A response body that ends its request when hyper is done with it: sent
/// whole, or dropped with the connection.
pub(super) struct CountedBody {
    body: Body,
    _in_flight: Option<InFlight>,
}

impl http_body::Body for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
