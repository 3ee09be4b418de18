//! Forgetting what is no longer needed: throttle rows past their memory and
//! audit events past the configured retention. Without it both tables only
//! grow, the first by one row for any name anybody submits.

use super::{Auth, AuthError, throttle};

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Throttle rows whose last failure is past [`throttle::FAILURE_MEMORY`].
    pub login_failures: u64,
    /// Audit events older than `audit_retention`.
    pub audit_events: u64,
}

impl Auth {
    /// Deletes throttle rows that no longer lock or count anything, and audit
    /// events past their retention (none when it is `off`).
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
        Ok(Purged {
            login_failures,
            audit_events,
        })
    }
}
