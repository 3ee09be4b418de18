//! What can be wrong with the configuration.

use std::fmt;
use std::path::PathBuf;

/// A setting that could not be used. Every message names the setting as it
/// was written and where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read or is not TOML.
    #[error("cannot read the configuration file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A layer names a setting that does not exist: a misspelling would
    /// otherwise silently leave the default in place.
    #[error("unknown setting {name} ({layer}); {}", Hint(suggestion, known))]
    UnknownSetting {
        /// The name as written: a key, a variable or a flag.
        name: String,
        /// The layer: the file and its path, the environment, or the flags.
        layer: String,
        /// The known name closest to it, if one is close.
        suggestion: Option<String>,
        /// Every known name in that layer.
        known: Vec<String>,
    },
    /// One value is malformed.
    #[error("invalid {key} {origin}: {value} is not {expected}")]
    Invalid {
        /// The setting's key.
        key: String,
        /// Where the value came from: "in FILE", "from VARIABLE" or "from --flag".
        origin: String,
        /// The value, quoted; `"<redacted>"` where it may hold a secret.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// Values that are fine alone but not together.
    #[error("{0}")]
    Inconsistent(String),
    /// The HS256 secret file cannot be read or holds too short a secret.
    #[error("hs256_secret_file {path}: {reason}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the secret itself).
        reason: String,
    },
    /// Any other failure to read the layers (figment's own message, with the
    /// setting and its layer).
    #[error("{0}")]
    Unreadable(String),
}

/// "did you mean X?", or every known name when none is close.
struct Hint<'a>(&'a Option<String>, &'a Vec<String>);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, "did you mean {name}?"),
            None => write!(f, "known settings: {}", self.1.join(", ")),
        }
    }
}
