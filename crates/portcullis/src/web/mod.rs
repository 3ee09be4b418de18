//! What the three browser-facing adapters — the API ([`crate::http`]), the
//! gateway ([`crate::gateway`]) and the pages ([`crate::ui`]) — share, so that
//! none of them has to reach into another:
//!
//! - [`problem`]: the problem type every error is answered with, and the one
//!   mapping from statuses to contract codes;
//! - [`failure`]: how an internal cause rides on its error response to the
//!   one place that logs it;
//! - [`cookies`]: the cookie policy, the only place that writes `Set-Cookie`;
//! - [`session`]: who is signed in, with the transparent refresh, refused
//!   with a typed reason that each adapter answers in its own way;
//! - [`client`]: who is on the other end, read through trusted proxies only;
//! - [`next`]: the check of where to go after signing in;
//! - [`upgrade`]: whether a request asks to switch protocols, and to which.
//!
//! It sits above the auth service and below the adapters; it knows nothing
//! of routes.

pub mod client;
pub mod cookies;
pub mod failure;
pub mod next;
pub mod problem;
pub mod session;
pub mod upgrade;

use std::ops::Deref;
use std::sync::Arc;

use url::Url;

use crate::auth::Auth;
use client::ProxyTrust;
use cookies::CookiePolicy;

/// What every adapter's handlers need, behind one `Arc`: axum hands each
/// handler its own copy, so a copy must be one reference count, not one
/// per field. Handlers take it as `State<Context>`; the server's state
/// gives it out through `FromRef`.
#[derive(Clone)]
pub struct Context(Arc<Services>);

impl Context {
    /// The context of an application serving with `services`.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl Deref for Context {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The parts of a [`Context`].
pub struct Services {
    /// The auth service.
    pub auth: Auth,
    /// Cookie names and attributes.
    pub cookies: CookiePolicy,
    /// Whose forwarded headers are believed.
    pub proxies: ProxyTrust,
    /// Our fixed public origin, when configured.
    pub public_url: Option<Arc<Url>>,
    /// Whether we serve TLS ourselves.
    pub tls: bool,
}
