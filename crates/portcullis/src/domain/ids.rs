//! Identifiers of users and sessions.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// The text is not an id in its canonical spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// The UUID itself (a passkey's user handle is the user id's
            /// sixteen bytes).
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The id of this UUID.
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            /// Only the hyphenated lower-case form that `Display` writes, so that
            /// one id has one spelling.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let id = Uuid::try_parse(s).map_err(|_| InvalidId)?;
                if id.hyphenated().to_string() != s {
                    return Err(InvalidId);
                }
                Ok(Self(id))
            }
        }
    };
}

uuid_id!(
    /// A user's id: the `sub` claim.
    UserId
);
uuid_id!(
    /// A session's id: the `sid` claim. One session lives from sign-in to
    /// sign-out, through any number of refresh-token rotations.
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_one_spelling() {
        let id = SessionId::random();
        assert_eq!(id.to_string().parse::<SessionId>().ok(), Some(id));
        assert!(id.to_string().to_uppercase().parse::<SessionId>().is_err());
        assert!(
            id.to_string()
                .replace('-', "")
                .parse::<SessionId>()
                .is_err()
        );
        assert!("not-an-id".parse::<SessionId>().is_err());
    }

    proptest::proptest! {
        #[test]
        fn only_the_canonical_spelling_parses(text in "[0-9a-fA-F-]{30,40}") {
            if let Ok(id) = text.parse::<SessionId>() {
                proptest::prop_assert_eq!(id.to_string(), text);
            }
        }
    }
}
