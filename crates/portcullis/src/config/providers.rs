//! The identity providers people may sign in with (`[[oidc_providers]]`):
//! OpenID Connect issuers, found by discovery, and GitHub, which speaks
//! OAuth 2.0 without OpenID Connect and is built in.
//!
//! In the file they are tables; in the environment,
//! `PORTCULLIS_OIDC_PROVIDERS` holds the same list as a TOML array of
//! inline tables. Either way each table refuses unknown keys, and the
//! client secret is read from its file here, once, into a secret type.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use serde::de::{self, SeqAccess};
use url::Url;

use super::error::ConfigError;
use super::values::SettingValue;

/// One configured provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The name in URLs (`/api/auth/oidc/{id}/…`) and in the `idp` claim:
    /// lower-case letters, digits, `-` and `_`.
    pub id: String,
    /// What the buttons say: "Continue with {name}".
    pub name: String,
    /// How to speak to it.
    pub kind: ProviderKind,
    /// The client id registered with the provider.
    pub client_id: String,
    /// The client secret, read from `client_secret_file`.
    pub client_secret: SecretString,
    /// The file the secret was read from, for the start-up check that no one
    /// else may read it.
    pub client_secret_file: PathBuf,
    /// The scopes asked for.
    pub scopes: Vec<String>,
}

/// The protocol a provider speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect: the issuer's discovery document names every endpoint.
    Oidc {
        /// The issuer, exactly as written: it must equal, byte for byte,
        /// the `iss` of the provider's discovery document and ID tokens
        /// (a bare host stays without the `/` a URL type would add).
        issuer: String,
    },
    /// GitHub: OAuth 2.0 and its REST API for who the user is.
    Github {
        /// The web site (`https://github.com`, or a GitHub Enterprise Server).
        web: Url,
        /// The REST API (`https://api.github.com`, or `{web}/api/v3`).
        api: Url,
    },
}

/// The list as the layers give it, before the secrets are read.
#[derive(Debug, Clone, Default)]
pub(super) struct RawProviders(pub(super) Vec<RawProvider>);

/// One `[[oidc_providers]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    id: String,
    name: String,
    /// `github` for GitHub; absent (or `oidc`) for OpenID Connect.
    #[serde(default)]
    kind: Option<String>,
    /// Required for OpenID Connect; for GitHub, a GitHub Enterprise Server.
    #[serde(default)]
    issuer: Option<String>,
    client_id: String,
    client_secret_file: PathBuf,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

impl SettingValue for RawProviders {
    const EXPECTED: &'static str = "a TOML array of tables such as [{ id = \"google\", name = \"Google\", issuer = \"https://accounts.google.com\", client_id = \"…\", client_secret_file = \"/run/secrets/google\" }]";

    fn parse(text: &str) -> Option<Self> {
        #[derive(Deserialize)]
        struct Wrapper {
            p: Vec<RawProvider>,
        }
        toml::from_str::<Wrapper>(&format!("p = {text}"))
            .ok()
            .map(|w| RawProviders(w.p))
    }

    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Option<Self>, A::Error> {
        Vec::<RawProvider>::deserialize(de::value::SeqAccessDeserializer::new(seq))
            .map(|list| Some(RawProviders(list)))
    }
}

/// The longest provider id: it is part of URLs, claims and stored rows.
const MAX_ID_LEN: usize = 32;

impl RawProviders {
    /// Checks each provider and reads its secret.
    pub(super) fn into_config(self) -> Result<Vec<ProviderConfig>, ConfigError> {
        let mut providers: Vec<ProviderConfig> = Vec::with_capacity(self.0.len());
        for raw in self.0 {
            let provider = raw.into_config()?;
            if providers.iter().any(|p| p.id == provider.id) {
                return Err(inconsistent(&provider.id, "the id is used twice"));
            }
            providers.push(provider);
        }
        Ok(providers)
    }
}

fn inconsistent(id: &str, reason: &str) -> ConfigError {
    ConfigError::Inconsistent(format!("oidc_providers: provider {id:?}: {reason}"))
}

impl RawProvider {
    fn into_config(self) -> Result<ProviderConfig, ConfigError> {
        let id = self.id;
        let valid_id = !id.is_empty()
            && id.len() <= MAX_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_id {
            return Err(inconsistent(
                &id,
                "the id must be 1 to 32 lower-case letters, digits, - or _",
            ));
        }
        if self.name.trim().is_empty() || self.client_id.trim().is_empty() {
            return Err(inconsistent(&id, "name and client_id must not be empty"));
        }
        let issuer = self
            .issuer
            .map(|text| provider_url(&id, &text).map(|url| (text, url)))
            .transpose()?;
        let (kind, default_scopes): (_, &[&str]) = match self.kind.as_deref() {
            None | Some("oidc") => {
                let issuer = issuer.ok_or_else(|| {
                    inconsistent(&id, "issuer is required (or kind = \"github\")")
                })?;
                (
                    ProviderKind::Oidc { issuer: issuer.0 },
                    &["openid", "email", "profile"],
                )
            }
            Some("github") => {
                let (web, api) = match issuer {
                    None => (
                        Url::parse("https://github.com").map_err(|_| unreachable_url())?,
                        Url::parse("https://api.github.com").map_err(|_| unreachable_url())?,
                    ),
                    Some((_, web)) => {
                        // GitHub Enterprise Server serves its API under the site.
                        let api =
                            Url::parse(&format!("{}/api/v3", web.as_str().trim_end_matches('/')))
                                .map_err(|_| inconsistent(&id, "issuer is not a URL"))?;
                        (web, api)
                    }
                };
                (
                    ProviderKind::Github { web, api },
                    &["read:user", "user:email"],
                )
            }
            Some(_) => {
                return Err(inconsistent(
                    &id,
                    "kind must be \"oidc\" (the default) or \"github\"",
                ));
            }
        };
        let mut scopes = self
            .scopes
            .unwrap_or_else(|| default_scopes.iter().map(|s| (*s).to_owned()).collect());
        if matches!(kind, ProviderKind::Oidc { .. }) && !scopes.iter().any(|s| s == "openid") {
            // Without it the provider answers plain OAuth 2.0: no ID token.
            scopes.insert(0, "openid".to_owned());
        }
        if scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(inconsistent(&id, "a scope is empty or holds a space"));
        }
        let client_secret = read_client_secret(&id, &self.client_secret_file)?;
        Ok(ProviderConfig {
            id,
            name: self.name.trim().to_owned(),
            kind,
            client_id: self.client_id.trim().to_owned(),
            client_secret,
            client_secret_file: self.client_secret_file,
            scopes,
        })
    }
}

/// A constant URL that parses; kept as an error path rather than an
/// `unwrap`, since it costs nothing.
fn unreachable_url() -> ConfigError {
    ConfigError::Inconsistent("oidc_providers: built-in GitHub URL".into())
}

/// An issuer: `https`, or `http` on a loopback host only (a provider on the
/// same machine, as in development and tests): anything else would let a
/// network attacker swap the keys that ID tokens are checked with.
fn provider_url(id: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|_| inconsistent(id, "issuer is not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(inconsistent(
            id,
            "issuer must be an https URL (http only on localhost)",
        )),
    }
}

/// Reads a client secret: the file's text less trailing whitespace.
fn read_client_secret(id: &str, path: &Path) -> Result<SecretString, ConfigError> {
    let fail = |reason: String| {
        ConfigError::Inconsistent(format!(
            "oidc_providers: provider {id:?}: client_secret_file {}: {reason}",
            path.display()
        ))
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let secret = text.trim_end();
    if secret.is_empty() {
        return Err(fail("the file is empty".into()));
    }
    Ok(SecretString::from(secret.to_owned()))
}
