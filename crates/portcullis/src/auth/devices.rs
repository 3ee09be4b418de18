//! Device cookies: a browser that has signed in to an account before keeps
//! signing in while strangers guessing at that account are throttled.
//!
//! This is OWASP's "Slow Down Online Guessing Attacks with Device Cookies".
//! A successful sign-in gives the browser a cookie naming the account and a
//! random nonce, signed with a key that every instance shares (it lives in
//! the database). An attempt that brings a valid cookie for the account it
//! names is throttled per device, on that device's own failures; every other
//! attempt on the account is throttled per account. So failing as a known
//! user from anywhere else no longer locks its owner out, and a device that
//! fails too often is locked out by itself.
//!
//! The cookie is no credential: it opens nothing, it only chooses which
//! failure budget an attempt spends.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;
use time::OffsetDateTime;

use super::keys::KeyError;
use crate::domain::UserId;
use crate::store::Store;

/// How long a browser stays known: long enough that its owner is not a
/// stranger after a holiday, within what browsers keep (400 days at most).
pub const DEVICE_COOKIE_LIFETIME: Duration = Duration::from_secs(365 * 86_400);

/// The name the key is kept under in the database.
const SECRET_NAME: &str = "device_cookie_key";
/// Separates this MAC from any other made with the key, and names the format.
const DOMAIN: &[u8] = b"portcullis device cookie v1";
/// Random bytes per cookie.
const NONCE_LEN: usize = 16;
/// `<user id>.<nonce>.<mac>`: 36 + 1 + 22 + 1 + 43 characters.
const COOKIE_LEN: usize = 103;

type HmacSha256 = Hmac<Sha256>;

/// The key device cookies are signed with.
#[derive(Clone)]
pub struct DeviceKey {
    key: SecretSlice<u8>,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey([REDACTED])")
    }
}

/// A device cookie's value, as issued. Redacted in `Debug`.
#[derive(Clone)]
pub struct DeviceToken(String);

impl std::fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceToken([REDACTED])")
    }
}

impl DeviceToken {
    /// The cookie's value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A device that a valid cookie vouches for: its nonce, the name its
/// failures are counted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId(String);

impl DeviceId {
    /// The nonce, in base64url.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl DeviceKey {
    /// The key every instance shares, made by the first that needs it.
    pub async fn load(store: &Store, now: OffsetDateTime) -> Result<Self, KeyError> {
        let mut candidate = [0u8; 32];
        getrandom::fill(&mut candidate).map_err(KeyError::Randomness)?;
        let key = store.server_secret(SECRET_NAME, &candidate, now).await?;
        Ok(Self { key })
    }

    /// A key of its own, for tests.
    #[cfg(test)]
    fn from_bytes(key: Vec<u8>) -> Self {
        Self { key: key.into() }
    }

    /// A new cookie for a browser that has just signed in as `user`.
    pub fn issue(&self, user: UserId) -> Result<DeviceToken, getrandom::Error> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)?;
        let user = user.to_string();
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let mac = URL_SAFE_NO_PAD.encode(self.mac(&user, &nonce).finalize().into_bytes());
        Ok(DeviceToken(format!("{user}.{nonce}.{mac}")))
    }

    /// The device a cookie vouches for, when it is one this key issued for
    /// `user`; `None` for anything else, however malformed.
    pub fn verify(&self, cookie: &str, user: UserId) -> Option<DeviceId> {
        if cookie.len() != COOKIE_LEN {
            return None;
        }
        let mut parts = cookie.split('.');
        let (named, nonce, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || named != user.to_string() {
            return None;
        }
        let nonce_bytes = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        // One spelling per nonce: it is a throttle key.
        if nonce_bytes.len() != NONCE_LEN || URL_SAFE_NO_PAD.encode(&nonce_bytes) != nonce {
            return None;
        }
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        // Constant-time.
        self.mac(named, nonce).verify_slice(&mac).ok()?;
        Some(DeviceId(nonce.to_owned()))
    }

    fn mac(&self, user: &str, nonce: &str) -> HmacSha256 {
        // HMAC takes a key of any length.
        let mut mac = HmacSha256::new_from_slice(self.key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        for part in [DOMAIN, user.as_bytes(), nonce.as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DeviceKey {
        DeviceKey::from_bytes(vec![7; 32])
    }

    #[test]
    fn a_cookie_vouches_for_its_own_account_only() {
        let (ada, bob) = (UserId::random(), UserId::random());
        let cookie = key().issue(ada).expect("random");
        assert_eq!(cookie.expose().len(), COOKIE_LEN);
        let device = key().verify(cookie.expose(), ada).expect("valid for ada");
        assert_eq!(device.as_str().len(), 22);
        assert_eq!(key().verify(cookie.expose(), bob), None);
        let other_key = DeviceKey::from_bytes(vec![8; 32]);
        assert_eq!(other_key.verify(cookie.expose(), ada), None);
    }

    #[test]
    fn every_cookie_is_a_new_device() {
        let ada = UserId::random();
        let (a, b) = (
            key().issue(ada).expect("random"),
            key().issue(ada).expect("random"),
        );
        assert_ne!(key().verify(a.expose(), ada), key().verify(b.expose(), ada));
    }

    #[test]
    fn a_changed_byte_anywhere_makes_it_nobodys() {
        let ada = UserId::random();
        let cookie = key().issue(ada).expect("random").expose().to_owned();
        for i in 0..cookie.len() {
            let mut bytes = cookie.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).expect("ascii");
            assert_eq!(key().verify(&changed, ada), None, "byte {i}");
        }
        assert!(format!("{:?}", key().issue(ada)).contains("REDACTED"));
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_refused_without_panicking(text in "\\PC{0,120}") {
            proptest::prop_assert_eq!(key().verify(&text, UserId::random()), None);
        }
    }
}
