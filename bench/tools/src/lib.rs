//! Shared bits of the benchmark helpers that `bench/run.sh` drives. Each
//! binary in `src/bin/` prints its result as one line of `key=value` pairs on
//! stdout, which the script reads; diagnostics go to stderr.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

/// Command-line options of the form `--name value`, plus whatever follows a
/// lone `--` (a command to run).
#[derive(Debug, Default)]
pub struct Args {
    options: HashMap<String, String>,
    /// The words after `--`.
    pub rest: Vec<String>,
}

impl Args {
    /// Parses the process's arguments; `usage` is printed on `--help`.
    pub fn parse(usage: &str) -> Result<Self, String> {
        Self::from_iter(std::env::args().skip(1), usage)
    }

    fn from_iter(words: impl IntoIterator<Item = String>, usage: &str) -> Result<Self, String> {
        let mut args = Self::default();
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            if word == "--" {
                args.rest = words.collect();
                break;
            }
            if word == "--help" || word == "-h" {
                println!("{usage}");
                std::process::exit(0);
            }
            let Some(name) = word.strip_prefix("--") else {
                return Err(format!("unexpected argument {word:?}\n{usage}"));
            };
            let value = words
                .next()
                .ok_or_else(|| format!("--{name} needs a value\n{usage}"))?;
            args.options.insert(name.to_owned(), value);
        }
        Ok(args)
    }

    /// A required option.
    pub fn required<T: FromStr>(&self, name: &str) -> Result<T, String>
    where
        T::Err: Display,
    {
        self.optional(name)?
            .ok_or_else(|| format!("--{name} is required"))
    }

    /// An option with a default.
    pub fn or<T: FromStr>(&self, name: &str, default: T) -> Result<T, String>
    where
        T::Err: Display,
    {
        Ok(self.optional(name)?.unwrap_or(default))
    }

    /// An option that may be absent.
    pub fn optional<T: FromStr>(&self, name: &str) -> Result<Option<T>, String>
    where
        T::Err: Display,
    {
        self.options
            .get(name)
            .map(|v| v.parse().map_err(|e| format!("--{name} {v:?}: {e}")))
            .transpose()
    }
}

/// The median of some samples (the mean of the middle two for an even count);
/// `None` for no samples.
pub fn median(samples: &mut [f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    Some(if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    })
}

/// A JSON string literal, quotes included.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_the_command_after_the_separator() -> Result<(), String> {
        let args = Args::from_iter(
            ["--runs", "5", "--", "serve", "--bind", "x"].map(String::from),
            "usage",
        )?;
        assert_eq!(args.required::<u32>("runs")?, 5);
        assert_eq!(args.or("missing", 7u32)?, 7);
        assert_eq!(args.rest, ["serve", "--bind", "x"]);
        assert!(args.required::<u32>("missing").is_err());
        Ok(())
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }
}
