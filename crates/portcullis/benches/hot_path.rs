//! Micro-benchmarks of what every request and every sign-in costs:
//! `cargo bench -p portcullis --bench hot_path`.
//!
//! - `access_token/*`: checking an access token from scratch (Ed25519, and
//!   HS256 in compatibility mode) against finding it among the tokens
//!   already verified, which is what the gateway does for every request after
//!   a token's first.
//!
//! The argon2 candidates are compared in `bench/tools/benches/argon2.rs`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use portcullis::auth::verified_tokens::{VerifiedToken, VerifiedTokens};
use portcullis::domain::SessionId;
use portcullis_verifier::{Claims, KeySet, Validation, VerificationKey};
use sha2::Sha256;

const NOW: u64 = 1_800_000_000;

fn claims() -> Claims {
    Claims {
        iss: "https://auth.example.com".into(),
        aud: "portcullis".into(),
        sub: "0b6b2a4e-3d55-4c8f-9a1e-6f0c2b7d9e11".into(),
        iat: NOW,
        exp: NOW + 900,
        nbf: None,
        jti: "4f1d2c3b4a5968778695a4b3c2d1e0f0".into(),
        sid: SessionId::random().to_string(),
        username: "ada".into(),
        email: "ada@example.com".into(),
        email_verified: None,
        amr: None,
        legacy_id: None,
        idp: None,
    }
}

/// A compact JWS over `claims` with the given header and signature function.
fn token(header: &str, claims: &Claims, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap()));
    let signature = sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

fn access_token(c: &mut Criterion) {
    let validation = Validation::new("https://auth.example.com", "portcullis");
    let claims = claims();

    let signing = SigningKey::from_bytes(&[7u8; 32]);
    let mut ed25519 = KeySet::new();
    ed25519.insert(
        "ed",
        VerificationKey::ed25519(&signing.verifying_key().to_bytes()).unwrap(),
    );
    let ed_token = token(
        r#"{"alg":"EdDSA","typ":"JWT","kid":"ed"}"#,
        &claims,
        |input| signing.sign(input).to_bytes().to_vec(),
    );

    let secret = [9u8; 32];
    let hs256 = KeySet::from_shared_secret(&secret).unwrap();
    let hs_header = format!(
        r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#,
        VerificationKey::hs256_key_id(&secret)
    );
    let hs_token = token(&hs_header, &claims, |input| {
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    });

    let cache = VerifiedTokens::new(16 * 1024);
    // A realistic population: other browsers' tokens share the cache.
    for n in 0..10_000u32 {
        cache.insert(
            VerifiedTokens::digest(&format!("{ed_token}{n}")),
            Arc::new(VerifiedToken {
                claims: Arc::new(claims.clone()),
                session: SessionId::random(),
                kid: "ed".into(),
            }),
        );
    }
    cache.insert(
        VerifiedTokens::digest(&ed_token),
        Arc::new(VerifiedToken {
            claims: Arc::new(claims.clone()),
            session: claims.sid.parse().unwrap(),
            kid: "ed".into(),
        }),
    );

    let mut group = c.benchmark_group("access_token");
    group.bench_function("ed25519_verify", |b| {
        b.iter(|| {
            ed25519
                .verify(black_box(&ed_token), &validation, NOW)
                .unwrap()
        })
    });
    group.bench_function("hs256_verify", |b| {
        b.iter(|| {
            hs256
                .verify(black_box(&hs_token), &validation, NOW)
                .unwrap()
        })
    });
    // What a hit costs the gateway: the digest, the lookup, the key and time
    // checks that are repeated on every hit.
    group.bench_function("cache_hit", |b| {
        b.iter(|| {
            let hit = cache
                .get(&VerifiedTokens::digest(black_box(&ed_token)))
                .unwrap();
            assert!(ed25519.contains(&hit.kid));
            validation.check(&hit.claims, NOW).unwrap();
            hit.claims.clone()
        })
    });
    group.finish();
}

criterion_group!(benches, access_token);
criterion_main!(benches);
