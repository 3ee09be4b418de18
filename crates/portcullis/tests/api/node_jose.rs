//! A Node resource server (npm `jose`, `createRemoteJWKSet`) verifies
//! Portcullis tokens found through discovery: `examples/node-jose`.
//!
//! `#[ignore = "needs node and examples/node-jose's packages"]`: a plain
//! `cargo test` lists it as ignored; `scripts/test.sh` installs Node.js and
//! runs `npm ci` for the example, then runs it with `--include-ignored`, and
//! a missing `node` or `npm` is then a failure. `npm ci` is also run here
//! when the example's `node_modules` is missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/node-jose")
}

/// Ends the Node process however the test ends.
struct NodeServer(Child);

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn install_dependencies(dir: &Path) {
    if dir.join("node_modules/jose/package.json").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm runs: install Node.js and npm (Debian's `nodejs` and `npm`)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

#[tokio::test]
#[ignore = "needs node and examples/node-jose's packages"]
async fn a_node_resource_server_verifies_portcullis_tokens_with_jose() {
    let dir = example_dir();
    install_dependencies(&dir);

    let app = TestApp::spawn().await;
    let mut child = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORTCULLIS_URL", app.url(""))
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts: install Node.js (Debian's `nodejs`)");
    let stdout = child.stdout.take().expect("stdout");
    let server = NodeServer(child);
    let port: u16 = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("reads");
        line.trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
    })
    .await
    .expect("joins")
    .expect("the example prints its port");
    let whoami = |token: Option<String>| {
        let mut request = app.client.get(format!("http://127.0.0.1:{port}/whoami"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let jar = app.signed_in("ada").await;
    let token = jar.access().expect("access cookie").to_owned();
    let response = whoami(Some(token.clone())).await.expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["username"], "ada");
    assert!(body["sub"].is_string() && body["kid"].is_string());

    // Change the signature's first character: the last one may carry only
    // padding bits, which lenient base64 decoders ignore.
    let (signed, signature) = token.rsplit_once('.').expect("a JWS");
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
    for refused in [Some(tampered), None, Some("not.a.jwt".to_owned())] {
        let response = whoami(refused).await.expect("answered");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    drop(server);
}
