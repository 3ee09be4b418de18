//! Attack 4, against the real parsers of Node.js backends: Express's and
//! NestJS's `cookie` (0.5, 0.7 and 1.x) and Next.js's
//! `@edge-runtime/cookies`, run by `tests/node/cookie-parsers/server.mjs` as
//! the upstream. Whatever spelling of the token cookie a page adds, each of
//! them must read the gateway's token, and Next.js (which keeps the last
//! value of a name) must find only one.
//!
//! `#[ignore = "needs node and tests/node/cookie-parsers' packages"]`: a
//! plain `cargo test` lists it as ignored; `scripts/test.sh` installs
//! Node.js, runs `npm ci` there and runs it with `--include-ignored`, where a
//! missing `node` or `npm` is a failure. `npm ci` also runs here when the
//! packages are missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::*;

fn parsers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/cookie-parsers")
}

/// Ends the Node process however the test ends.
struct NodeServer(Child);

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn spawn_parsers() -> (NodeServer, u16) {
    let dir = parsers_dir();
    if !dir.join("node_modules/cookie/package.json").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm runs: install Node.js and npm (Debian's `nodejs` and `npm`)");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    let mut child = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", "0")
        .env("PORTCULLIS_TOKEN_COOKIE", "accessToken")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts: install Node.js (Debian's `nodejs`)");
    let stdout = child.stdout.take().expect("stdout");
    let server = NodeServer(child);
    let port = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("reads");
        line.trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
    })
    .await
    .expect("joins")
    .expect("the server prints its port");
    (server, port)
}

#[tokio::test]
#[ignore = "needs node and tests/node/cookie-parsers' packages"]
async fn express_nest_and_next_parsers_read_only_the_gateways_token() {
    let (_node, port) = spawn_parsers().await;
    let upstream = format!("http://127.0.0.1:{port}");
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &upstream),
        ("PORTCULLIS_UPSTREAM_TOKEN_COOKIE", "accessToken"),
    ])
    .await;
    let jar = app.signed_in("ada").await;
    let ours = jar.header().expect("signed in");
    let token = jar.access().expect("access token");
    for spelling in [
        "accessToken=evil",
        "accessToken =evil",
        "accessToken\t=evil",
        "theme=dark;accessToken=evil",
        "theme=dark;\taccessToken=evil",
        "accessToken=evil; accessToken=evil2",
        "theme=\"x; accessToken=evil\"",
        "accessToken",
        "=evil; accessToken=evil",
    ] {
        for lines in [
            vec![format!("{spelling}; {ours}")],
            vec![format!("{ours}; {spelling}")],
            vec![spelling.to_owned(), ours.clone()],
        ] {
            let mut request = app.client.get(app.url("/api/whoami"));
            for line in &lines {
                request = request.header("cookie", line);
            }
            let read: serde_json::Value = request
                .send()
                .await
                .expect("answered")
                .json()
                .await
                .expect("JSON");
            for parser in ["cookie_0_7", "cookie_0_5", "cookie_1", "next"] {
                assert_eq!(read[parser], token, "{parser} read {read} for {lines:?}");
            }
            assert_eq!(read["next_all"], serde_json::json!([token]), "{lines:?}");
        }
    }
}
