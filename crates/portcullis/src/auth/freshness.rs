//! How sure an instance is that its revoked-session set is current.
//!
//! The set can only be trusted as far as the last proof that it held every
//! revocation committed before some moment: a successful poll (SQLite), or a
//! heartbeat that came back through the notification connection (PostgreSQL,
//! see [`crate::store::changes`]). Each proof records the moment it *started*
//! — a [`Mark`] — because only what was committed before then is covered.
//!
//! Past `limit` without a new proof, the instance fails closed: an access
//! token might belong to a session revoked elsewhere, and answering 503 is
//! better than letting it through. The trade-off is the operator's: a small
//! limit bounds how long a revoked token can keep working during a database
//! or network fault, a large one rides out short blips without 503s.
//!
//! The check runs on every authenticated request, so it is one monotonic clock
//! read and one atomic load — no lock, no allocation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A moment in this process's life, in milliseconds since the tracker was
/// made; monotonic, so wall-clock jumps cannot fake freshness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark(u64);

impl Mark {
    /// The raw value, carried in a heartbeat's payload.
    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// A mark read back from a heartbeat's payload.
    pub fn from_millis(millis: u64) -> Self {
        Self(millis)
    }
}

/// The shared freshness tracker; cheap to clone.
#[derive(Debug, Clone)]
pub struct Freshness(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// The origin of every [`Mark`].
    origin: Instant,
    /// The latest proven mark, plus one; zero means never proven.
    proven: AtomicU64,
    /// How long after the latest proven mark the set is still trusted.
    limit_millis: u64,
}

impl Freshness {
    /// A tracker that trusts the set for `limit` after each proof; it starts
    /// unproven.
    pub fn new(limit: Duration) -> Self {
        Self(Arc::new(Inner {
            origin: Instant::now(),
            proven: AtomicU64::new(0),
            limit_millis: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
        }))
    }

    /// The current moment; take it *before* starting a proof.
    pub fn mark(&self) -> Mark {
        Mark(u64::try_from(self.0.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Records that every revocation committed before `mark` is in the set.
    /// Older proofs arriving late never move the time back; marks from the
    /// future (a garbled payload) are clamped to now.
    pub fn prove(&self, mark: Mark) {
        let mark = mark.min(self.mark());
        self.0.proven.fetch_max(mark.0 + 1, Ordering::AcqRel);
    }

    /// Whether the set may be trusted now.
    pub fn is_current(&self) -> bool {
        self.is_current_at(self.mark())
    }

    fn is_current_at(&self, now: Mark) -> bool {
        match self.0.proven.load(Ordering::Acquire) {
            0 => false,
            proven => now.0.saturating_sub(proven - 1) <= self.0.limit_millis,
        }
    }

    /// How long a proof is trusted.
    pub fn limit(&self) -> Duration {
        Duration::from_millis(self.0.limit_millis)
    }

    /// How long since the latest proof, for logs; `None` before the first.
    pub fn age(&self) -> Option<Duration> {
        match self.0.proven.load(Ordering::Acquire) {
            0 => None,
            proven => Some(Duration::from_millis(
                self.mark().0.saturating_sub(proven - 1),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unproven_set_is_not_current() {
        let f = Freshness::new(Duration::from_secs(5));
        assert!(!f.is_current_at(Mark(0)));
        assert_eq!(f.age(), None);
    }

    #[test]
    fn a_proof_is_trusted_for_the_limit_then_no_longer() {
        let f = Freshness::new(Duration::from_secs(5));
        f.prove(Mark(0));
        assert!(f.is_current_at(Mark(0)));
        assert!(f.is_current_at(Mark(5_000)));
        assert!(!f.is_current_at(Mark(5_001)));
    }

    #[test]
    fn a_late_old_proof_does_not_move_freshness_back() {
        let f = Freshness::new(Duration::from_secs(5));
        let (older, newer) = (Mark(0), f.mark());
        f.prove(newer);
        f.prove(older);
        assert_eq!(f.0.proven.load(Ordering::Acquire), newer.0 + 1);
    }

    #[test]
    fn a_mark_from_the_future_counts_as_now() {
        let f = Freshness::new(Duration::from_secs(5));
        f.prove(Mark(u64::MAX - 1));
        assert!(f.0.proven.load(Ordering::Acquire) <= f.mark().0 + 1);
        assert!(f.is_current());
    }
}
