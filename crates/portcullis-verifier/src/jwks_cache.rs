//! [`JwksCache`]: the issuer's public keys, fetched from its JWKS URL, kept in
//! memory by `kid`, and kept fresh.
//!
//! Three things make a cache like this safe to put on a request path:
//!
//! - A token naming an unknown `kid` may trigger a refetch — that is how a key
//!   rotation at the issuer is picked up at once — but at most once per
//!   interval, so a flood of forged `kid`s cannot become a flood of requests to
//!   the issuer. Concurrent requests for the same new key wait for the one
//!   refetch instead of each starting their own.
//! - A failed fetch keeps the keys already held: an issuer that restarts does
//!   not take every resource server down with it.
//! - The background refresh is a task owned by the cache: it stops when the
//!   last clone of the cache is dropped.

use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use reqwest::Url;
use tokio::task::AbortHandle;

use crate::{Jwks, KeyError, KeySet};

/// Largest JWKS document accepted. Portcullis publishes a handful of keys,
/// well under 2 KiB; anything near this limit is not a JWKS.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Why the JWKS could not be fetched or used.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The URL given to [`JwksCache::new`] is not an http(s) URL.
    #[error("not an http or https URL: {0}")]
    InvalidUrl(String),
    /// The request failed: connection refused, timeout, TLS, a broken body.
    #[error("cannot fetch the JWKS: {0}")]
    Fetch(#[from] reqwest::Error),
    /// The issuer answered with a status other than 2xx.
    #[error("the JWKS URL answered {0}")]
    Status(u16),
    /// The document is larger than a JWKS could reasonably be.
    #[error("the JWKS is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// The document is not a JWKS.
    #[error("the JWKS is not valid JSON of the expected shape")]
    Malformed,
    /// A key in the JWKS cannot be used.
    #[error("the JWKS holds an unusable key: {0}")]
    Key(#[from] KeyError),
}

/// How a [`JwksCache`] fetches and refreshes.
#[derive(Debug, Clone)]
pub struct JwksOptions {
    refresh_interval: Duration,
    min_refetch_interval: Duration,
    timeout: Duration,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(300),
            min_refetch_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        }
    }
}

impl JwksOptions {
    /// How often the keys are refetched in the background (default 5 minutes).
    /// This is how retired keys leave the cache; new keys arrive sooner, on
    /// first sight of their `kid`.
    pub fn refresh_interval(mut self, every: Duration) -> Self {
        self.refresh_interval = every.max(Duration::from_secs(1));
        self
    }

    /// The shortest time between two refetches caused by an unknown `kid`
    /// (default 10 seconds).
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// How long one fetch may take (default 5 seconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The issuer's keys, fetched from its JWKS URL and cached by `kid`.
///
/// Cloning is cheap and shares the cache. Creating one spawns the background
/// refresh, so it must happen inside a Tokio runtime; dropping the last clone
/// stops it.
#[derive(Clone)]
pub struct JwksCache {
    shared: Arc<Shared>,
    /// Aborts the background refresh when the last clone goes.
    _refresher: Arc<Refresher>,
}

struct Shared {
    url: Url,
    client: reqwest::Client,
    /// Replaced whole on every successful fetch; readers take a snapshot.
    keys: RwLock<Arc<KeySet>>,
    min_refetch_interval: Duration,
    /// When an unknown `kid` last caused a refetch. An async lock, so that the
    /// requests that see a new `kid` together wait for one fetch.
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
}

struct Refresher(AbortHandle);

impl Drop for Refresher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl JwksCache {
    /// A cache of the JWKS at `url` (for Portcullis,
    /// `https://your-portcullis/.well-known/jwks.json`) with default options.
    ///
    /// The first fetch happens in the background; call [`refresh`](Self::refresh)
    /// to wait for it. Until it succeeds, every token's `kid` is unknown and
    /// triggers a (rate-limited) fetch of its own.
    pub fn new(url: &str) -> Result<Self, JwksError> {
        Self::with_options(url, JwksOptions::default())
    }

    /// A cache of the JWKS at `url` with the given options.
    pub fn with_options(url: &str, options: JwksOptions) -> Result<Self, JwksError> {
        let url = Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| JwksError::InvalidUrl(url.to_owned()))?;
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            // A JWKS that redirects elsewhere is not followed: the keys must
            // come from the URL the operator configured.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let shared = Arc::new(Shared {
            url,
            client,
            keys: RwLock::new(Arc::new(KeySet::new())),
            min_refetch_interval: options.min_refetch_interval,
            last_refetch: tokio::sync::Mutex::new(None),
        });
        let task = tokio::spawn(refresh_loop(
            Arc::downgrade(&shared),
            options.refresh_interval,
        ));
        Ok(Self {
            shared,
            _refresher: Arc::new(Refresher(task.abort_handle())),
        })
    }

    /// The keys held now.
    pub fn keys(&self) -> Arc<KeySet> {
        self.shared.snapshot()
    }

    /// Fetches the JWKS now and replaces the cached keys with it. On failure
    /// the keys already held stay.
    pub async fn refresh(&self) -> Result<(), JwksError> {
        self.shared.fetch().await
    }

    /// Refetches because a token named `kid`, which is not cached; at most once
    /// per [`JwksOptions::min_refetch_interval`]. Returns whether `kid` is known
    /// afterwards.
    pub async fn refetch_for_unknown(&self, kid: &str) -> bool {
        let mut last = self.shared.last_refetch.lock().await;
        // Someone may have fetched it while this request waited for the lock.
        if self.shared.snapshot().contains(kid) {
            return true;
        }
        if last.is_some_and(|t| t.elapsed() < self.shared.min_refetch_interval) {
            return false;
        }
        *last = Some(Instant::now());
        if let Err(e) = self.shared.fetch().await {
            tracing::warn!(error = %e, url = %self.shared.url, "could not refetch the JWKS");
            return false;
        }
        self.shared.snapshot().contains(kid)
    }

    #[cfg(test)]
    fn refresher(&self) -> AbortHandle {
        self._refresher.0.clone()
    }
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &self.shared.url.as_str())
            .field("keys", &self.shared.snapshot().len())
            .finish()
    }
}

impl Shared {
    fn snapshot(&self) -> Arc<KeySet> {
        // The lock only guards a pointer swap, which cannot leave it half-done.
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn fetch(&self) -> Result<(), JwksError> {
        let mut response = self.client.get(self.url.clone()).send().await?;
        if !response.status().is_success() {
            return Err(JwksError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(JwksError::TooLarge);
        }
        // Read by chunks so that a body without a length is bounded too.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(JwksError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let jwks: Jwks = serde_json::from_slice(&body).map_err(|_| JwksError::Malformed)?;
        let keys = KeySet::from_jwks(&jwks)?;
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        Ok(())
    }
}

/// Fetches at once, then every `every`, for as long as the cache exists. Holds
/// only a weak reference between fetches, so it never keeps the cache alive.
async fn refresh_loop(shared: Weak<Shared>, every: Duration) {
    loop {
        let Some(cache) = shared.upgrade() else {
            return;
        };
        if let Err(e) = cache.fetch().await {
            tracing::warn!(error = %e, url = %cache.url, "could not refresh the JWKS");
        }
        drop(cache);
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropping_the_last_clone_stops_the_background_refresh() {
        // Nothing listens on port 9 of localhost; the fetches fail, which is
        // fine: this is about the task's life, not its success.
        let cache = JwksCache::new("http://127.0.0.1:9/.well-known/jwks.json").expect("valid url");
        let clone = cache.clone();
        let task = cache.refresher();
        drop(cache);
        assert!(!task.is_finished(), "a clone still holds the cache");
        drop(clone);
        for _ in 0..1000 {
            if task.is_finished() {
                return;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("the refresh task outlived its cache");
    }

    #[test]
    fn only_http_urls_are_accepted() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _guard = runtime.enter();
        for url in ["file:///etc/passwd", "not a url", "ftp://x/jwks.json"] {
            assert!(matches!(JwksCache::new(url), Err(JwksError::InvalidUrl(_))));
        }
    }
}
