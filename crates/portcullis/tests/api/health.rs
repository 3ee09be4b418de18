use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn liveness_and_readiness_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get(&mut Jar::default(), "/healthz").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&mut Jar::default(), "/readyz").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_jwks_publishes_public_halves_only_and_names_the_signing_key() {
    let app = TestApp::spawn().await;
    let jar = app.signed_in("ada").await;
    let response = app.get(&mut Jar::default(), "/.well-known/jwks.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let jwks: Value = response.json().await.expect("json");
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert!(key.get("d").is_none(), "private key published");

    use base64::Engine;
    let token = jar.access().expect("access");
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().expect("header"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], key["kid"]);
}

#[tokio::test]
async fn access_tokens_carry_the_contract_claims() {
    let app = TestApp::spawn_with(&[("PORTCULLIS_PUBLIC_URL", "https://auth.example.com")]).await;
    let mut jar = Jar::default();
    let response = app
        .client
        .post(app.url("/api/auth/register"))
        .json(&serde_json::json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("answered");
    jar.store(response.headers());
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(
                jar.access()
                    .expect("access")
                    .split('.')
                    .nth(1)
                    .expect("payload"),
            )
            .expect("b64"),
    )
    .expect("json");
    for claim in [
        "iss", "aud", "sub", "iat", "exp", "jti", "sid", "username", "email",
    ] {
        assert!(!claims[claim].is_null(), "{claim} missing from {claims}");
    }
    assert_eq!(claims["iss"], "https://auth.example.com");
    assert_eq!(claims["aud"], "https://auth.example.com");
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        900
    );
    assert_eq!(claims["username"], "ada");
}
