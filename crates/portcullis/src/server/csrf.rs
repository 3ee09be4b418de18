//! Cross-site request protection for state-changing requests and upgrades.
//!
//! `SameSite=Strict` already keeps the cookies off cross-site requests, but a
//! cross-site form post to `/api/auth/logout` would still have its response —
//! which clears the cookies — applied by the browser. So a `POST`, `PUT`,
//! `PATCH` or `DELETE` is refused before anything else runs when the browser
//! says it comes from elsewhere: an `Origin` that is not ours, or a
//! `Sec-Fetch-Site` other than `same-origin` or `none`. Requests with neither
//! header (curl, servers) are not from a browser page and pass.
//!
//! A WebSocket handshake is a `GET`, but it is no safe request: browsers
//! apply no CORS to WebSockets, and a page on a sibling subdomain is
//! "same-site", so `SameSite=Strict` cookies ride along on its `new
//! WebSocket(...)` and the page reads whatever the tunnel carries. So every
//! request that asks to switch protocols gets the same check, whatever its
//! method; browsers always send `Origin` with a WebSocket handshake.

use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use url::Url;

use crate::web::Context;
use crate::web::problem::ApiError;
use crate::web::upgrade::Upgrade;

/// Refuses a cross-site state-changing request, and a cross-site request to
/// switch protocols whatever its method.
pub fn check(state: &Context, parts: &Parts, upgrade: Upgrade) -> Result<(), ApiError> {
    let safe_method = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if safe_method && !upgrade.is_requested() {
        return Ok(());
    }
    let client = state.proxies.client(parts, state.tls);
    let own = state.public_url.as_ref().map(|u| u.origin()).or_else(|| {
        let host = client.host.as_deref()?;
        Url::parse(&format!("{}://{host}", client.scheme))
            .ok()
            .map(|u| u.origin())
    });
    if is_cross_site(&parts.headers, own.as_ref()) {
        return Err(ApiError::CrossSiteRequest);
    }
    Ok(())
}

fn is_cross_site(headers: &HeaderMap, own: Option<&url::Origin>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin" | "none"))
    {
        return true;
    }
    let Some(origin) = headers.get("origin") else {
        return false;
    };
    let Some(origin) = origin
        .to_str()
        .ok()
        .and_then(|o| Url::parse(o).ok())
        .map(|u| u.origin())
        .filter(url::Origin::is_tuple)
    else {
        // `Origin: null` (sandboxed frames, some redirects) or garbage.
        return true;
    };
    own != Some(&origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(url: &str) -> url::Origin {
        Url::parse(url).expect("url").origin()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("valid"));
        }
        h
    }

    #[test]
    fn requests_without_browser_headers_pass() {
        assert!(!is_cross_site(
            &HeaderMap::new(),
            Some(&own("http://localhost:8080"))
        ));
    }

    #[test]
    fn the_own_origin_passes_with_default_ports_normalised() {
        let h = headers(&[
            ("origin", "https://app.test"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(!is_cross_site(&h, Some(&own("https://app.test:443/"))));
    }

    #[test]
    fn other_origins_null_and_cross_site_fetches_are_refused() {
        let me = own("http://localhost:8080");
        for h in [
            headers(&[("origin", "http://127.0.0.1:8080")]),
            headers(&[("origin", "http://localhost:8081")]),
            headers(&[("origin", "https://localhost:8080")]),
            headers(&[("origin", "null")]),
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[("sec-fetch-site", "same-site")]),
            headers(&[
                ("origin", "http://localhost:8080"),
                ("sec-fetch-site", "cross-site"),
            ]),
        ] {
            assert!(is_cross_site(&h, Some(&me)), "{h:?}");
        }
    }

    #[test]
    fn an_origin_cannot_match_when_ours_is_unknown() {
        assert!(is_cross_site(
            &headers(&[("origin", "http://x.test")]),
            None
        ));
    }
}
