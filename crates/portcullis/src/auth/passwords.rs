//! Password hashing with argon2id, off the async workers and bounded.
//!
//! One verification takes tens of milliseconds of CPU and 19 MiB of memory.
//! Run on the async workers, a burst of sign-ins would stall every other
//! request, token checks included; unbounded on the blocking pool, it would
//! take all the memory. So hashes run on the blocking pool behind a semaphore
//! sized to the cores, with a bounded queue in front: past it, callers get
//! [`HashError::Overloaded`] (503) at once instead of waiting without limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::config::HashingConfig;
use crate::domain::Password;

/// OWASP's minimum for argon2id: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// Why hashing did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hashes are running or waiting; try again shortly.
    #[error("password hashing is at capacity")]
    Overloaded,
    /// The random source or the hashing task failed.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The outcome of checking a password.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// The password is wrong, or there was no such user.
    No,
    /// The password is right.
    Yes,
    /// The password is right and the stored hash uses weaker parameters than
    /// today's: here is a new hash to store.
    YesRehashed(String),
}

/// A cheap handle to the shared hasher.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    argon2: Argon2<'static>,
    /// One permit per hash allowed to run at once.
    running: Arc<Semaphore>,
    /// Hashes running or waiting, to shed load past `limit`.
    in_flight: AtomicUsize,
    /// argon2 computations finished, hashes and verifications alike: lets a
    /// test prove that every sign-in path does the same work.
    completed: AtomicU64,
    limit: usize,
    /// A hash of a random password, verified against when the user does not
    /// exist so that "no such user" costs the same as "wrong password".
    dummy: OnceCell<String>,
}

/// Decrements the in-flight count even if the caller's future is dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordHasher {
    /// A hasher with the given capacity.
    pub fn new(config: HashingConfig) -> Self {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
            .unwrap_or_else(|_| unreachable!("constant parameters are within argon2's bounds"));
        Self {
            inner: Arc::new(Inner {
                argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
                running: Arc::new(Semaphore::new(config.concurrency)),
                in_flight: AtomicUsize::new(0),
                completed: AtomicU64::new(0),
                limit: config.concurrency + config.queue,
                dummy: OnceCell::new(),
            }),
        }
    }

    /// Hashes waiting for a slot or running now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// argon2 computations finished since start.
    pub fn completed(&self) -> u64 {
        self.inner.completed.load(Ordering::SeqCst)
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.run(move |argon2| hash_blocking(argon2, &password))
            .await?
    }

    /// Checks `password` against `stored`, or against a dummy hash of the same
    /// cost when there is no stored hash (unknown user).
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let (stored, real) = match stored {
            Some(hash) => (hash, true),
            None => (self.dummy().await?.to_owned(), false),
        };
        self.run(move |argon2| {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Ok(Verified::No);
            };
            if argon2
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_err()
                || !real
            {
                return Ok(Verified::No);
            }
            let current = argon2.params();
            let weaker = Params::try_from(&parsed).map_or(true, |p| {
                p.m_cost() < current.m_cost()
                    || p.t_cost() < current.t_cost()
                    || parsed.algorithm != argon2::ARGON2ID_IDENT
            });
            if weaker {
                return hash_blocking(argon2, &password).map(Verified::YesRehashed);
            }
            Ok(Verified::Yes)
        })
        .await?
    }

    /// Computes the dummy hash ahead of the first sign-in for an unknown name,
    /// so that that sign-in is not the one slow answer that gives it away.
    pub async fn warm_up(&self) -> Result<(), HashError> {
        self.dummy().await.map(|_| ())
    }

    async fn dummy(&self) -> Result<&str, HashError> {
        self.inner
            .dummy
            .get_or_try_init(|| async {
                let mut random = [0u8; 32];
                getrandom::fill(&mut random).map_err(|e| HashError::Failed(e.to_string()))?;
                let throwaway = Password::candidate(&String::from_utf8_lossy(&random));
                self.hash(throwaway).await
            })
            .await
            .map(String::as_str)
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Argon2<'static>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let inner = &self.inner;
        let _in_flight = InFlight(&inner.in_flight);
        if inner.in_flight.fetch_add(1, Ordering::SeqCst) >= inner.limit {
            return Err(HashError::Overloaded);
        }
        let permit = inner
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| HashError::Failed(e.to_string()))?;
        let argon2 = inner.argon2.clone();
        let completed = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let result = job(&argon2);
            completed.completed.fetch_add(1, Ordering::SeqCst);
            result
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))
    }
}

fn hash_blocking(argon2: &Argon2<'_>, password: &Password) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| HashError::Failed(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Failed(e.to_string()))?;
    argon2
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(concurrency: usize, queue: usize) -> PasswordHasher {
        PasswordHasher::new(HashingConfig { concurrency, queue })
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let h = hasher(2, 8);
        let stored = h
            .hash(Password::candidate("correct horse"))
            .await
            .expect("hashes");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        let ok = h
            .verify(Password::candidate("correct horse"), Some(stored.clone()))
            .await;
        assert_eq!(ok.expect("verifies"), Verified::Yes);
        let bad = h
            .verify(Password::candidate("wrong horse"), Some(stored))
            .await;
        assert_eq!(bad.expect("verifies"), Verified::No);
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let h = hasher(1, 1);
        let r = h.verify(Password::candidate(""), None).await.expect("runs");
        assert_eq!(r, Verified::No);
    }

    #[tokio::test]
    async fn a_hash_with_weaker_parameters_is_upgraded_on_success() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).expect("valid"),
        );
        let stored = hash_blocking(&weak, &Password::candidate("pw-pw-pw-pw")).expect("hashes");
        let h = hasher(1, 1);
        match h
            .verify(Password::candidate("pw-pw-pw-pw"), Some(stored))
            .await
        {
            Ok(Verified::YesRehashed(new)) => assert!(new.contains("m=19456,t=2,p=1")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn past_the_queue_limit_requests_are_shed_not_queued() {
        let h = hasher(1, 0);
        let first = tokio::spawn({
            let h = h.clone();
            async move { h.hash(Password::candidate("aaaaaaaa")).await }
        });
        // Wait until the first hash holds the only slot.
        while h.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        let shed = h.hash(Password::candidate("bbbbbbbb")).await;
        assert!(matches!(shed, Err(HashError::Overloaded)));
        assert!(first.await.expect("joins").is_ok());
        assert_eq!(h.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_a_wrong_password_not_a_crash() {
        let h = hasher(1, 1);
        let r = h
            .verify(Password::candidate("x"), Some("not a phc string".into()))
            .await;
        assert_eq!(r.expect("runs"), Verified::No);
    }
}
