//! Who is on the other end of a request: the client's address and the scheme
//! and host it used, read through trusted proxies only.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use ipnet::IpNet;

use super::{Context, Services};
use crate::auth::ClientInfo;

impl Services {
    /// The `User-Agent` and address of a request's client, as sessions and
    /// audit events record them.
    pub fn client_info(&self, parts: &Parts) -> ClientInfo {
        let client = self.proxies.client(parts, self.tls);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        ClientInfo::new(user_agent, client.addr)
    }
}

/// The `User-Agent` and address a new session is recorded with.
pub struct SessionClient(pub ClientInfo);

impl<S> FromRequestParts<S> for SessionClient
where
    Context: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        Ok(Self(Context::from_ref(state).client_info(parts)))
    }
}

/// The proxies whose `X-Forwarded-*` headers are believed. Anyone else could
/// write those headers to pose as another address or scheme.
#[derive(Debug, Clone, Default)]
pub struct ProxyTrust {
    proxies: Arc<[IpNet]>,
}

impl ProxyTrust {
    /// Trusts the given networks.
    pub fn new(proxies: Vec<IpNet>) -> Self {
        Self {
            proxies: proxies.into(),
        }
    }

    /// Whether `addr` is a trusted proxy.
    pub fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.proxies.iter().any(|net| net.contains(&addr))
    }

    /// Reads the client of a request.
    pub fn client(&self, parts: &Parts, tls: bool) -> Client {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| canonical(addr.ip()));
        self.client_from(
            &parts.headers,
            peer,
            tls,
            parts.uri.authority().map(|a| a.as_str()),
        )
    }

    fn client_from(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
        tls: bool,
        authority: Option<&str>,
    ) -> Client {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or(authority)
            .map(str::to_owned);
        let mut client = Client {
            addr: peer,
            scheme: if tls { "https" } else { "http" },
            host,
        };
        let Some(peer) = peer.filter(|p| self.trusts(*p)) else {
            return client;
        };
        // The client is the last address that is not one of our proxies,
        // reading the chain from the nearest hop outwards.
        let chain: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .map(canonical)
            .collect();
        client.addr = Some(
            chain
                .iter()
                .rev()
                .copied()
                .find(|a| !self.trusts(*a))
                .or(chain.first().copied())
                .unwrap_or(peer),
        );
        match header_str(headers, "x-forwarded-proto") {
            Some("https") => client.scheme = "https",
            Some("http") => client.scheme = "http",
            _ => {}
        }
        if let Some(host) = header_str(headers, "x-forwarded-host") {
            client.host = Some(host.to_owned());
        }
        client
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.to_str().ok()?;
    // A proxy that appends gives a list; the first entry is the original.
    value
        .split(',')
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// IPv4 clients reach a dual-stack socket as `::ffff:a.b.c.d`; compare them as IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The other end of a request.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client's address, when known.
    pub addr: Option<IpAddr>,
    /// The scheme the client used to reach us.
    pub scheme: &'static str,
    /// The host the client asked for.
    pub host: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("valid header"));
        }
        h
    }

    fn trust(nets: &[&str]) -> ProxyTrust {
        ProxyTrust::new(nets.iter().map(|n| n.parse().expect("cidr")).collect())
    }

    #[test]
    fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[
            ("host", "app.test"),
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = trust(&[]).client_from(&h, Some("9.9.9.9".parse().expect("ip")), false, None);
        assert_eq!(c.addr, Some("9.9.9.9".parse().expect("ip")));
        assert_eq!(c.scheme, "http");
        assert_eq!(c.host.as_deref(), Some("app.test"));
    }

    #[test]
    fn through_trusted_proxies_the_client_is_the_first_untrusted_hop_from_the_right() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example.com"),
        ]);
        let c = trust(&["10.0.0.0/8"]).client_from(
            &h,
            Some("10.0.0.1".parse().expect("ip")),
            false,
            None,
        );
        assert_eq!(c.addr, Some("1.2.3.4".parse().expect("ip")));
        assert_eq!(c.scheme, "https");
        assert_eq!(c.host.as_deref(), Some("app.example.com"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        assert!(trust(&["127.0.0.1/32"]).trusts("::ffff:127.0.0.1".parse().expect("ip")));
    }
}
