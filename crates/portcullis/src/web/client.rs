//! Who is on the other end of a request: the client's address and the scheme
//! and host it used, read through trusted proxies only.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
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
        // Admission refuses a request whose `Host` does not parse; the
        // filter keeps this reading honest on its own.
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or(authority)
            .filter(|h| is_host_and_port(h))
            .map(str::to_owned);
        let mut client = Client {
            addr: peer,
            scheme: if tls { "https" } else { "http" },
            host,
        };
        let Some(peer) = peer.filter(|p| self.trusts(*p)) else {
            return client;
        };
        client.addr = Some(self.client_behind(headers, peer));
        match header_str(headers, "x-forwarded-proto") {
            Some("https") => client.scheme = "https",
            Some("http") => client.scheme = "http",
            _ => {}
        }
        if let Some(host) = header_str(headers, "x-forwarded-host").filter(|h| is_host_and_port(h))
        {
            client.host = Some(host.to_owned());
        }
        client
    }

    /// The client behind the trusted proxy `peer`, read from
    /// `X-Forwarded-For` from the nearest hop outwards. Each proxy appends
    /// the address it was reached from, so an entry is believed only when
    /// the hop to its right is trusted: the first untrusted address met is
    /// the client. An entry that does not parse as an address (an
    /// obfuscated name, `unknown`, garbage) ends the walk there, and the
    /// trusted hop that wrote it stands for the client: skipping it would
    /// let the client's own leftmost entry, which nobody vouches for, pass
    /// as the client. When every hop is trusted, the leftmost is the client.
    fn client_behind(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        let entries: Vec<Option<IpAddr>> = headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|value| match value.to_str() {
                Ok(text) => text.split(',').map(parse_hop).collect(),
                // Bytes that are not text are one entry that does not parse.
                Err(_) => vec![None],
            })
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            if !self.trusts(client) {
                break;
            }
            match entry {
                Some(addr) => client = *addr,
                None => break,
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, an address with a port
/// (`203.0.113.7:5123`, `[2001:db8::1]:443`, as some load balancers
/// write them), or a bracketed IPv6 address without one.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let addr = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        })?;
    Some(canonical(addr))
}

/// Whether `value` is a host and optional port as a `Host` header may
/// carry them (RFC 9110 §7.2): a DNS name or IPv4 address (labels of
/// letters, digits, `-` and `_`), or an IPv6 address in brackets, then
/// `:` and up to five digits. Anything else — user information, a path,
/// spaces, a second colon — is not a host, and is neither believed nor
/// passed on.
pub fn is_host_and_port(value: &str) -> bool {
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return false,
            },
        }
    } else {
        match value.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(value), None),
        }
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok()
    });
    let host_ok = host.is_none_or(|h| {
        // One trailing dot names the same host (a fully qualified name).
        let h = h.strip_suffix('.').unwrap_or(h);
        !h.is_empty()
            && h.len() <= 253
            && h.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    });
    port_ok && host_ok
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

    fn behind(chain: &[&str]) -> Option<IpAddr> {
        let pairs: Vec<(&'static str, &str)> =
            chain.iter().map(|c| ("x-forwarded-for", *c)).collect();
        trust(&["10.0.0.0/8"])
            .client_from(
                &headers(&pairs),
                Some("10.0.0.1".parse().expect("ip")),
                false,
                None,
            )
            .addr
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("ip"))
    }

    #[test]
    fn entries_with_ports_and_brackets_are_read_as_their_addresses() {
        assert_eq!(behind(&["6.6.6.6, 203.0.113.7:5123"]), ip("203.0.113.7"));
        assert_eq!(behind(&["6.6.6.6, [2001:db8::7]:443"]), ip("2001:db8::7"));
        assert_eq!(behind(&["6.6.6.6, [2001:db8::7]"]), ip("2001:db8::7"));
        assert_eq!(behind(&["6.6.6.6, 2001:db8::7"]), ip("2001:db8::7"));
        assert_eq!(
            behind(&["6.6.6.6, 203.0.113.7:5123, 10.0.0.2:80"]),
            ip("203.0.113.7")
        );
        assert_eq!(behind(&["6.6.6.6", "203.0.113.7"]), ip("203.0.113.7"));
    }

    #[test]
    fn an_entry_that_does_not_parse_ends_the_chain_at_the_proxy_that_wrote_it() {
        for chain in [
            "6.6.6.6, unknown",
            "6.6.6.6, _hidden",
            "6.6.6.6, 203.0.113.7:port",
            "6.6.6.6, ",
            "6.6.6.6,,",
        ] {
            assert_eq!(behind(&[chain]), ip("10.0.0.1"), "{chain}");
        }
        assert_eq!(behind(&["6.6.6.6, unknown, 10.0.0.2"]), ip("10.0.0.2"));
        // An unparseable entry left of the client is never reached.
        assert_eq!(behind(&["garbage, 203.0.113.7"]), ip("203.0.113.7"));
        // Every hop trusted: the leftmost is the client.
        assert_eq!(behind(&["10.0.0.3, 10.0.0.2"]), ip("10.0.0.3"));
    }

    #[test]
    fn only_a_host_and_port_is_a_host() {
        for good in [
            "app.test",
            "app.test:8443",
            "APP.Example.com.",
            "127.0.0.1:8080",
            "[::1]",
            "[2001:db8::1]:443",
            "my_host-1",
        ] {
            assert!(is_host_and_port(good), "{good}");
        }
        for bad in [
            "",
            ":80",
            "app.test:",
            "app.test:99999",
            "app.test:8a",
            "app test",
            "user@app.test",
            "app.test/path",
            "app.test:80:80",
            "::1",
            "[::1",
            "[app.test]",
            "[::1]80",
            "app..test",
            "app.test\\x",
            "a%2ftest",
        ] {
            assert!(!is_host_and_port(bad), "{bad}");
        }
    }

    #[test]
    fn a_forwarded_host_that_is_not_a_host_is_not_believed() {
        let h = headers(&[("host", "app.test"), ("x-forwarded-host", "evil.test/x")]);
        let c = trust(&["10.0.0.0/8"]).client_from(
            &h,
            Some("10.0.0.1".parse().expect("ip")),
            false,
            None,
        );
        assert_eq!(c.host.as_deref(), Some("app.test"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        assert!(trust(&["127.0.0.1/32"]).trusts("::ffff:127.0.0.1".parse().expect("ip")));
    }
}
