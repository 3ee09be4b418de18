//! Throttling of password guesses: exponential back-off after repeated
//! failures, kept in the database so that it holds across instances.
//!
//! What a failure counts against is a [`ThrottleKey`]: the account, however
//! it was named (username or e-mail address: one budget, not two); the
//! device, when the attempt brings a valid device cookie for that account
//! (see [`super::devices`]); or, when the name matches no account, the name
//! itself, so that a 429 says nothing about who exists. A sign-in that
//! succeeds for an account clears the account's count.

use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::devices::DeviceId;
use crate::domain::{LoginName, UserId};

/// What a failed attempt to prove a password counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThrottleKey {
    /// A known account, from a client that has not signed in to it before.
    Account(UserId),
    /// A browser that has signed in to the account before: its own budget.
    Device(DeviceId),
    /// A submitted name that matches no account, by the SHA-256 of its
    /// lookup key: the table never holds what was typed (people type
    /// passwords into the name field), and a row's size is bounded.
    Name([u8; 32]),
}

impl ThrottleKey {
    /// The key of a name that matched no account.
    pub fn name(login: &LoginName) -> Self {
        ThrottleKey::Name(Sha256::digest(login.key().as_bytes()).into())
    }

    /// The key as stored.
    pub fn stored(&self) -> String {
        match self {
            ThrottleKey::Account(user) => format!("account:{user}"),
            ThrottleKey::Device(device) => format!("device:{}", device.as_str()),
            ThrottleKey::Name(digest) => {
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                format!("name:{hex}")
            }
        }
    }

    /// Where a failed attempt came from, for the audit log.
    pub fn origin(&self) -> &'static str {
        match self {
            ThrottleKey::Device(_) => "known device",
            ThrottleKey::Account(_) | ThrottleKey::Name(_) => "new device",
        }
    }

    /// Which limit refused an attempt, for the audit log. An unknown name
    /// reads as an account, as it does to the client.
    pub fn per(&self) -> &'static str {
        match self {
            ThrottleKey::Account(_) | ThrottleKey::Name(_) => "per account",
            ThrottleKey::Device(_) => "per device",
        }
    }
}

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
    fn every_spelling_of_a_name_is_one_key_and_no_key_holds_the_name() {
        let key = ThrottleKey::name(&LoginName::new("Hunter2-Typed-Here"));
        assert_eq!(
            key,
            ThrottleKey::name(&LoginName::new("hunter2-typed-here"))
        );
        let stored = key.stored();
        assert_eq!(stored.len(), "name:".len() + 64);
        assert!(!stored.contains("hunter2"), "{stored}");
        let long = ThrottleKey::name(&LoginName::new(&"x".repeat(10_000)));
        assert_eq!(long.stored().len(), stored.len());
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
