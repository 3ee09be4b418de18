//! One upstream (the API or the frontend): where requests are addressed, the
//! shared client that carries them, and the deadline for an answer.

use std::time::Duration;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use axum::http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use url::Url;

use super::body::Signalling;

/// The process's one HTTP client: HTTP/1.1 with pooled keep-alive connections.
pub type HttpClient = Client<HttpConnector, Signalling>;

/// Idle pooled connections are closed after this long; upstreams commonly
/// close theirs after 60 s or more, so ours go first and a request is never
/// sent on a connection the upstream is closing.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an upstream could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot proxy to {url}: {reason}")]
pub struct UpstreamError {
    url: String,
    reason: &'static str,
}

/// Why a proxied request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Connection refused, unreachable, not connected within the timeout, or
    /// closed before an answer.
    #[error("upstream unavailable")]
    Unavailable(#[from] hyper_util::client::legacy::Error),
    /// Connected and sent, but no answer began within the timeout.
    #[error("upstream timed out")]
    Timeout,
    /// The request's path could not be joined to the upstream's address.
    #[error("cannot address the upstream: {0}")]
    BadTarget(String),
}

/// The client, built once per process. The connect timeout is the answer
/// timeout too: an upstream that cannot even be reached in that time is as
/// good as down.
pub fn client(timeout: Duration) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(timeout));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(connector)
}

/// An upstream: its address and the client that reaches it.
#[derive(Clone)]
pub struct Upstream {
    authority: Authority,
    /// The URL's path without its trailing `/`, put before every request path
    /// (usually empty).
    prefix: String,
    client: HttpClient,
    timeout: Duration,
}

impl Upstream {
    /// An upstream at `url` (http only; checked by the configuration).
    pub fn new(url: &Url, client: HttpClient, timeout: Duration) -> Result<Self, UpstreamError> {
        let fail = |reason| UpstreamError {
            url: url.to_string(),
            reason,
        };
        if url.scheme() != "http" {
            return Err(fail("only http:// upstreams are supported"));
        }
        let host = url.host_str().ok_or_else(|| fail("no host"))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let authority = Authority::try_from(format!("{host}:{port}"))
            .map_err(|_| fail("not a valid host and port"))?;
        Ok(Self {
            authority,
            prefix: url.path().trim_end_matches('/').to_owned(),
            client,
            timeout,
        })
    }

    /// The outgoing request: the incoming method, path, query and (already
    /// rewritten) headers, addressed to the upstream, with the body as it is.
    pub fn request(&self, parts: Parts, body: Body) -> Result<Request<Body>, ProxyError> {
        let path_and_query = match parts.uri.path_and_query() {
            // No prefix (the usual case): the incoming path and query as
            // they are, shared rather than parsed again.
            Some(pq) if self.prefix.is_empty() => pq.clone(),
            pq => {
                let path = pq.map_or("/", PathAndQuery::as_str);
                PathAndQuery::try_from(format!("{}{path}", self.prefix))
                    .map_err(|e| ProxyError::BadTarget(e.to_string()))?
            }
        };
        let uri = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(|e| ProxyError::BadTarget(e.to_string()))?;
        let mut request = Request::new(body);
        *request.method_mut() = parts.method;
        *request.uri_mut() = uri;
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = parts.headers;
        Ok(request)
    }

    /// Sends `request` and waits for the head of the answer; the body streams
    /// afterwards. The deadline starts once the request body has been sent.
    pub async fn send(&self, request: Request<Body>) -> Result<Response<Incoming>, ProxyError> {
        let (parts, body) = request.into_parts();
        let (body, sent) = Signalling::new(body);
        let answer = self.client.request(Request::from_parts(parts, body));
        let deadline = async {
            // `Err` means the body was dropped: nothing more will be sent either.
            let _ = sent.await;
            tokio::time::sleep(self.timeout).await;
        };
        tokio::select! {
            answer = answer => answer.map_err(ProxyError::from),
            () = deadline => Err(ProxyError::Timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(url: &str) -> Result<Upstream, UpstreamError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let _guard = rt.enter();
        Upstream::new(
            &Url::parse(url).expect("url"),
            client(Duration::from_secs(1)),
            Duration::from_secs(1),
        )
    }

    fn parts(uri: &str) -> Parts {
        let (parts, ()) = Request::get(uri).body(()).expect("request").into_parts();
        parts
    }

    #[test]
    fn the_path_and_query_are_kept_under_the_upstream_prefix() {
        let up = upstream("http://127.0.0.1:3000/v1/").expect("valid");
        let request = up
            .request(parts("/api/notes?page=2&q=a%20b"), Body::empty())
            .expect("addressed");
        assert_eq!(
            request.uri().to_string(),
            "http://127.0.0.1:3000/v1/api/notes?page=2&q=a%20b"
        );
        let plain = upstream("http://api.internal").expect("valid");
        let request = plain
            .request(parts("/api/x"), Body::empty())
            .expect("addressed");
        assert_eq!(request.uri().to_string(), "http://api.internal:80/api/x");
    }

    #[test]
    fn only_plain_http_is_accepted() {
        assert!(upstream("https://api.internal").is_err());
    }
}
