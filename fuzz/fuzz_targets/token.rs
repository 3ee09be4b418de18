//! Token parsing and verification: any bytes, as a cookie value would bring
//! them, must be rejected cleanly — never a panic, never an acceptance.
#![no_main]

use std::sync::LazyLock;

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use portcullis_verifier::{KeySet, Validation, VerificationKey};

static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    let mut keys = KeySet::new();
    let public = SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes();
    keys.insert("k1", VerificationKey::ed25519(&public).expect("valid key"));
    keys.insert("h1", VerificationKey::hs256(&[9; 32]).expect("long secret"));
    keys
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let validation = Validation::new("https://auth.test", "app");
    // Nobody without the private key or secret can produce an accepted token.
    assert!(KEYS.verify(token, &validation, 1_800_000_000).is_err());
    let _ = KeySet::key_id(token);
});
