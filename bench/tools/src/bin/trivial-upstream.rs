//! `trivial-upstream --bind 127.0.0.1:PORT`
//!
//! An upstream that costs as little as an HTTP server can: every request, on
//! any path and with any headers, gets `200` and the same small JSON body at
//! once. Nothing is verified, parsed or logged. Put behind Portcullis, the
//! bare proxy or nginx, it leaves the CPUs to the proxy, so the comparison
//! shows what each proxy itself costs (the realistic `upstream-api`, which
//! verifies an Ed25519 signature on every request, hides that). hyper 1 over
//! HTTP/1.1 with keep-alive on tokio's multi-thread runtime, like a real
//! Rust server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use portcullis_bench::Args;
use tokio::net::TcpListener;

const USAGE: &str = "trivial-upstream --bind ADDR";

/// The answer to everything: about the size of a small API response.
const BODY: &[u8] =
    br#"{"notes":[{"id":1,"text":"a note to list","created_at":"2026-01-01T00:00:00Z"}]}"#;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("trivial-upstream: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("trivial-upstream: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let bind: SocketAddr = Args::parse(USAGE)?.required("bind")?;
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    eprintln!("trivial-upstream: listening on {bind}");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, most likely: wait, do not spin.
                eprintln!("trivial-upstream: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            // A client that goes away mid-request is not our concern here.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}

async fn answer(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(BODY)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
