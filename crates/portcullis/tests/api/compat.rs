//! Compatibility with the NestJS pattern's backend: HS256 with a shared secret
//! from a file, the token in `Cookie: accessToken=<jwt>`, and `_id` = `sub`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_verifier::{KeySet, Validation, Verifier};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::upstreams::*;

const SECRET: &str = "a-shared-secret-of-well-over-thirty-two-bytes-for-tests";

/// Writes the secret as an operator would (`echo "$SECRET" > file`).
fn secret_file(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("jwt-secret");
    std::fs::write(&path, format!("{SECRET}\n")).expect("write");
    path.to_str().expect("utf-8").to_owned()
}

async fn compat_app(upstream: &str, dir: &tempfile::TempDir) -> TestApp {
    let secret = secret_file(dir);
    TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", upstream),
        ("PORTCULLIS_HS256_SECRET_FILE", &secret),
        ("PORTCULLIS_UPSTREAM_TOKEN_COOKIE", "accessToken"),
        ("PORTCULLIS_LEGACY_ID_CLAIM", "true"),
    ])
    .await
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

#[tokio::test]
async fn the_example_api_in_cookie_mode_works_behind_the_gateway() {
    let dir = tempfile::tempdir().expect("dir");
    let listener = bind().await;
    let api = format!("http://{}", listener.local_addr().expect("addr"));
    let app = compat_app(&api, &dir).await;
    // The API knows only the shared secret and reads only the cookie, as a
    // NestJS guard written for the pattern does.
    let keys = KeySet::from_shared_secret(SECRET.as_bytes()).expect("long enough");
    let verifier = Verifier::new(keys, Validation::new("portcullis", "portcullis"))
        .with_token_cookie("accessToken");
    serve_example_api(listener, verifier);

    let mut ada = app.signed_in("ada").await;
    let header = decode(ada.access().expect("access").split('.').next().expect("h"));
    assert_eq!(header["alg"], "HS256");

    let created = app
        .post(&mut ada, "/api/notes", Some(json!({"text": "from nest"})))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let listed: Value = app
        .get(&mut ada, "/api/notes")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["notes"][0]["text"], "from nest");
    let me: Value = app
        .get(&mut ada, "/api/me")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["_id"], me["sub"]);
    assert!(me["_id"].is_string());
}

#[tokio::test]
async fn the_token_travels_as_the_configured_cookie_and_a_forged_one_is_replaced() {
    let dir = tempfile::tempdir().expect("dir");
    let recorder = Recorder::spawn().await;
    let app = compat_app(&recorder.url(), &dir).await;
    let mut ada = app.signed_in("ada").await;
    ada.cookies
        .insert("accessToken".into(), "forged.by.page".into());
    ada.cookies.insert("theme".into(), "dark".into());
    let response = app
        .client
        .get(app.url("/api/things"))
        .header("cookie", ada.header().expect("cookies"))
        .header("authorization", "Bearer forged.by.page")
        .send()
        .await
        .expect("answered");
    let report = Report::of(response).await;
    assert_eq!(report.header("authorization"), None);
    let cookie = report.header("cookie").expect("cookies");
    let token = ada.access().expect("access");
    let mut pairs: Vec<&str> = cookie.split("; ").collect();
    pairs.sort_unstable();
    assert_eq!(
        pairs,
        [format!("accessToken={token}").as_str(), "theme=dark"]
    );
}

#[tokio::test]
async fn the_shared_secret_is_never_published() {
    let dir = tempfile::tempdir().expect("dir");
    let recorder = Recorder::spawn().await;
    let app = compat_app(&recorder.url(), &dir).await;
    let body = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("body");
    let jwks: Value = serde_json::from_str(&body).expect("json");
    for key in jwks["keys"].as_array().expect("keys") {
        assert_eq!(key["kty"], "OKP", "{key}");
        assert!(key.get("k").is_none() && key.get("d").is_none(), "{key}");
    }
    for leak in [
        SECRET.to_owned(),
        URL_SAFE_NO_PAD.encode(SECRET),
        "HS256".to_owned(),
    ] {
        assert!(!body.contains(&leak), "the JWKS holds {leak}");
    }
}

#[tokio::test]
async fn tokens_verify_at_the_gateway_and_refresh_in_hs256_mode() {
    let dir = tempfile::tempdir().expect("dir");
    let recorder = Recorder::spawn().await;
    let app = compat_app(&recorder.url(), &dir).await;
    let mut ada = app.signed_in("ada").await;
    assert_eq!(app.session(&mut ada).await.status(), StatusCode::OK);
    assert_eq!(app.refresh(&mut ada).await.status(), StatusCode::NO_CONTENT);
    let claims = decode(ada.access().expect("access").split('.').nth(1).expect("p"));
    assert_eq!(claims["_id"], claims["sub"]);
    assert_eq!(app.session(&mut ada).await.status(), StatusCode::OK);
}
