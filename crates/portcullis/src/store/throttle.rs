//! Failed attempts to prove a password, per throttle key (an account, a
//! device, or a submitted name that matched nobody), kept in the database
//! so that throttling holds across instances and restarts.

use time::OffsetDateTime;

use super::{Backend, Store, StoreResult};
use crate::clock::{from_unix_millis, unix_millis};

impl Store {
    /// The failures recorded under a throttle key: count and last time.
    pub async fn login_failures(&self, key: &str) -> StoreResult<Option<(i64, OffsetDateTime)>> {
        on_backend!(self, |pool| {
            let row: Option<(i64, i64)> = sqlx::query_as(
                "SELECT failures, last_failure_at FROM login_failures WHERE account_key = $1",
            )
            .bind(key)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(n, at)| (n, from_unix_millis(at))))
        })
    }

    /// Counts one more failure under a throttle key, starting over when
    /// the last one was before `forget_before`; returns the new count.
    pub async fn record_login_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> StoreResult<i64> {
        on_backend!(self, |pool| {
            // One statement, so that concurrent failures each count.
            let (failures,): (i64,) = sqlx::query_as(
                "INSERT INTO login_failures (account_key, failures, last_failure_at) \
                 VALUES ($1, 1, $2) \
                 ON CONFLICT (account_key) DO UPDATE SET \
                 failures = CASE WHEN login_failures.last_failure_at < $3 THEN 1 \
                                 ELSE login_failures.failures + 1 END, \
                 last_failure_at = EXCLUDED.last_failure_at \
                 RETURNING failures",
            )
            .bind(key)
            .bind(unix_millis(now))
            .bind(unix_millis(forget_before))
            .fetch_one(pool)
            .await?;
            Ok(failures)
        })
    }

    /// Forgets a throttle key's failures.
    pub async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("DELETE FROM login_failures WHERE account_key = $1")
                .bind(key)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Deletes the rows whose last failure was before `before`: once past
    /// their memory, they neither lock anything nor count. Returns how many.
    pub async fn purge_login_failures(&self, before: OffsetDateTime) -> StoreResult<u64> {
        on_backend!(self, |pool| {
            let done = sqlx::query("DELETE FROM login_failures WHERE last_failure_at < $1")
                .bind(unix_millis(before))
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }
}
