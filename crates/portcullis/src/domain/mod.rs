//! The values the service reasons about, each parsed once at the edge so that
//! code further in never holds an unchecked one.

pub mod device;
mod email;
mod ids;
mod link_token;
mod password;
mod refresh_token;
mod username;

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

    /// The lookup key, also used to throttle sign-ins per account.
    pub fn key(&self) -> &str {
        match self {
            LoginName::Email(k) | LoginName::Username(k) => k,
        }
    }
}
