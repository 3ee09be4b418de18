//! The claims of a Portcullis access token.

use serde::{Deserialize, Serialize};

/// The verified claims of an access token.
///
/// Field names are the JWT claim names. Unknown claims are ignored; a known claim
/// that appears twice makes the token malformed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: the Portcullis instance (its public URL, or a configured name).
    pub iss: String,
    /// Audience: who the token is meant for.
    pub aud: String,
    /// Subject: the user id.
    pub sub: String,
    /// Issued at, in seconds since the Unix epoch.
    pub iat: u64,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
    /// Not before, in seconds since the Unix epoch; Portcullis does not set it, but
    /// it is honoured when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Unique token id.
    pub jti: String,
    /// The session this token belongs to; revoking the session revokes the token
    /// at the gateway at once.
    pub sid: String,
    /// The user's name at the time of issue.
    pub username: String,
    /// The user's e-mail address at the time of issue.
    pub email: String,
    /// Whether that address had been verified (a link mailed to it was
    /// used), at the time of issue. Tokens of Portcullis versions before
    /// e-mail verification do not carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// How the session began (RFC 8176 authentication method references):
    /// `["pwd"]` for a password alone, `["pwd","otp","mfa"]` for a password
    /// and a one-time code (TOTP or a recovery code); with a passkey,
    /// `["hwk","user"]` or `["swk","user"]` alone (a device-bound or a
    /// synced key that verified its user) and `["pwd","hwk","mfa"]` or
    /// `["pwd","swk","mfa"]` after the password. Demand `mfa` for routes
    /// that need a second factor. Tokens of Portcullis versions
    /// before second factors do not carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// A copy of `sub` for backends written against the common NestJS pattern,
    /// which read `_id`; only present when Portcullis is configured to add it.
    #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
    pub legacy_id: Option<String>,
    /// The identity provider the session was signed in with (its configured
    /// id, e.g. `google`); absent when it was signed in with a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
}
