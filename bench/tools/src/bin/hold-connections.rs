//! `hold-connections --addr 127.0.0.1:PORT --count N [--path /api/notes]
//!  [--header "Name: value"]`
//!
//! Opens `--count` HTTP/1.1 keep-alive connections one after another, sends
//! one `GET` on each and reads the whole answer, as a browser tab does before
//! it goes quiet, then holds them all open and idle until it is killed. Once
//! every connection is open and idle it prints `open=N` on stdout; the caller
//! reads the server's RSS then, so that the difference from before, divided
//! by N, is what one idle connection costs the server. The requests go one at
//! a time so that a proxy's own pool to its upstream stays at one connection.
//! Any answer but 2xx is an error: a refused request would measure the wrong
//! thing.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::header::{HOST, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use portcullis_bench::Args;
use tokio::net::TcpStream;

const USAGE: &str =
    "hold-connections --addr HOST:PORT --count N [--path PATH] [--header 'Name: value']";

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hold-connections: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hold-connections: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args = Args::parse(USAGE)?;
    let addr: SocketAddr = args.required("addr")?;
    let count: usize = args.required("count")?;
    let path: String = args.or("path", "/api/notes".to_owned())?;
    let header = args
        .optional::<String>("header")?
        .map(|h| parse_header(&h))
        .transpose()?;

    let mut held = Vec::with_capacity(count);
    for i in 0..count {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connection {i}: cannot connect to {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (mut sender, connection) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| format!("connection {i}: handshake: {e}"))?;
        // The connection task drives the socket; it ends when `sender` drops.
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(&path)
            .header(HOST, addr.to_string());
        if let Some((name, value)) = &header {
            request = request.header(name, value);
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| format!("bad request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("connection {i}: request: {e}"))?;
        let status = response.status();
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("connection {i}: body: {e}"))?;
        if !status.is_success() {
            return Err(format!("connection {i}: GET {path} answered {status}"));
        }
        held.push(sender);
    }
    println!("open={}", held.len());
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    std::future::pending::<()>().await;
    Ok(())
}

fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("--header {text:?} is not 'Name: value'"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| e.to_string())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|e| e.to_string())?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_splits_at_its_first_colon_and_a_malformed_one_is_refused() {
        let (name, value) = parse_header("Cookie: a=b; c=d:e").expect("a valid header");
        assert_eq!(name, hyper::header::COOKIE);
        assert_eq!(value, "a=b; c=d:e");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert!(parse_header("X-Bad: line\nbreak").is_err());
    }
}
