//! The audit log of security events: appended to, read back newest first,
//! pruned past its retention. Both schemas refuse to change a row, or to
//! delete one younger than 30 days by the database's clock (triggers),
//! whatever the code does.

use time::OffsetDateTime;

use super::records::{AuditRow, convert_all};
use super::{AuditEntry, AuditFilter, AuditRecord, Backend, Store, StoreResult};
use crate::clock::unix_millis;

impl Store {
    /// Appends a security event to the audit log.
    pub async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO audit_events (at, kind, user_id, session_id, client_addr, \
                 user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(unix_millis(entry.at))
            .bind(entry.kind)
            .bind(entry.user_id.map(|u| u.to_string()))
            .bind(entry.session_id.map(|s| s.to_string()))
            .bind(entry.client_addr.as_deref())
            .bind(entry.user_agent.as_deref())
            .bind(entry.detail.as_deref())
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Reads audit events, newest first.
    pub async fn audit_events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        on_backend!(self, |pool| {
            // The CAST gives PostgreSQL the type of a parameter it meets
            // first compared with NULL.
            let rows: Vec<AuditRow> = sqlx::query_as(
                "SELECT id, at, kind, user_id, session_id, client_addr, user_agent, detail \
                 FROM audit_events WHERE (CAST($1 AS TEXT) IS NULL OR user_id = $1) \
                 AND at >= $2 AND at < $3 ORDER BY id DESC LIMIT $4",
            )
            .bind(filter.user_id.map(|u| u.to_string()))
            .bind(filter.since.map_or(i64::MIN, unix_millis))
            .bind(filter.until.map_or(i64::MAX, unix_millis))
            .bind(i64::from(filter.limit))
            .fetch_all(pool)
            .await?;
            convert_all(rows)
        })
    }

    /// Deletes the events that happened before `before`; returns how many.
    /// Fails, deleting nothing, if that would take an event younger than 30
    /// days by the database's clock.
    pub async fn purge_audit(&self, before: OffsetDateTime) -> StoreResult<u64> {
        on_backend!(self, |pool| {
            let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
                .bind(unix_millis(before))
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }
}
