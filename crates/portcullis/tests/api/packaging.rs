//! The files in `packaging/` stay true to the code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use portcullis::config::{Config, Sources, known_settings};

fn packaging(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../packaging")
        .join(file)
}

/// The commented-out assignments of the sample, by key: `# key = value`.
fn sample_settings(text: &str) -> BTreeMap<String, String> {
    let mut settings = BTreeMap::new();
    for line in text.lines() {
        let Some((key, _)) = line.strip_prefix("# ").and_then(|l| l.split_once(" = ")) else {
            continue;
        };
        if key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            let previous = settings.insert(key.to_owned(), line[2..].to_owned());
            assert!(previous.is_none(), "{key} is listed twice");
        }
    }
    settings
}

#[test]
fn the_sample_configuration_lists_every_setting_and_parses_when_uncommented() {
    let text = std::fs::read_to_string(packaging("portcullis.toml")).expect("the sample exists");
    // Commented out as shipped, it is a valid (empty) configuration.
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = dir.path().join("shipped.toml");
    std::fs::write(&shipped, &text).expect("write");
    Config::from_sources(&Sources::default().with_file(&shipped).expect("loads")).expect("valid");

    let settings = sample_settings(&text);
    let listed: Vec<&str> = settings.keys().map(String::as_str).collect();
    let mut known: Vec<&str> = known_settings().iter().map(|s| s.key).collect();
    known.sort_unstable();
    assert_eq!(
        listed, known,
        "the sample lists exactly the settings the code knows"
    );

    // Every example value is a valid value, and they are valid together.
    let uncommented = dir.path().join("uncommented.toml");
    // The secret files are read at start, and the sample's paths do not
    // exist here (oidc_providers names client secret files); smtp_url_file
    // is the other way to give smtp_url.
    let secret_files = [
        "hs256_secret_file",
        "smtp_url_file",
        "mfa_key_file",
        "oidc_providers",
    ];
    let body: Vec<&str> = settings
        .iter()
        .filter(|(key, _)| !secret_files.contains(&key.as_str()))
        .map(|(_, line)| line.as_str())
        .collect();
    std::fs::write(&uncommented, body.join("\n")).expect("write");
    let sources = Sources::default()
        .with_file(&uncommented)
        .expect("valid TOML");
    let config = Config::from_sources(&sources).expect("every key is known, every value parses");
    assert!(config.tls.is_some() && config.upstream.is_some() && config.mail.is_some());
}

#[test]
fn the_systemd_unit_runs_the_server_sandboxed() {
    let unit = std::fs::read_to_string(packaging("portcullis.service")).expect("the unit exists");
    for line in [
        "ExecStart=/usr/local/bin/portcullis serve --config /etc/portcullis/portcullis.toml",
        "DynamicUser=yes",
        "StateDirectory=portcullis",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "KillSignal=SIGTERM",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing: {line}");
    }
}
