//! Verify the access tokens that Portcullis issues, in any Rust resource server.
//!
//! Portcullis keeps a web app's JWTs in HttpOnly cookies and attaches the access
//! token when it forwards a request to your API. Your API still has to check that
//! token: this crate is that check, with no database and no password code.
//!
//! # The key design decision
//!
//! A token is checked against a **pinned algorithm per key**, never against the
//! algorithm the token claims. Each [`VerificationKey`] knows its own algorithm
//! (`EdDSA` for an Ed25519 key, `HS256` for a shared secret); a token whose header
//! names anything else is rejected before any cryptography runs. That single rule
//! closes the classic JWT holes: `alg: none` in any casing, and "algorithm
//! confusion", where an attacker signs with HS256 using the public key as the
//! HMAC secret.
//!
//! The compact JWS format is parsed here rather than by a general JWT library
//! because the strictness is the point, and it costs about 250 lines:
//!
//! - the token length is bounded before anything is decoded;
//! - base64url must be canonical (no padding, no stray trailing bits), so one
//!   token has exactly one encoding;
//! - the header may hold only `alg`, `typ` and `kid`: `jku`, `x5u`, `x5c`, `jwk`
//!   and `crit` are refused outright, so nothing a token says is ever fetched or
//!   trusted;
//! - duplicate header members or claims are refused;
//! - Ed25519 signatures are checked with `verify_strict` (no non-canonical or
//!   small-order encodings), HMAC tags in constant time;
//! - time checks take `now` as an argument, so callers (and their tests) own the
//!   clock, and apply a stated leeway.
//!
//! What it costs: only `EdDSA` and `HS256` are supported, which is what Portcullis
//! issues; this is not a general JOSE library.
//!
//! # What you get
//!
//! - [`Verifier`]: keys, the expected issuer and audience ([`Validation`]), and
//!   a clock in one cheap handle. This is what a resource server keeps in its
//!   state.
//! - [`KeySet`] and [`VerificationKey`]: the keys, each pinned to one algorithm.
//!   [`KeySet::from_jwks`] reads a JWKS; [`KeySet::from_shared_secret`] holds an
//!   HS256 secret for Portcullis's compatibility mode.
//! - With the `jwks` feature, [`JwksCache`]: fetches `/.well-known/jwks.json`,
//!   caches the keys by `kid`, refetches when a token names a key it has not
//!   seen (at most once per interval, so forged `kid`s cannot flood the issuer),
//!   and refreshes in the background with a task that stops when the cache is
//!   dropped. `jwks-rustls` adds https.
//! - With the `axum` feature, [`VerifiedClaims`]: an extractor that yields the
//!   claims of a valid `Authorization: Bearer` token (or of a configured
//!   cookie) and answers anything else with 401 and `WWW-Authenticate: Bearer`.
//!
//! The default build has none of these features and so no runtime and no HTTP
//! client: only the verification core, its hashes and signatures.
//!
//! Note what a resource server can and cannot know: it accepts a token until its
//! `exp` (15 minutes by default). A session revoked at Portcullis is refused at
//! once by the gateway, but a token already forwarded stays valid here until it
//! expires; that is the price of verifying without asking anyone.
//!
//! # Example
//!
//! ```
//! use portcullis_verifier::{Jwks, KeySet, Validation};
//!
//! // Normally fetched from https://your-portcullis/.well-known/jwks.json
//! let jwks: Jwks = serde_json::from_str(r#"{"keys":[{"kty":"OKP","crv":"Ed25519",
//!     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA","use":"sig"}]}"#)?;
//! let keys = KeySet::from_jwks(&jwks)?;
//! let validation = Validation::new("https://auth.example.com", "my-api");
//!
//! // A forged token is rejected, whatever it claims.
//! let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";
//! assert!(keys.verify(forged, &validation, 1_700_000_000).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A complete resource server with the JWKS cache and the axum extractor is in
//! the `extract` module's documentation (feature `axum`) and in the repository's
//! `examples/upstream-api`.
#![deny(missing_docs)]

mod claims;
mod error;
#[cfg(feature = "axum")]
pub mod extract;
mod jwk;
#[cfg(feature = "jwks")]
mod jwks_cache;
mod jws;
mod keys;
mod validation;
mod verifier;

pub use claims::Claims;
pub use error::{KeyError, VerifyError};
#[cfg(feature = "axum")]
pub use extract::{Rejection, VerifiedClaims};
pub use jwk::{Jwk, Jwks};
#[cfg(feature = "jwks")]
pub use jwks_cache::{JwksCache, JwksError, JwksOptions};
pub use jws::MAX_TOKEN_LENGTH;
pub use keys::{Algorithm, KeySet, MIN_HS256_SECRET_LEN, VerificationKey};
pub use validation::Validation;
pub use verifier::Verifier;
