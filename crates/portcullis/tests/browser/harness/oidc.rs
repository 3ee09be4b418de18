//! A real OpenID Provider for the browser: panva's `oidc-provider`
//! (`tests/node/oidc-provider`) on `127.0.0.1` (another site than the app
//! on `localhost`), with the app configured to sign in with it.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::Value;

use super::App;

/// The provider's id in the app's configuration.
const PROVIDER: &str = "test";

/// `oidc-provider` in a Node process, ended however the test ends.
pub struct NodeOp {
    pub issuer: String,
    child: Child,
    /// Kept open: a closed pipe would fail the provider's next write.
    _stdout: BufReader<ChildStdout>,
}

impl Drop for NodeOp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The app with the provider configured (and the provider), the app on a
/// port chosen first so that its callback URL can be registered.
pub async fn app_with_provider() -> (App, NodeOp, tempfile::TempDir) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/oidc-provider");
    if !dir.join("node_modules/oidc-provider/package.json").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm runs: install Node.js and npm");
        assert!(status.success(), "npm ci failed");
    }
    // Held while the provider starts, so that it cannot be given the port.
    let reserved = TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = reserved.local_addr().expect("addr").port();
    let public = format!("http://localhost:{port}");
    let callback = format!("{public}/api/auth/oidc/{PROVIDER}/callback");
    let mut child = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .env("OP_REDIRECT_URIS", &callback)
        .env("OP_CLIENT_ID", "portcullis")
        .env("OP_CLIENT_SECRET", "op-secret-for-tests")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts: install Node.js");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("the provider prints its issuer");
    let ready: Value = serde_json::from_str(&line).expect("a JSON line");
    let op = NodeOp {
        issuer: ready["issuer"].as_str().expect("issuer").to_owned(),
        child,
        _stdout: stdout,
    };
    let secrets = tempfile::tempdir().expect("tempdir");
    let secret = secrets.path().join("secret");
    std::fs::write(&secret, "op-secret-for-tests").expect("secret");
    let providers = format!(
        r#"[{{ id = "{PROVIDER}", name = "Test OP", issuer = "{}", client_id = "portcullis", client_secret_file = "{}" }}]"#,
        op.issuer,
        secret.display()
    );
    // TOTP on too, for the sign-in that still needs an account's code.
    let mfa_key = secrets.path().join("mfa.key");
    std::fs::write(
        &mfa_key,
        "a key file of at least thirty-two bytes, for tests",
    )
    .expect("key");
    let mfa_key = mfa_key.display().to_string();
    let bind = format!("127.0.0.1:{port}");
    drop(reserved);
    let app = App::spawn(&[
        ("PORTCULLIS_BIND", &bind),
        ("PORTCULLIS_PUBLIC_URL", &public),
        ("PORTCULLIS_OIDC_PROVIDERS", &providers),
        ("PORTCULLIS_MFA_KEY_FILE", &mfa_key),
    ])
    .await;
    (app, op, secrets)
}
