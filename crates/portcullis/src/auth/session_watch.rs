//! Holding a long-lived connection to the session it was opened with.
//!
//! A request is checked once, when it arrives; a WebSocket tunnel opened by
//! that request may carry traffic for hours. [`SessionWatch`] is what such a
//! connection waits on, beside its traffic, to learn when it must close:
//!
//! - **revoked**: the session enters the revocation set — sign-out, sign-out
//!   everywhere, a password change, a disabled account, reuse detection, an
//!   administrator, on this instance or any other (the set is fed by
//!   notifications and polling, see [`super::propagation`]). The watch
//!   waits on the set's addition counter and then tests its own session,
//!   so an idle watch costs nothing.
//! - **expired**: the connection may not outlive the access token it was
//!   opened with unless the session is still live. Shortly before the
//!   token's `exp` the watch asks the database whether the session could
//!   still be refreshed (not revoked, its user enabled, neither idle nor past
//!   its absolute end); if so it holds until the lifetime a token issued now
//!   would have, and asks again before that runs out. A database that does
//!   not answer is asked again every second until the token's `exp`; then
//!   the connection closes, failing closed like every other check.

use std::sync::Arc;
use std::time::Duration;

use portcullis_verifier::Claims;
use time::OffsetDateTime;
use tokio::sync::watch;

use super::{Auth, AuthError};
use crate::domain::SessionId;
use crate::report::Chain;

/// Longest the re-check runs ahead of the deadline: enough for a slow
/// database (its statement timeout is a few seconds) with time to spare.
const RECHECK_AHEAD: Duration = Duration::from_secs(30);
/// Wait between attempts while the database does not answer.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Why a watched session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The session was revoked.
    Revoked,
    /// The access token ran out and the session behind it was no longer
    /// live, or could not be confirmed live, when checked.
    Expired,
}

/// A wait on one session's end; see the module documentation.
pub struct SessionWatch {
    auth: Auth,
    /// The claims the connection was opened with; re-checked as they are.
    claims: Arc<Claims>,
    /// `None` when the claims name no session, which cannot be watched and
    /// so has ended.
    session: Option<SessionId>,
    /// Moves whenever the revocation set gains sessions.
    revocations: watch::Receiver<u64>,
    /// Until when the connection may stay without asking again: the token's
    /// `exp`, then the end of each confirmed lifetime.
    deadline: OffsetDateTime,
}

impl Auth {
    /// A watch on the session behind `claims`, which have just been
    /// verified: [`SessionWatch::ended`] resolves when the connection
    /// opened with them must close.
    pub fn watch_session(&self, claims: Arc<Claims>) -> SessionWatch {
        let deadline = i64::try_from(claims.exp)
            .ok()
            .and_then(|exp| OffsetDateTime::from_unix_timestamp(exp).ok())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        SessionWatch {
            session: claims.sid.parse().ok(),
            revocations: self.revoked.subscribe(),
            auth: self.clone(),
            claims,
            deadline,
        }
    }

    /// Until when the session behind `claims` is live as the database
    /// stores it — the earlier of its absolute end and its idle timeout —
    /// or `None` when it has ended.
    async fn session_live_until(
        &self,
        claims: &Claims,
    ) -> Result<Option<OffsetDateTime>, AuthError> {
        let session = match self.current_records(claims).await {
            Ok((_, session)) => session,
            Err(AuthError::Unauthenticated(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let until = session
            .expires_at
            .min(session.refreshed_at + self.policy.idle_timeout);
        Ok((until > self.clock.now()).then_some(until))
    }
}

impl SessionWatch {
    /// Resolves when the session ends. Cancel-safe: dropping the future
    /// between polls loses nothing, so it can sit in a `select!` beside the
    /// connection's traffic.
    pub async fn ended(&mut self) -> SessionEnd {
        let Some(session) = self.session else {
            return SessionEnd::Revoked;
        };
        let ahead = RECHECK_AHEAD.min(self.auth.policy.access_token_ttl / 4);
        let mut check_at = self.deadline - ahead;
        loop {
            // Revoked before we subscribed, or since the last change.
            if self.auth.revoked.contains(session) {
                return SessionEnd::Revoked;
            }
            let wait = self.until(check_at);
            tokio::select! {
                changed = self.revocations.changed() => {
                    if changed.is_err() {
                        // The set is gone with its service: nothing will
                        // ever be revoked again, but the deadline holds.
                        tokio::time::sleep(wait).await;
                    } else {
                        continue;
                    }
                }
                () = tokio::time::sleep(wait) => {}
            }
            let now = self.auth.clock.now();
            match self.auth.session_live_until(&self.claims).await {
                Ok(Some(until)) => {
                    self.deadline = until.min(now + self.auth.policy.access_token_ttl);
                    check_at = self.deadline - ahead;
                }
                Ok(None) => return SessionEnd::Expired,
                Err(e) => {
                    if now >= self.deadline {
                        tracing::warn!(error = %Chain(&e), "could not confirm a tunnel's session before its token ran out; closing it");
                        return SessionEnd::Expired;
                    }
                    tracing::debug!(error = %Chain(&e), "could not confirm a tunnel's session; retrying");
                    check_at = self.deadline.min(now + RETRY_AFTER_FAILURE);
                }
            }
        }
    }

    /// How long from now until `at`, by the service's clock; zero if past.
    fn until(&self, at: OffsetDateTime) -> Duration {
        (at - self.auth.clock.now())
            .try_into()
            .unwrap_or(Duration::ZERO)
    }
}
