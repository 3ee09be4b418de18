//! GitHub, which is OAuth 2.0 without OpenID Connect: there is no ID token,
//! so who the person is comes from its REST API, asked with the access
//! token the code was exchanged for, over TLS, straight from GitHub — the
//! same trust an ID token's signature gives. The subject is GitHub's
//! numeric user id (a login can be renamed and then taken by someone
//! else); the address is the primary one, with GitHub's word on whether it
//! is verified. PKCE (S256) is sent as for any provider.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::{ExternalIdentity, FederationError, FlowSecrets};
use base64::Engine;

/// A GitHub site (github.com or a GitHub Enterprise Server).
pub(super) struct Github {
    pub(super) web: Url,
    pub(super) api: Url,
    pub(super) client_id: String,
    pub(super) client_secret: SecretString,
    pub(super) redirect: Url,
    pub(super) scopes: Vec<String>,
    pub(super) http: reqwest::Client,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct UserEmail {
    email: String,
    primary: bool,
    verified: bool,
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> FederationError {
    FederationError::Unavailable(Box::new(e))
}

impl Github {
    fn endpoint(base: &Url, path: &str) -> Result<Url, FederationError> {
        Url::parse(&format!("{}{path}", base.as_str().trim_end_matches('/'))).map_err(unavailable)
    }

    pub(super) fn authorization_url(&self, secrets: &FlowSecrets<'_>) -> Url {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(secrets.pkce_verifier.as_bytes()));
        let mut url = self.web.clone();
        url.set_path(&format!(
            "{}/login/oauth/authorize",
            self.web.path().trim_end_matches('/')
        ));
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", self.redirect.as_str())
            .append_pair("scope", &self.scopes.join(" "))
            .append_pair("state", secrets.state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("allow_signup", "true");
        url
    }

    pub(super) async fn identify(
        &self,
        code: &str,
        secrets: &FlowSecrets<'_>,
    ) -> Result<ExternalIdentity, FederationError> {
        let answer = self
            .http
            .post(Self::endpoint(&self.web, "/login/oauth/access_token")?)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.expose_secret()),
                ("code", code),
                ("redirect_uri", self.redirect.as_str()),
                ("code_verifier", secrets.pkce_verifier),
            ])
            .send()
            .await
            .map_err(unavailable)?;
        if !answer.status().is_success() {
            return Err(FederationError::Refused(format!(
                "token endpoint answered {}",
                answer.status()
            )));
        }
        let token: TokenAnswer =
            serde_json::from_slice(&answer.bytes().await.map_err(unavailable)?)
                .map_err(unavailable)?;
        let access = match (token.access_token, token.error) {
            (Some(access), None) => access,
            (_, error) => {
                // GitHub answers 200 with `error` for a bad or used code.
                return Err(FederationError::Refused(
                    error.unwrap_or_else(|| "no access token".into()),
                ));
            }
        };
        let user: User = self.api_get(&access, "/user").await?;
        let emails: Vec<UserEmail> = self.api_get(&access, "/user/emails").await?;
        let primary = emails.into_iter().find(|e| e.primary);
        let mut names = vec![user.login];
        names.extend(user.name);
        Ok(ExternalIdentity {
            subject: user.id.to_string(),
            email_verified: primary.as_ref().is_some_and(|e| e.verified),
            email: primary.map(|e| e.email),
            names,
            amr: Vec::new(),
        })
    }

    async fn api_get<T: serde::de::DeserializeOwned>(
        &self,
        access: &str,
        path: &str,
    ) -> Result<T, FederationError> {
        let answer = self
            .http
            .get(Self::endpoint(&self.api, path)?)
            .bearer_auth(access)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .send()
            .await
            .map_err(unavailable)?;
        if !answer.status().is_success() {
            return Err(FederationError::Refused(format!(
                "{path} answered {}",
                answer.status()
            )));
        }
        serde_json::from_slice(&answer.bytes().await.map_err(unavailable)?).map_err(unavailable)
    }
}
