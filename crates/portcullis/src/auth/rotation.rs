//! The refresh-token rotation rules, as a pure function of the session's state,
//! the generation of the token presented, and the time.

use std::time::Duration;

use time::OffsetDateTime;

use crate::config::SessionPolicy;
use crate::store::SessionRecord;

/// Why a refresh was refused. Every reason answers the client the same way
/// (401 `invalid_refresh_token`); the reason is for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDenial {
    /// No refresh cookie.
    Missing,
    /// The cookie is not a well-formed token.
    Malformed,
    /// No session ever had this token.
    Unknown,
    /// The session was revoked.
    Revoked,
    /// An already-rotated token was presented outside the grace window; the
    /// session has now been revoked.
    Reused,
    /// The session was idle for longer than the idle timeout.
    IdleTimeout,
    /// The session reached its absolute lifetime.
    LifetimeExceeded,
    /// The user is disabled or gone.
    UserDisabled,
}

impl RefreshDenial {
    /// A stable, machine-readable spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshDenial::Missing => "missing",
            RefreshDenial::Malformed => "malformed",
            RefreshDenial::Unknown => "unknown",
            RefreshDenial::Revoked => "revoked",
            RefreshDenial::Reused => "reuse_detected",
            RefreshDenial::IdleTimeout => "idle_timeout",
            RefreshDenial::LifetimeExceeded => "lifetime_exceeded",
            RefreshDenial::UserDisabled => "user_disabled",
        }
    }
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The token is the live one: rotate it.
    Rotate,
    /// The token was rotated moments ago (another tab won the race): hand out
    /// the session's live token again instead of signing anyone out.
    ReissueCurrent,
    /// An older token came back: it was stolen, or the legitimate client was
    /// robbed of its successor. Revoke the session.
    RevokeForReuse,
    /// Refuse without changing anything.
    Deny(RefreshDenial),
}

/// Decides what a refresh with a token of `presented_generation` does to
/// `session` at `now`.
pub fn decide(
    session: &SessionRecord,
    presented_generation: i64,
    now: OffsetDateTime,
    policy: &SessionPolicy,
) -> Decision {
    if session.revoked_at.is_some() {
        return Decision::Deny(RefreshDenial::Revoked);
    }
    if now >= session.expires_at {
        return Decision::Deny(RefreshDenial::LifetimeExceeded);
    }
    if now >= session.refreshed_at + policy.idle_timeout {
        return Decision::Deny(RefreshDenial::IdleTimeout);
    }
    if presented_generation == session.generation {
        return Decision::Rotate;
    }
    let just_rotated = presented_generation == session.generation - 1
        && session.successor_seal.is_some()
        && now < session.refreshed_at + policy.reuse_grace;
    if just_rotated {
        Decision::ReissueCurrent
    } else {
        Decision::RevokeForReuse
    }
}

/// When a session started at `created_at` ends, however active.
pub fn absolute_end(created_at: OffsetDateTime, policy: &SessionPolicy) -> OffsetDateTime {
    created_at + policy.max_lifetime
}

/// How long the refresh cookie should live: the idle timeout, but never past
/// the session's absolute end.
pub fn refresh_cookie_lifetime(
    session_expires_at: OffsetDateTime,
    now: OffsetDateTime,
    policy: &SessionPolicy,
) -> Duration {
    let remaining = (session_expires_at - now).max(time::Duration::ZERO);
    policy
        .idle_timeout
        .min(remaining.try_into().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SessionId, UserId};

    const T0: i64 = 1_800_000_000;

    fn policy() -> SessionPolicy {
        SessionPolicy {
            access_token_ttl: Duration::from_secs(900),
            idle_timeout: Duration::from_secs(7 * 86_400),
            max_lifetime: Duration::from_secs(30 * 86_400),
            reuse_grace: Duration::from_secs(10),
        }
    }

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(T0 + secs).expect("in range")
    }

    /// A session signed in at T0, rotated `generation` times, last at `refreshed`.
    fn session(generation: i64, refreshed: i64) -> SessionRecord {
        SessionRecord {
            id: SessionId::random(),
            user_id: UserId::random(),
            created_at: at(0),
            refreshed_at: at(refreshed),
            expires_at: absolute_end(at(0), &policy()),
            generation,
            successor_seal: (generation > 0).then(|| vec![0; 32]),
            revoked_at: None,
            user_agent: None,
            client_addr: None,
            method: crate::domain::SignInMethod::Password,
            reauthenticated_at: None,
        }
    }

    #[test]
    fn the_live_token_rotates() {
        assert_eq!(
            decide(&session(3, 100), 3, at(200), &policy()),
            Decision::Rotate
        );
    }

    #[test]
    fn the_immediate_predecessor_within_the_grace_window_gets_the_current_token() {
        assert_eq!(
            decide(&session(3, 100), 2, at(109), &policy()),
            Decision::ReissueCurrent
        );
    }

    #[test]
    fn the_immediate_predecessor_after_the_grace_window_is_reuse() {
        assert_eq!(
            decide(&session(3, 100), 2, at(110), &policy()),
            Decision::RevokeForReuse
        );
    }

    #[test]
    fn an_older_token_is_reuse_even_inside_the_grace_window() {
        assert_eq!(
            decide(&session(3, 100), 1, at(101), &policy()),
            Decision::RevokeForReuse
        );
    }

    #[test]
    fn a_revoked_session_refuses_every_token() {
        let mut s = session(3, 100);
        s.revoked_at = Some(at(150));
        for generation in [1, 2, 3] {
            assert_eq!(
                decide(&s, generation, at(151), &policy()),
                Decision::Deny(RefreshDenial::Revoked)
            );
        }
    }

    #[test]
    fn an_idle_session_ends_after_the_idle_timeout() {
        let s = session(0, 0);
        let idle = 7 * 86_400;
        assert_eq!(decide(&s, 0, at(idle - 1), &policy()), Decision::Rotate);
        assert_eq!(
            decide(&s, 0, at(idle), &policy()),
            Decision::Deny(RefreshDenial::IdleTimeout)
        );
    }

    #[test]
    fn an_active_session_ends_at_its_absolute_lifetime() {
        let end = 30 * 86_400;
        let s = session(40, end - 60);
        assert_eq!(decide(&s, 40, at(end - 1), &policy()), Decision::Rotate);
        assert_eq!(
            decide(&s, 40, at(end), &policy()),
            Decision::Deny(RefreshDenial::LifetimeExceeded)
        );
    }

    #[test]
    fn the_refresh_cookie_never_outlives_the_session() {
        let p = policy();
        assert_eq!(
            refresh_cookie_lifetime(at(30 * 86_400), at(0), &p),
            p.idle_timeout
        );
        assert_eq!(
            refresh_cookie_lifetime(at(30 * 86_400), at(30 * 86_400 - 60), &p),
            Duration::from_secs(60)
        );
        assert_eq!(refresh_cookie_lifetime(at(0), at(10), &p), Duration::ZERO);
    }
}
