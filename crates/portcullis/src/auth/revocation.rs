//! Sessions revoked recently enough that access tokens issued for them may not
//! have expired yet.
//!
//! An access token is a signed statement valid until `exp`; the only way to
//! stop one sooner is to remember its session is gone. Every instance keeps
//! this set in memory, fed from the database (at start, then by polling and,
//! on PostgreSQL, by notifications), and checks it on every request. An entry
//! is dropped once every token of its session has expired anyway.
//!
//! Connections that outlive a request (WebSocket tunnels) cannot be checked
//! per request, so the set also counts its additions in a `watch` channel:
//! such a connection waits for the count to move, then looks up its own
//! session. Every path that revokes — this instance's own revocations, the
//! poll, PostgreSQL notifications — ends in [`RevocationSet::extend`], so
//! one counter covers them all. It moves only when a session is new to the
//! set (a poll that finds what is already known wakes nobody), costs one
//! atomic update per new revocation, and nothing per request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;
use tokio::sync::watch;

use crate::domain::SessionId;

/// The shared set of revoked sessions.
#[derive(Clone, Debug)]
pub struct RevocationSet {
    revoked: Arc<RwLock<HashMap<SessionId, OffsetDateTime>>>,
    /// How many sessions have been added so far; see [`RevocationSet::subscribe`].
    additions: Arc<watch::Sender<u64>>,
}

impl Default for RevocationSet {
    fn default() -> Self {
        Self {
            revoked: Arc::default(),
            additions: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl RevocationSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A receiver that sees a change whenever sessions are added to the
    /// set; it starts with the current count marked as seen. Check the
    /// session of interest once after subscribing (it may have been revoked
    /// just before), then after every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.additions.subscribe()
    }

    /// Whether `session` has been revoked.
    pub fn contains(&self, session: SessionId) -> bool {
        // A poisoned lock means a writer panicked mid-insert; the map is still
        // a valid map, so keep reading it rather than let every token through.
        let map = self.revoked.read().unwrap_or_else(|e| e.into_inner());
        map.contains_key(&session)
    }

    /// Records revocations.
    pub fn extend(&self, sessions: impl IntoIterator<Item = (SessionId, OffsetDateTime)>) {
        let mut added = 0u64;
        {
            let mut map = self.revoked.write().unwrap_or_else(|e| e.into_inner());
            for (session, at) in sessions {
                added += u64::from(map.insert(session, at).is_none());
            }
        }
        if added > 0 {
            // Outside the lock: a woken tunnel's `contains` must not wait on it.
            self.additions.send_modify(|count| *count += added);
        }
    }

    /// Records one revocation.
    pub fn insert(&self, session: SessionId, at: OffsetDateTime) {
        self.extend([(session, at)]);
    }

    /// Forgets revocations older than `before`: their tokens have expired.
    pub fn prune(&self, before: OffsetDateTime) {
        let mut map = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, at| *at >= before);
    }

    /// The number of sessions held.
    pub fn len(&self) -> usize {
        self.revoked.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    #[test]
    fn a_revoked_session_is_remembered_until_pruned() {
        let set = RevocationSet::new();
        let t = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let (old, recent) = (SessionId::random(), SessionId::random());
        set.insert(old, t);
        set.insert(recent, t + Duration::minutes(10));
        assert!(set.contains(old) && set.contains(recent));
        set.prune(t + Duration::minutes(5));
        assert!(!set.contains(old));
        assert!(set.contains(recent));
        assert!(!set.contains(SessionId::random()));
    }

    #[tokio::test]
    async fn subscribers_are_woken_by_new_revocations_only() {
        let set = RevocationSet::new();
        let t = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let known = SessionId::random();
        set.insert(known, t);
        let mut rx = set.subscribe();
        assert!(!rx.has_changed().expect("sender alive"));
        set.insert(known, t + Duration::seconds(1));
        assert!(!rx.has_changed().expect("sender alive"), "nothing new");
        let new = SessionId::random();
        set.extend([(known, t), (new, t)]);
        rx.changed().await.expect("woken");
        assert!(set.contains(new));
    }
}
