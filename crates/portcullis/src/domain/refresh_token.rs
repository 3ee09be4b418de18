//! Refresh tokens: 256 random bits, shown to the browser once, stored only as a
//! hash.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Length of a token in bytes.
const TOKEN_BYTES: usize = 32;
/// Length of a token's text form: unpadded base64url of 32 bytes.
const ENCODED_LEN: usize = 43;

/// An opaque refresh token. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken([u8; TOKEN_BYTES]);

impl RefreshToken {
    /// A fresh token from the operating system's random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0; TOKEN_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Reads a token from a cookie value. Anything but exactly 43 canonical
    /// base64url characters is `None`, before any database is asked.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != ENCODED_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The text form, for the cookie.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the database stores and looks tokens up by. A plain hash is enough:
    /// the input is 256 random bits, not a guessable password.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }

    /// Encrypts `successor` so that only a holder of `self` can recover it.
    ///
    /// This is what lets the grace window work without keeping any usable
    /// token in the database: when a session rotates from `self` to
    /// `successor`, the store keeps this seal; a second tab that presents
    /// `self` moments later gets `successor` back by [`Self::open_successor`]
    /// and converges on the same session state. A reader of the database alone
    /// learns nothing, since `self` is stored only as its hash.
    pub fn seal_successor(&self, successor: &RefreshToken) -> [u8; TOKEN_BYTES] {
        let pad = self.successor_pad();
        std::array::from_fn(|i| successor.0[i] ^ pad[i])
    }

    /// The inverse of [`Self::seal_successor`]; `None` if `seal` has the wrong length.
    pub fn open_successor(&self, seal: &[u8]) -> Option<RefreshToken> {
        let seal: [u8; TOKEN_BYTES] = seal.try_into().ok()?;
        let pad = self.successor_pad();
        Some(Self(std::array::from_fn(|i| seal[i] ^ pad[i])))
    }

    /// A one-time pad derived from this token, domain-separated from [`Self::hash`].
    fn successor_pad(&self) -> [u8; TOKEN_BYTES] {
        // HMAC accepts keys of any length; a 32-byte key cannot be refused.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"portcullis refresh-token successor seal v1");
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_through_its_text_form() {
        let token = RefreshToken::generate().expect("os rng");
        let text = token.encode();
        assert_eq!(text.len(), ENCODED_LEN);
        assert_eq!(RefreshToken::parse(&text), Some(token));
    }

    #[test]
    fn malformed_text_is_not_a_token() {
        let good = RefreshToken::generate().expect("os rng").encode();
        for bad in [
            String::new(),
            good[..42].to_string(),
            format!("{good}A"),
            format!("{}=", &good[..42]),
            good.replace(|c: char| c.is_ascii_alphanumeric(), "+"),
        ] {
            assert_eq!(RefreshToken::parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn only_the_predecessor_opens_the_sealed_successor() {
        let old = RefreshToken::generate().expect("os rng");
        let new = RefreshToken::generate().expect("os rng");
        let other = RefreshToken::generate().expect("os rng");
        let seal = old.seal_successor(&new);
        assert_eq!(old.open_successor(&seal), Some(new.clone()));
        assert_ne!(other.open_successor(&seal), Some(new));
        assert_eq!(old.open_successor(&seal[..31]), None);
    }

    #[test]
    fn the_seal_pad_is_not_the_stored_hash() {
        let t = RefreshToken::generate().expect("os rng");
        assert_ne!(t.successor_pad(), t.hash());
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let t = RefreshToken::generate().expect("os rng");
        assert!(!format!("{t:?}").contains(&t.encode()));
    }

    proptest::proptest! {
        #[test]
        fn every_token_has_exactly_one_text_form(bytes in proptest::array::uniform32(proptest::num::u8::ANY)) {
            let token = RefreshToken(bytes);
            proptest::prop_assert_eq!(RefreshToken::parse(&token.encode()), Some(token));
        }

        #[test]
        fn only_canonical_text_parses(text in "[A-Za-z0-9_=+/-]{0,50}") {
            if let Some(token) = RefreshToken::parse(&text) {
                proptest::prop_assert_eq!(token.encode(), text);
            }
        }
    }
}
