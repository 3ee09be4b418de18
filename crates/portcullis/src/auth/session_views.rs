//! What `GET /api/auth/session` shows of each session, remembered so that the
//! answer needs no database.
//!
//! Browsers ask for it often (on every page load of a typical app), and it
//! read the session and its user from the database each time: two queries
//! for an answer that changes only when the user does. An entry is valid
//! until then, and is forgotten on every path by which a change reaches
//! this instance:
//!
//! - this instance's own writes of a user (e-mail verified or changed,
//!   password changed or reset, account disabled) forget that user's
//!   entries as soon as they commit;
//! - other instances' and the admin commands' writes: on PostgreSQL a
//!   trigger announces each on the change feed, in commit order with the
//!   revocations and the heartbeats that prove the feed current (see
//!   [`super::propagation`]); a lost feed forgets everything; and every
//!   instance polls for users written since its last look (by `updated_at`)
//!   each second, which is how they arrive on SQLite;
//! - the session itself ending (logout, revocation, expiry) needs nothing
//!   here: the answer is given only to a request whose access token has just
//!   passed the revocation set, so a revoked session's entry is never read,
//!   and ages out of the bounded map.
//!
//! So the answer is as current as the revocation set is: another
//! instance's change shows within the time a revocation takes to arrive.
//!
//! A read from the database that overlaps a change must not put the old
//! state back after the change has forgotten it: every forgetting moves a
//! generation counter, and an answer read from the database is remembered
//! only if the counter has not moved since the read began.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::Cache;

use super::{SessionView, UserView};
use crate::domain::{SessionId, UserId};

/// How many sessions' answers are remembered: as many as the verified-token
/// cache holds tokens, a few hundred bytes each.
pub const CAPACITY: usize = super::verified_tokens::CAPACITY;

/// The user and session a session's answer shows.
#[derive(Debug)]
pub struct CurrentSession {
    /// The user, as of the read.
    pub user: UserView,
    /// The session, as of the read: `last_used_at` may have moved since
    /// (a refresh), what the answer shows has not.
    pub session: SessionView,
}

/// A bounded map from sessions to their answers.
pub struct SessionViews {
    cache: Cache<SessionId, Arc<CurrentSession>>,
    /// Moves whenever anything is forgotten; see [`SessionViews::ticket`].
    generation: AtomicU64,
}

/// Taken before reading an answer from the database; the answer is
/// remembered only if nothing was forgotten since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl SessionViews {
    /// An empty map holding at most `capacity` sessions.
    pub fn new(capacity: usize) -> Self {
        Self {
            cache: Cache::new(capacity),
            generation: AtomicU64::new(0),
        }
    }

    /// The remembered answer for `session`, if any.
    pub fn get(&self, session: SessionId) -> Option<Arc<CurrentSession>> {
        self.cache.get(&session)
    }

    /// To take before reading an answer from the database.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    /// Remembers an answer read after `ticket` was taken, unless something
    /// was forgotten since: the read may then predate that change.
    pub fn remember(&self, ticket: Ticket, view: Arc<CurrentSession>) {
        // Checked before and after the insert: a forgetting that runs
        // between the check and the insert would otherwise miss the entry
        // (it may already have swept the map).
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        let session = view.session.id;
        self.cache.insert(session, view);
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            self.cache.remove(&session);
        }
    }

    /// Forgets every answer about `user`.
    pub fn forget_user(&self, user: UserId) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.retain(|_, view| view.user.id != user);
    }

    /// Forgets every answer: changes may have been missed.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.clear();
    }

    /// How many answers are remembered.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::domain::SignInMethod;

    fn view(user: UserId) -> Arc<CurrentSession> {
        let now = OffsetDateTime::UNIX_EPOCH;
        Arc::new(CurrentSession {
            user: UserView {
                id: user,
                username: "ada".into(),
                email: "ada@example.com".into(),
                disabled: false,
                created_at: now,
                email_verified: false,
            },
            session: SessionView {
                id: SessionId::random(),
                created_at: now,
                last_used_at: now,
                expires_at: now,
                user_agent: None,
                method: SignInMethod::Password,
            },
        })
    }

    #[test]
    fn a_users_answers_are_forgotten_and_others_kept() {
        let views = SessionViews::new(16);
        let (ada, bob) = (UserId::random(), UserId::random());
        let (a, b) = (view(ada), view(bob));
        views.remember(views.ticket(), a.clone());
        views.remember(views.ticket(), b.clone());
        views.forget_user(ada);
        assert!(views.get(a.session.id).is_none());
        assert!(views.get(b.session.id).is_some());
        views.forget_all();
        assert!(views.is_empty());
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_remembered() {
        let views = SessionViews::new(16);
        let ada = UserId::random();
        let ticket = views.ticket();
        // The change commits and is forgotten while the read is under way.
        views.forget_user(ada);
        let stale = view(ada);
        views.remember(ticket, stale.clone());
        assert!(views.get(stale.session.id).is_none());
    }
}
