//! Usernames.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Fewest characters in a username.
pub const MIN_USERNAME_CHARS: usize = 3;
/// Most characters in a username.
pub const MAX_USERNAME_CHARS: usize = 32;

/// A valid username: after NFKC normalisation, 3 to 32 characters of ASCII
/// letters, digits, `_`, `-` and `.`, starting and ending with a letter or
/// digit. ASCII only, so that no two names can look alike across scripts.
/// Unique regardless of case; the case it was registered with is kept for
/// display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

/// Why a username was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Shorter than 3 or longer than 32 characters.
    #[error("a username has 3 to 32 characters")]
    Length,
    /// A character outside the allowed set, or a punctuation mark at either end.
    #[error(
        "a username uses letters a-z, digits, '_', '-' and '.', and starts and ends with a letter or digit"
    )]
    Characters,
}

impl Username {
    /// Normalises and checks `input`.
    pub fn parse(input: &str) -> Result<Self, UsernameError> {
        let name: String = input.nfkc().collect();
        let len = name.chars().count();
        if !(MIN_USERNAME_CHARS..=MAX_USERNAME_CHARS).contains(&len) {
            return Err(UsernameError::Length);
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        let bookend = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if !name.chars().all(allowed)
            || !bookend(name.chars().next())
            || !bookend(name.chars().last())
        {
            return Err(UsernameError::Characters);
        }
        Ok(Self(name))
    }

    /// The name as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive key the name is unique under.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The lookup key of any input, valid or not.
pub(super) fn key(input: &str) -> String {
    input.nfkc().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_accepted_and_keep_their_case() {
        let name = Username::parse("Ada.Lovelace_1815").expect("valid");
        assert_eq!(name.as_str(), "Ada.Lovelace_1815");
        assert_eq!(name.key(), "ada.lovelace_1815");
    }

    #[test]
    fn fullwidth_letters_normalise_to_ascii() {
        assert_eq!(Username::parse("ａｄａ").expect("valid").as_str(), "ada");
    }

    #[test]
    fn bad_lengths_and_characters_are_refused() {
        assert_eq!(Username::parse("ab"), Err(UsernameError::Length));
        assert_eq!(Username::parse(&"a".repeat(33)), Err(UsernameError::Length));
        for bad in [
            "ad a", "ada@x", "-ada", "ada.", "adа", /* Cyrillic а */
            "a\u{0}b",
        ] {
            assert_eq!(
                Username::parse(bad),
                Err(UsernameError::Characters),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_lookup_key_matches_the_registered_key() {
        assert_eq!(key("ＡＤＡ"), Username::parse("Ada").expect("valid").key());
    }

    proptest::proptest! {
        #[test]
        fn any_accepted_name_keeps_the_documented_shape(input in "\\PC{0,40}") {
            if let Ok(name) = Username::parse(&input) {
                let s = name.as_str();
                proptest::prop_assert!((MIN_USERNAME_CHARS..=MAX_USERNAME_CHARS).contains(&s.len()));
                proptest::prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)));
                proptest::prop_assert_eq!(Username::parse(s), Ok(name.clone()));
                proptest::prop_assert_eq!(key(&input), name.key());
            }
        }
    }
}
