//! `/.well-known/openid-configuration`: the issuer and an absolute JWKS URL.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn discovery(app: &TestApp, headers: &[(&str, &str)]) -> (Value, String) {
    let mut request = app.client.get(app.url("/.well-known/openid-configuration"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let cache = response.headers()["cache-control"]
        .to_str()
        .expect("ascii")
        .to_owned();
    (response.json().await.expect("JSON"), cache)
}

#[tokio::test]
async fn without_a_public_url_the_jwks_uri_follows_the_request_host() {
    let app = TestApp::spawn().await;
    let (doc, cache) = discovery(&app, &[]).await;
    assert_eq!(doc["issuer"], "portcullis");
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["EdDSA"])
    );
    let jwks_uri = doc["jwks_uri"].as_str().expect("jwks_uri");
    assert_eq!(jwks_uri, app.url("/.well-known/jwks.json"));
    assert_eq!(cache, "no-store", "an answer built from Host is not shared");

    let jwks: Value = app
        .client
        .get(jwks_uri)
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
}

#[tokio::test]
async fn with_a_public_url_the_issuer_and_jwks_uri_are_fixed() {
    let app = TestApp::spawn_with(&[("PORTCULLIS_PUBLIC_URL", "https://auth.example.com/")]).await;
    let (doc, _) = discovery(&app, &[("host", "attacker.test")]).await;
    assert_eq!(doc["issuer"], "https://auth.example.com");
    assert_eq!(
        doc["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_scheme_and_host_are_used() {
    let app = TestApp::spawn_with(&[("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
    ];
    let (doc, _) = discovery(&app, &forwarded).await;
    assert_eq!(
        doc["jwks_uri"],
        "https://app.example.com/.well-known/jwks.json"
    );
}

#[tokio::test]
async fn an_unusable_host_is_a_problem_not_a_crash() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .header("host", "bad host/with#junk")
        .send()
        .await
        .expect("answered");
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}
