//! What passkeys need stored: each user's WebAuthn credentials, and the
//! ceremonies started and not yet finished. The credential itself is opaque
//! text here (the auth service's serialized `Passkey`); the store only keeps
//! the rules that must hold under concurrency: a credential belongs to one
//! account, a ceremony is finished once, a signature counter never goes
//! back.

use time::OffsetDateTime;

use super::{Backend, Store, StoreError, StoreResult};
use crate::clock::{from_unix_millis, unix_millis};
use crate::domain::UserId;

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRecord {
    /// Its id in Portcullis (a random UUID, in URLs).
    pub id: String,
    /// Whose it is.
    pub user_id: UserId,
    /// The authenticator's credential id.
    pub credential_id: Vec<u8>,
    /// The serialized credential (public key, counter).
    pub passkey: String,
    /// The signature counter last accepted.
    pub sign_count: i64,
    /// The name its owner gave it.
    pub name: String,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it last signed a challenge that was accepted.
    pub last_used_at: Option<OffsetDateTime>,
}

/// What deleting a passkey did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyDeletion {
    /// The passkey is gone.
    Deleted,
    /// The account has no passkey of this id.
    NotFound,
    /// It is the account's last way to sign in: no password, no identity at
    /// a provider, no other passkey. Nothing was changed.
    LastMethod,
}

/// A WebAuthn ceremony waiting for its finish.
#[derive(Debug, Clone)]
pub struct CeremonyRecord {
    /// What it is for (`register`, `sign_in`, `second_factor`, `reauthenticate`).
    pub purpose: String,
    /// Whose it is; `None` for a usernameless sign-in.
    pub user_id: Option<UserId>,
    /// The serialized ceremony state (its challenge).
    pub state: String,
}

type PasskeyRow = (
    String,
    String,
    Vec<u8>,
    String,
    i64,
    String,
    i64,
    Option<i64>,
);

fn passkey_record(row: PasskeyRow) -> StoreResult<PasskeyRecord> {
    let (id, user, credential_id, passkey, sign_count, name, created, used) = row;
    Ok(PasskeyRecord {
        id,
        user_id: user.parse().map_err(|_| StoreError::Corrupt("user id"))?,
        credential_id,
        passkey,
        sign_count,
        name,
        created_at: from_unix_millis(created),
        last_used_at: used.map(from_unix_millis),
    })
}

const PASSKEY_COLUMNS: &str =
    "id, user_id, credential_id, passkey, sign_count, name, created_at, last_used_at";

impl Store {
    /// Stores a new passkey; `false` (nothing written) when its credential
    /// id is registered already, to this account or another.
    pub async fn insert_passkey(&self, record: &PasskeyRecord) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let done = sqlx::query(
                "INSERT INTO passkeys (id, user_id, credential_id, passkey, sign_count, name, \
                 created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (credential_id) DO NOTHING",
            )
            .bind(&record.id)
            .bind(record.user_id.to_string())
            .bind(&record.credential_id)
            .bind(&record.passkey)
            .bind(record.sign_count)
            .bind(&record.name)
            .bind(unix_millis(record.created_at))
            .bind(record.last_used_at.map(unix_millis))
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, user: UserId) -> StoreResult<Vec<PasskeyRecord>> {
        on_backend!(self, |pool| {
            let rows: Vec<PasskeyRow> = sqlx::query_as(&format!(
                "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 \
                 ORDER BY created_at, id"
            ))
            .bind(user.to_string())
            .fetch_all(pool)
            .await?;
            rows.into_iter().map(passkey_record).collect()
        })
    }

    /// The passkey of this credential id, whoever's it is.
    pub async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<PasskeyRecord>> {
        on_backend!(self, |pool| {
            let row: Option<PasskeyRow> = sqlx::query_as(&format!(
                "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = $1"
            ))
            .bind(credential_id)
            .fetch_optional(pool)
            .await?;
            row.map(passkey_record).transpose()
        })
    }

    /// Records a use of a passkey: its new state and counter. `false`
    /// (nothing written) when the passkey is gone, or when the counter is
    /// not above the stored one while either is non-zero — of two requests
    /// with one assertion, or a clone and its original, one loses here.
    pub async fn passkey_used(
        &self,
        id: &str,
        passkey: &str,
        sign_count: i64,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let done = sqlx::query(
                "UPDATE passkeys SET passkey = $1, sign_count = $2, last_used_at = $3 \
                 WHERE id = $4 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))",
            )
            .bind(passkey)
            .bind(sign_count)
            .bind(unix_millis(now))
            .bind(id)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Renames one of the user's passkeys; `false` when it has none of this id.
    pub async fn rename_passkey(&self, user: UserId, id: &str, name: &str) -> StoreResult<bool> {
        on_backend!(self, |pool| {
            let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
                .bind(name)
                .bind(id)
                .bind(user.to_string())
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Deletes one of the user's passkeys, unless it is the account's last
    /// way to sign in (no password, no identity at a provider, no other
    /// passkey).
    pub async fn delete_passkey(
        &self,
        user: UserId,
        id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<PasskeyDeletion> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            // Writing the user's row first serialises this with unlinking a
            // provider and deleting another passkey of the same account (as
            // `delete_identity` does): two at once must not each count the
            // other's as the way left.
            sqlx::query("UPDATE users SET updated_at = $2 WHERE id = $1")
                .bind(user.to_string())
                .bind(unix_millis(now))
                .execute(&mut *tx)
                .await?;
            let (has_password, identities, passkeys): (bool, i64, i64) = sqlx::query_as(
                "SELECT u.password_hash <> '', \
                 (SELECT COUNT(*) FROM external_identities i WHERE i.user_id = u.id), \
                 (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id) \
                 FROM users u WHERE u.id = $1",
            )
            .bind(user.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or((false, 0, 0));
            let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Ok(PasskeyDeletion::NotFound);
            }
            if !has_password && identities == 0 && passkeys <= 1 {
                // Rolled back with the dropped transaction.
                return Ok(PasskeyDeletion::LastMethod);
            }
            tx.commit().await?;
            Ok(PasskeyDeletion::Deleted)
        })
    }

    /// Deletes every passkey of the user and their ceremonies; how many
    /// passkeys there were.
    pub async fn remove_passkeys(&self, user: UserId) -> StoreResult<u64> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM webauthn_ceremonies WHERE user_id = $1")
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected())
        })
    }

    /// Stores a ceremony under the hash of its id until `expires_at`,
    /// replacing one of the same id: a ceremony begun again voids the
    /// challenge of the one before.
    pub async fn insert_ceremony(
        &self,
        id_hash: &[u8; 32],
        ceremony: &CeremonyRecord,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO webauthn_ceremonies (id_hash, purpose, user_id, state, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id_hash) DO UPDATE \
                 SET purpose = excluded.purpose, user_id = excluded.user_id, \
                 state = excluded.state, expires_at = excluded.expires_at",
            )
            .bind(&id_hash[..])
            .bind(&ceremony.purpose)
            .bind(ceremony.user_id.map(|u| u.to_string()))
            .bind(&ceremony.state)
            .bind(unix_millis(expires_at))
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Takes (deletes and returns) the ceremony of this id hash for
    /// `purpose`, unless it expired by `now`: each challenge is answered
    /// once, by whichever request deletes it.
    pub async fn take_ceremony(
        &self,
        id_hash: &[u8; 32],
        purpose: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<CeremonyRecord>> {
        on_backend!(self, |pool| {
            let row: Option<(String, Option<String>, String)> = sqlx::query_as(
                "DELETE FROM webauthn_ceremonies WHERE id_hash = $1 AND purpose = $2 \
                 AND expires_at > $3 RETURNING purpose, user_id, state",
            )
            .bind(&id_hash[..])
            .bind(purpose)
            .bind(unix_millis(now))
            .fetch_optional(pool)
            .await?;
            row.map(|(purpose, user, state)| {
                Ok(CeremonyRecord {
                    purpose,
                    user_id: user
                        .map(|u| u.parse().map_err(|_| StoreError::Corrupt("user id")))
                        .transpose()?,
                    state,
                })
            })
            .transpose()
        })
    }

    /// Deletes ceremonies that expired before `before`.
    pub async fn purge_ceremonies(&self, before: OffsetDateTime) -> StoreResult<u64> {
        on_backend!(self, |pool| {
            let done = sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at < $1")
                .bind(unix_millis(before))
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }
}
