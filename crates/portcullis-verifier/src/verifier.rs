//! [`Verifier`]: keys, expectations and a clock in one cheap handle, which is
//! what a resource server keeps in its state.

use std::fmt;
use std::sync::Arc;

use crate::{Claims, KeySet, Validation, VerifyError};

/// Where "now" comes from, in seconds since the Unix epoch.
type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Verifies access tokens against a fixed [`KeySet`] or, with the `jwks`
/// feature, the keys a [`JwksCache`](crate::JwksCache) holds.
///
/// Cloning is cheap: every clone shares the same keys.
#[derive(Clone)]
pub struct Verifier {
    keys: Keys,
    validation: Arc<Validation>,
    /// The cookie a token may also arrive in, for backends that read it there
    /// (the NestJS pattern's `accessToken`); `None` accepts only
    /// `Authorization: Bearer`.
    token_cookie: Option<Arc<str>>,
    /// Injected so that tests (and callers with their own time source) decide
    /// what "now" is.
    clock: Clock,
}

#[derive(Clone)]
enum Keys {
    Fixed(Arc<KeySet>),
    #[cfg(feature = "jwks")]
    Jwks(crate::JwksCache),
}

impl Verifier {
    /// A verifier with a fixed set of keys, e.g. [`KeySet::from_shared_secret`].
    pub fn new(keys: KeySet, validation: Validation) -> Self {
        Self::with_keys(Keys::Fixed(Arc::new(keys)), validation)
    }

    /// A verifier whose keys come from the issuer's JWKS, refetched when a token
    /// names a key the cache has not seen.
    #[cfg(feature = "jwks")]
    pub fn from_jwks(cache: crate::JwksCache, validation: Validation) -> Self {
        Self::with_keys(Keys::Jwks(cache), validation)
    }

    fn with_keys(keys: Keys, validation: Validation) -> Self {
        Self {
            keys,
            validation: Arc::new(validation),
            token_cookie: None,
            clock: Arc::new(system_now),
        }
    }

    /// Also accept the token from the cookie `name` when a request has no
    /// `Authorization: Bearer` header.
    pub fn with_token_cookie(mut self, name: impl Into<String>) -> Self {
        self.token_cookie = Some(name.into().into());
        self
    }

    /// Takes the time from `now` (seconds since the Unix epoch) instead of the
    /// system clock.
    pub fn with_clock(mut self, now: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(now);
        self
    }

    /// The cookie tokens are also read from, if any.
    pub fn token_cookie(&self) -> Option<&str> {
        self.token_cookie.as_deref()
    }

    /// The expected issuer, audience and leeway.
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// Verifies `token` now and returns its claims.
    ///
    /// With a JWKS cache, a token signed by a key the cache does not hold makes
    /// it refetch the JWKS (at most once per interval) before giving up, so a
    /// key rotation at the issuer is picked up on the first token it signs.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let now = (self.clock)();
        match &self.keys {
            Keys::Fixed(keys) => keys.verify(token, &self.validation, now),
            #[cfg(feature = "jwks")]
            Keys::Jwks(cache) => match cache.keys().verify(token, &self.validation, now) {
                Err(VerifyError::UnknownKey) => {
                    let kid = KeySet::key_id(token).ok_or(VerifyError::UnknownKey)?;
                    if cache.refetch_for_unknown(&kid).await {
                        cache.keys().verify(token, &self.validation, now)
                    } else {
                        Err(VerifyError::UnknownKey)
                    }
                }
                other => other,
            },
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match &self.keys {
            Keys::Fixed(_) => "fixed",
            #[cfg(feature = "jwks")]
            Keys::Jwks(_) => "jwks",
        };
        f.debug_struct("Verifier")
            .field("keys", &keys)
            .field("validation", &self.validation)
            .field("token_cookie", &self.token_cookie)
            .finish_non_exhaustive()
    }
}

/// The system clock. A clock before 1970 reads as the epoch, which makes every
/// token "not yet valid" rather than panicking.
#[allow(clippy::disallowed_methods)] // the default clock; `with_clock` replaces it
fn system_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_a_plausible_time() {
        // 2023-11-14: any machine running these tests is later.
        assert!(system_now() > 1_700_000_000);
    }
}
