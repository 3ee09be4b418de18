//! Second factors through the API: TOTP codes computed here against the
//! server's injected clock, recovery codes, the waiting sign-in and its
//! cookie, recent authentication, the `amr` claim and the operator's reset.

pub(crate) mod admission;
mod at_rest;
mod pending;
mod sudo;
mod totp;

use std::ops::Deref;

use portcullis::auth::one_time_codes::{STEP_SECONDS, TotpSecret, step_of};
use portcullis::clock::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

pub const PENDING: &str = "__Host-mfa_pending";

/// A server with `mfa_key_file` set, and the directory that holds the key.
pub struct MfaApp {
    pub app: TestApp,
    _key: tempfile::TempDir,
}

impl Deref for MfaApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// A directory with a key file in it, and the file's path.
pub fn key_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mfa.key");
    std::fs::write(
        &path,
        "an operator's key file of at least thirty-two bytes\n",
    )
    .expect("write");
    (dir, path.display().to_string())
}

impl MfaApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        let (dir, path) = key_file();
        let mut all = vec![("PORTCULLIS_MFA_KEY_FILE", path.as_str())];
        all.extend_from_slice(vars);
        let app = TestApp::spawn_with(&all).await;
        Self { app, _key: dir }
    }

    /// Registers `name` and turns TOTP on: the jar (signed in), the secret
    /// and the recovery codes.
    pub async fn enrolled(&self, name: &str) -> (Jar, TotpSecret, Vec<String>) {
        let mut jar = self.signed_in(name).await;
        let secret = self.begin(&mut jar).await;
        let code = self.code(&secret, 0);
        let response = self.confirm(&mut jar, &code).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        let codes = body["recovery_codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("text").to_owned())
            .collect();
        // The confirmation spent this step: later codes come from the next.
        self.advance(std::time::Duration::from_secs(STEP_SECONDS));
        (jar, secret, codes)
    }

    /// `POST /api/auth/mfa/totp`, expecting 200: the secret it shows.
    pub async fn begin(&self, jar: &mut Jar) -> TotpSecret {
        let response = self.post(jar, "/api/auth/mfa/totp", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        let secret = body["secret"].as_str().expect("secret");
        let uri = body["otpauth_uri"].as_str().expect("uri");
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains(&format!("secret={secret}&")), "{uri}");
        let svg = body["qr_svg"].as_str().expect("svg");
        assert!(svg.contains("<svg") && !svg.contains("script"), "{svg}");
        TotpSecret::from_base32(secret).expect("base32")
    }

    pub async fn confirm(&self, jar: &mut Jar, code: &str) -> reqwest::Response {
        self.post(
            jar,
            "/api/auth/mfa/totp/confirm",
            Some(json!({ "code": code })),
        )
        .await
    }

    /// The code of the server's current time step moved by `drift` steps.
    pub fn code(&self, secret: &TotpSecret, drift: i64) -> String {
        let step = step_of(self.clock.now()) + drift;
        secret.code_at_step(step).expect("a code")
    }

    /// Signs in with the password, expecting the second-factor answer: the
    /// jar then holds the pending cookie only.
    pub async fn password_step(&self, name: &str) -> Jar {
        let mut jar = Jar::default();
        let response = self.login(&mut jar, name, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        let set = set_cookies(response.headers());
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body,
            json!({"mfa_required": true, "methods": ["totp", "recovery_code"]})
        );
        assert_eq!(set.len(), 1, "{set:?}");
        assert_eq!(set[0].name, PENDING);
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=300",
        ] {
            assert!(set[0].attributes.iter().any(|a| a == attribute), "{set:?}");
        }
        jar
    }

    pub async fn verify(&self, jar: &mut Jar, body: Value) -> reqwest::Response {
        self.post(jar, "/api/auth/mfa/verify", Some(body)).await
    }
}

/// The claims of the jar's access token, undecoded by any verifier.
pub fn claims(jar: &Jar) -> Value {
    use base64::Engine;
    let token = jar.access().expect("an access token");
    let payload = token.split('.').nth(1).expect("a JWS");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}
