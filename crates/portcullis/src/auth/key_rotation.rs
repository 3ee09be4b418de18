//! Automatic signing-key rotation on a schedule, with overlap on both sides.
//!
//! A rotation never surprises a verifier. The next key is written to the
//! database [`PUBLISH_AHEAD`] before it starts signing, so every instance has
//! loaded it and every resource server's cached JWKS has been refreshed by
//! the time the first token signed with it exists. The old key stops signing
//! at that moment but stays published until the last token it can have
//! signed has expired.
//!
//! Every instance runs the check; the store decides "is the newest key older
//! than the interval?" and writes the new key in one transaction, so
//! instances checking at the same moment rotate once.

use std::time::Duration;

use time::OffsetDateTime;

use super::audit::{AuditKind, Event};
use super::keys::{self, JWKS_MAX_AGE, KEY_RELOAD_INTERVAL, KeyError};
use super::{Auth, ClientInfo, KeyView};
use crate::config::Config;

/// How long a new key is published before it signs. It must exceed the JWKS
/// cache lifetime we announce plus the time instances take to load a new
/// key; it is 15 minutes so that verifiers which ignore `Cache-Control` and
/// keep a JWKS for their own default (10 minutes for npm `jose`) are covered
/// too.
pub const PUBLISH_AHEAD: Duration = Duration::from_secs(15 * 60);

const _: () =
    assert!(PUBLISH_AHEAD.as_secs() > JWKS_MAX_AGE.as_secs() + KEY_RELOAD_INTERVAL.as_secs());

/// How often each instance asks whether a rotation is due. Rotations are
/// weeks apart; being a few minutes late costs nothing.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// When keys rotate, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationSchedule {
    /// A key signs for this long before the next one takes over.
    pub interval: Duration,
    /// How long after the next key starts signing the old one still
    /// verifies.
    pub keep_old_for: Duration,
}

impl RotationSchedule {
    /// The configured schedule; `None` when automatic rotation is off.
    pub fn from_config(config: &Config) -> Option<Self> {
        Some(Self {
            interval: config.key_rotation_interval?,
            // An instance goes on signing with the old key until its next
            // reload after the switch; the tokens it signs then live for the
            // access-token lifetime, and are accepted for the leeway beyond.
            keep_old_for: KEY_RELOAD_INTERVAL
                + config.sessions.access_token_ttl
                + config.clock_leeway,
        })
    }
}

impl Auth {
    /// Schedules the next signing key when the newest one has been (or will
    /// have been) signing for longer than the interval. Returns the new key's
    /// id when this call rotated; `None` when no rotation was due, including
    /// when another instance has just rotated.
    pub async fn rotate_keys_if_due(
        &self,
        schedule: &RotationSchedule,
    ) -> Result<Option<String>, KeyError> {
        let now = self.clock.now();
        let signs_from = now + PUBLISH_AHEAD;
        let key = keys::generate_signing_from(now, signs_from)?;
        let rotated = self
            .store
            .rotate_keys_if_due(
                &key,
                signs_from + schedule.keep_old_for,
                now - schedule.interval,
            )
            .await?;
        if !rotated {
            return Ok(None);
        }
        tracing::info!(kid = %key.kid, signs_from = %signs_from, "published the next signing key");
        let detail = format!("scheduled: {} signs from {signs_from}", key.kid);
        self.audit_rotation(&detail, &ClientInfo::default()).await;
        self.keys.reload().await?;
        Ok(Some(key.kid))
    }

    /// An administrator's rotation: a new key signs from now on, and the
    /// previous ones verify until `verify_until`. Returns the new key's id.
    pub async fn rotate_keys_now(&self, verify_until: OffsetDateTime) -> Result<String, KeyError> {
        let key = keys::generate(self.clock.now())?;
        self.store.rotate_keys(&key, verify_until).await?;
        let detail = format!("manual: {}", key.kid);
        self.audit_rotation(&detail, &ClientInfo::administrator())
            .await;
        Ok(key.kid)
    }

    async fn audit_rotation(&self, detail: &str, client: &ClientInfo) {
        self.audit(Event {
            kind: AuditKind::KeyRotated,
            user: None,
            session: None,
            client,
            detail: Some(detail),
        })
        .await;
    }

    /// Every key that signs, will sign, or still verifies.
    pub async fn signing_keys(&self) -> Result<Vec<KeyView>, KeyError> {
        let keys = self.store.signing_keys(self.clock.now()).await?;
        Ok(keys.into_iter().map(KeyView::from).collect())
    }
}
