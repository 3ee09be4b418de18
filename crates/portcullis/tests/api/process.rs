//! The real binary as a process: graceful shutdown on SIGTERM, and what its
//! JSON logs say (and never say).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

/// Generous bounds on waiting for the process: a test fails when one is
/// exceeded, it does not measure anything.
const PATIENCE: Duration = Duration::from_secs(30);

/// `portcullis serve` with JSON logs at debug level, on a fresh database.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// Every log line, parsed, in order.
    lines: Receiver<Value>,
    seen: Vec<Value>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = format!("sqlite://{}", dir.path().join("p.db").display());
        Self::start_in(dir, &database, env)
    }

    /// Starts on `database`, keeping `dir` (which may hold it) until the end.
    pub fn start_in(dir: tempfile::TempDir, database: &str, env: &[(&str, &str)]) -> Self {
        let mut child = portcullis_binary()
            .arg("serve")
            .env("PORTCULLIS_BIND", "127.0.0.1:0")
            .env("PORTCULLIS_DATABASE_URL", database)
            .env("PORTCULLIS_LOG_FORMAT", "json")
            .env("PORTCULLIS_LOG", "debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let value =
                    serde_json::from_str(&line).unwrap_or_else(|_| json!({"not_json": line}));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            lines,
            seen: Vec::new(),
            _dir: dir,
        };
        let listening = server.wait_for_log(|l| message(l) == "portcullis is listening");
        server.addr = listening["fields"]["addr"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .expect("the address is logged");
        server
    }

    /// Waits for a log line matching `pred` (seen before or arriving).
    pub fn wait_for_log(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(line) = self.seen.iter().find(|l| pred(l)) {
            return line.clone();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("no such log line; saw {:#?}", self.seen),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the server exited; it logged {:#?}", self.seen)
                }
            }
        }
    }

    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit and collects the rest of its log.
    pub fn wait(mut self) -> (ExitStatus, Vec<Value>) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waits") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit; it logged {:#?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.seen.extend(self.lines.iter());
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Server {
    /// A test that failed half-way leaves no server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn message(line: &Value) -> &str {
    line["fields"]["message"].as_str().unwrap_or_default()
}

fn request_id(line: &Value) -> Option<&str> {
    line["span"]["request_id"].as_str()
}

/// Sends a sign-in whose body is only half written, with a known request id,
/// and waits until the server is handling it.
fn half_a_request(server: &mut Server, id: &str) -> (TcpStream, &'static [u8]) {
    const BODY: &[u8] = br#"{"username":"nobody","password":"not the password"}"#;
    let mut stream = TcpStream::connect(server.addr).expect("connects");
    let head = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nX-Request-Id: {id}\r\n\r\n",
        server.addr,
        BODY.len()
    );
    stream.write_all(head.as_bytes()).expect("writes");
    stream.write_all(&BODY[..10]).expect("writes");
    server
        .wait_for_log(|l| request_id(l) == Some(id) && message(l) == "started processing request");
    (stream, &BODY[10..])
}

#[test]
fn sigterm_stops_accepting_lets_the_request_in_flight_finish_and_exits_zero() {
    let mut server = Server::start(&[("PORTCULLIS_SHUTDOWN_TIMEOUT", "30s")]);
    let (mut stream, rest) = half_a_request(&mut server, "in-flight-1");

    server.terminate();
    server.wait_for_log(|l| message(l) == "stopped accepting; finishing requests in flight");
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(server.addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }

    stream
        .write_all(rest)
        .expect("the rest of the body is still read");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reads the answer");
    assert!(
        response.starts_with("HTTP/1.1 401 "),
        "the request is answered: {response}"
    );
    assert!(response.contains("invalid_credentials"));

    let (status, log) = server.wait();
    assert!(status.success(), "exit status {status}");
    assert!(log.iter().any(|l| message(l) == "portcullis stopped"));
    assert!(!log.iter().any(|l| message(l).contains("cut off")));
}

#[test]
fn a_request_that_outlasts_the_shutdown_timeout_is_cut_off_and_the_server_exits_zero() {
    let mut server = Server::start(&[("PORTCULLIS_SHUTDOWN_TIMEOUT", "1s")]);
    let (_stalled, _) = half_a_request(&mut server, "stalled-1");
    server.terminate();
    let (status, log) = server.wait();
    assert!(status.success(), "exit status {status}");
    assert!(log.iter().any(|l| message(l).contains("cut off")));
    assert!(log.iter().any(|l| message(l) == "portcullis stopped"));
}

#[tokio::test]
async fn logs_are_json_carry_the_request_id_and_never_a_password_token_or_cookie() {
    let server = Server::start(&[]);
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let secret_password = "a very secret passphrase 42";
    let mut secrets = vec![secret_password.to_owned()];
    let mut jar = Jar::default();
    let steps = [
        (
            "POST",
            "/api/auth/register",
            Some(
                json!({"username": "ada", "email": "ada@example.com", "password": secret_password}),
            ),
        ),
        (
            "POST",
            "/api/auth/login",
            Some(json!({"username": "ada", "password": "wrong guess 12345"})),
        ),
        (
            "POST",
            "/api/auth/login",
            Some(json!({"username": "ada", "password": secret_password})),
        ),
        ("POST", "/api/auth/refresh", None),
        ("GET", "/api/auth/session", None),
        ("POST", "/api/auth/logout", None),
    ];
    secrets.push("wrong guess 12345".to_owned());
    for (n, (method, path, body)) in steps.into_iter().enumerate() {
        let mut request = client
            .request(method.parse().expect("method"), format!("{base}{path}"))
            .header("x-request-id", format!("step-{n}"));
        if let Some(cookie) = jar.header() {
            request = request.header("cookie", cookie);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answered");
        assert_eq!(
            response.headers()["x-request-id"],
            format!("step-{n}").as_str()
        );
        jar.store(response.headers());
        secrets.extend(jar.cookies.values().cloned());
    }
    server.terminate();
    let (status, log) = tokio::task::spawn_blocking(move || server.wait())
        .await
        .expect("joins");
    assert!(status.success());

    assert!(
        log.iter().all(|l| l.get("not_json").is_none()),
        "every line is JSON"
    );
    for n in 0..6 {
        let id = format!("step-{n}");
        let finished = log.iter().find(|l| {
            request_id(l) == Some(id.as_str()) && message(l) == "finished processing request"
        });
        assert!(finished.is_some(), "request {id} is logged with its id");
    }
    let text = log
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(
            !text.contains(secret.as_str()),
            "a secret leaked into the log: {secret}"
        );
    }
}

#[tokio::test]
async fn a_failure_of_ours_is_logged_once_in_the_request_span_with_its_whole_cause() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.local_addr().expect("addr")
    };
    let upstream = format!("http://{closed}");
    let server = Server::start(&[("PORTCULLIS_UPSTREAM", upstream.as_str())]);
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let mut jar = Jar::default();
    let registered = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"username": "ada", "email": "ada@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .expect("answered");
    jar.store(registered.headers());
    let proxied = client
        .get(format!("{base}/api/notes"))
        .header("x-request-id", "no-upstream-1")
        .header("cookie", jar.header().expect("signed in"))
        .send()
        .await
        .expect("answered");
    assert_eq!(proxied.status(), 502);
    server.terminate();
    let (_, log) = tokio::task::spawn_blocking(move || server.wait())
        .await
        .expect("joins");

    let failures: Vec<&Value> = log
        .iter()
        .filter(|l| message(l) == "upstream unavailable")
        .collect();
    assert_eq!(failures.len(), 1, "logged once: {failures:#?}");
    let failure = failures[0];
    assert_eq!(request_id(failure), Some("no-upstream-1"));
    assert_eq!(failure["level"], "WARN");
    let error = failure["fields"]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("upstream unavailable: ") && error.contains("Connection refused"),
        "the whole chain: {error}"
    );
}
