//! Who is looking at a page, decided the way the API decides it — the same
//! [`authenticate`] with its transparent refresh — plus the one thing only a
//! page needs to know: whether "no cookies" may just mean "arrived by a link
//! from another site".

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use portcullis_verifier::Claims;

use crate::auth::ClientInfo;
use crate::web::Context;
use crate::web::cookies::{self, SetCookies};
use crate::web::failure::Failure;
use crate::web::session::{SessionRejection, authenticate};

/// The visitor of a page.
pub enum Visitor {
    /// A valid session.
    SignedIn {
        /// Its claims.
        claims: Arc<Claims>,
        /// New cookies when the session had to be refreshed to render the
        /// page; they must ride on the page's response.
        renewed: Option<SetCookies>,
    },
    /// No valid session.
    Anonymous {
        /// The browser sent no cookie and the navigation may have come from
        /// another site, so `SameSite=Strict` may have held them back: the
        /// page must confirm with a same-origin request before showing the
        /// visitor as signed out.
        unsure: bool,
        /// The request carried cookies that no longer hold a session; they
        /// are cleared, exactly as the API would.
        clear: bool,
    },
    /// The session could not be checked (the database is unreachable, or
    /// refreshes from this address are throttled): nobody can be told they
    /// are signed out. Holds the cause, when it is ours, for the log.
    Unavailable(Option<Failure>),
}

impl Visitor {
    /// Identifies the visitor of a page request.
    pub async fn of(state: &Context, headers: &HeaderMap, client: &ClientInfo) -> Self {
        let presented = state.cookies.read(headers).any();
        match authenticate(state, headers, || client.clone()).await {
            Ok(signed_in) => Visitor::SignedIn {
                claims: signed_in.claims,
                renewed: signed_in.renewed,
            },
            Err(SessionRejection::Unauthenticated { .. } | SessionRejection::RefreshDenied(_)) => {
                Visitor::Anonymous {
                    unsure: !presented && may_be_cross_site(headers),
                    clear: presented,
                }
            }
            Err(SessionRejection::Throttled { .. }) => Visitor::Unavailable(None),
            Err(SessionRejection::Failed(e)) => Visitor::Unavailable(Failure::of(e)),
        }
    }

    /// The signed-in user's claims, if any.
    pub fn claims(&self) -> Option<&Claims> {
        match self {
            Visitor::SignedIn { claims, .. } => Some(claims),
            _ => None,
        }
    }

    /// Finishes a page response: renewed cookies are attached, dead ones
    /// cleared.
    pub fn respond(self, state: &Context, response: impl IntoResponse) -> Response {
        let response = response.into_response();
        match self {
            Visitor::SignedIn {
                renewed: Some(set), ..
            } => cookies::attach(response, set),
            Visitor::Anonymous { clear: true, .. } => {
                cookies::attach(response, state.cookies.clear())
            }
            _ => response,
        }
    }
}

/// Whether a navigation may have had its `SameSite=Strict` cookies withheld.
/// Browsers send them on same-origin navigations and on those the user
/// started (typed URL, bookmark: `Sec-Fetch-Site: none`); anything else — a
/// link on another site, or a browser too old to say — may have lost them.
fn may_be_cross_site(headers: &HeaderMap) -> bool {
    !matches!(
        headers.get("sec-fetch-site").map(|v| v.to_str()),
        Some(Ok("same-origin" | "none"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(value: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert("sec-fetch-site", v.parse().expect("valid"));
        }
        h
    }

    #[test]
    fn only_same_origin_and_user_started_navigations_surely_carry_cookies() {
        assert!(!may_be_cross_site(&site(Some("same-origin"))));
        assert!(!may_be_cross_site(&site(Some("none"))));
        assert!(may_be_cross_site(&site(Some("cross-site"))));
        assert!(may_be_cross_site(&site(Some("same-site"))));
        assert!(may_be_cross_site(&site(None)));
    }
}
