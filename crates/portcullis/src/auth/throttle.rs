//! Sign-in throttling per account name: exponential back-off after repeated
//! failures, kept in the database so that it holds across instances.
//!
//! The name is throttled whether or not an account has it, so a 429 says
//! nothing about who exists. A success clears the count.

use std::time::Duration;

use time::OffsetDateTime;

/// Failures allowed before any wait is imposed.
pub const FREE_FAILURES: i64 = 4;
/// The longest wait between attempts.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// A failure older than this no longer counts: the count starts over.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(60 * 60);

/// How long after its last failure an account name stays locked, given its
/// failure count: nothing for the first four, then 2 s, 4 s, 8 s … up to 15 min.
pub fn lockout(failures: i64) -> Duration {
    if failures <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(failures - FREE_FAILURES)
        .unwrap_or(u32::MAX)
        .min(10);
    Duration::from_secs(1u64 << doublings).min(MAX_LOCKOUT)
}

/// The wait still ahead at `now`, if any.
pub fn remaining(
    failures: i64,
    last_failure_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<Duration> {
    let until = last_failure_at + lockout(failures);
    (until > now).then(|| (until - now).try_into().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failures_are_free_then_the_wait_doubles_up_to_a_cap() {
        assert_eq!(lockout(4), Duration::ZERO);
        assert_eq!(lockout(5), Duration::from_secs(2));
        assert_eq!(lockout(6), Duration::from_secs(4));
        assert_eq!(lockout(13), Duration::from_secs(512));
        assert_eq!(lockout(14), MAX_LOCKOUT);
        assert_eq!(lockout(i64::MAX), MAX_LOCKOUT);
    }

    #[test]
    fn the_remaining_wait_counts_down_from_the_last_failure() {
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        assert_eq!(
            remaining(6, t, t + time::Duration::seconds(1)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(remaining(6, t, t + time::Duration::seconds(4)), None);
        assert_eq!(remaining(2, t, t), None);
    }
}
