//! The README's walkthrough as a test: the example notes API behind the
//! gateway, verifying tokens on its own with the JWKS; and that API refusing
//! every forged token when called directly.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use portcullis::cli::KeysCommand;
use portcullis::config::{Config, Sources};
use portcullis_verifier::{JwksCache, Validation, Verifier};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;
use crate::upstreams::*;

/// Portcullis in front of the notes API, which fetches Portcullis's JWKS.
struct Stack {
    app: TestApp,
    api: String,
    jwks: JwksCache,
}

async fn stack() -> Stack {
    let listener = bind().await;
    let api = format!("http://{}", listener.local_addr().expect("addr"));
    // As the README's walkthrough runs it, demo page included.
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &api),
        ("PORTCULLIS_NOTES_PAGE", "true"),
    ])
    .await;
    let jwks = JwksCache::new(&app.url("/.well-known/jwks.json")).expect("url");
    jwks.refresh().await.expect("the JWKS is served");
    let verifier = Verifier::from_jwks(jwks.clone(), Validation::new("portcullis", "portcullis"));
    serve_example_api(listener, verifier);
    Stack { app, api, jwks }
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("json")
}

#[tokio::test]
async fn a_signed_in_user_keeps_notes_through_the_gateway() {
    let Stack { app, .. } = stack().await;
    let mut ada = app.signed_in("ada").await;
    let mut bob = app.signed_in("bob").await;

    let created = app
        .post(&mut ada, "/api/notes", Some(json!({"text": "buy milk"})))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let note = json_of(created).await["note"].clone();
    assert_eq!(note["text"], "buy milk");

    let listed = json_of(app.get(&mut ada, "/api/notes").await).await;
    assert_eq!(listed["notes"], json!([note]));
    let others = json_of(app.get(&mut bob, "/api/notes").await).await;
    assert_eq!(others["notes"], json!([]));

    let path = format!("/api/notes/{}", note["id"].as_str().expect("id"));
    let stolen = app.send(&mut bob, Method::DELETE, &path, None).await;
    assert_eq!(stolen.status(), StatusCode::NOT_FOUND);
    let deleted = app.send(&mut ada, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let listed = json_of(app.get(&mut ada, "/api/notes").await).await;
    assert_eq!(listed["notes"], json!([]));
}

#[tokio::test]
async fn the_api_sees_the_users_claims() {
    let Stack { app, .. } = stack().await;
    let mut ada = app.signed_in("ada").await;
    let session = json_of(app.session(&mut ada).await).await;
    let me = json_of(app.get(&mut ada, "/api/me").await).await;
    assert_eq!(me["sub"], session["user"]["id"]);
    assert_eq!(me["username"], "ada");
    assert!(me.get("_id").is_none(), "no _id unless configured");
}

#[tokio::test]
async fn without_a_session_the_gateway_answers_401_itself() {
    let Stack { app, .. } = stack().await;
    let response = app.get(&mut Jar::default(), "/api/notes").await;
    let body = assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(body["title"], "Unauthorized");
}

fn b64(v: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(mac.finalize().into_bytes()))
}

fn ed25519(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    format!("{input}.{}", b64(key.sign(input.as_bytes()).to_bytes()))
}

#[tokio::test]
async fn the_api_refuses_every_forged_token_presented_directly() {
    let Stack { app, api, .. } = stack().await;
    let ada = app.signed_in("ada").await;
    let genuine = ada.access().expect("access").to_owned();
    let parts: Vec<&str> = genuine.split('.').collect();
    let header = decode(parts[0]);
    let claims = decode(parts[1]);
    let kid = header["kid"].as_str().expect("kid");
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    let public_x = jwks["keys"][0]["x"].as_str().expect("x").to_owned();
    let public = URL_SAFE_NO_PAD.decode(&public_x).expect("b64");
    let attacker = SigningKey::from_bytes(&[42; 32]);

    let mut as_admin = claims.clone();
    as_admin["sub"] = json!("someone-else");
    let mut other_iss = claims.clone();
    other_iss["iss"] = json!("https://evil.test");
    let mut other_aud = claims.clone();
    other_aud["aud"] = json!("another-api");
    let mut expired = claims.clone();
    expired["exp"] = json!(1_000_000_000);

    let mut forged: Vec<(&str, String)> = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = json!({"alg": alg, "typ": "JWT", "kid": kid});
        forged.push(("alg none", format!("{}.{}.", b64(h.to_string()), parts[1])));
    }
    let hs = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    forged.push(("HS256 with the public key", hs256(&public, &hs, &claims)));
    forged.push((
        "HS256 with the public key's base64",
        hs256(public_x.as_bytes(), &hs, &claims),
    ));
    forged.push((
        "tampered payload",
        format!("{}.{}.{}", parts[0], b64(as_admin.to_string()), parts[2]),
    ));
    forged.push(("stripped signature", format!("{}.{}.", parts[0], parts[1])));
    forged.push((
        "truncated signature",
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            &parts[2][..parts[2].len() - 4]
        ),
    ));
    forged.push((
        "unknown kid",
        ed25519(
            &attacker,
            &json!({"alg": "EdDSA", "kid": "attacker"}),
            &as_admin,
        ),
    ));
    forged.push((
        "attacker key under the real kid",
        ed25519(&attacker, &header, &as_admin),
    ));
    for member in ["jku", "x5u", "jwk"] {
        let mut h = header.clone();
        h[member] = json!("https://evil.test/jwks.json");
        forged.push(("key-pointing header", ed25519(&attacker, &h, &as_admin)));
    }
    // Altered claims under the genuine signature, which no longer matches them.
    // (Genuinely signed tokens for another issuer or audience, or expired ones,
    // are the next test's.)
    for (case, c) in [
        ("wrong iss", &other_iss),
        ("wrong aud", &other_aud),
        ("expired", &expired),
    ] {
        forged.push((
            case,
            format!("{}.{}.{}", parts[0], b64(c.to_string()), parts[2]),
        ));
    }

    let client = reqwest::Client::new();
    for (case, token) in forged {
        let response = client
            .get(format!("{api}/api/notes"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answered");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "accepted: {case}"
        );
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .expect("ascii");
        assert!(challenge.starts_with("Bearer"), "{case}: {challenge}");
    }
    let genuine_direct = client
        .get(format!("{api}/api/notes"))
        .bearer_auth(&genuine)
        .send()
        .await
        .expect("answered");
    assert_eq!(genuine_direct.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_verifier_expecting_another_issuer_or_a_later_time_refuses_a_genuine_token() {
    let app = TestApp::spawn().await;
    let ada = app.signed_in("ada").await;
    let token = ada.access().expect("access").to_owned();
    let jwks = JwksCache::new(&app.url("/.well-known/jwks.json")).expect("url");
    jwks.refresh().await.expect("served");
    let later = unix_now() + 3600;
    for verifier in [
        Verifier::from_jwks(jwks.clone(), Validation::new("someone-else", "portcullis")),
        Verifier::from_jwks(jwks.clone(), Validation::new("portcullis", "another-api")),
        Verifier::from_jwks(jwks.clone(), Validation::new("portcullis", "portcullis"))
            .with_clock(move || later),
    ] {
        assert!(verifier.verify(&token).await.is_err(), "{verifier:?}");
    }
    let right = Verifier::from_jwks(jwks, Validation::new("portcullis", "portcullis"));
    assert!(right.verify(&token).await.is_ok());
}

#[allow(clippy::disallowed_methods)] // the verifier under test reads the wall clock too
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[tokio::test]
async fn a_rotated_key_reaches_the_api_through_one_jwks_refetch() {
    let Stack { app, jwks, .. } = stack().await;
    let mut ada = app.signed_in("ada").await;
    assert_eq!(
        app.get(&mut ada, "/api/notes").await.status(),
        StatusCode::OK
    );
    let before = jwks.keys().len();

    // `portcullis keys rotate`, then a second instance on the same database,
    // which signs with the new key from its start.
    let config = Config::from_sources(&Sources::from_env([(
        "PORTCULLIS_DATABASE_URL",
        app.database_url.as_str(),
    )]))
    .expect("config");
    portcullis::admin::keys(&config, KeysCommand::Rotate)
        .await
        .expect("rotated");
    let second = TestApp::spawn_on(
        tempfile::tempdir().expect("dir"),
        app.database_url.clone(),
        &[],
    )
    .await;
    let mut bob = second.signed_in("bob").await;
    let kid = |jar: &Jar| {
        decode(jar.access().expect("access").split('.').next().expect("h"))["kid"].clone()
    };
    assert_ne!(kid(&bob), kid(&ada));
    assert!(!jwks.keys().contains(kid(&bob).as_str().expect("kid")));

    // Bob's next request lands on the first instance, which learns the new key
    // from the database; the API learns it from the first instance's JWKS.
    let response = app.get(&mut bob, "/api/notes").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(jwks.keys().contains(kid(&bob).as_str().expect("kid")));
    assert_eq!(jwks.keys().len(), before + 1);
    // Tokens of the old key still verify.
    assert_eq!(
        app.get(&mut ada, "/api/notes").await.status(),
        StatusCode::OK
    );
}
