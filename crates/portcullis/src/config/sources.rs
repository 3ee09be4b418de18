//! The three layers — the TOML file, `PORTCULLIS_*` environment variables,
//! command-line flags — merged by `figment`, later layers winning, and read
//! into [`Settings`]. figment remembers which layer gave each value, so that a
//! bad or unknown setting is reported with its name in that layer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::error::{Actual, Kind};
use figment::providers::Serialized;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

use super::error::ConfigError;
use super::known_settings;
use super::settings::{ENV_PREFIX, Flags, KnownSetting, LOG_FILTER_VARIABLE, Settings};
use super::values::REDACTED;

/// The raw layers, before they are read.
#[derive(Default)]
pub struct Sources {
    file: Option<File>,
    /// `PORTCULLIS_*` variables only, the log filter excepted.
    env: BTreeMap<String, String>,
    flags: Flags,
}

impl std::fmt::Debug for Sources {
    /// Names only: a value may be a secret (a database URL's password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("file", &self.file.as_ref().map(|file| &file.path))
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("flags", &self.flags)
            .finish()
    }
}

/// The configuration file, parsed as TOML but not yet read as settings.
struct File {
    path: PathBuf,
    table: Dict,
}

impl Sources {
    /// Reads the file (when given) and takes the process environment.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        // A value that is not UTF-8 is kept, its bad bytes replaced, to be
        // refused by its parser or fail to open, rather than be dropped.
        let env = std::env::vars_os().filter_map(|(name, value)| {
            Some((
                name.into_string().ok()?,
                value.to_string_lossy().into_owned(),
            ))
        });
        let sources = Self::from_env(env);
        match config_file {
            Some(path) => sources.with_file(path),
            None => Ok(sources),
        }
    }

    /// Sources with only the given environment, for tests and embedding;
    /// variables without the `PORTCULLIS_` prefix are left out.
    pub fn from_env<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let env = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k != LOG_FILTER_VARIABLE)
            .collect();
        Self {
            env,
            ..Self::default()
        }
    }

    /// Adds the configuration file, below the environment.
    pub fn with_file(mut self, path: &Path) -> Result<Self, ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let table = toml::from_str::<Dict>(&text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1);
            file_error(match line {
                Some(line) => format!("line {line}: {}", e.message()),
                None => e.message().to_owned(),
            })
        })?;
        self.file = Some(File {
            path: path.to_owned(),
            table,
        });
        Ok(self)
    }

    /// Adds the command-line flags, above the environment.
    pub fn with_flags(mut self, flags: Flags) -> Self {
        self.flags = flags;
        self
    }

    /// Merges the layers and reads every setting into its type.
    pub(super) fn settings(&self) -> Result<Settings, ConfigError> {
        let mut figment = Figment::new();
        if let Some(file) = &self.file {
            figment = figment.merge(FileLayer(file));
        }
        figment
            .merge(EnvLayer(&self.env))
            .merge(FlagLayer(&self.flags))
            .extract()
            .map_err(explain)
    }
}

/// Our message for figment's error: the setting's name in the layer that
/// gave it, and for an unknown one, the closest known name.
fn explain(error: figment::Error) -> ConfigError {
    let layer = Layer::of(error.metadata.as_ref());
    let key = error.path.join(".");
    match error.kind {
        Kind::UnknownField(..) => ConfigError::UnknownSetting {
            name: layer.name_of(&key),
            layer: layer.to_string(),
            suggestion: layer.closest(&key),
            known: known_settings().iter().map(|s| layer.name(s)).collect(),
        },
        Kind::InvalidValue(actual, expected) | Kind::InvalidType(actual, expected) => {
            ConfigError::Invalid {
                origin: layer.origin(&key),
                key,
                value: match actual {
                    Actual::Str(value) => format!("{value:?}"),
                    Actual::Other(shown) if shown == REDACTED => format!("\"{REDACTED}\""),
                    Actual::Seq => "an array".to_owned(),
                    Actual::Map => "a table".to_owned(),
                    other => other.to_string(),
                },
                expected,
            }
        }
        _ => ConfigError::Unreadable(error.to_string()),
    }
}

/// The layer a value came from, named as the messages name it.
enum Layer {
    File(PathBuf),
    Env,
    Flags,
}

const ENV_LAYER: &str = "environment";
const FLAG_LAYER: &str = "command-line flags";

impl Layer {
    fn of(metadata: Option<&Metadata>) -> Self {
        match metadata {
            Some(Metadata {
                source: Some(Source::File(path)),
                ..
            }) => Self::File(path.clone()),
            Some(m) if m.name == FLAG_LAYER => Self::Flags,
            _ => Self::Env,
        }
    }

    /// How a setting is named in this layer.
    fn name(&self, setting: &KnownSetting) -> String {
        match self {
            Self::File(_) => setting.key.to_owned(),
            Self::Env => setting.env.to_owned(),
            Self::Flags => setting.flag.unwrap_or(setting.key).to_owned(),
        }
    }

    /// How a key, known or not, is named in this layer.
    fn name_of(&self, key: &str) -> String {
        match self {
            Self::File(_) => key.to_owned(),
            Self::Env => env_name(key),
            Self::Flags => flag_name(key),
        }
    }

    /// "from PORTCULLIS_BIND", "in /etc/portcullis.toml", "from --bind".
    fn origin(&self, key: &str) -> String {
        match self {
            Self::File(path) => format!("in {}", path.display()),
            Self::Env | Self::Flags => format!("from {}", self.name_of(key)),
        }
    }

    /// The known setting whose name is closest to an unknown key, if any is
    /// close enough to be what was meant.
    fn closest(&self, key: &str) -> Option<String> {
        // Compared without the prefix, which every variable shares.
        let typed = env_name(key)
            .trim_start_matches(ENV_PREFIX)
            .to_ascii_lowercase();
        known_settings()
            .iter()
            .map(|s| (strsim::jaro_winkler(&typed, s.key), s))
            .filter(|(score, _)| *score >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, s)| self.name(s))
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Env => f.write_str(ENV_LAYER),
            Self::Flags => f.write_str(FLAG_LAYER),
        }
    }
}

/// The key of an environment variable: what follows the prefix, in lower
/// case. A variable in mixed case keeps its whole name as the key, which
/// matches no setting, so `PORTCULLIS_bind` is refused instead of read.
fn env_key(var: &str) -> String {
    let rest = var.strip_prefix(ENV_PREFIX).unwrap_or(var);
    if rest.bytes().any(|b| b.is_ascii_lowercase()) {
        var.to_owned()
    } else {
        rest.to_ascii_lowercase()
    }
}

/// The inverse of [`env_key`].
fn env_name(key: &str) -> String {
    if key.starts_with(ENV_PREFIX) {
        key.to_owned()
    } else {
        format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
    }
}

fn flag_name(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

fn default_profile(dict: Dict) -> Map<Profile, Dict> {
    Profile::Default.collect(dict)
}

struct FileLayer<'a>(&'a File);

impl Provider for FileLayer<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::from("configuration file", Source::File(self.0.path.clone()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(default_profile(self.0.table.clone()))
    }
}

/// The environment, every value kept as text: figment's own `Env` reads only
/// the process environment and turns `10` or `[a]` into numbers and arrays.
struct EnvLayer<'a>(&'a BTreeMap<String, String>);

impl Provider for EnvLayer<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_LAYER)
            .interpolater(|_: &Profile, keys: &[&str]| env_name(&keys.join(".")))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = self
            .0
            .iter()
            .map(|(var, value)| (env_key(var), Value::from(value.clone())))
            .collect();
        Ok(default_profile(dict))
    }
}

struct FlagLayer<'a>(&'a Flags);

impl Provider for FlagLayer<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named(FLAG_LAYER)
            .interpolater(|_: &Profile, keys: &[&str]| flag_name(&keys.join(".")))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::defaults(self.0).data()
    }
}
