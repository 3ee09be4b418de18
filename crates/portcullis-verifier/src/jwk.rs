//! JSON Web Keys (RFC 7517, RFC 8037 for Ed25519), as published at
//! `/.well-known/jwks.json`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::{KeyError, VerificationKey};

/// A JWKS document: `{"keys":[...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// One public key. Only the members Portcullis uses are modelled; others are
/// ignored when reading a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `OKP` for Ed25519.
    pub kty: String,
    /// Curve: `Ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// The public key, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Key id, matched against a token's `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The algorithm the key is pinned to: `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use: `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

impl Jwk {
    /// The public JWK of an Ed25519 key.
    pub fn ed25519(kid: impl Into<String>, public_key: &[u8; 32]) -> Self {
        Self {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some(URL_SAFE_NO_PAD.encode(public_key)),
            kid: Some(kid.into()),
            alg: Some("EdDSA".into()),
            key_use: Some("sig".into()),
        }
    }

    /// `Some` for an Ed25519 signature key, `None` for a key of another type or
    /// use, an error for an Ed25519 key that cannot be used.
    pub(crate) fn to_verification_key(
        &self,
    ) -> Result<Option<(String, VerificationKey)>, KeyError> {
        let is_ed25519 = self.kty == "OKP" && self.crv.as_deref() == Some("Ed25519");
        let for_signatures = self.key_use.as_deref().is_none_or(|u| u == "sig");
        let for_eddsa = self.alg.as_deref().is_none_or(|a| a == "EdDSA");
        if !(is_ed25519 && for_signatures && for_eddsa) {
            return Ok(None);
        }
        let kid = self.kid.clone().ok_or(KeyError::MissingKeyId)?;
        let x = self.x.as_deref().ok_or(KeyError::InvalidEd25519Key)?;
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(x)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(KeyError::InvalidEd25519Key)?;
        Ok(Some((kid, VerificationKey::ed25519(&bytes)?)))
    }
}
