//! Why a token was rejected.

/// The reason a token failed verification.
///
/// Callers normally answer every variant the same way (401); the distinction is
/// for logs and metrics, never for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The token is longer than [`crate::MAX_TOKEN_LENGTH`]; nothing was decoded.
    #[error("token is too long")]
    TooLong,
    /// The token is not three canonical base64url parts with a JSON header and
    /// payload, or its header holds a member other than `alg`, `typ` and `kid`
    /// (such as `jku`, `x5u`, `x5c`, `jwk` or `crit`), or a member twice.
    #[error("token is malformed")]
    Malformed,
    /// The header has no `kid`, or names a key this set does not hold.
    #[error("token is signed with an unknown key")]
    UnknownKey,
    /// The header's `alg` is not the algorithm pinned to the key (this includes
    /// `none` in any casing).
    #[error("token algorithm does not match its key")]
    AlgorithmMismatch,
    /// The signature does not verify under the key.
    #[error("token signature is invalid")]
    BadSignature,
    /// The claims are not the expected JSON object (a claim missing, of the wrong
    /// type, or present twice).
    #[error("token claims are malformed")]
    MalformedClaims,
    /// `iss` is not the expected issuer.
    #[error("token issuer is not accepted")]
    WrongIssuer,
    /// `aud` is not the expected audience.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// `exp` is in the past, beyond the leeway.
    #[error("token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future, beyond the leeway.
    #[error("token is not valid yet")]
    NotYetValid,
}

/// Why a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The bytes are not a valid Ed25519 public key, or a small-order one.
    #[error("not a usable Ed25519 public key")]
    InvalidEd25519Key,
    /// An HS256 secret is shorter than 256 bits.
    #[error("an HS256 secret must be at least 32 bytes")]
    SecretTooShort,
    /// A JWK that would be used has no `kid`.
    #[error("a signing key in the JWKS has no kid")]
    MissingKeyId,
}
