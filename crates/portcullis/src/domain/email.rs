//! E-mail addresses.

use std::fmt;

/// Longest address accepted (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// A plausible e-mail address: `local@domain`, with no spaces or control
/// characters, a local part of at most 64 bytes and a domain with a dot. It is
/// not proof that the address receives mail. Unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// Why an address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an e-mail address looks like name@example.com and has at most 254 characters")]
pub struct EmailError;

impl Email {
    /// Trims and checks `input`.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let address = input.trim();
        if address.len() > MAX_EMAIL_LEN {
            return Err(EmailError);
        }
        let (local, domain) = address.rsplit_once('@').ok_or(EmailError)?;
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"@".contains(c))
        };
        let domain_ok = plain(domain)
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if !plain(local) || local.len() > 64 || !domain_ok {
            return Err(EmailError);
        }
        Ok(Self(address.to_owned()))
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive key the address is unique under.
    pub fn key(&self) -> String {
        key(&self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The lookup key of any input, valid or not.
pub(super) fn key(input: &str) -> String {
    input.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_are_accepted() {
        for ok in ["ada@example.com", " Ada.L+tag@mail.example.co.uk "] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Email::parse("Ada@Example.com").expect("valid").key(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_addresses_are_refused() {
        let long = format!("{}@example.com", "a".repeat(65));
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@@example.com",
            "a da@example.com",
            "ada@exa mple.com",
            "ada@.example.com",
            "ada@example..com",
            "<ada>@example.com",
            long.as_str(),
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_accepted_addresses_are_bounded(input in "\\PC{0,300}") {
            if let Ok(email) = Email::parse(&input) {
                proptest::prop_assert!(email.as_str().len() <= MAX_EMAIL_LEN);
                proptest::prop_assert_eq!(email.as_str().matches('@').count(), 1);
                proptest::prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            }
        }
    }
}
