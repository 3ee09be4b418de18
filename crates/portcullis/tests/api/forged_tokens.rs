//! Every way of forging an access token that the gateway must refuse. Each
//! forged token is presented alone (no refresh cookie), so a refusal is a 401.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;

fn b64(v: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(v)
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

struct Genuine {
    token: String,
    header: Value,
    claims: Value,
    public_jwk: Value,
}

async fn genuine(app: &TestApp) -> Genuine {
    let jar = app.signed_in("ada").await;
    let token = jar.access().expect("access").to_owned();
    let mut parts = token.split('.');
    let header = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts.next().expect("h"))
            .expect("b64"),
    )
    .expect("json");
    let claims = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts.next().expect("p"))
            .expect("b64"),
    )
    .expect("json");
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    Genuine {
        token,
        header,
        claims,
        public_jwk: jwks["keys"][0].clone(),
    }
}

async fn assert_refused(app: &TestApp, token: &str, case: &str) {
    let response = app.session(&mut Jar::with(&[(ACCESS, token)])).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "accepted: {case}"
    );
    let body: Value = response.json().await.expect("problem");
    assert_eq!(body["code"], "unauthenticated", "{case}");
}

#[tokio::test]
async fn the_genuine_token_is_accepted() {
    let app = TestApp::spawn().await;
    let g = genuine(&app).await;
    let response = app.session(&mut Jar::with(&[(ACCESS, &g.token)])).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn alg_none_in_any_casing_is_refused() {
    let app = TestApp::spawn().await;
    let g = genuine(&app).await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        let mut header = g.header.clone();
        header["alg"] = json!(alg);
        let unsigned = format!("{}.{}", b64(header.to_string()), b64(g.claims.to_string()));
        assert_refused(&app, &format!("{unsigned}."), alg).await;
        assert_refused(&app, &unsigned, alg).await;
        let sig = g.token.rsplit('.').next().expect("sig");
        assert_refused(&app, &format!("{unsigned}.{sig}"), alg).await;
    }
}

#[tokio::test]
async fn hs256_signed_with_any_encoding_of_the_public_key_is_refused() {
    let app = TestApp::spawn().await;
    let g = genuine(&app).await;
    let x = g.public_jwk["x"].as_str().expect("x").to_owned();
    let raw = URL_SAFE_NO_PAD.decode(&x).expect("b64");
    // SubjectPublicKeyInfo for Ed25519 is a fixed 12-byte prefix and the key.
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend(&raw);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(&spki)
    );
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("raw key", raw.clone()),
        ("base64url x", x.clone().into_bytes()),
        ("base64 key", STANDARD.encode(&raw).into_bytes()),
        ("jwk json", g.public_jwk.to_string().into_bytes()),
        ("spki der", spki.clone()),
        ("pem", pem.clone().into_bytes()),
        ("pem without newline", pem.trim_end().as_bytes().to_vec()),
    ];
    for (name, secret) in secrets {
        for alg in ["HS256", "HS384", "HS512"] {
            let mut header = g.header.clone();
            header["alg"] = json!(alg);
            assert_refused(
                &app,
                &hs256(&secret, &header, &g.claims),
                &format!("{alg} with {name}"),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn tampered_stripped_and_truncated_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let g = genuine(&app).await;
    let (input, sig) = g.token.rsplit_once('.').expect("three parts");
    let (header, _) = input.split_once('.').expect("two parts");
    let mut claims = g.claims.clone();
    claims["sub"] = json!("00000000-0000-0000-0000-000000000000");
    claims["username"] = json!("admin");
    let tampered = format!("{header}.{}.{sig}", b64(claims.to_string()));
    let sig_bytes = URL_SAFE_NO_PAD.decode(sig).expect("b64");
    let cases = [
        ("tampered payload", tampered),
        ("stripped signature", format!("{input}.")),
        ("no signature part", input.to_owned()),
        (
            "truncated signature",
            format!("{input}.{}", b64(&sig_bytes[..63])),
        ),
        (
            "extended signature",
            format!("{input}.{}", b64([&sig_bytes[..], &[0]].concat())),
        ),
        (
            "flipped bit",
            format!(
                "{input}.{}",
                b64({
                    let mut s = sig_bytes.clone();
                    s[10] ^= 1;
                    s
                })
            ),
        ),
        ("padded signature", format!("{input}.{sig}==")),
        ("extra part", format!("{}.{sig}", g.token)),
        ("truncated token", g.token[..g.token.len() / 2].to_owned()),
        ("empty", String::new()),
        ("oversized", format!("{}{}", g.token, "A".repeat(8192))),
    ];
    for (case, token) in cases {
        assert_refused(&app, &token, case).await;
    }
}

#[tokio::test]
async fn unknown_keys_and_key_bearing_headers_are_refused() {
    let app = TestApp::spawn().await;
    let g = genuine(&app).await;
    let attacker = SigningKey::from_bytes(&[42; 32]);
    let attacker_jwk =
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(attacker.verifying_key().to_bytes())});
    let mut cases = Vec::new();
    for kid in ["unknown", "../../../../etc/passwd", "' OR '1'='1", ""] {
        let mut header = g.header.clone();
        header["kid"] = json!(kid);
        cases.push((format!("kid {kid:?}"), header));
    }
    for (member, value) in [
        ("jku", json!("http://127.0.0.1:1/jwks.json")),
        ("x5u", json!("http://127.0.0.1:1/cert.pem")),
        ("x5c", json!(["MIIB"])),
        ("jwk", attacker_jwk.clone()),
        ("crit", json!(["exp"])),
    ] {
        let mut header = g.header.clone();
        header[member] = value;
        cases.push((member.to_owned(), header));
    }
    let mut no_kid = g.header.clone();
    no_kid.as_object_mut().expect("object").remove("kid");
    cases.push(("no kid".to_owned(), no_kid));
    for (case, header) in cases {
        assert_refused(&app, &ed25519(&attacker, &header, &g.claims), &case).await;
    }
    // Signed by the attacker but naming the real kid: the signature fails.
    assert_refused(
        &app,
        &ed25519(&attacker, &g.header, &g.claims),
        "attacker key, real kid",
    )
    .await;
}

#[tokio::test]
async fn wrong_issuer_audience_and_times_are_refused_even_when_well_signed() {
    let app = TestApp::spawn().await;
    let g = genuine(&app).await;
    let other = TestApp::spawn_on(
        tempfile::tempdir().expect("tempdir"),
        app.database_url.clone(),
        &[
            ("PORTCULLIS_ISSUER", "https://evil.test"),
            ("PORTCULLIS_AUDIENCE", "other-api"),
        ],
    )
    .await;
    // `other` shares the database, hence the signing key: its tokens are
    // well signed but name another issuer and audience.
    let mut jar = Jar::default();
    assert_eq!(
        other.login(&mut jar, "ada", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    assert_refused(&app, jar.access().expect("access"), "foreign iss/aud").await;

    // Expired, beyond the 5 s leeway.
    let exp = g.claims["exp"].as_u64().expect("exp");
    let iat = g.claims["iat"].as_u64().expect("iat");
    app.advance(std::time::Duration::from_secs(exp - iat + 5));
    assert_refused(&app, &g.token, "expired").await;
}
