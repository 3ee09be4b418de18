//! Signing keys: generated into the database, shared by every instance, loaded
//! into memory, published as a JWKS.
//!
//! In compatibility mode an HS256 shared secret (from the configuration, never
//! the database) signs instead. It verifies too, but it is never published:
//! the JWKS holds public keys only.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use hmac::{Hmac, Mac};
use portcullis_verifier::{Jwk, Jwks, KeySet, VerificationKey};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::clock::SharedClock;
use crate::report::Chain;
use crate::store::{KeyRecord, Store, StoreError};

/// How often a running instance rereads the keys, to pick up a rotation made
/// by `portcullis keys rotate` or by another instance.
pub const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(30);
/// How long clients may cache `/.well-known/jwks.json` (its `Cache-Control`).
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(60);
/// An unknown `kid` makes an instance reread the keys at most this often, so a
/// flood of forged `kid`s cannot turn into a flood of queries.
const UNKNOWN_KID_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Why the keys could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The random source failed.
    #[error("no randomness for a new key")]
    Randomness(#[source] getrandom::Error),
    /// A stored key cannot be used by this version.
    #[error("signing key {0} in the database is unusable")]
    Unusable(String),
    /// There is no key that may sign now.
    #[error("no signing key is active")]
    NoSigner,
    /// No key in the database has this id (`portcullis keys list` shows
    /// them).
    #[error("no signing key has the id {0:?}")]
    UnknownKey(String),
}

/// The key that signs new tokens.
pub struct Signer {
    kid: String,
    key: SignWith,
    /// The encoded JOSE header, the same for every token this key signs.
    header: String,
}

// One signer per key snapshot, not per token: the size difference between the
// variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
enum SignWith {
    Ed25519(SigningKey),
    Hs256(SecretSlice<u8>),
}

impl Signer {
    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` (already JSON) into a compact JWS.
    pub fn sign(&self, claims_json: &[u8]) -> String {
        let mut token = String::with_capacity(self.header.len() + claims_json.len() * 4 / 3 + 90);
        token.push_str(&self.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        let signature: Vec<u8> = match &self.key {
            SignWith::Ed25519(key) => key.sign(token.as_bytes()).to_bytes().to_vec(),
            SignWith::Hs256(secret) => {
                // HMAC takes keys of any length; the length was checked at start.
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose_secret()) else {
                    return String::new();
                };
                mac.update(token.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        token
    }
}

/// One consistent snapshot of the keys.
pub struct KeyMaterial {
    /// Signs new tokens.
    pub signer: Signer,
    /// Every key that may still verify a live token.
    pub verifiers: KeySet,
    /// The JWKS document, serialised once per reload.
    pub jwks: Arc<str>,
}

/// The keys, shared by every request and swapped whole on reload.
#[derive(Clone)]
pub struct KeyRing {
    store: Store,
    clock: SharedClock,
    /// The HS256 secret that signs in compatibility mode.
    hs256: Option<SecretSlice<u8>>,
    current: Arc<ArcSwap<KeyMaterial>>,
    last_unknown_kid_reload: Arc<Mutex<Option<Instant>>>,
}

impl KeyRing {
    /// Loads the keys, generating the first one if the database has none.
    /// With `hs256`, that secret signs instead of the Ed25519 keys.
    pub async fn load(
        store: Store,
        clock: SharedClock,
        hs256: Option<SecretSlice<u8>>,
    ) -> Result<Self, KeyError> {
        let now = clock.now();
        if store.insert_first_key(&generate(now)?).await? {
            tracing::info!("generated the first signing key");
        }
        let material = material(&store, now, hs256.as_ref()).await?;
        if hs256.is_some() {
            tracing::info!(
                "signing access tokens with the HS256 shared secret (compatibility mode)"
            );
        }
        Ok(Self {
            store,
            clock,
            hs256,
            current: Arc::new(ArcSwap::from_pointee(material)),
            last_unknown_kid_reload: Arc::new(Mutex::new(None)),
        })
    }

    /// The current snapshot.
    pub fn current(&self) -> Arc<KeyMaterial> {
        self.current.load_full()
    }

    /// Rereads the keys from the database.
    pub async fn reload(&self) -> Result<(), KeyError> {
        let material = material(&self.store, self.clock.now(), self.hs256.as_ref()).await?;
        self.current.store(Arc::new(material));
        Ok(())
    }

    /// Rereads the keys because a token named `kid`, which is not loaded; at
    /// most once per second. Returns whether `kid` is known afterwards.
    pub async fn reload_for_unknown(&self, kid: &str) -> bool {
        {
            let Ok(mut last) = self.last_unknown_kid_reload.lock() else {
                return false;
            };
            if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_RELOAD_INTERVAL) {
                return false;
            }
            *last = Some(Instant::now());
        }
        if let Err(e) = self.reload().await {
            tracing::warn!(error = %Chain(&e), "could not reload signing keys");
            return false;
        }
        self.current().verifiers.contains(kid)
    }
}

/// Generates a new Ed25519 key that signs from `now`.
pub fn generate(now: OffsetDateTime) -> Result<KeyRecord, KeyError> {
    generate_signing_from(now, now)
}

/// Generates a new Ed25519 key, made at `now`, that signs from `signs_from`
/// (published in the JWKS, but not yet signing, until then).
pub fn generate_signing_from(
    now: OffsetDateTime,
    signs_from: OffsetDateTime,
) -> Result<KeyRecord, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(KeyError::Randomness)?;
    let key = SigningKey::from_bytes(&seed);
    let public = key.verifying_key().to_bytes();
    Ok(KeyRecord {
        kid: thumbprint(&public),
        algorithm: "EdDSA".into(),
        private_key: seed.to_vec().into(),
        public_key: public.to_vec(),
        created_at: now,
        signs_from,
        retired_at: None,
        verify_until: None,
    })
}

/// The RFC 7638 JWK thumbprint of an Ed25519 public key: a `kid` that anyone
/// can recompute from the key itself.
fn thumbprint(public: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

async fn material(
    store: &Store,
    now: OffsetDateTime,
    hs256: Option<&SecretSlice<u8>>,
) -> Result<KeyMaterial, KeyError> {
    let records = store.signing_keys(now).await?;
    let mut verifiers = KeySet::new();
    let mut jwks = Jwks::default();
    let mut signer: Option<(&KeyRecord, SigningKey, bool)> = None;
    for record in &records {
        let unusable = || KeyError::Unusable(record.kid.clone());
        if record.algorithm != "EdDSA" {
            return Err(unusable());
        }
        let seed: [u8; 32] = record
            .private_key
            .expose_secret()
            .try_into()
            .map_err(|_| unusable())?;
        let key = SigningKey::from_bytes(&seed);
        let public = key.verifying_key().to_bytes();
        if record.public_key != public {
            return Err(unusable());
        }
        verifiers.insert(
            record.kid.clone(),
            VerificationKey::ed25519(&public).map_err(|_| unusable())?,
        );
        jwks.keys.push(Jwk::ed25519(record.kid.clone(), &public));
        // Records come ordered by `signs_from`: the last one in its signing
        // period signs. Should clocks disagree so that none is (a rotation
        // stamped by a machine whose clock runs ahead), the newest key signs
        // rather than none: every published key verifies.
        let signing_now =
            record.signs_from <= now && record.retired_at.is_none_or(|retired| retired > now);
        if signing_now || signer.as_ref().is_none_or(|(_, _, eligible)| !eligible) {
            signer = Some((record, key, signing_now));
        }
    }
    let (record, key, _) = signer.ok_or(KeyError::NoSigner)?;
    let jwks = serde_json::to_string(&jwks).map_err(|_| KeyError::Unusable(record.kid.clone()))?;
    // Only after the JWKS is serialised: the shared secret must never be in it.
    let (kid, alg, key) = match hs256 {
        Some(secret) => {
            let kid = VerificationKey::hs256_key_id(secret.expose_secret());
            let key = VerificationKey::hs256(secret.expose_secret())
                .map_err(|_| KeyError::Unusable(kid.clone()))?;
            verifiers.insert(kid.clone(), key);
            (kid, "HS256", SignWith::Hs256(secret.clone()))
        }
        None => (record.kid.clone(), "EdDSA", SignWith::Ed25519(key)),
    };
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#);
    Ok(KeyMaterial {
        signer: Signer {
            kid,
            key,
            header: URL_SAFE_NO_PAD.encode(header),
        },
        verifiers,
        jwks: jwks.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037, appendix A.3.
        let public = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .expect("b64");
        let public: [u8; 32] = public.try_into().expect("32 bytes");
        assert_eq!(
            thumbprint(&public),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
