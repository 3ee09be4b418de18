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
#![deny(missing_docs)]

mod claims;
mod error;
mod jwk;
mod jws;
mod keys;
mod validation;

pub use claims::Claims;
pub use error::{KeyError, VerifyError};
pub use jwk::{Jwk, Jwks};
pub use jws::MAX_TOKEN_LENGTH;
pub use keys::{Algorithm, KeySet, VerificationKey};
pub use validation::Validation;
