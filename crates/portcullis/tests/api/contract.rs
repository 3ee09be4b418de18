//! `docs/contract.md`, the repository's statement of its public contract,
//! keeps up with the code: every error code the code can answer, every
//! setting it reads and every route it serves is in it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn contract() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/contract.md");
    std::fs::read_to_string(path).expect("docs/contract.md exists")
}

/// The text of the section headed `## {title}`.
fn section(contract: &str, title: &str) -> String {
    let (_, rest) = contract
        .split_once(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("docs/contract.md has a section `{title}`"));
    rest.split("\n## ").next().unwrap_or_default().to_owned()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The codes `ApiError` answers with, read from its source: the file that
/// declares the enum, wherever it lives, and in it the body of
/// `status_and_code`, whose `match` the compiler keeps exhaustive. Every
/// string literal in that body is a code.
fn api_error_codes() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let source = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("readable"))
        .find(|text| text.contains("pub enum ApiError"))
        .expect("a file declares `pub enum ApiError`");
    let body = source
        .split_once("fn status_and_code")
        .and_then(|(_, rest)| rest.split_once("\n    }\n"))
        .map(|(body, _)| body)
        .expect("`ApiError::status_and_code` is in the file");
    let codes: BTreeSet<String> = body
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert!(
        codes.contains("unauthenticated") && codes.contains("internal_error"),
        "the codes could not be read from the source: {codes:?}"
    );
    codes
}

#[test]
fn every_error_code_of_the_code_has_a_row_in_the_contract() {
    let contract = section(&contract(), "Error codes");
    let missing: Vec<_> = api_error_codes()
        .into_iter()
        .filter(|code| {
            !contract
                .lines()
                .any(|l| l.starts_with(&format!("| `{code}` |")))
        })
        .collect();
    assert!(missing.is_empty(), "not in docs/contract.md: {missing:?}");
}

#[test]
fn every_setting_has_a_row_with_its_key_and_environment_variable() {
    let contract = section(&contract(), "Settings");
    let missing: Vec<&str> = portcullis::config::known_settings()
        .iter()
        .filter(|setting| {
            let row = format!("| `{}` | `{}` |", setting.key, setting.env);
            !contract.lines().any(|l| l.starts_with(&row))
        })
        .map(|setting| setting.key)
        .collect();
    assert!(missing.is_empty(), "not in docs/contract.md: {missing:?}");
}

#[test]
fn every_route_of_the_openapi_document_is_in_the_contract() {
    let contract = contract();
    let document = serde_json::to_value(portcullis::http::routes().1).expect("serialises");
    let missing: Vec<&String> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        // The wildcard is "any other `/api/*`" in the contract.
        .filter(|path| *path != "/api/{rest}")
        .filter(|path| !contract.contains(&format!("`{path}`")))
        .collect();
    assert!(missing.is_empty(), "not in docs/contract.md: {missing:?}");
    assert!(contract.contains("any other `/api/*`"));
}
