//! The types settings are parsed into, and how each is written: the same text
//! in the file, in the environment and on the command line.

use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Deserializer, Unexpected, Visitor};
use url::Url;

/// A type a setting's text parses into.
pub trait SettingValue: Sized {
    /// What a valid value looks like, for error messages: "… is not EXPECTED".
    const EXPECTED: &'static str;
    /// Whether the text may hold a secret, so that a bad value is never echoed.
    const SECRET: bool = false;
    /// Parses the text, already trimmed; `None` when it is not valid.
    fn parse(text: &str) -> Option<Self>;

    /// Reads a list, as a TOML file gives one; only settings that are lists
    /// of tables accept it.
    fn from_seq<'de, A: de::SeqAccess<'de>>(seq: A) -> Result<Option<Self>, A::Error> {
        let _ = seq;
        Err(de::Error::invalid_type(Unexpected::Seq, &Self::EXPECTED))
    }
}

/// Parses `text` as a `T`, or says what was expected (never echoing a secret).
pub fn parse_setting<T: SettingValue>(text: &str) -> Result<T, InvalidText> {
    T::parse(text.trim()).ok_or(InvalidText {
        value: (!T::SECRET).then(|| text.to_owned()),
        expected: T::EXPECTED,
    })
}

/// Text that is not a valid value of its setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not {expected}", self.shown())]
pub struct InvalidText {
    /// The text, or `None` when it may hold a secret.
    pub value: Option<String>,
    /// What a valid value looks like.
    pub expected: &'static str,
}

impl InvalidText {
    /// The value as messages show it: quoted, or `"<redacted>"`.
    pub fn shown(&self) -> String {
        format!("{:?}", self.value.as_deref().unwrap_or(REDACTED))
    }
}

/// What a secret value is shown as.
pub(super) const REDACTED: &str = "<redacted>";

/// The `deserialize_with` of every setting: the value is text (TOML numbers
/// and booleans are read as their text), parsed by its type's
/// [`SettingValue::parse`]. `Unexpected::Other` marks a redacted value.
pub(super) fn text<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: SettingValue,
{
    deserializer.deserialize_any(TextVisitor(PhantomData))
}

struct TextVisitor<T>(PhantomData<T>);

impl<T: SettingValue> TextVisitor<T> {
    fn parse<E: de::Error>(text: &str) -> Result<Option<T>, E> {
        match parse_setting::<T>(text) {
            Ok(value) => Ok(Some(value)),
            Err(InvalidText {
                value: Some(value),
                expected,
            }) => Err(E::invalid_value(Unexpected::Str(&value), &expected)),
            Err(InvalidText {
                value: None,
                expected,
            }) => Err(E::invalid_value(Unexpected::Other(REDACTED), &expected)),
        }
    }
}

impl<'de, T: SettingValue> Visitor<'de> for TextVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTED)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Self::parse(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Self::parse(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Self::parse(&v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Self::parse(&v.to_string())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::from_seq(seq)
    }
}

/// Types whose own `FromStr` is the setting's syntax.
macro_rules! from_str {
    ($($ty:ty => $expected:literal,)*) => {$(
        impl SettingValue for $ty {
            const EXPECTED: &'static str = $expected;
            fn parse(text: &str) -> Option<Self> {
                text.parse().ok()
            }
        }
    )*};
}

from_str! {
    SocketAddr => "an address such as 127.0.0.1:8080",
    usize => "a whole number",
    NonZeroUsize => "a whole number above zero",
    u32 => "a whole number",
    NonZeroU32 => "a whole number above zero",
}

impl SettingValue for Duration {
    const EXPECTED: &'static str = "a duration such as 30s, 15m or 7d";
    fn parse(text: &str) -> Option<Self> {
        humantime::parse_duration(text).ok()
    }
}

impl SettingValue for bool {
    const EXPECTED: &'static str = "true or false";
    fn parse(text: &str) -> Option<Self> {
        match text {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        }
    }
}

impl SettingValue for PathBuf {
    const EXPECTED: &'static str = "a file path";
    fn parse(text: &str) -> Option<Self> {
        (!text.is_empty()).then(|| PathBuf::from(text))
    }
}

/// Proxies whose `X-Forwarded-*` headers are believed: addresses or networks,
/// comma-separated.
impl SettingValue for Vec<IpNet> {
    const EXPECTED: &'static str = "a comma-separated list of addresses or networks (10.0.0.0/8)";
    fn parse(text: &str) -> Option<Self> {
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<IpNet>()
                    .ok()
                    .or_else(|| p.parse::<IpAddr>().ok().map(IpNet::from))
            })
            .collect()
    }
}

/// The database URL: `sqlite:…` or `postgres://…`. Secret, because it may
/// carry a password.
#[derive(Debug, Clone)]
pub struct DatabaseUrl(pub SecretString);

impl SettingValue for DatabaseUrl {
    const EXPECTED: &'static str = "a sqlite:// or postgres:// URL";
    const SECRET: bool = true;
    fn parse(text: &str) -> Option<Self> {
        (text.starts_with("sqlite:")
            || text.starts_with("postgres://")
            || text.starts_with("postgresql://"))
        .then(|| Self(SecretString::from(text)))
    }
}

impl serde::Serialize for DatabaseUrl {
    /// Only into the flags layer, which is dropped once the configuration is
    /// read; the value never reaches a log.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.expose_secret())
    }
}

/// A URL we proxy to: plain http, since the proxy speaks no TLS to its
/// upstreams (they sit next to it, on a private network).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTarget(pub Url);

impl SettingValue for ProxyTarget {
    const EXPECTED: &'static str = "an http:// URL (TLS to the upstream is not supported)";
    fn parse(text: &str) -> Option<Self> {
        Url::parse(text)
            .ok()
            .filter(|u| {
                u.scheme() == "http"
                    && u.host().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
            })
            .map(Self)
    }
}

/// Portcullis's own public origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(pub Url);

impl SettingValue for PublicUrl {
    const EXPECTED: &'static str = "an http or https URL";
    fn parse(text: &str) -> Option<Self> {
        Url::parse(text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .map(Self)
    }
}

/// URLs go into the flags layer as the text they were parsed from.
macro_rules! serialize_url {
    ($($ty:ty),*) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.0.as_str())
            }
        }
    )*};
}
serialize_url!(ProxyTarget, PublicUrl);

/// A name that must not be empty (the issuer, the audience).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonEmpty(pub String);

impl SettingValue for NonEmpty {
    const EXPECTED: &'static str = "a non-empty string";
    fn parse(text: &str) -> Option<Self> {
        (!text.is_empty()).then(|| Self(text.to_owned()))
    }
}

/// An RFC 6265 cookie name: an HTTP token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieName(pub String);

impl SettingValue for CookieName {
    const EXPECTED: &'static str = "a cookie name (letters, digits and !#$%&'*+-.^_`|~)";
    fn parse(text: &str) -> Option<Self> {
        let token = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        token.then(|| Self(text.to_owned()))
    }
}

/// Path prefixes, comma-separated: each starts with `/` and holds no
/// whitespace. An empty list is allowed (`""` or `","`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPrefixes(pub Vec<String>);

impl SettingValue for PathPrefixes {
    const EXPECTED: &'static str = "a comma-separated list of path prefixes starting with /";
    fn parse(text: &str) -> Option<Self> {
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| (p.starts_with('/') && !p.contains(char::is_whitespace)).then(|| p.to_owned()))
            .collect::<Option<_>>()
            .map(Self)
    }
}

/// How many leading bits of an IPv6 address make one client for the
/// per-address limits: 1 to 128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Prefix(pub u8);

impl SettingValue for Ipv6Prefix {
    const EXPECTED: &'static str = "a prefix length from 1 to 128";
    fn parse(text: &str) -> Option<Self> {
        let bits: u8 = text.strip_prefix('/').unwrap_or(text).parse().ok()?;
        (1..=128).contains(&bits).then_some(Self(bits))
    }
}

/// A setting that can also be turned `off` (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrOff<T>(pub Option<T>);

impl<T: SettingValue> OrOff<T> {
    fn parse_or_off(text: &str) -> Option<Self> {
        match text {
            "off" => Some(Self(None)),
            text => T::parse(text).map(|v| Self(Some(v))),
        }
    }
}

impl SettingValue for OrOff<Duration> {
    const EXPECTED: &'static str = "`off` or a duration such as 30d";
    fn parse(text: &str) -> Option<Self> {
        Self::parse_or_off(text)
    }
}

impl SettingValue for OrOff<Rate> {
    const EXPECTED: &'static str = "a rate such as 20/10m, or off";
    fn parse(text: &str) -> Option<Self> {
        Self::parse_or_off(text)
    }
}

/// Whether anyone may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// `POST /api/auth/register` creates accounts.
    Open,
    /// Only `portcullis user add` creates accounts.
    Closed,
}

impl SettingValue for Registration {
    const EXPECTED: &'static str = "`open` or `closed`";
    fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line, for collectors.
    Json,
}

impl SettingValue for LogFormat {
    const EXPECTED: &'static str = "`text` or `json`";
    fn parse(text: &str) -> Option<Self> {
        match text {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// A rate: `count` events per `per`, as a burst that refills evenly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Events allowed in a burst, and per period.
    pub count: NonZeroU32,
    /// The period.
    pub per: Duration,
}

/// Written `N/DURATION`, e.g. `20/10m`.
impl SettingValue for Rate {
    const EXPECTED: &'static str = "a rate such as 20/10m";
    fn parse(text: &str) -> Option<Self> {
        let (count, per) = text.split_once('/')?;
        let count = NonZeroU32::new(count.trim().parse().ok()?)?;
        let per = humantime::parse_duration(per.trim()).ok()?;
        (!per.is_zero()).then_some(Self { count, per })
    }
}

/// The per-client-address rate limits; `None` turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRates {
    /// Every sign-in attempt.
    pub login_attempts: Option<Rate>,
    /// Failed sign-ins.
    pub login_failures: Option<Rate>,
    /// Registrations.
    pub registrations: Option<Rate>,
    /// Refreshes (explicit and transparent).
    pub refreshes: Option<Rate>,
    /// Requests to the e-mail routes (reset, verification, address change).
    pub email_requests: Option<Rate>,
}

impl Default for AddressRates {
    fn default() -> Self {
        let rate = |count, secs| {
            Some(Rate {
                count: NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN),
                per: Duration::from_secs(secs),
            })
        };
        Self {
            login_attempts: rate(120, 60),
            login_failures: rate(30, 600),
            registrations: rate(20, 3600),
            refreshes: rate(600, 60),
            email_requests: rate(30, 3600),
        }
    }
}
