//! A misspelt or malformed setting, in any of the three layers, stops the
//! real binary before it serves, with a message that names the setting as it
//! was written.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::helpers::*;

/// Runs `portcullis ARGS` with `env`, expects it to refuse to start (exit
/// status 2, as for clap's own errors), and returns what it said.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = format!("sqlite://{}", dir.path().join("p.db").display());
    let mut child = portcullis_binary()
        .args(args)
        .current_dir(dir.path())
        .env("PORTCULLIS_BIND", "127.0.0.1:0")
        .env("PORTCULLIS_DATABASE_URL", database)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // Had it accepted the settings, it would serve until stopped.
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("waits").is_none() {
        if Instant::now() > deadline {
            child.kill().expect("kills");
            panic!("portcullis {args:?} with {env:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("exits");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8(out.stderr).expect("utf-8")
}

#[test]
fn a_misspelt_environment_variable_stops_the_server_and_names_the_one_meant() {
    let stderr = refused(&["serve"], &[("PORTCULLIS_ACCES_TOKEN_TTL", "2s")]);
    assert_eq!(
        stderr,
        "portcullis: unknown setting PORTCULLIS_ACCES_TOKEN_TTL (environment); did you mean PORTCULLIS_ACCESS_TOKEN_TTL?\n"
    );
}

#[test]
fn a_misspelt_key_in_the_file_stops_the_server_and_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("portcullis.toml");
    std::fs::write(&path, "upstream_timout = \"5s\"\n").expect("write");
    let stderr = refused(&["serve", "--config", path.to_str().expect("utf-8")], &[]);
    assert_eq!(
        stderr,
        format!(
            "portcullis: unknown setting upstream_timout (file {}); did you mean upstream_timeout?\n",
            path.display()
        )
    );
}

#[test]
fn a_misspelt_flag_stops_the_server_with_clap_naming_the_one_meant() {
    let stderr = refused(&["serve", "--bnd", "127.0.0.1:0"], &[]);
    assert!(
        stderr.contains("unexpected argument '--bnd'")
            && stderr.contains("a similar argument exists: '--bind'"),
        "{stderr}"
    );
}

#[test]
fn a_bad_flag_value_is_refused_as_in_the_other_layers() {
    let stderr = refused(&["serve", "--upstream", "ftp://api"], &[]);
    assert_eq!(
        stderr,
        "error: invalid upstream from --upstream: \"ftp://api\" is not an http:// URL (TLS to the upstream is not supported)\n"
    );
    let stderr = refused(
        &["--database-url", "mysql://root:hunter2@db", "user", "list"],
        &[],
    );
    assert!(stderr.contains("\"<redacted>\""), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_bad_value_in_the_file_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("portcullis.toml");
    std::fs::write(&path, "address_refreshes = \"lots\"\n").expect("write");
    let stderr = refused(&["serve", "--config", path.to_str().expect("utf-8")], &[]);
    assert_eq!(
        stderr,
        format!(
            "portcullis: invalid address_refreshes in {}: \"lots\" is not a rate such as 20/10m, or off\n",
            path.display()
        )
    );
}

#[test]
fn the_notes_page_without_an_upstream_stops_the_server() {
    let stderr = refused(&["serve"], &[("PORTCULLIS_NOTES_PAGE", "true")]);
    assert!(stderr.contains("notes_page needs an upstream"), "{stderr}");
}
