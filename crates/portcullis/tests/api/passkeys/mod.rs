//! Passkeys through the API, answered by a software authenticator with real
//! P-256 keys: registration, usernameless sign-in, a passkey as the second
//! factor and for re-authentication, and every way a ceremony can be
//! forged, replayed, misdirected or malformed.

mod authenticator;
mod ceremonies;
mod flows;

use std::ops::Deref;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;
pub use authenticator::SoftAuthenticator;

pub const ORIGIN: &str = "https://auth.example.com";

/// A server whose `public_url` makes it a relying party.
pub struct PasskeyApp {
    pub app: TestApp,
}

impl Deref for PasskeyApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl PasskeyApp {
    pub async fn spawn() -> Self {
        Self {
            app: TestApp::spawn_with(&[("PORTCULLIS_PUBLIC_URL", ORIGIN)]).await,
        }
    }

    /// Registers a passkey named `name` with `authenticator`: the answer.
    pub async fn add_passkey(
        &self,
        jar: &mut Jar,
        authenticator: &mut SoftAuthenticator,
        name: &str,
    ) -> reqwest::Response {
        let options = self.register_start(jar).await;
        let credential = authenticator.create(&options);
        self.register_finish(jar, name, credential).await
    }

    /// `POST /api/auth/passkeys/register/start`, expecting 200.
    pub async fn register_start(&self, jar: &mut Jar) -> Value {
        let response = self
            .post(jar, "/api/auth/passkeys/register/start", None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("json")
    }

    pub async fn register_finish(
        &self,
        jar: &mut Jar,
        name: &str,
        credential: Value,
    ) -> reqwest::Response {
        self.post(
            jar,
            "/api/auth/passkeys/register/finish",
            Some(json!({"name": name, "credential": credential})),
        )
        .await
    }

    /// `POST /api/auth/passkeys/login/start`, expecting 200: the ceremony
    /// id and the options.
    pub async fn login_start(&self) -> (String, Value) {
        let response = self
            .post(&mut Jar::default(), "/api/auth/passkeys/login/start", None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        (
            body["ceremony"].as_str().expect("ceremony").to_owned(),
            body["options"].clone(),
        )
    }

    pub async fn login_finish(
        &self,
        jar: &mut Jar,
        ceremony: &str,
        credential: Value,
    ) -> reqwest::Response {
        self.post(
            jar,
            "/api/auth/passkeys/login/finish",
            Some(json!({"ceremony": ceremony, "credential": credential})),
        )
        .await
    }

    /// A usernameless sign-in with `authenticator`'s first credential.
    pub async fn passkey_sign_in(
        &self,
        authenticator: &mut SoftAuthenticator,
    ) -> (Jar, StatusCode) {
        let (ceremony, options) = self.login_start().await;
        let credential = authenticator.get(&options);
        let mut jar = Jar::default();
        let response = self.login_finish(&mut jar, &ceremony, credential).await;
        (jar, response.status())
    }

    /// `GET /api/auth/passkeys`: the list.
    pub async fn passkeys(&self, jar: &mut Jar) -> Vec<Value> {
        let response = self.get(jar, "/api/auth/passkeys").await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        body["passkeys"].as_array().expect("list").clone()
    }

    /// Registers `name` with a passkey: the jar, signed in, and the
    /// authenticator.
    pub async fn with_passkey(&self, name: &str) -> (Jar, SoftAuthenticator) {
        let mut jar = self.signed_in(name).await;
        let mut authenticator = SoftAuthenticator::new(ORIGIN);
        let response = self
            .add_passkey(&mut jar, &mut authenticator, "Laptop")
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        (jar, authenticator)
    }

    pub async fn patch(&self, jar: &mut Jar, path: &str, body: Value) -> reqwest::Response {
        self.send(jar, Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, jar: &mut Jar, path: &str) -> reqwest::Response {
        self.send(jar, Method::DELETE, path, None).await
    }
}

/// The `code` of a problem answer.
pub async fn code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("problem json");
    body["code"].as_str().expect("code").to_owned()
}
