//! Access tokens: issued as EdDSA-signed JWTs, verified with the verifier crate
//! plus the one check only the gateway can make — whether the session has been
//! revoked since.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use portcullis_verifier::{Claims, KeySet, Validation, VerifyError};
use time::OffsetDateTime;

use super::keys::KeyRing;
use super::revocation::RevocationSet;
use super::verified_tokens::{self, VerifiedToken, VerifiedTokens};
use crate::clock::unix_seconds;
use crate::domain::{SessionId, SignInMethod};
use crate::store::UserRecord;

/// A signed access token. `Debug` is redacted.
#[derive(Clone)]
pub struct AccessToken(String);

impl AccessToken {
    /// A token as presented in the access cookie (already verified by the caller).
    pub fn presented(token: &str) -> Self {
        Self(token.to_owned())
    }

    /// The compact JWS, for the cookie and the upstream `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// A freshly issued access token with what it says.
#[derive(Debug, Clone)]
pub struct IssuedAccess {
    /// The token.
    pub token: AccessToken,
    /// Its claims.
    pub claims: Claims,
    /// How long it is valid from now; the cookie's `Max-Age`.
    pub lifetime: Duration,
}

/// Why an access token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessDenial {
    /// No access cookie.
    Missing,
    /// The token failed verification.
    Invalid(VerifyError),
    /// The token is genuine but its session has been revoked.
    Revoked,
}

/// Issues and checks access tokens.
#[derive(Clone)]
pub struct AccessTokens {
    keys: KeyRing,
    validation: Validation,
    ttl: Duration,
    revoked: RevocationSet,
    /// Tokens whose signatures have been checked already.
    verified: Arc<VerifiedTokens>,
    /// Whether tokens carry `_id` (a copy of `sub`) for NestJS-pattern backends.
    legacy_id_claim: bool,
}

impl AccessTokens {
    /// Tokens signed with `keys`, valid for `ttl`, checked against `validation`
    /// and the revocation set.
    pub fn new(
        keys: KeyRing,
        validation: Validation,
        ttl: Duration,
        revoked: RevocationSet,
    ) -> Self {
        Self {
            keys,
            validation,
            ttl,
            revoked,
            verified: Arc::new(VerifiedTokens::new(verified_tokens::CAPACITY)),
            legacy_id_claim: false,
        }
    }

    /// Adds the `_id` claim (equal to `sub`) to every token issued.
    pub fn with_legacy_id_claim(mut self, on: bool) -> Self {
        self.legacy_id_claim = on;
        self
    }

    /// The issuer and audience tokens are issued for and checked against.
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// Issues a token for `user` in `session`; it expires after the configured
    /// lifetime or at the session's end, whichever is first.
    pub fn issue(
        &self,
        user: &UserRecord,
        session: SessionId,
        session_expires_at: OffsetDateTime,
        now: OffsetDateTime,
        method: &SignInMethod,
    ) -> IssuedAccess {
        let iat = unix_seconds(now);
        let exp = unix_seconds((now + self.ttl).min(session_expires_at)).max(iat);
        let sub = user.id.to_string();
        let claims = Claims {
            iss: self.validation.issuer().to_owned(),
            aud: self.validation.audience().to_owned(),
            legacy_id: self.legacy_id_claim.then(|| sub.clone()),
            sub,
            iat,
            exp,
            nbf: None,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            sid: session.to_string(),
            username: user.username.clone(),
            email: user.email.clone(),
            email_verified: Some(user.email_verified),
            // Left out when nothing registered was proved (a provider that
            // names no methods, and no code of ours): never a guess.
            amr: Some(method.amr().iter().map(|v| (*v).to_owned()).collect())
                .filter(|amr: &Vec<String>| !amr.is_empty()),
            idp: method.idp().map(str::to_owned),
        };
        // Serialising a struct of strings and integers cannot fail.
        let json = serde_json::to_vec(&claims).unwrap_or_default();
        let token = self.keys.current().signer.sign(&json);
        IssuedAccess {
            token: AccessToken(token),
            claims,
            lifetime: Duration::from_secs(exp - iat),
        }
    }

    /// Verifies a token at `now`: signature, issuer, audience, times, and
    /// that its session has not been revoked.
    pub async fn verify(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Arc<Claims>, AccessDenial> {
        let now = unix_seconds(now);
        let digest = VerifiedTokens::digest(token);
        let verified = match self.verified.get(&digest) {
            // The signature was good; the key must still be trusted and the
            // time claims still hold.
            Some(hit) if self.keys.current().verifiers.contains(&hit.kid) => {
                if let Err(e) = self.validation.check(&hit.claims, now) {
                    self.verified.remove(&digest);
                    return Err(AccessDenial::Invalid(e));
                }
                hit
            }
            _ => {
                let fresh = Arc::new(self.verify_signature(token, now).await?);
                self.verified.insert(digest, fresh.clone());
                fresh
            }
        };
        if self.revoked.contains(verified.session) {
            return Err(AccessDenial::Revoked);
        }
        Ok(verified.claims.clone())
    }

    /// The full check of a token not seen before.
    async fn verify_signature(&self, token: &str, now: u64) -> Result<VerifiedToken, AccessDenial> {
        let invalid = AccessDenial::Invalid;
        let claims = match self.check(token, now) {
            Err(VerifyError::UnknownKey) => {
                // Perhaps another instance rotated the keys a moment ago.
                let kid = KeySet::key_id(token).ok_or(invalid(VerifyError::UnknownKey))?;
                if !self.keys.reload_for_unknown(&kid).await {
                    return Err(invalid(VerifyError::UnknownKey));
                }
                self.check(token, now)
            }
            other => other,
        }
        .map_err(invalid)?;
        let session = claims
            .sid
            .parse()
            .map_err(|_| invalid(VerifyError::MalformedClaims))?;
        // Verification read the `kid` already; a token without one did not pass.
        let kid = KeySet::key_id(token).ok_or(invalid(VerifyError::UnknownKey))?;
        Ok(VerifiedToken {
            claims: Arc::new(claims),
            session,
            kid,
        })
    }

    fn check(&self, token: &str, now: u64) -> Result<Claims, VerifyError> {
        self.keys
            .current()
            .verifiers
            .verify(token, &self.validation, now)
    }
}
