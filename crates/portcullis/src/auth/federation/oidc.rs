//! An OpenID Connect provider, found by discovery: the authorization code
//! flow with PKCE (S256), and the ID token checked by `openidconnect`
//! (signature by the provider's JWKS with an algorithm its discovery
//! document allows, `iss`, `aud`, `exp`, `nonce`) plus what that crate
//! leaves to its user: `azp`, and `iat` within the flow's lifetime.
//!
//! The discovery document and its key set are cached. They are fetched on
//! first use, again when older than [`DISCOVERY_MAX_AGE`], and at once when
//! an ID token names a key they do not hold (the provider has rotated its
//! keys), at most every [`REFRESH_MIN_INTERVAL`] so that tokens with made-up
//! key ids cannot turn us into a flood of requests to the provider.

use std::time::Duration;

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::Mutex;
use url::Url;

use super::{ExternalIdentity, FederationError, FlowSecrets};
use crate::clock::SharedClock;

/// Discovery is fetched again after this long, so that a provider's new
/// endpoints and keys are picked up without a restart.
const DISCOVERY_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// The least time between two fetches forced by an unknown key id.
const REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(30);

/// The oldest an ID token may be when it arrives: a sign-in flow lives ten
/// minutes, so a token issued before it began was not issued for it.
const ID_TOKEN_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// The client's registration with the provider.
pub(super) struct OidcClient {
    pub(super) issuer: String,
    pub(super) client_id: String,
    pub(super) client_secret: SecretString,
    pub(super) redirect: Url,
    pub(super) scopes: Vec<String>,
}

/// A discovery document with its key set, and when it was fetched.
struct Discovered {
    metadata: CoreProviderMetadata,
    fetched_at: OffsetDateTime,
}

/// One OpenID Connect provider.
pub(super) struct Oidc {
    client: OidcClient,
    http: reqwest::Client,
    clock: SharedClock,
    /// Clock difference tolerated on `exp` and `iat`.
    leeway: Duration,
    /// The last discovery document that was fetched, if any was.
    discovered: ArcSwapOption<Discovered>,
    /// Held while fetching, so that requests arriving together share one
    /// fetch instead of each making their own.
    fetching: Mutex<()>,
}

impl Oidc {
    pub(super) fn new(
        client: OidcClient,
        http: reqwest::Client,
        clock: SharedClock,
        leeway: Duration,
    ) -> Self {
        Self {
            client,
            http,
            clock,
            leeway,
            discovered: ArcSwapOption::empty(),
            fetching: Mutex::new(()),
        }
    }

    /// The configured issuer, as its tokens and responses name it.
    pub(super) fn issuer(&self) -> &str {
        &self.client.issuer
    }

    /// The discovery document: the cached one while it is young enough (or
    /// `refresh` is false and the fetch fails: a stale one beats none),
    /// else a fresh one.
    async fn metadata(&self, force: bool) -> Result<Arc<Discovered>, FederationError> {
        let now = self.clock.now();
        let young = |d: &Discovered, max: Duration| now - d.fetched_at < max;
        if let Some(d) = self.discovered.load_full()
            && !force
            && young(&d, DISCOVERY_MAX_AGE)
        {
            return Ok(d);
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Another request may have fetched it while this one waited.
        let cached = self.discovered.load_full();
        if let Some(d) = &cached {
            let fresh_enough = if force {
                young(d, REFRESH_MIN_INTERVAL)
            } else {
                young(d, DISCOVERY_MAX_AGE)
            };
            if fresh_enough {
                return Ok(d.clone());
            }
        }
        match self.discover().await {
            Ok(metadata) => {
                let d = Arc::new(Discovered {
                    metadata,
                    fetched_at: now,
                });
                self.discovered.store(Some(d.clone()));
                Ok(d)
            }
            Err(e) => match cached {
                Some(stale) => {
                    tracing::warn!(issuer = %self.client.issuer, error = %crate::report::Chain(&e), "could not refresh the provider's discovery document; using the one fetched before");
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }

    async fn discover(&self) -> Result<CoreProviderMetadata, FederationError> {
        let issuer = IssuerUrl::new(self.client.issuer.clone())
            .map_err(|e| FederationError::Unavailable(Box::new(e)))?;
        // `discover_async` fetches the document, checks that its `issuer` is
        // the one configured, and fetches its JWKS.
        CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| FederationError::Unavailable(Box::new(e)))
    }

    fn client_for(
        &self,
        metadata: &CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        // client_secret_basic unless the provider takes only client_secret_post.
        let post_only = metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|methods| {
                methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                    && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
            });
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.client.client_id.clone()),
            Some(ClientSecret::new(
                self.client.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(RedirectUrl::from_url(self.client.redirect.clone()));
        if post_only {
            client.set_auth_type(AuthType::RequestBody)
        } else {
            client
        }
    }

    pub(super) async fn authorization_url(
        &self,
        secrets: &FlowSecrets<'_>,
    ) -> Result<Url, FederationError> {
        let discovered = self.metadata(false).await?;
        let client = self.client_for(&discovered.metadata);
        let verifier = PkceCodeVerifier::new(secrets.pkce_verifier.to_owned());
        let state = secrets.state.to_owned();
        let nonce = secrets.nonce.to_owned();
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            // `openid` is always sent by the crate.
            .add_scopes(
                self.client
                    .scopes
                    .iter()
                    .filter(|s| *s != "openid")
                    .map(|s| Scope::new(s.clone())),
            )
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier))
            .url();
        Ok(url)
    }

    pub(super) async fn identify(
        &self,
        code: &str,
        secrets: &FlowSecrets<'_>,
    ) -> Result<ExternalIdentity, FederationError> {
        let discovered = self.metadata(false).await?;
        let client = self.client_for(&discovered.metadata);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| FederationError::Unavailable(Box::new(e)))?
            .set_pkce_verifier(PkceCodeVerifier::new(secrets.pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(answer) => {
                    FederationError::Refused(answer.error().to_string())
                }
                other => FederationError::Unavailable(Box::new(other)),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| FederationError::InvalidIdToken("the provider sent no ID token".into()))?
            .clone();
        let nonce = Nonce::new(secrets.nonce.to_owned());
        let check = |discovered: &Discovered| -> Result<ExternalIdentity, ClaimsVerificationError> {
            let client = self.client_for(&discovered.metadata);
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(allowed_algs(&discovered.metadata))
                .set_time_fn(self.exp_time())
                .set_issue_time_verifier_fn(self.iat_check());
            let claims = id_token.claims(&verifier, &nonce)?;
            // What the crate leaves open (OpenID Connect Core 3.1.3.7, 4–5):
            // an `azp` must be us, and a token for several audiences must
            // say which one it was issued to.
            let ours = client.client_id();
            match claims.authorized_party() {
                Some(azp) if azp != ours => {
                    return Err(ClaimsVerificationError::InvalidAudience(
                        "azp is another client".into(),
                    ));
                }
                None if claims.audiences().len() > 1 => {
                    return Err(ClaimsVerificationError::InvalidAudience(
                        "several audiences and no azp".into(),
                    ));
                }
                _ => {}
            }
            let mut names = Vec::new();
            if let Some(n) = claims.preferred_username() {
                names.push(n.as_str().to_owned());
            }
            if let Some(e) = claims.email() {
                names.push(e.as_str().split('@').next().unwrap_or_default().to_owned());
            }
            if let Some(n) = claims.name().and_then(|n| n.get(None)) {
                names.push(n.as_str().to_owned());
            }
            Ok(ExternalIdentity {
                subject: claims.subject().as_str().to_owned(),
                email: claims.email().map(|e| e.as_str().to_owned()),
                email_verified: claims.email_verified() == Some(true),
                names,
                amr: claims
                    .auth_method_refs()
                    .map(|values| values.iter().map(|v| v.as_str().to_owned()).collect())
                    .unwrap_or_default(),
            })
        };
        let identity = match check(&discovered) {
            Ok(identity) => identity,
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // Perhaps the provider rotated its keys since we fetched them.
                let refreshed = self.metadata(true).await?;
                check(&refreshed).map_err(|e| FederationError::InvalidIdToken(e.to_string()))?
            }
            Err(e) => return Err(FederationError::InvalidIdToken(e.to_string())),
        };
        if identity.email.is_some() {
            return Ok(identity);
        }
        self.with_userinfo(&client, response.access_token().clone(), identity)
            .await
    }

    /// Fills in the address from the UserInfo endpoint, for providers that
    /// keep it out of the ID token (as the specification has it when an
    /// access token is issued). The answer must be about the ID token's
    /// subject; without an endpoint, the identity stays as it is.
    async fn with_userinfo(
        &self,
        client: &openidconnect::core::CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        access_token: openidconnect::AccessToken,
        mut identity: ExternalIdentity,
    ) -> Result<ExternalIdentity, FederationError> {
        let subject = openidconnect::SubjectIdentifier::new(identity.subject.clone());
        let Ok(request) = client.user_info(access_token, Some(subject)) else {
            return Ok(identity);
        };
        let claims: openidconnect::core::CoreUserInfoClaims = request
            .request_async(&self.http)
            .await
            .map_err(|e| FederationError::Unavailable(Box::new(e)))?;
        identity.email = claims.email().map(|e| e.as_str().to_owned());
        identity.email_verified = identity.email.is_some() && claims.email_verified() == Some(true);
        if let Some(n) = claims.preferred_username() {
            identity.names.insert(0, n.as_str().to_owned());
        }
        if let Some(e) = claims.email() {
            identity
                .names
                .push(e.as_str().split('@').next().unwrap_or_default().to_owned());
        }
        Ok(identity)
    }

    /// The time `exp` is compared with: now, less the leeway.
    fn exp_time(&self) -> impl Fn() -> DateTime<Utc> + Send + Sync + 'static {
        let at = chrono_time(self.clock.now() - self.leeway);
        move || at
    }

    /// Refuses an `iat` in the future (beyond the leeway) or from before
    /// the flow could have begun.
    fn iat_check(&self) -> impl Fn(DateTime<Utc>) -> Result<(), String> + Send + Sync + 'static {
        let now = self.clock.now();
        let latest = chrono_time(now + self.leeway);
        let earliest = chrono_time(now - ID_TOKEN_MAX_AGE - self.leeway);
        move |iat| {
            if iat > latest {
                Err("the ID token was issued in the future".into())
            } else if iat < earliest {
                Err("the ID token was issued before this sign-in began".into())
            } else {
                Ok(())
            }
        }
    }
}

/// The algorithms the provider says it signs ID tokens with, never `none`.
fn allowed_algs(metadata: &CoreProviderMetadata) -> Vec<CoreJwsSigningAlgorithm> {
    metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| **alg != CoreJwsSigningAlgorithm::None)
        .cloned()
        .collect()
}

fn chrono_time(t: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or_default()
}
