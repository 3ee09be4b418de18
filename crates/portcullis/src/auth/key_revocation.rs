//! Revoking a signing key that must not be trusted any more (a leaked key):
//! unlike a rotation, which keeps the old key verifying until its tokens
//! expire, the key stops signing and verifying at once, everywhere.
//!
//! The key is deleted from the database, private half and all. This
//! instance reloads its keys before answering; the others learn it from the
//! change feed on PostgreSQL (within milliseconds) or from the key reload
//! every second on SQLite. From then on the key is out of the JWKS, and a
//! token it signed is unknown wherever it is presented — also when it sits
//! in the verified-token cache, whose hits are only trusted while their key
//! is loaded. A browser whose access token it signed is refreshed
//! transparently with its refresh cookie, as for any access token that no
//! longer verifies, and gets a token from the replacement key.
//!
//! When the revoked key signed (or was scheduled to), a new key signs at
//! once, without the usual publication ahead: a gap in the JWKS caches of
//! resource servers is better than signing on with a leaked key.

use time::OffsetDateTime;

use super::audit::{AuditKind, Event};
use super::keys::{self, KeyError};
use super::{Auth, ClientInfo};
use crate::store::KeyRevocation;

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedKey {
    /// The key revoked.
    pub kid: String,
    /// The key that signs from now on, when the revoked one was signing (or
    /// was to sign); `None` when it was already retired.
    pub replacement: Option<String>,
}

impl Auth {
    /// Revokes the key `kid` at once (see the module's documentation); the
    /// other keys still signing stop and verify until `verify_until`.
    /// [`KeyError::UnknownKey`] when no key has this id.
    pub async fn revoke_key(
        &self,
        kid: &str,
        verify_until: OffsetDateTime,
    ) -> Result<RevokedKey, KeyError> {
        let now = self.clock.now();
        let replacement = keys::generate(now)?;
        let replaced = match self
            .store
            .revoke_key(kid, &replacement, now, verify_until)
            .await?
        {
            KeyRevocation::Unknown => return Err(KeyError::UnknownKey(kid.to_owned())),
            KeyRevocation::Revoked { replaced } => replaced,
        };
        let revoked = RevokedKey {
            kid: kid.to_owned(),
            replacement: replaced.then_some(replacement.kid),
        };
        tracing::warn!(kid, replacement = ?revoked.replacement, "revoked a signing key");
        let detail = match &revoked.replacement {
            Some(new) => format!("{kid}; {new} signs from now"),
            None => kid.to_owned(),
        };
        self.audit(Event {
            kind: AuditKind::KeyRevoked,
            user: None,
            session: None,
            client: &ClientInfo::administrator(),
            detail: Some(&detail),
        })
        .await;
        self.keys.reload().await?;
        Ok(revoked)
    }
}
