//! A request body that says when it has been sent in full.
//!
//! The upstream timeout measures how long the upstream takes to *answer*; the
//! time the client takes to upload is not the upstream's fault. So the clock
//! starts when the body's last frame has been handed to the connection, or
//! when the connection drops the body (it will send no more).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::oneshot;

/// Wraps a body; `sent` fires (or is dropped) once it is exhausted or dropped.
pub struct Signalling {
    inner: Body,
    sent: Option<oneshot::Sender<()>>,
}

impl Signalling {
    /// The wrapped body and the receiver that resolves once it is sent.
    pub fn new(inner: Body) -> (Self, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (
            Self {
                inner,
                sent: Some(tx),
            },
            rx,
        )
    }

    fn done(&mut self) {
        if let Some(tx) = self.sent.take() {
            // The receiver may be gone (the answer came first); nothing to tell.
            let _ = tx.send(());
        }
    }
}

impl http_body::Body for Signalling {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        // An error ends the body too: no more will be sent.
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) || self.inner.is_end_stream() {
            self.done();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

// Dropping the sender is itself a signal (the receiver sees it closed), so no
// `Drop` impl is needed: an abandoned body starts the clock as well.

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_signal_fires_when_the_body_is_read_to_the_end() {
        let (body, mut sent) = Signalling::new(Body::from("hello"));
        assert!(sent.try_recv().is_err());
        let bytes = axum::body::to_bytes(Body::new(body), 1024)
            .await
            .expect("reads");
        assert_eq!(bytes, "hello");
        assert!(sent.await.is_ok());
    }

    #[tokio::test]
    async fn a_dropped_body_closes_the_signal() {
        let (body, sent) = Signalling::new(Body::from("unsent"));
        drop(body);
        assert!(
            sent.await.is_err(),
            "closed, which the deadline also takes as sent"
        );
    }
}
