//! What only PostgreSQL does, for several instances sharing one database.
//!
//! Concurrency between instances is settled in the database, never in memory:
//! a refresh-token rotation is a conditional `UPDATE ... WHERE generation = $n`
//! (PostgreSQL re-checks the condition on the row it waited for, so of two
//! instances rotating at once exactly one matches), and key creation and
//! rotation serialise on an advisory lock so that two instances starting
//! together cannot both create a "first" key.
//!
//! Revocations and key changes are announced by triggers (see
//! [`super::changes`]), so no operation has to remember to notify.

use std::str::FromStr;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, Postgres, Transaction};

use super::{Dialect, StoreError, StoreResult, Unique};
use crate::config::DatabaseConfig;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock that serialises changes to `signing_keys` ("PCKEYS" in
/// ASCII): taken in the transaction, released at its end.
const KEYS_LOCK: i64 = 0x5043_4B45_5953;

/// Brings the schema up to date, then opens the pool.
pub(super) async fn connect(url: &str, config: &DatabaseConfig) -> StoreResult<PgPool> {
    let base = PgConnectOptions::from_str(url)?.application_name("portcullis");
    migrate(&base, config.acquire_timeout).await?;
    let millis = config.statement_timeout.as_millis().to_string();
    // The server enforces the limits too, so that a query or transaction
    // abandoned by a timed-out client stops holding locks.
    let options = base.options([
        ("statement_timeout", millis.as_str()),
        ("idle_in_transaction_session_timeout", millis.as_str()),
    ]);
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .acquire_timeout(config.acquire_timeout)
        .connect_with(options)
        .await?)
}

/// Applies migrations on a connection of its own, without the pool's
/// statement timeout (a migration may legitimately take longer). sqlx's
/// migrator takes an advisory lock, so instances starting together migrate
/// one after the other.
async fn migrate(options: &PgConnectOptions, connect_timeout: Duration) -> StoreResult<()> {
    let mut conn: PgConnection = tokio::time::timeout(connect_timeout, options.connect())
        .await
        .map_err(|_| StoreError::Timeout)??;
    MIGRATOR.run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

impl Dialect for PgPool {
    type Db = Postgres;

    /// A plain READ COMMITTED transaction: a conditional `UPDATE` that meets
    /// a row another transaction is changing waits for it, then re-evaluates
    /// its `WHERE` clause on the committed version, so the loser of a race
    /// matches nothing. Locking more would only make instances wait.
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.begin().await
    }

    /// Takes the advisory lock first. Without it, two instances starting at
    /// once would both see no key (neither sees the other's uncommitted
    /// insert) and both insert one.
    async fn begin_key_change(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(KEYS_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// A row another instance is claiming is locked: skip it rather than
    /// wait for it and then find it taken.
    fn skip_locked(&self) -> &'static str {
        "FOR UPDATE SKIP LOCKED"
    }

    /// PostgreSQL names the `UNIQUE` constraints of
    /// `migrations/postgres/0001_initial.sql` `<table>_<column>_key`.
    fn collision(error: &dyn DatabaseError) -> Option<Unique> {
        match error.constraint() {
            Some("users_username_key_key") => Some(Unique::Username),
            Some("users_email_key_key") => Some(Unique::Email),
            _ => None,
        }
    }
}
