//! A failure on our side, carried beside its error response to the one
//! place that logs it.
//!
//! When a request fails because of us — the database is down, the hashing
//! pool is full, the upstream does not answer, a bug — the operator needs the
//! cause, and needs it once. So converting an error never logs (a `From`
//! impl cannot know whether its result is logged again later); instead the
//! [`Failure`] is put in the response's extensions, as axum's error-handling
//! example does, and the access-log layer in [`crate::server`] logs it in
//! the request's span, next to the request's own line. A refusal that is the
//! request's own doing (a wrong password, a taken name) is no failure and
//! carries none.

use std::error::Error;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use tracing::Level;

use super::problem::ApiError;
use crate::auth::AuthError;
use crate::report::Chain;

/// What to log about an error response, how loudly, and its cause.
#[derive(Clone)]
pub struct Failure {
    level: Level,
    message: &'static str,
    /// Shared, because response extensions must be cloneable and errors
    /// usually are not.
    cause: Option<Arc<dyn Error + Send + Sync>>,
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failure")
            .field("level", &self.level)
            .field("message", &self.message)
            .field("cause", &self.cause.as_deref().map(|e| e.to_string()))
            .finish()
    }
}

impl Failure {
    /// A failure to log at `level` with `message`.
    pub fn new(level: Level, message: &'static str) -> Self {
        Self {
            level,
            message,
            cause: None,
        }
    }

    /// The same, with the error that caused it (logged with its whole chain).
    pub fn caused_by(self, cause: impl Error + Send + Sync + 'static) -> Self {
        Self {
            cause: Some(Arc::new(cause)),
            ..self
        }
    }

    /// The failure behind an auth error, when the fault is ours; `None` when
    /// the request itself was refused.
    pub fn of(e: AuthError) -> Option<Self> {
        match e {
            AuthError::Overloaded(_) => Some(Self::new(
                Level::WARN,
                "password hashing at capacity: request shed",
            )),
            AuthError::Store(_) => Some(Self::new(Level::ERROR, "database failure").caused_by(e)),
            // The propagation task logs the cause once; each request only
            // notes that it failed closed.
            AuthError::RevocationsUnverified => Some(Self::new(
                Level::DEBUG,
                "revocation set unverified: failing closed",
            )),
            AuthError::Internal(_) => Some(Self::new(Level::ERROR, "internal error").caused_by(e)),
            AuthError::ProviderUnavailable(_) => {
                Some(Self::new(Level::WARN, "identity provider unavailable").caused_by(e))
            }
            // Refused by the request's own doing, but an operator debugging
            // a provider's configuration (a wrong client id, a clock that
            // is off) needs to see why.
            AuthError::InvalidIdToken(_) | AuthError::ProviderDenied(_) => {
                Some(Self::new(Level::INFO, "sign-in with a provider refused").caused_by(e))
            }
            _ => None,
        }
    }

    /// Puts the failure on its way to the log with `response`.
    pub fn attach(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }

    /// Writes the log line. Called once per response, by the access-log
    /// layer.
    pub fn log(&self) {
        macro_rules! event {
            ($level:expr) => {
                match &self.cause {
                    Some(cause) => {
                        tracing::event!($level, error = %Chain(cause.as_ref()), "{}", self.message)
                    }
                    None => tracing::event!($level, "{}", self.message),
                }
            };
        }
        match self.level {
            Level::ERROR => event!(Level::ERROR),
            Level::WARN => event!(Level::WARN),
            Level::INFO => event!(Level::INFO),
            Level::DEBUG => event!(Level::DEBUG),
            _ => event!(Level::TRACE),
        }
    }
}

/// Attaches `failure`, if there is one, to `response`.
pub fn attach(failure: Option<Failure>, response: Response) -> Response {
    match failure {
        Some(failure) => failure.attach(response),
        None => response,
    }
}

/// An auth error as the API answers it: its problem, with the failure
/// behind it on the way to the log.
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let response = ApiError::from(&self).into_response();
        attach(Failure::of(self), response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::passwords::HashError;

    #[test]
    fn a_refusal_of_the_request_is_no_failure_of_ours() {
        assert!(Failure::of(AuthError::InvalidCredentials).is_none());
        assert!(Failure::of(AuthError::AccountExists).is_none());
    }

    #[test]
    fn a_failure_rides_on_its_response() {
        let response = AuthError::Overloaded(HashError::Overloaded).into_response();
        assert_eq!(response.status(), 503);
        let failure = response.extensions().get::<Failure>().expect("attached");
        assert_eq!(failure.level, Level::WARN);
    }
}
