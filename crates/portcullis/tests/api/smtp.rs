//! A real SMTP server for the tests: Python's `aiosmtpd`
//! (`tests/support/smtp_server.py`), one process per test on a port of its
//! own, requiring STARTTLS (or implicit TLS) with a certificate made here and
//! `AUTH`; every message it accepts lands in a directory this harness reads.
//!
//! `scripts/test.sh` installs `aiosmtpd` into `target/smtp-venv`; the tests
//! that need it are `#[ignore = "needs python3 with aiosmtpd"]`, and fail
//! with that message when it is missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const USER: &str = "portcullis";
pub const PASSWORD: &str = "smtp secret/with:odd@chars";

/// The Python that has `aiosmtpd`: the venv `scripts/test.sh` makes, or
/// the one on the `PATH`.
fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/smtp-venv/bin/python3");
    let candidates = [venv, PathBuf::from("python3")];
    for python in candidates {
        let works = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if works {
            return python;
        }
    }
    panic!(
        "this test needs python3 with aiosmtpd: run scripts/test.sh, or `python3 -m venv target/smtp-venv && target/smtp-venv/bin/pip install aiosmtpd`"
    );
}

/// One delivered message, as the server parsed it.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub rcpt_tos: Vec<String>,
    pub login: Option<String>,
    pub content_type: String,
    pub text: String,
    pub html: String,
    json: Value,
}

impl Delivered {
    /// A header's value (names are lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.json["headers"][name].as_str()
    }

    pub fn subject(&self) -> &str {
        self.header("subject").unwrap_or_default()
    }

    /// The link to `path` (e.g. `/reset-password`) in the text part.
    pub fn link(&self, path: &str) -> Option<String> {
        self.text
            .split_whitespace()
            .find(|word| word.contains(path) && word.starts_with("http"))
            .map(str::to_owned)
    }

    /// The token of the link to `path`: what follows `#token=`.
    pub fn token(&self, path: &str) -> String {
        let link = self
            .link(path)
            .unwrap_or_else(|| panic!("a {path} link in {}", self.text));
        link.split_once("#token=")
            .map(|(_, t)| t.to_owned())
            .expect("the token is in the fragment")
    }
}

/// A running SMTP server.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    implicit_tls: bool,
    dir: tempfile::TempDir,
    /// The server's certificate, which a test's Portcullis trusts as its
    /// only CA (`smtp_ca_file`).
    pub ca_file: PathBuf,
}

impl SmtpServer {
    /// Starts on a free port, with STARTTLS.
    pub fn start() -> Self {
        Self::start_on(0, false)
    }

    /// Starts on `port` (0: any free one); `implicit_tls` for `smtps://`.
    pub fn start_on(port: u16, implicit_tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let pair =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, pair.cert.pem()).expect("cert written");
        std::fs::write(dir.path().join("key.pem"), pair.signing_key.serialize_pem())
            .expect("key written");
        std::fs::create_dir(dir.path().join("inbox")).expect("inbox");
        let (child, port) = spawn(dir.path(), port, implicit_tls);
        Self {
            child,
            port,
            implicit_tls,
            dir,
            ca_file: cert,
        }
    }

    /// Starts the server again after [`Self::stop`], on the same port, with
    /// the same certificate and inbox.
    pub fn restart(&mut self) {
        let (child, _) = spawn(self.dir.path(), self.port, self.implicit_tls);
        self.child = child;
    }
}

/// Runs the script in `dir` (certificate, key, inbox); returns the process
/// and the port it listens on.
fn spawn(dir: &Path, port: u16, implicit_tls: bool) -> (Child, u16) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
    let mut command = Command::new(python());
    command
        .arg(script)
        .args(["--port", &port.to_string()])
        .arg("--dir")
        .arg(dir.join("inbox"))
        .arg("--cert")
        .arg(dir.join("cert.pem"))
        .arg("--key")
        .arg(dir.join("key.pem"))
        .args(["--user", USER, "--password", PASSWORD])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if implicit_tls {
        command.arg("--implicit-tls");
    }
    let mut child = command.spawn().expect("the SMTP server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the SMTP server prints its port");
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("a port, not {line:?}"));
    (child, port)
}

impl SmtpServer {
    /// `smtp://user:password@localhost:port` (STARTTLS), or `smtps://`
    /// for implicit TLS, password encoded.
    pub fn url(&self) -> String {
        // Percent-encoded, a space as %20 (not the form encoding's `+`).
        let password = url::form_urlencoded::byte_serialize(PASSWORD.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        let scheme = if self.implicit_tls { "smtps" } else { "smtp" };
        format!("{scheme}://{USER}:{password}@localhost:{}", self.port)
    }

    /// The settings of a Portcullis that sends mail here, links to
    /// `public_url`.
    pub fn settings(&self, public_url: &str) -> Vec<(String, String)> {
        vec![
            ("PORTCULLIS_SMTP_URL".into(), self.url()),
            (
                "PORTCULLIS_SMTP_CA_FILE".into(),
                self.ca_file.display().to_string(),
            ),
            (
                "PORTCULLIS_MAIL_FROM".into(),
                "Portcullis <no-reply@auth.example.test>".into(),
            ),
            ("PORTCULLIS_PUBLIC_URL".into(), public_url.into()),
        ]
    }

    /// Every message delivered so far, in order of arrival.
    pub fn messages(&self) -> Vec<Delivered> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("inbox"))
            .expect("inbox")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort_by_key(|p| {
            let name = p.file_stem().expect("name").to_string_lossy().into_owned();
            let (nanos, n) = name.split_once('-').expect("time-count");
            (
                nanos.parse::<u128>().expect("time"),
                n.parse::<u64>().expect("count"),
            )
        });
        files
            .into_iter()
            .map(|path| {
                let json: Value =
                    serde_json::from_str(&std::fs::read_to_string(path).expect("readable"))
                        .expect("JSON");
                Delivered {
                    rcpt_tos: serde_json::from_value(json["rcpt_tos"].clone()).expect("list"),
                    login: json["login"].as_str().map(str::to_owned),
                    content_type: json["content_type"].as_str().unwrap_or_default().to_owned(),
                    text: json["text"].as_str().unwrap_or_default().to_owned(),
                    html: json["html"].as_str().unwrap_or_default().to_owned(),
                    json,
                }
            })
            .collect()
    }

    /// Waits (up to 20 s) until at least `n` messages have arrived; returns
    /// them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Delivered> {
        for _ in 0..200 {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "expected {n} messages, got {}: {:?}",
            self.messages().len(),
            self.messages()
                .iter()
                .map(|m| m.subject().to_owned())
                .collect::<Vec<_>>()
        );
    }

    /// Waits for the `n`-th message (1-based) to `to`.
    pub async fn wait_for_mail_to(&self, to: &str, n: usize) -> Delivered {
        for _ in 0..200 {
            let mine: Vec<_> = self
                .messages()
                .into_iter()
                .filter(|m| m.rcpt_tos.iter().any(|r| r == to))
                .collect();
            if mine.len() >= n {
                return mine[n - 1].clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no message #{n} to {to}; all: {:?}", self.messages());
    }

    /// Stops the server (its port is then refused).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
