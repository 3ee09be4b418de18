//! What a token must say about itself to be accepted.

use std::time::Duration;

use crate::{Claims, VerifyError};

/// The expected issuer and audience, and the clock leeway for time claims.
#[derive(Debug, Clone)]
pub struct Validation {
    issuer: String,
    audience: String,
    leeway: u64,
}

impl Validation {
    /// Accept tokens from `issuer` meant for `audience`, with the default leeway of
    /// five seconds.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: 5,
        }
    }

    /// Tolerate this much clock difference between issuer and verifier when
    /// checking `exp`, `nbf` and `iat` (rounded down to whole seconds).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs();
        self
    }

    /// The expected issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The expected audience.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Checks the claims at `now` (seconds since the Unix epoch).
    pub fn check(&self, claims: &Claims, now: u64) -> Result<(), VerifyError> {
        if claims.iss != self.issuer {
            return Err(VerifyError::WrongIssuer);
        }
        if claims.aud != self.audience {
            return Err(VerifyError::WrongAudience);
        }
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(VerifyError::Expired);
        }
        let not_before = claims.nbf.unwrap_or(0).max(claims.iat);
        if not_before > now.saturating_add(self.leeway) {
            return Err(VerifyError::NotYetValid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iat: u64, exp: u64) -> Claims {
        Claims {
            iss: "iss".into(),
            aud: "aud".into(),
            sub: "u".into(),
            iat,
            exp,
            nbf: None,
            jti: "j".into(),
            sid: "s".into(),
            username: "n".into(),
            email: "e@x.io".into(),
            email_verified: None,
            amr: None,
            legacy_id: None,
            idp: None,
        }
    }

    #[test]
    fn expiry_is_enforced_after_the_leeway() {
        let v = Validation::new("iss", "aud").with_leeway(Duration::from_secs(5));
        let c = claims(1000, 1900);
        assert_eq!(v.check(&c, 1904), Ok(()));
        assert_eq!(v.check(&c, 1905), Err(VerifyError::Expired));
    }

    #[test]
    fn a_token_from_the_future_is_rejected() {
        let v = Validation::new("iss", "aud").with_leeway(Duration::from_secs(5));
        assert_eq!(
            v.check(&claims(1006, 1900), 1000),
            Err(VerifyError::NotYetValid)
        );
        assert_eq!(v.check(&claims(1005, 1900), 1000), Ok(()));
        let mut c = claims(1000, 1900);
        c.nbf = Some(1100);
        assert_eq!(v.check(&c, 1000), Err(VerifyError::NotYetValid));
    }

    #[test]
    fn issuer_and_audience_must_match_exactly() {
        let v = Validation::new("iss", "aud");
        let mut c = claims(1000, 1900);
        c.iss = "ISS".into();
        assert_eq!(v.check(&c, 1000), Err(VerifyError::WrongIssuer));
        let mut c = claims(1000, 1900);
        c.aud = "aud2".into();
        assert_eq!(v.check(&c, 1000), Err(VerifyError::WrongAudience));
    }
}
