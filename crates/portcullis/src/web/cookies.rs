//! The only place that reads Portcullis's cookies or writes `Set-Cookie`.
//!
//! The two session cookies are `HttpOnly` (page script cannot read them),
//! `Secure` (never sent in clear), `SameSite=Strict` (not sent on cross-site
//! requests) and `Path=/` without `Domain`, which the `__Host-` prefix makes
//! the browser enforce: no subdomain can plant or shadow them. The third,
//! the device cookie of a browser that has signed in before (see
//! [`crate::auth::devices`]), has the same attributes and a long life, and
//! outlives sign-out.
//!
//! Two more carry a sign-in with another provider: the flow cookie, which
//! binds a flow to the browser that began it, and the pending-link cookie,
//! which carries an identity to the password sign-in that may link it.
//! They are `SameSite=Lax`: the provider's redirect back is a cross-site
//! top-level navigation, on which a `Strict` cookie would not be sent. Both
//! are `HttpOnly`, `Secure`, `__Host-`, ten minutes long, and opaque: the
//! database holds only their hashes.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use cookie::{Cookie, SameSite};

use crate::auth::devices::{DEVICE_COOKIE_LIFETIME, DeviceToken};
use crate::auth::{FLOW_LIFETIME, PENDING_LINK_LIFETIME, SignedIn};
use crate::domain::LinkToken;

/// Cookie names and attributes for this deployment.
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    /// `false` only under the explicit development switch: drops `Secure` and,
    /// since browsers require it for the prefix, `__Host-`.
    secure: bool,
}

/// The cookie values a request carried; either may be absent. They borrow
/// from the request's headers: a proxied request reads them on every call,
/// and copying a token there only to drop it again costs an allocation.
#[derive(Debug, Default)]
pub struct Presented<'h> {
    /// The access token.
    pub access: Option<&'h str>,
    /// The refresh token.
    pub refresh: Option<&'h str>,
    /// The device cookie.
    pub device: Option<&'h str>,
    /// The flow cookie of a sign-in at another provider.
    pub flow: Option<&'h str>,
    /// The pending-link cookie.
    pub link: Option<&'h str>,
    /// The cookie of a sign-in waiting for its second factor.
    pub mfa_pending: Option<&'h str>,
}

impl Presented<'_> {
    /// Whether the request carried either session cookie.
    pub fn any(&self) -> bool {
        self.access.is_some() || self.refresh.is_some()
    }
}

/// Two `Set-Cookie` values: access then refresh.
pub type SetCookies = [HeaderValue; 2];

impl CookiePolicy {
    /// The policy; `secure` is `false` only in development.
    pub fn new(secure: bool) -> Self {
        Self { secure }
    }

    /// The access cookie's name.
    pub fn access_name(&self) -> &'static str {
        if self.secure {
            "__Host-access_token"
        } else {
            "access_token"
        }
    }

    /// The refresh cookie's name.
    pub fn refresh_name(&self) -> &'static str {
        if self.secure {
            "__Host-refresh_token"
        } else {
            "refresh_token"
        }
    }

    /// The device cookie's name.
    pub fn device_name(&self) -> &'static str {
        if self.secure {
            "__Host-device"
        } else {
            "device"
        }
    }

    /// The flow cookie's name.
    pub fn flow_name(&self) -> &'static str {
        if self.secure {
            "__Host-oidc_flow"
        } else {
            "oidc_flow"
        }
    }

    /// The pending-link cookie's name.
    pub fn link_name(&self) -> &'static str {
        if self.secure {
            "__Host-oidc_link"
        } else {
            "oidc_link"
        }
    }

    /// The name of the cookie of a sign-in waiting for its second factor.
    pub fn mfa_pending_name(&self) -> &'static str {
        if self.secure {
            "__Host-mfa_pending"
        } else {
            "mfa_pending"
        }
    }

    fn is_ours(&self, name: &str) -> bool {
        name == self.access_name()
            || name == self.refresh_name()
            || name == self.device_name()
            || name == self.flow_name()
            || name == self.link_name()
            || name == self.mfa_pending_name()
    }

    /// Reads our cookies from every `Cookie` header. When a name appears
    /// twice, the first wins, as browsers send the most specific cookie first.
    pub fn read<'h>(&self, headers: &'h HeaderMap) -> Presented<'h> {
        let mut presented = Presented::default();
        for value in headers.get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for (name, value) in pairs(text) {
                let slot = match name {
                    n if n == self.access_name() => &mut presented.access,
                    n if n == self.refresh_name() => &mut presented.refresh,
                    n if n == self.device_name() => &mut presented.device,
                    n if n == self.flow_name() => &mut presented.flow,
                    n if n == self.link_name() => &mut presented.link,
                    n if n == self.mfa_pending_name() => &mut presented.mfa_pending,
                    _ => continue,
                };
                if slot.is_none() && !value.is_empty() {
                    *slot = Some(value);
                }
            }
        }
        presented
    }

    /// The pairs of every `Cookie` header that are not Portcullis's own, for
    /// forwarding, trimmed, in order; headers that are not text are left out.
    pub fn foreign_pairs<'h>(&self, headers: &'h HeaderMap) -> impl Iterator<Item = &'h str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|text| text.split(';'))
            .map(str::trim)
            .filter(|pair| {
                let name = pair.split_once('=').map_or(*pair, |(n, _)| n).trim();
                !pair.is_empty() && !self.is_ours(name)
            })
    }

    /// Removes every `Set-Cookie` for Portcullis's own cookie names from a
    /// proxied answer: only Portcullis may set or clear them, never an upstream.
    pub fn remove_set_cookies_of_ours(&self, headers: &mut HeaderMap) {
        if !headers.contains_key(header::SET_COOKIE) {
            return;
        }
        let theirs: Vec<HeaderValue> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter(|value| {
                let name = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.split_once('='))
                    .map(|(n, _)| n.trim());
                // Unreadable values are dropped too: we cannot tell whose they are.
                name.is_some_and(|n| !self.is_ours(n))
            })
            .cloned()
            .collect();
        headers.remove(header::SET_COOKIE);
        for value in theirs {
            headers.append(header::SET_COOKIE, value);
        }
    }

    /// The cookies that hold a freshly signed-in session.
    pub fn issue(&self, signed_in: &SignedIn) -> SetCookies {
        [
            self.build(
                self.access_name(),
                signed_in.access.token.expose(),
                signed_in.access.lifetime,
            ),
            self.build(
                self.refresh_name(),
                &signed_in.refresh.encode(),
                signed_in.refresh_lifetime,
            ),
        ]
    }

    /// The cookies of a sign-in or a registration: the session's two, and
    /// the new device cookie when there is one.
    pub fn sign_in(&self, signed_in: &SignedIn) -> Vec<HeaderValue> {
        let device = signed_in.device.as_ref().map(|token| self.device(token));
        self.issue(signed_in).into_iter().chain(device).collect()
    }

    /// The device cookie of a browser that has just proved the account's
    /// password.
    pub fn device(&self, token: &DeviceToken) -> HeaderValue {
        self.build(self.device_name(), token.expose(), DEVICE_COOKIE_LIFETIME)
    }

    /// The cookie of a sign-in whose password was right and that waits for
    /// its second factor: it names the waiting sign-in and proves nothing
    /// by itself, and lives as long as the sign-in waits.
    pub fn mfa_pending(&self, token: &str, lifetime: Duration) -> HeaderValue {
        self.build(self.mfa_pending_name(), token, lifetime)
    }

    /// Deletes the pending cookie: its sign-in is complete or gone.
    pub fn clear_mfa_pending(&self) -> HeaderValue {
        self.build(self.mfa_pending_name(), "", Duration::ZERO)
    }

    /// The cookies that delete the session's two: same names and attributes,
    /// `Max-Age=0`. The device cookie stays: the browser has still signed in
    /// to the account before.
    pub fn clear(&self) -> SetCookies {
        [
            self.build(self.access_name(), "", Duration::ZERO),
            self.build(self.refresh_name(), "", Duration::ZERO),
        ]
    }

    /// The flow cookie of a sign-in just begun at a provider.
    pub fn flow(&self, token: &LinkToken) -> HeaderValue {
        self.build_with(
            self.flow_name(),
            &token.encode(),
            FLOW_LIFETIME,
            SameSite::Lax,
        )
    }

    /// Deletes the flow cookie: a flow is good for one callback.
    pub fn clear_flow(&self) -> HeaderValue {
        self.build_with(self.flow_name(), "", Duration::ZERO, SameSite::Lax)
    }

    /// The pending-link cookie.
    pub fn link(&self, token: &LinkToken) -> HeaderValue {
        self.build_with(
            self.link_name(),
            &token.encode(),
            PENDING_LINK_LIFETIME,
            SameSite::Lax,
        )
    }

    /// Deletes the pending-link cookie.
    pub fn clear_link(&self) -> HeaderValue {
        self.build_with(self.link_name(), "", Duration::ZERO, SameSite::Lax)
    }

    fn build(&self, name: &'static str, value: &str, max_age: Duration) -> HeaderValue {
        self.build_with(name, value, max_age, SameSite::Strict)
    }

    fn build_with(
        &self,
        name: &'static str,
        value: &str,
        max_age: Duration,
        same_site: SameSite,
    ) -> HeaderValue {
        let max_age =
            cookie::time::Duration::seconds(i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX));
        let cookie = Cookie::build((name, value))
            .http_only(true)
            .secure(self.secure)
            .same_site(same_site)
            .path("/")
            .max_age(max_age)
            .build();
        // Names are constants and values are base64url, JWS or device-cookie
        // text: always valid header bytes.
        HeaderValue::from_str(&cookie.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
    }
}

/// The `name=value` pairs of a `Cookie` header as the `cookie` crate's
/// `split_parse` reads them (which this replaces on the request path, where
/// it built a full cookie per pair): split on `;`, a pair without `=` or with
/// an empty name skipped, name and value trimmed, quotes kept.
fn pairs(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split(';').filter_map(|piece| {
        let (name, value) = piece.split_once('=')?;
        let name = name.trim();
        (!name.is_empty()).then(|| (name, value.trim()))
    })
}

/// Attaches `Set-Cookie` headers to a response and, since they carry
/// credentials, forbids caching it.
pub fn attach(mut response: Response, cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    let headers = response.headers_mut();
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the gateway forwards of a `Cookie` header: the app's pairs, rejoined.
    fn stripped(policy: &CookiePolicy, headers: &HeaderMap) -> Option<String> {
        let kept: Vec<&str> = policy.foreign_pairs(headers).collect();
        (!kept.is_empty()).then(|| kept.join("; "))
    }

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(cookie).expect("ascii"),
        );
        h
    }

    #[test]
    fn cleared_cookies_keep_every_attribute_and_expire_now() {
        let [access, refresh] = CookiePolicy::new(true).clear();
        for (value, name) in [
            (access, "__Host-access_token"),
            (refresh, "__Host-refresh_token"),
        ] {
            let text = value.to_str().expect("ascii");
            assert!(text.starts_with(&format!("{name}=;")), "{text}");
            for attr in [
                "HttpOnly",
                "Secure",
                "SameSite=Strict",
                "Path=/",
                "Max-Age=0",
            ] {
                assert!(
                    text.split("; ").any(|a| a == attr),
                    "{attr} missing in {text}"
                );
            }
            assert!(!text.contains("Domain"));
        }
    }

    #[test]
    fn the_device_cookie_is_read_stripped_and_never_passed_on() {
        let policy = CookiePolicy::new(true);
        let h = headers("a=1; __Host-device=d1; __Host-device=d2");
        assert_eq!(policy.read(&h).device, Some("d1"));
        assert!(!policy.read(&h).any(), "no session for all that");
        assert_eq!(stripped(&policy, &h).as_deref(), Some("a=1"));
        let mut answer = HeaderMap::new();
        answer.append(
            header::SET_COOKIE,
            HeaderValue::from_static("__Host-device=x"),
        );
        answer.append(header::SET_COOKIE, HeaderValue::from_static("b=2"));
        policy.remove_set_cookies_of_ours(&mut answer);
        assert_eq!(answer.get_all(header::SET_COOKIE).iter().count(), 1);
        assert_eq!(CookiePolicy::new(false).device_name(), "device");
    }

    #[test]
    fn the_pending_cookie_is_host_prefixed_strict_and_never_passed_on() {
        let policy = CookiePolicy::new(true);
        let set = policy.mfa_pending("t", Duration::from_secs(300));
        let text = set.to_str().expect("ascii");
        for attr in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=300",
        ] {
            assert!(
                text.split("; ").any(|a| a == attr),
                "{attr} missing in {text}"
            );
        }
        assert!(text.starts_with("__Host-mfa_pending=t"), "{text}");
        let h = headers("a=1; __Host-mfa_pending=p");
        assert_eq!(policy.read(&h).mfa_pending, Some("p"));
        assert_eq!(stripped(&policy, &h).as_deref(), Some("a=1"));
    }

    #[test]
    fn development_cookies_drop_secure_and_the_prefix() {
        let [access, _] = CookiePolicy::new(false).clear();
        let text = access.to_str().expect("ascii");
        assert!(text.starts_with("access_token=;"));
        assert!(!text.contains("Secure"));
    }

    #[test]
    fn reading_takes_the_first_of_duplicate_names_and_ignores_others() {
        let h = headers(
            "theme=dark; __Host-access_token=a1; __Host-access_token=a2; __Host-refresh_token=r",
        );
        let p = CookiePolicy::new(true).read(&h);
        assert_eq!(p.access, Some("a1"));
        assert_eq!(p.refresh, Some("r"));
        let h = headers("access_token=x");
        let none = CookiePolicy::new(true).read(&h);
        assert!(!none.any());
    }

    #[test]
    fn stripping_keeps_only_the_apps_cookies() {
        let policy = CookiePolicy::new(true);
        let h = headers("a=1; __Host-access_token=x;b=2; __Host-refresh_token=y");
        assert_eq!(stripped(&policy, &h).as_deref(), Some("a=1; b=2"));
        assert_eq!(stripped(&policy, &headers("__Host-access_token=x")), None);
    }

    proptest::proptest! {
        #[test]
        fn pairs_are_read_as_the_cookie_crate_reads_them(raw in "[ -~\t]{0,200}") {
            let ours: Vec<(&str, &str)> = pairs(&raw).collect();
            let theirs: Vec<(String, String)> = Cookie::split_parse(raw.as_str())
                .flatten()
                .map(|c| (c.name().to_owned(), c.value().to_owned()))
                .collect();
            let theirs: Vec<(&str, &str)> =
                theirs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            proptest::prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn reading_and_stripping_any_cookie_header_is_safe(raw in "[ -~]{0,300}") {
            let policy = CookiePolicy::new(true);
            let Ok(value) = HeaderValue::from_str(&raw) else { return Ok(()) };
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, value);
            let _ = policy.read(&h);
            if let Some(kept) = stripped(&policy, &h) {
                for pair in kept.split("; ") {
                    let name = pair.split_once('=').map_or(pair, |(n, _)| n).trim();
                    proptest::prop_assert!(name != policy.access_name() && name != policy.refresh_name());
                }
            }
        }
    }
}
