//! Secrets that every instance shares, kept in the database: whichever
//! instance needs one first stores it, the others read that one.

use secrecy::SecretSlice;
use time::OffsetDateTime;

use super::{Backend, Store, StoreResult};
use crate::clock::unix_millis;

impl Store {
    /// The secret stored under `name`; when there is none yet, `candidate`
    /// is stored and returned. Two instances asking at once get the same one.
    pub async fn server_secret(
        &self,
        name: &str,
        candidate: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<SecretSlice<u8>> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO server_secrets (name, secret, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(candidate)
            .bind(unix_millis(now))
            .execute(pool)
            .await?;
            let (secret,): (Vec<u8>,) =
                sqlx::query_as("SELECT secret FROM server_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(pool)
                    .await?;
            Ok(secret.into())
        })
    }
}
