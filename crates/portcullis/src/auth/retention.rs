//! Forgetting what is no longer needed: throttle rows past their memory,
//! audit events past the configured retention, expired mailed links and
//! spent request counters. Without it these tables only grow, the first by
//! one row for any name anybody submits.

use std::time::Duration;

use super::{Auth, AuthError, throttle};

/// How long a request counter of the e-mail routes is kept after its window
/// began, at least: a day, or the configured window if longer.
const REQUEST_COUNTER_MEMORY: Duration = Duration::from_secs(86_400);

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Throttle rows whose last failure is past [`throttle::FAILURE_MEMORY`].
    pub login_failures: u64,
    /// Audit events older than `audit_retention`.
    pub audit_events: u64,
    /// Mailed links past their expiry, and request counters whose window is
    /// long over.
    pub email_state: u64,
    /// Sign-ins that waited for a second factor, and passkey ceremonies
    /// begun and never finished, until they expired.
    pub mfa_pending: u64,
}

impl Auth {
    /// Deletes throttle rows that no longer lock or count anything, audit
    /// events past their retention (none when it is `off`), and mailed links
    /// and request counters that no longer work or count.
    pub async fn purge_expired(&self) -> Result<Purged, AuthError> {
        let now = self.clock.now();
        let login_failures = self
            .store
            .purge_login_failures(now - throttle::FAILURE_MEMORY)
            .await?;
        let audit_events = match self.audit_retention {
            Some(retention) => self.store.purge_audit(now - retention).await?,
            None => 0,
        };
        let counter_memory = self
            .mail
            .as_deref()
            .map_or(Duration::ZERO, |mail| mail.counter_window())
            .max(REQUEST_COUNTER_MEMORY);
        let email_state = self
            .store
            .purge_email_state(now, now - counter_memory)
            .await?;
        let mfa_pending = self.purge_mfa_pending(now).await? + self.purge_ceremonies(now).await?;
        Ok(Purged {
            login_failures,
            audit_events,
            email_state,
            mfa_pending,
        })
    }
}
