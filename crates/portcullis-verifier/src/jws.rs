//! Strict parsing of a compact JWS (`header.payload.signature`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::VerifyError;

/// Longest token accepted, in bytes; checked before anything is decoded.
/// Portcullis's own tokens are well under 1 KiB.
pub const MAX_TOKEN_LENGTH: usize = 4096;

/// The only header members a Portcullis token has. Anything else — `jku`,
/// `x5u`, `x5c`, `jwk`, `crit`, `cty`… — makes the token malformed, so no
/// header can point the verifier at a key of the attacker's choosing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) typ: Option<String>,
    #[serde(default)]
    pub(crate) kid: Option<String>,
}

/// A token split into its parts, header parsed, nothing verified.
pub(crate) struct Parts<'a> {
    pub(crate) header: Header,
    /// `header.payload`, exactly as received: the bytes the signature covers.
    pub(crate) signing_input: &'a str,
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
}

pub(crate) fn split(token: &str) -> Result<Parts<'_>, VerifyError> {
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(VerifyError::TooLong);
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(VerifyError::Malformed)?;
    let (header, payload) = signing_input
        .split_once('.')
        .ok_or(VerifyError::Malformed)?;
    if payload.contains('.') {
        return Err(VerifyError::Malformed);
    }
    let header: Header =
        serde_json::from_slice(&decode(header)?).map_err(|_| VerifyError::Malformed)?;
    if header
        .typ
        .as_deref()
        .is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT"))
    {
        return Err(VerifyError::Malformed);
    }
    Ok(Parts {
        header,
        signing_input,
        payload: decode(payload)?,
        signature: decode(signature)?,
    })
}

/// Canonical base64url without padding: the engine refuses `=`, characters
/// outside the URL-safe alphabet and non-zero trailing bits.
fn decode(part: &str) -> Result<Vec<u8>, VerifyError> {
    if part.is_empty() {
        return Err(VerifyError::Malformed);
    }
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn a_well_formed_token_splits_into_its_parts() {
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"EdDSA","kid":"k"}"#),
            b64("{}"),
            b64("sig")
        );
        let parts = split(&token).expect("parses");
        assert_eq!(parts.header.alg, "EdDSA");
        assert_eq!(parts.header.kid.as_deref(), Some("k"));
        assert_eq!(parts.signature, b"sig");
    }

    #[test]
    fn header_members_that_point_at_keys_are_refused() {
        for member in ["jku", "x5u", "x5c", "jwk", "crit", "cty"] {
            let header = format!(r#"{{"alg":"EdDSA","kid":"k","{member}":"x"}}"#);
            let token = format!("{}.{}.{}", b64(&header), b64("{}"), b64("sig"));
            assert!(
                matches!(split(&token), Err(VerifyError::Malformed)),
                "{member}"
            );
        }
    }

    #[test]
    fn duplicate_header_members_are_refused() {
        let header = r#"{"alg":"EdDSA","alg":"none","kid":"k"}"#;
        let token = format!("{}.{}.{}", b64(header), b64("{}"), b64("sig"));
        assert!(matches!(split(&token), Err(VerifyError::Malformed)));
    }

    #[test]
    fn wrong_part_counts_and_empty_parts_are_refused() {
        let h = b64(r#"{"alg":"EdDSA","kid":"k"}"#);
        for token in [
            String::new(),
            h.clone(),
            format!("{h}.{}", b64("{}")),
            format!("{h}.{}.", b64("{}")),
            format!("{h}.{}.{}.{}", b64("{}"), b64("s"), b64("s")),
        ] {
            assert!(
                matches!(split(&token), Err(VerifyError::Malformed)),
                "{token}"
            );
        }
    }

    #[test]
    fn padded_or_non_canonical_base64_is_refused() {
        let h = b64(r#"{"alg":"EdDSA","kid":"k"}"#);
        // "sig" encodes as "c2ln"; "c2lo" differs only in trailing bits for 2 bytes.
        assert!(split(&format!("{h}.{}.c2k=", b64("{}"))).is_err());
        assert!(split(&format!("{h}.{}.c2l", b64("{}"))).is_err());
        assert!(split(&format!("{h}.{}.c2+n", b64("{}"))).is_err());
    }

    #[test]
    fn an_oversized_token_is_refused_before_decoding() {
        let token = "a".repeat(MAX_TOKEN_LENGTH + 1);
        assert!(matches!(split(&token), Err(VerifyError::TooLong)));
    }

    #[test]
    fn a_foreign_typ_is_refused() {
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"EdDSA","kid":"k","typ":"dpop+jwt"}"#),
            b64("{}"),
            b64("sig")
        );
        assert!(split(&token).is_err());
    }

    proptest::proptest! {
        #[test]
        fn splitting_any_text_never_panics(token in "\\PC{0,600}") {
            let _ = split(&token);
        }

        #[test]
        fn splitting_dotted_base64_never_panics(
            a in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,100}"
        ) {
            let _ = split(&format!("{a}.{b}.{c}"));
        }
    }
}
