//! The tokens of links sent by mail (password reset, address verification):
//! 256 random bits, in the mail's link only, stored as a hash.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Length of a token in bytes.
const TOKEN_BYTES: usize = 32;
/// Length of a token's text form: unpadded base64url of 32 bytes.
const ENCODED_LEN: usize = 43;

/// A link's token. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken([u8; TOKEN_BYTES]);

impl LinkToken {
    /// A fresh token from the operating system's random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0; TOKEN_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Reads a token as the page posts it. Anything but exactly 43
    /// canonical base64url characters is `None`, before any database is
    /// asked.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != ENCODED_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The text form, for the link.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the database stores and looks tokens up by. A plain hash is
    /// enough: the input is 256 random bits, not a guessable password.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_nothing_else_parses() {
        let token = LinkToken::generate().expect("randomness");
        let text = token.encode();
        assert_eq!(text.len(), ENCODED_LEN);
        assert_eq!(LinkToken::parse(&text), Some(token.clone()));
        assert_ne!(
            token.hash(),
            LinkToken::generate().expect("randomness").hash()
        );
        for bad in [
            "",
            "short",
            &format!("{text}A"),
            &text.replace(|_: char| true, "+"),
        ] {
            assert!(LinkToken::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(format!("{token:?}"), "LinkToken(<redacted>)");
    }
}
