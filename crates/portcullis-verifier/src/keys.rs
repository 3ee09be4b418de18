//! Verification keys, each pinned to one algorithm, and the set a token is
//! checked against.

use std::collections::HashMap;
use std::fmt;

use ed25519_dalek::{Signature, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Claims, Jwks, KeyError, Validation, VerifyError, jws};

/// The signature algorithms a key can be pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 signatures (`alg: EdDSA`), the default.
    EdDSA,
    /// HMAC-SHA-256 with a shared secret (`alg: HS256`), for compatibility with
    /// backends that only know a shared secret.
    HS256,
}

impl Algorithm {
    /// The JOSE name of the algorithm, as it appears in a token's `alg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::HS256 => "HS256",
        }
    }
}

/// Shortest HS256 secret accepted: 256 bits, the size of the hash (RFC 7518 §3.2).
pub const MIN_HS256_SECRET_LEN: usize = 32;

/// A key that verifies tokens of exactly one algorithm.
#[derive(Clone)]
pub struct VerificationKey(Kind);

#[derive(Clone)]
enum Kind {
    // Decompressed once here, not on every verification.
    Ed25519(VerifyingKey),
    Hs256(Box<[u8]>),
}

impl VerificationKey {
    /// An Ed25519 public key (the 32-byte compressed point). Small-order
    /// ("weak") points are refused: every signature would verify under some of them.
    pub fn ed25519(public_key: &[u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::InvalidEd25519Key)?;
        if key.is_weak() {
            return Err(KeyError::InvalidEd25519Key);
        }
        Ok(Self(Kind::Ed25519(key)))
    }

    /// A shared HS256 secret of at least 256 bits.
    pub fn hs256(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_HS256_SECRET_LEN {
            return Err(KeyError::SecretTooShort);
        }
        Ok(Self(Kind::Hs256(secret.into())))
    }

    /// The key id Portcullis writes into the header of tokens it signs with
    /// this HS256 `secret`.
    ///
    /// A shared secret has no public half to publish, so there is no JWKS to
    /// learn its `kid` from; both sides derive it from the secret instead. It
    /// is a truncated SHA-256 of the secret under a fixed label: it names the
    /// key without revealing anything usable about a secret of 256 bits or more.
    pub fn hs256_key_id(secret: &[u8]) -> String {
        use base64::Engine;
        use sha2::Digest;
        let digest = Sha256::new()
            .chain_update(b"portcullis hs256 kid\0")
            .chain_update(secret)
            .finalize();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12])
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        match self.0 {
            Kind::Ed25519(_) => Algorithm::EdDSA,
            Kind::Hs256(_) => Algorithm::HS256,
        }
    }

    fn verify_signature(&self, message: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        match &self.0 {
            Kind::Ed25519(key) => {
                let signature =
                    Signature::from_slice(signature).map_err(|_| VerifyError::BadSignature)?;
                key.verify_strict(message, &signature)
                    .map_err(|_| VerifyError::BadSignature)
            }
            Kind::Hs256(secret) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret)
                    .map_err(|_| VerifyError::BadSignature)?;
                mac.update(message);
                // `verify_slice` compares in constant time and rejects truncated tags.
                mac.verify_slice(signature)
                    .map_err(|_| VerifyError::BadSignature)
            }
        }
    }
}

impl fmt::Debug for VerificationKey {
    // A shared secret must never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Ed25519(key) => f.debug_tuple("Ed25519").field(key).finish(),
            Kind::Hs256(_) => f.write_str("Hs256(<redacted>)"),
        }
    }
}

/// The keys a token may be signed with, by key id (`kid`).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, VerificationKey>,
}

impl KeySet {
    /// An empty set, which rejects every token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the key with id `kid`.
    pub fn insert(&mut self, kid: impl Into<String>, key: VerificationKey) {
        self.keys.insert(kid.into(), key);
    }

    /// Whether a key with this id is in the set.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A set holding one HS256 `secret` (at least 256 bits), under the key id
    /// Portcullis gives it ([`VerificationKey::hs256_key_id`]).
    pub fn from_shared_secret(secret: &[u8]) -> Result<Self, KeyError> {
        let mut set = Self::new();
        set.insert(
            VerificationKey::hs256_key_id(secret),
            VerificationKey::hs256(secret)?,
        );
        Ok(set)
    }

    /// The Ed25519 signature keys of a JWKS document. Keys of other types or
    /// uses are skipped, as RFC 7517 asks; an Ed25519 key with a bad `x`, or
    /// without a `kid`, is an error rather than silently ignored.
    pub fn from_jwks(jwks: &Jwks) -> Result<Self, KeyError> {
        let mut set = Self::new();
        for jwk in &jwks.keys {
            if let Some((kid, key)) = jwk.to_verification_key()? {
                set.insert(kid, key);
            }
        }
        Ok(set)
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch) and returns its
    /// claims.
    pub fn verify(
        &self,
        token: &str,
        validation: &Validation,
        now: u64,
    ) -> Result<Claims, VerifyError> {
        let parts = jws::split(token)?;
        let kid = parts.header.kid.as_deref().ok_or(VerifyError::UnknownKey)?;
        let key = self.keys.get(kid).ok_or(VerifyError::UnknownKey)?;
        if parts.header.alg != key.algorithm().as_str() {
            return Err(VerifyError::AlgorithmMismatch);
        }
        key.verify_signature(parts.signing_input.as_bytes(), &parts.signature)?;
        let claims: Claims =
            serde_json::from_slice(&parts.payload).map_err(|_| VerifyError::MalformedClaims)?;
        validation.check(&claims, now)?;
        Ok(claims)
    }

    /// The key id named in a token's header, without verifying anything; lets a
    /// caller notice a key it has not loaded yet. `None` when the token is
    /// malformed or names no key.
    pub fn key_id(token: &str) -> Option<String> {
        jws::split(token).ok()?.header.kid
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;
    use crate::Jwk;

    const NOW: u64 = 1_800_000_000;

    fn signing_key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn claims_json() -> String {
        format!(
            r#"{{"iss":"https://auth.test","aud":"app","sub":"u1","iat":{NOW},"exp":{},"jti":"j","sid":"s1","username":"ada","email":"ada@example.com"}}"#,
            NOW + 900
        )
    }

    fn sign_ed25519(header: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = signing_key().sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    fn sign_hs256(secret: &[u8], header: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any length");
        mac.update(input.as_bytes());
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    fn keys() -> KeySet {
        let mut set = KeySet::new();
        let public = signing_key().verifying_key().to_bytes();
        set.insert("k1", VerificationKey::ed25519(&public).expect("valid key"));
        set
    }

    fn validation() -> Validation {
        Validation::new("https://auth.test", "app")
    }

    #[test]
    fn a_genuine_token_verifies_and_yields_its_claims() {
        let token = sign_ed25519(r#"{"alg":"EdDSA","typ":"JWT","kid":"k1"}"#, &claims_json());
        let claims = keys().verify(&token, &validation(), NOW).expect("valid");
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.sid, "s1");
    }

    #[test]
    fn alg_none_in_any_casing_is_rejected() {
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = format!(r#"{{"alg":"{alg}","kid":"k1"}}"#);
            let token = format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(&header),
                URL_SAFE_NO_PAD.encode(claims_json())
            );
            assert!(keys().verify(&token, &validation(), NOW).is_err(), "{alg}");
            let with_sig = format!("{token}AAAA");
            assert_eq!(
                keys().verify(&with_sig, &validation(), NOW),
                Err(VerifyError::AlgorithmMismatch),
                "{alg}"
            );
        }
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_rejected() {
        let public = signing_key().verifying_key().to_bytes();
        let b64 = URL_SAFE_NO_PAD.encode(public);
        for secret in [public.to_vec(), b64.into_bytes()] {
            let token = sign_hs256(&secret, r#"{"alg":"HS256","kid":"k1"}"#, &claims_json());
            assert_eq!(
                keys().verify(&token, &validation(), NOW),
                Err(VerifyError::AlgorithmMismatch)
            );
        }
    }

    #[test]
    fn a_tampered_payload_is_rejected() {
        let token = sign_ed25519(r#"{"alg":"EdDSA","kid":"k1"}"#, &claims_json());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(claims_json().replace("u1", "u2"));
        parts[1] = &forged;
        assert_eq!(
            keys().verify(&parts.join("."), &validation(), NOW),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn truncated_or_extended_signatures_are_rejected() {
        let token = sign_ed25519(r#"{"alg":"EdDSA","kid":"k1"}"#, &claims_json());
        let (input, sig) = token.rsplit_once('.').expect("three parts");
        let mut bytes = URL_SAFE_NO_PAD.decode(sig).expect("b64");
        bytes.pop();
        let truncated = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        bytes.extend([0, 0]);
        let extended = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        for t in [truncated, extended, format!("{input}.")] {
            assert!(keys().verify(&t, &validation(), NOW).is_err());
        }
    }

    #[test]
    fn a_non_canonical_signature_scalar_is_rejected() {
        // Adding the group order L to S gives a second encoding of the same
        // signature; strict verification must refuse it.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let token = sign_ed25519(r#"{"alg":"EdDSA","kid":"k1"}"#, &claims_json());
        let (input, sig) = token.rsplit_once('.').expect("three parts");
        let mut bytes = URL_SAFE_NO_PAD.decode(sig).expect("b64");
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(bytes[32 + i]) + u16::from(L[i]) + carry;
            bytes[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(
            keys().verify(&forged, &validation(), NOW),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn an_unknown_or_missing_kid_is_rejected() {
        let unknown = sign_ed25519(
            r#"{"alg":"EdDSA","kid":"../../etc/passwd"}"#,
            &claims_json(),
        );
        let missing = sign_ed25519(r#"{"alg":"EdDSA"}"#, &claims_json());
        for t in [unknown, missing] {
            assert_eq!(
                keys().verify(&t, &validation(), NOW),
                Err(VerifyError::UnknownKey)
            );
        }
    }

    #[test]
    fn duplicate_claims_are_rejected() {
        let payload =
            claims_json().replacen("\"sub\":\"u1\"", "\"sub\":\"u1\",\"sub\":\"admin\"", 1);
        let token = sign_ed25519(r#"{"alg":"EdDSA","kid":"k1"}"#, &payload);
        assert_eq!(
            keys().verify(&token, &validation(), NOW),
            Err(VerifyError::MalformedClaims)
        );
    }

    #[test]
    fn wrong_issuer_audience_and_expiry_are_rejected() {
        let token = sign_ed25519(r#"{"alg":"EdDSA","kid":"k1"}"#, &claims_json());
        let other_iss = Validation::new("https://evil.test", "app");
        let other_aud = Validation::new("https://auth.test", "other");
        assert_eq!(
            keys().verify(&token, &other_iss, NOW),
            Err(VerifyError::WrongIssuer)
        );
        assert_eq!(
            keys().verify(&token, &other_aud, NOW),
            Err(VerifyError::WrongAudience)
        );
        assert_eq!(
            keys().verify(&token, &validation(), NOW + 900 + 5),
            Err(VerifyError::Expired)
        );
    }

    #[test]
    fn an_hs256_key_verifies_only_hs256() {
        let secret = [9u8; 32];
        let mut set = KeySet::new();
        set.insert("h", VerificationKey::hs256(&secret).expect("long enough"));
        let good = sign_hs256(&secret, r#"{"alg":"HS256","kid":"h"}"#, &claims_json());
        assert!(set.verify(&good, &validation(), NOW).is_ok());
        let wrong = sign_hs256(&[8u8; 32], r#"{"alg":"HS256","kid":"h"}"#, &claims_json());
        assert_eq!(
            set.verify(&wrong, &validation(), NOW),
            Err(VerifyError::BadSignature)
        );
        let relabelled = good.replacen(
            &URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"h"}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","kid":"h"}"#),
            1,
        );
        assert_eq!(
            set.verify(&relabelled, &validation(), NOW),
            Err(VerifyError::AlgorithmMismatch)
        );
    }

    #[test]
    fn short_hs256_secrets_and_weak_ed25519_keys_are_refused() {
        assert_eq!(
            VerificationKey::hs256(&[1; 31]).err(),
            Some(KeyError::SecretTooShort)
        );
        // The identity point is of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            VerificationKey::ed25519(&identity).err(),
            Some(KeyError::InvalidEd25519Key)
        );
    }

    #[test]
    fn a_shared_secret_set_verifies_tokens_under_the_derived_kid() {
        let secret = [3u8; 32];
        let kid = VerificationKey::hs256_key_id(&secret);
        assert_eq!(kid, VerificationKey::hs256_key_id(&secret));
        assert_ne!(kid, VerificationKey::hs256_key_id(&[4u8; 32]));
        let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#);
        let token = sign_hs256(&secret, &header, &claims_json());
        let set = KeySet::from_shared_secret(&secret).expect("long enough");
        assert!(set.verify(&token, &validation(), NOW).is_ok());
        assert_eq!(
            KeySet::from_shared_secret(&[3u8; 31]).err(),
            Some(KeyError::SecretTooShort)
        );
    }

    #[test]
    fn a_jwks_round_trips_into_a_key_set() {
        let public = signing_key().verifying_key().to_bytes();
        let jwks = Jwks {
            keys: vec![
                Jwk::ed25519("k1", &public),
                Jwk {
                    kty: "RSA".into(),
                    crv: None,
                    x: None,
                    kid: Some("rsa".into()),
                    alg: Some("RS256".into()),
                    key_use: Some("sig".into()),
                },
            ],
        };
        let json = serde_json::to_string(&jwks).expect("serializes");
        assert!(!json.contains("\"d\""));
        let set = KeySet::from_jwks(&serde_json::from_str(&json).expect("parses")).expect("usable");
        assert_eq!(set.len(), 1);
        let token = sign_ed25519(r#"{"alg":"EdDSA","kid":"k1"}"#, &claims_json());
        assert!(set.verify(&token, &validation(), NOW).is_ok());
    }

    #[test]
    fn a_jwk_with_a_short_key_is_an_error_not_a_panic() {
        let mut jwk = Jwk::ed25519("k1", &signing_key().verifying_key().to_bytes());
        jwk.x = Some("AAAA".into());
        assert_eq!(
            KeySet::from_jwks(&Jwks { keys: vec![jwk] }).err(),
            Some(KeyError::InvalidEd25519Key)
        );
    }

    proptest::proptest! {
        #[test]
        fn verifying_arbitrary_text_is_always_an_error(token in "\\PC{0,400}") {
            proptest::prop_assert!(keys().verify(&token, &validation(), NOW).is_err());
        }

        #[test]
        fn flipping_any_byte_of_a_genuine_token_breaks_it(index in 0usize..300, bit in 0u8..8) {
            let token = sign_ed25519(r#"{"alg":"EdDSA","kid":"k1"}"#, &claims_json());
            let mut bytes = token.into_bytes();
            let i = index % bytes.len();
            bytes[i] ^= 1 << bit;
            if let Ok(forged) = String::from_utf8(bytes) {
                proptest::prop_assert!(keys().verify(&forged, &validation(), NOW).is_err());
            }
        }
    }
}
