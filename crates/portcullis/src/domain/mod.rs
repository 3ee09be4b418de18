//! The values the service reasons about, each parsed once at the edge so that
//! code further in never holds an unchecked one.

mod amr;
pub mod device;
mod email;
mod ids;
mod link_token;
mod password;
mod refresh_token;
mod username;

pub use amr::{SecondFactorKind, SignInMethod};
pub use email::{Email, EmailError};
pub use ids::{InvalidId, SessionId, UserId};
pub use link_token::LinkToken;
pub use password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Password, PasswordError};
pub use refresh_token::RefreshToken;
pub use username::{Username, UsernameError};

/// What a user typed into the sign-in form's first field: a username or an
/// e-mail address, reduced to the case-insensitive key it is stored under. It
/// is never rejected, because an error here would tell a caller which names
/// are well-formed enough to exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginName {
    /// Looks like an e-mail address (contains `@`).
    Email(String),
    /// Anything else.
    Username(String),
}

impl LoginName {
    /// Reduces the input to its lookup key.
    pub fn new(input: &str) -> Self {
        if input.contains('@') {
            LoginName::Email(email::key(input))
        } else {
            LoginName::Username(username::key(input))
        }
    }

    /// The lookup key.
    pub fn key(&self) -> &str {
        match self {
            LoginName::Email(k) | LoginName::Username(k) => k,
        }
    }

    /// Whether the key is longer than any account's can be: a username's
    /// has at most 32 characters, an e-mail address's at most 254 (the
    /// address has at most 254 bytes, and lower-casing never makes more
    /// characters than it had bytes). Such a name needs no lookup to fail.
    pub fn is_too_long(&self) -> bool {
        self.key().chars().count() > email::MAX_EMAIL_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_possible_address_is_not_too_long_and_one_more_is() {
        let domain = format!("{}.com", "b".repeat(185));
        let longest = format!("{}@{domain}", "a".repeat(64));
        assert_eq!(longest.len(), 254);
        assert!(Email::parse(&longest).is_ok());
        assert!(!LoginName::new(&longest).is_too_long());
        // Capital I with a dot: two bytes, and two characters in lower case.
        let dotted = format!("{}@{domain}", "\u{130}".repeat(32));
        assert!(Email::parse(&dotted).is_ok(), "254 bytes");
        assert!(!LoginName::new(&dotted).is_too_long());
        assert!(LoginName::new(&format!("a{longest}")).is_too_long());
        assert!(LoginName::new(&"x".repeat(255)).is_too_long());
    }
}
