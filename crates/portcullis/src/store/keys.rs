//! Signing keys: the first one, scheduled and forced rotations, and the
//! revocation of a key that must not be trusted any more.
//!
//! Every change runs in a [`Dialect::begin_key_change`] transaction, so that
//! instances doing the same thing at the same moment do it once.

use secrecy::ExposeSecret;
use time::OffsetDateTime;

use super::records::KeyRow;
use super::{Backend, Conn, Dialect, KeyRecord, Store, StoreResult};
use crate::clock::unix_millis;

/// The columns of a [`KeyRow`].
const KEY_COLUMNS: &str =
    "kid, algorithm, private_key, public_key, created_at, signs_from, retired_at, verify_until";

impl Store {
    /// Signing keys still published at `now`.
    pub async fn signing_keys(&self, now: OffsetDateTime) -> StoreResult<Vec<KeyRecord>> {
        on_backend!(self, |pool| {
            let rows: Vec<KeyRow> = sqlx::query_as(&format!(
                "SELECT {KEY_COLUMNS} FROM signing_keys \
                 WHERE retired_at IS NULL OR verify_until > $1 ORDER BY signs_from, kid"
            ))
            .bind(unix_millis(now))
            .fetch_all(pool)
            .await?;
            Ok(rows.into_iter().map(KeyRecord::from).collect())
        })
    }

    /// Adds `key` unless an unretired key already exists; `true` when added.
    pub async fn insert_first_key(&self, key: &KeyRecord) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin_key_change().await?;
            let added = add_key((&mut *tx).into(), key).await?;
            tx.commit().await?;
            Ok(added)
        })
    }

    /// Adds `key` and retires every other unretired key at `key.signs_from`,
    /// keeping it published until `verify_until`.
    pub async fn rotate_keys(
        &self,
        key: &KeyRecord,
        verify_until: OffsetDateTime,
    ) -> StoreResult<()> {
        self.replace_keys(key, verify_until, None).await?;
        Ok(())
    }

    /// Like [`Store::rotate_keys`], but only when no key was scheduled to
    /// sign at or after `due_before`: decided in the same transaction as the
    /// write, so instances checking at once rotate once. `true` when rotated.
    pub async fn rotate_keys_if_due(
        &self,
        key: &KeyRecord,
        verify_until: OffsetDateTime,
        due_before: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.replace_keys(key, verify_until, Some(due_before)).await
    }

    /// Retires every unretired key at `key.signs_from` (published until
    /// `verify_until`) and adds `key`; when `due_before` is given, only if no
    /// key signs from that time on. `true` when replaced.
    async fn replace_keys(
        &self,
        key: &KeyRecord,
        verify_until: OffsetDateTime,
        due_before: Option<OffsetDateTime>,
    ) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin_key_change().await?;
            if let Some(due_before) = due_before {
                let (newest,): (Option<i64>,) =
                    sqlx::query_as("SELECT MAX(signs_from) FROM signing_keys")
                        .fetch_one(&mut *tx)
                        .await?;
                if newest.is_some_and(|newest| newest >= unix_millis(due_before)) {
                    return Ok(false);
                }
            }
            sqlx::query(
                "UPDATE signing_keys SET retired_at = $1, verify_until = $2 \
                 WHERE retired_at IS NULL",
            )
            .bind(unix_millis(key.signs_from))
            .bind(unix_millis(verify_until))
            .execute(&mut *tx)
            .await?;
            // Every other key is retired now: this adds it.
            let added = add_key((&mut *tx).into(), key).await?;
            tx.commit().await?;
            Ok(added)
        })
    }
}

/// What [`Store::revoke_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRevocation {
    /// No key has that id.
    Unknown,
    /// The key is gone. `replaced` when it signed, or was to sign, so that
    /// the replacement now signs.
    Revoked {
        /// Whether the replacement was put in service.
        replaced: bool,
    },
}

impl Store {
    /// Deletes the key `kid`, private half and all, at `now`. When it was
    /// signing or scheduled to sign, every other key that still signs stops
    /// at `now` and is published until `verify_until`, keys scheduled for
    /// later (which have signed nothing) are deleted, and `replacement`
    /// signs from `now`: the service is never left without a signing key.
    /// One key-change transaction, so instances doing this at once cannot
    /// leave two keys signing.
    pub async fn revoke_key(
        &self,
        kid: &str,
        replacement: &KeyRecord,
        now: OffsetDateTime,
        verify_until: OffsetDateTime,
    ) -> StoreResult<KeyRevocation> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin_key_change().await?;
            let found: Option<(Option<i64>,)> =
                sqlx::query_as("SELECT retired_at FROM signing_keys WHERE kid = $1")
                    .bind(kid)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((retired_at,)) = found else {
                return Ok(KeyRevocation::Unknown);
            };
            sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
                .bind(kid)
                .execute(&mut *tx)
                .await?;
            let now = unix_millis(now);
            let signing = retired_at.is_none_or(|retired| retired > now);
            if signing {
                sqlx::query("DELETE FROM signing_keys WHERE signs_from > $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE signing_keys SET retired_at = $1, verify_until = $2 \
                     WHERE retired_at IS NULL OR retired_at > $1",
                )
                .bind(now)
                .bind(unix_millis(verify_until))
                .execute(&mut *tx)
                .await?;
                // Every key left is retired now: this adds it.
                add_key((&mut *tx).into(), replacement).await?;
            }
            tx.commit().await?;
            Ok(KeyRevocation::Revoked { replaced: signing })
        })
    }
}

/// Adds `key` unless an unretired key exists, inside the caller's key-change
/// transaction; `true` when added.
async fn add_key(conn: Conn<'_>, key: &KeyRecord) -> StoreResult<bool> {
    each_backend!(conn, |conn| {
        let done = sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at, \
             signs_from) SELECT $1, $2, $3, $4, $5, $6 \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(key.private_key.expose_secret())
        .bind(&key.public_key)
        .bind(unix_millis(key.created_at))
        .bind(unix_millis(key.signs_from))
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}
