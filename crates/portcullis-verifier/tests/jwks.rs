//! The JWKS cache and the axum extractor against real servers on port 0: an
//! issuer whose JWKS the test rotates, and a resource server built on the
//! extractor.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use portcullis_verifier::{
    Claims, Jwk, Jwks, JwksCache, JwksOptions, Validation, VerifiedClaims, Verifier,
};

const NOW: u64 = 1_800_000_000;

/// An issuer that serves whatever JWKS the test puts in it and counts fetches.
#[derive(Clone, Default)]
struct Issuer {
    jwks: Arc<Mutex<Jwks>>,
    fetches: Arc<AtomicUsize>,
}

impl Issuer {
    fn publish(&self, keys: &[(&str, &SigningKey)]) {
        let jwks = Jwks {
            keys: keys
                .iter()
                .map(|(kid, key)| Jwk::ed25519(*kid, &key.verifying_key().to_bytes()))
                .collect(),
        };
        *self.jwks.lock().expect("not poisoned") = jwks;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

async fn start_issuer(issuer: &Issuer) -> String {
    async fn jwks(State(issuer): State<Issuer>) -> Json<Jwks> {
        issuer.fetches.fetch_add(1, Ordering::SeqCst);
        Json(issuer.jwks.lock().expect("not poisoned").clone())
    }
    let router = Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(issuer.clone());
    format!("http://{}/.well-known/jwks.json", serve(router).await)
}

/// A resource server whose one route echoes the verified claims.
async fn start_api(verifier: Verifier) -> String {
    async fn me(VerifiedClaims(claims): VerifiedClaims) -> Json<Claims> {
        Json(claims)
    }
    let router = Router::new().route("/api/me", get(me)).with_state(verifier);
    format!("http://{}/api/me", serve(router).await)
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn claims(sub: &str) -> String {
    format!(
        r#"{{"iss":"https://auth.test","aud":"api","sub":"{sub}","iat":{NOW},"exp":{},"jti":"j","sid":"s","username":"ada","email":"ada@example.com"}}"#,
        NOW + 900
    )
}

fn sign(key: &SigningKey, header: &str, payload: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn token(key: &SigningKey, kid: &str, sub: &str) -> String {
    sign(
        key,
        &format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#),
        &claims(sub),
    )
}

fn validation() -> Validation {
    Validation::new("https://auth.test", "api")
}

/// A cache that refreshes only on demand during the test, once its first
/// background fetch has landed.
async fn cache(url: &str, issuer: &Issuer) -> JwksCache {
    let options = JwksOptions::default()
        .refresh_interval(Duration::from_secs(3600))
        .min_refetch_interval(Duration::from_secs(3600));
    let cache = JwksCache::with_options(url, options).expect("valid url");
    for _ in 0..2000 {
        if issuer.fetches() > 0 && !cache.keys().is_empty() {
            return cache;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the first background fetch never landed");
}

async fn get_me(url: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("answered")
}

async fn claims_of(response: reqwest::Response) -> Claims {
    let body = response.bytes().await.expect("body");
    serde_json::from_slice(&body).expect("claims")
}

#[tokio::test]
async fn a_genuine_bearer_token_yields_its_claims() {
    let issuer = Issuer::default();
    issuer.publish(&[("k1", &key(1))]);
    let url = start_issuer(&issuer).await;
    let verifier = Verifier::from_jwks(cache(&url, &issuer).await, validation()).with_clock(|| NOW);
    let api = start_api(verifier).await;

    let response = get_me(&api, Some(&token(&key(1), "k1", "user-1"))).await;
    assert_eq!(response.status(), 200);
    let claims = claims_of(response).await;
    assert_eq!(claims.sub, "user-1");
}

#[tokio::test]
async fn a_key_rotated_in_at_the_issuer_is_fetched_on_first_sight() {
    let issuer = Issuer::default();
    issuer.publish(&[("k1", &key(1))]);
    let url = start_issuer(&issuer).await;
    let cache = cache(&url, &issuer).await;
    let verifier = Verifier::from_jwks(cache.clone(), validation()).with_clock(|| NOW);
    let api = start_api(verifier).await;
    let fetched = issuer.fetches();

    issuer.publish(&[("k1", &key(1)), ("k2", &key(2))]);
    let response = get_me(&api, Some(&token(&key(2), "k2", "user-2"))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(issuer.fetches(), fetched + 1);
    assert!(cache.keys().contains("k2"));
    // The old key still verifies: it may have signed tokens that live on.
    let old = get_me(&api, Some(&token(&key(1), "k1", "user-1"))).await;
    assert_eq!(old.status(), 200);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let issuer = Issuer::default();
    issuer.publish(&[("k1", &key(1))]);
    let url = start_issuer(&issuer).await;
    let verifier = Verifier::from_jwks(cache(&url, &issuer).await, validation()).with_clock(|| NOW);
    let api = start_api(verifier).await;
    let fetched = issuer.fetches();

    for i in 0..5 {
        let forged = token(&key(9), &format!("forged-{i}"), "admin");
        let response = get_me(&api, Some(&forged)).await;
        assert_eq!(response.status(), 401);
    }
    assert_eq!(issuer.fetches(), fetched + 1, "one refetch, not five");
}

#[tokio::test]
async fn forged_and_missing_tokens_get_401_with_a_bearer_challenge() {
    let issuer = Issuer::default();
    issuer.publish(&[("k1", &key(1))]);
    let url = start_issuer(&issuer).await;
    let verifier = Verifier::from_jwks(cache(&url, &issuer).await, validation()).with_clock(|| NOW);
    let api = start_api(verifier).await;

    let genuine = token(&key(1), "k1", "user-1");
    let (input, _) = genuine.rsplit_once('.').expect("three parts");
    let tampered = {
        let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(claims("admin"));
        parts.join(".")
    };
    let forged = [
        // alg none, with and without a signature part
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#),
            URL_SAFE_NO_PAD.encode(claims("admin"))
        ),
        // signed by a key the issuer never published, under its kid
        token(&key(7), "k1", "admin"),
        tampered,
        format!("{input}."),
        // a header that points at a key of the attacker's choosing
        sign(
            &key(7),
            r#"{"alg":"EdDSA","kid":"k1","jku":"http://evil.test/jwks.json"}"#,
            &claims("admin"),
        ),
        "not a token".to_owned(),
    ];
    for token in &forged {
        let response = get_me(&api, Some(token)).await;
        assert_eq!(response.status(), 401, "{token}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="api", error="invalid_token""#
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    let missing = get_me(&api, None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        r#"Bearer realm="api""#
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_by_the_injected_clock() {
    let issuer = Issuer::default();
    issuer.publish(&[("k1", &key(1))]);
    let url = start_issuer(&issuer).await;
    let verifier =
        Verifier::from_jwks(cache(&url, &issuer).await, validation()).with_clock(|| NOW + 900 + 60);
    let api = start_api(verifier).await;
    let response = get_me(&api, Some(&token(&key(1), "k1", "user-1"))).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_configured_cookie_is_read_when_there_is_no_bearer_token() {
    let issuer = Issuer::default();
    issuer.publish(&[("k1", &key(1))]);
    let url = start_issuer(&issuer).await;
    let verifier = Verifier::from_jwks(cache(&url, &issuer).await, validation())
        .with_clock(|| NOW)
        .with_token_cookie("accessToken");
    let api = start_api(verifier).await;
    let response = reqwest::Client::new()
        .get(&api)
        .header(
            "cookie",
            format!("theme=dark; accessToken={}", token(&key(1), "k1", "user-3")),
        )
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    let claims = claims_of(response).await;
    assert_eq!(claims.sub, "user-3");
}
