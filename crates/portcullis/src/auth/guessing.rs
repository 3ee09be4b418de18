//! The limits on guessing a password, shared by the two places that check
//! one: sign-in and password change. A guess through a stolen session counts
//! exactly as one through the sign-in form does.
//!
//! Two limits apply to every attempt: per client address (in memory, see
//! [`super::address_limits`]), and per [`ThrottleKey`] (in the database, see
//! [`super::throttle`]), which is the account, or the device when the
//! attempt brings a valid device cookie for that account.

use std::time::Duration;

use time::OffsetDateTime;

use super::address_limits::Limit;
use super::throttle::{self, ThrottleKey};
use super::{Auth, ClientInfo};
use crate::store::{StoreError, UserRecord};

/// An attempt that the limits refused, and which limit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Throttled {
    /// How long until the next attempt is accepted.
    pub(super) retry_after: Duration,
    /// Which limit: "per address", "per account" or "per device".
    pub(super) per: &'static str,
}

impl Auth {
    /// Spends one attempt of the client address's budget.
    pub(super) fn admit_address(&self, client: &ClientInfo) -> Result<(), Throttled> {
        self.limits
            .check(Limit::SignIn, client.addr)
            .map_err(|retry_after| Throttled {
                retry_after,
                per: "per address",
            })
    }

    /// What an attempt on `user` counts against: the device, when `device`
    /// is a cookie issued to a browser that signed in to this account; else
    /// the account.
    pub(super) fn account_key(&self, user: &UserRecord, device: Option<&str>) -> ThrottleKey {
        match device.and_then(|cookie| self.devices.verify(cookie, user.id)) {
            Some(device) => ThrottleKey::Device(device),
            None => ThrottleKey::Account(user.id),
        }
    }

    /// Refuses an attempt while `key` waits out its back-off.
    pub(super) async fn admit_key(
        &self,
        key: &ThrottleKey,
        now: OffsetDateTime,
    ) -> Result<Result<(), Throttled>, StoreError> {
        let Some((failures, last)) = self.store.login_failures(&key.stored()).await? else {
            return Ok(Ok(()));
        };
        Ok(match throttle::remaining(failures, last, now) {
            Some(retry_after) => Err(Throttled {
                retry_after,
                per: key.per(),
            }),
            None => Ok(()),
        })
    }

    /// Counts a wrong password against the client's address and `key`;
    /// returns the key's count.
    pub(super) async fn guess_failed(
        &self,
        key: &ThrottleKey,
        now: OffsetDateTime,
        client: &ClientInfo,
    ) -> Result<i64, StoreError> {
        self.limits.sign_in_failed(client.addr);
        let forget_before = now - throttle::FAILURE_MEMORY;
        self.store
            .record_login_failure(&key.stored(), now, forget_before)
            .await
    }

    /// Forgets the account's failures once its owner has proved the
    /// password from a client it did not know. A device's are left: the
    /// browser gets a new device cookie, and the old one's count expires.
    pub(super) async fn guess_succeeded(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        match key {
            ThrottleKey::Account(_) => self.store.clear_login_failures(&key.stored()).await,
            ThrottleKey::Device(_) | ThrottleKey::Name(_) => Ok(()),
        }
    }
}
