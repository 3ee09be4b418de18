//! Switching protocols (WebSocket): once the upstream has answered 101, the
//! browser's connection and the upstream's are spliced together and bytes are
//! copied both ways until either side closes.

use axum::http::Response;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// Spawns the splice. `client` completes once our 101 has reached the browser;
/// the upstream's side is taken from its 101 answer.
pub fn tunnel(client: OnUpgrade, upstream_response: &mut Response<Incoming>) {
    let upstream = hyper::upgrade::on(upstream_response);
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(both) => both,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade abandoned");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        // Ends when either side closes; an error is a dropped connection, which
        // ends the tunnel just the same.
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            tracing::debug!(error = %e, "upgraded connection ended");
        }
    });
}
