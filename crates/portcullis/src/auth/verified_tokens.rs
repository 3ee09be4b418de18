//! Access tokens whose signatures have already been checked.
//!
//! A browser presents the same access token on every request for its whole
//! lifetime, and an Ed25519 verification costs tens of microseconds — most of
//! what the gateway spends on a proxied request. So a token that passed is
//! remembered, keyed by the SHA-256 of the whole token (a hit is the very same
//! bytes; the cache never holds a usable token), and the next request costs a
//! hash and a lookup.
//!
//! Only the signature is remembered. Everything that can change while a token
//! lives is checked again on every hit, by the caller: the time claims against
//! the clock, the signing key still being trusted, the session not revoked.

use std::sync::Arc;

use portcullis_verifier::Claims;
use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};

use crate::domain::SessionId;

/// How many tokens are remembered: enough for every browser active within one
/// access-token lifetime on a busy instance, at about half a KiB each.
pub const CAPACITY: usize = 16 * 1024;

/// What a verified token said.
#[derive(Debug)]
pub struct VerifiedToken {
    /// Its claims.
    pub claims: Arc<Claims>,
    /// Its `sid`, parsed.
    pub session: SessionId,
    /// The key that signed it.
    pub kid: String,
}

/// The key under which a token is remembered.
pub type TokenDigest = [u8; 32];

/// A bounded map from token digests to what the tokens said.
pub struct VerifiedTokens {
    cache: Cache<TokenDigest, Arc<VerifiedToken>>,
}

impl VerifiedTokens {
    /// An empty map holding at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        Self {
            cache: Cache::new(capacity),
        }
    }

    /// The digest `token` is remembered under.
    pub fn digest(token: &str) -> TokenDigest {
        Sha256::digest(token.as_bytes()).into()
    }

    /// What the token with this digest said, if it was verified before.
    pub fn get(&self, digest: &TokenDigest) -> Option<Arc<VerifiedToken>> {
        self.cache.get(digest)
    }

    /// Remembers a token that has just passed verification.
    pub fn insert(&self, digest: TokenDigest, token: Arc<VerifiedToken>) {
        self.cache.insert(digest, token);
    }

    /// Forgets a token (it expired, or its key is no longer trusted).
    pub fn remove(&self, digest: &TokenDigest) {
        self.cache.remove(digest);
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sid: SessionId) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            claims: Arc::new(Claims {
                iss: "i".into(),
                aud: "a".into(),
                sub: "s".into(),
                iat: 0,
                exp: 1,
                nbf: None,
                jti: "j".into(),
                sid: sid.to_string(),
                username: "u".into(),
                email: "e@x.io".into(),
                email_verified: None,
                amr: None,
                legacy_id: None,
                idp: None,
            }),
            session: sid,
            kid: "k".into(),
        })
    }

    #[test]
    fn a_token_differing_in_one_byte_is_a_different_entry() {
        let cache = VerifiedTokens::new(8);
        let token = "aaaa.bbbb.cccc";
        cache.insert(VerifiedTokens::digest(token), entry(SessionId::random()));
        assert!(cache.get(&VerifiedTokens::digest(token)).is_some());
        assert!(
            cache
                .get(&VerifiedTokens::digest("aaaa.bbbb.cccd"))
                .is_none()
        );
        assert!(
            cache
                .get(&VerifiedTokens::digest("aaaa.bbbb.ccc"))
                .is_none()
        );
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = VerifiedTokens::new(100);
        for n in 0..10_000 {
            cache.insert(
                VerifiedTokens::digest(&n.to_string()),
                entry(SessionId::random()),
            );
        }
        assert!(cache.len() <= 100, "{} entries", cache.len());
    }
}
