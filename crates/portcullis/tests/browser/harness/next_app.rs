//! The Next.js example (`examples/nextjs`) as it runs in production: its
//! `next build` output served by `next start` on a port of its own.
//!
//! The build is `scripts/test.sh`'s job (`npm ci`, `npm run build`); a missing
//! build, or a missing `node`, fails the test that needs it, with the commands
//! that fix it, rather than skipping it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long `next start` may take to answer its first request.
const STARTUP: Duration = Duration::from_secs(60);

/// A running `next start`; dropping it stops the server.
pub struct NextServer {
    child: Child,
    /// Where it listens, on `127.0.0.1`.
    pub port: u16,
}

/// The example's folder.
fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nextjs")
}

impl NextServer {
    /// Starts the built example on `port`, verifying tokens against
    /// `jwks_url` and calling the notes API at `backend_url`.
    pub async fn start(port: u16, jwks_url: &str, backend_url: &str) -> Self {
        let dir = example_dir();
        let next = dir.join("node_modules/next/dist/bin/next");
        assert!(
            dir.join(".next/BUILD_ID").is_file() && next.is_file(),
            "the Next.js example is not built. Run scripts/test.sh, or:\n  \
             (cd packages/next && npm ci && npm run build)\n  \
             (cd examples/nextjs && npm ci && npm run build)"
        );
        let child = Command::new("node")
            .arg(next)
            .args(["start", "--hostname", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .current_dir(&dir)
            .env("JWKS_URL", jwks_url)
            .env("BACKEND_URL", backend_url)
            .env("NEXT_TELEMETRY_DISABLED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Its own process group: `next start` runs the server in a child
            // process, and both must stop with the test.
            .process_group(0)
            .spawn()
            .expect("node runs `next start` (is node installed?)");
        let mut server = Self { child, port };
        server.wait_until_ready().await;
        server
    }

    async fn wait_until_ready(&mut self) {
        let url = format!("http://127.0.0.1:{}/", self.port);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let start = Instant::now();
        loop {
            if http.get(&url).send().await.is_ok() {
                return;
            }
            // An old node, or a build that does not load, ends the process:
            // say so now rather than after the whole startup allowance.
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("next start exited ({status}) before answering; its errors are above");
            }
            assert!(start.elapsed() < STARTUP, "next start did not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for NextServer {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}
