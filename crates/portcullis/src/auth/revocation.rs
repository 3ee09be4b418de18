//! Sessions revoked recently enough that access tokens issued for them may not
//! have expired yet.
//!
//! An access token is a signed statement valid until `exp`; the only way to
//! stop one sooner is to remember its session is gone. Every instance keeps
//! this set in memory, fed from the database (at start, then by polling and,
//! on PostgreSQL, by notifications), and checks it on every request. An entry
//! is dropped once every token of its session has expired anyway.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use crate::domain::SessionId;

/// The shared set of revoked sessions.
#[derive(Clone, Debug, Default)]
pub struct RevocationSet {
    revoked: Arc<RwLock<HashMap<SessionId, OffsetDateTime>>>,
}

impl RevocationSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
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
        let mut map = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        map.extend(sessions);
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
}
