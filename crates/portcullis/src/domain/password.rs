//! Passwords, kept secret from the moment they are parsed.

use std::collections::HashSet;
use std::sync::LazyLock;

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

/// The 10,000 most common passwords (see `data/README.md`), lower case.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .collect()
});

/// Fewest characters in a new password (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters in a new password: far beyond any passphrase, low enough that
/// hashing cost stays flat.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A password, NFKC-normalised so that the same passphrase typed on two
/// keyboards hashes the same. Never printed: `Debug` is redacted.
#[derive(Debug, Clone)]
pub struct Password(SecretString);

/// Why a new password was refused. There are no composition rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than 8 characters.
    #[error("a password has at least 8 characters")]
    TooShort,
    /// More than 1024 characters.
    #[error("a password has at most 1024 characters")]
    TooLong,
    /// One of the most common passwords, the first an attacker tries.
    #[error("this password is one of the most commonly used; choose another")]
    Common,
}

impl Password {
    /// Checks a new password against the rules.
    pub fn new_password(input: &str) -> Result<Self, PasswordError> {
        let password = Self::candidate(input);
        let len = password.0.expose_secret().chars().count();
        if len < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if len > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        if COMMON_PASSWORDS.contains(password.0.expose_secret().to_lowercase().as_str()) {
            return Err(PasswordError::Common);
        }
        Ok(password)
    }

    /// A password offered to sign in: normalised, never judged, so that the
    /// rules of the day cannot lock out an account made under older ones.
    pub fn candidate(input: &str) -> Self {
        Self(SecretString::from(input.nfkc().collect::<String>()))
    }

    /// The normalised bytes, for hashing.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        assert!(Password::new_password("ééééééé").is_err());
        assert!(Password::new_password("éééééééé").is_ok());
        assert!(Password::new_password(&"é".repeat(MAX_PASSWORD_CHARS)).is_ok());
        assert_eq!(
            Password::new_password(&"a".repeat(MAX_PASSWORD_CHARS + 1)).err(),
            Some(PasswordError::TooLong)
        );
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        for common in [
            "password",
            "PassWord1",
            "12345678",
            "iloveyou",
            "ｐａｓｓｗｏｒｄ",
        ] {
            assert_eq!(
                Password::new_password(common).err(),
                Some(PasswordError::Common),
                "{common}"
            );
        }
        assert!(Password::new_password("correct horse battery staple").is_ok());
    }

    #[test]
    fn the_bundled_list_has_ten_thousand_entries() {
        assert_eq!(COMMON_PASSWORDS.len(), 10_000);
    }

    #[test]
    fn composed_and_decomposed_forms_are_the_same_password() {
        let composed = Password::candidate("caf\u{e9}-latte");
        let decomposed = Password::candidate("cafe\u{301}-latte");
        assert_eq!(composed.expose(), decomposed.expose());
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let p = Password::candidate("hunter2hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    proptest::proptest! {
        #[test]
        fn any_input_is_judged_without_panicking(input in "\\PC{0,1100}") {
            let counted = Password::candidate(&input).expose().chars().count();
            match Password::new_password(&input) {
                Ok(p) => proptest::prop_assert!((MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&p.expose().chars().count())),
                Err(PasswordError::TooShort) => proptest::prop_assert!(counted < MIN_PASSWORD_CHARS),
                Err(PasswordError::TooLong) => proptest::prop_assert!(counted > MAX_PASSWORD_CHARS),
                Err(PasswordError::Common) => {}
            }
        }
    }
}
