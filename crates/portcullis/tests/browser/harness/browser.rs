//! Chromium driven through chromedriver. One chromedriver per test; each
//! [`Tab`] is its own WebDriver session, hence its own Chromium with a fresh
//! profile: a separate browsing context with its own cookie jar, as a second
//! device would be.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long any wait for the page may take before the test fails. Generous:
/// CI is two cores shared with the compiler.
const DEADLINE: Duration = Duration::from_secs(20);

/// A chromedriver process and the Chromium it starts.
pub struct Browser {
    driver: Child,
    driver_url: String,
    chromium: PathBuf,
    shots: PathBuf,
    counter: AtomicUsize,
    profiles: Mutex<Vec<tempfile::TempDir>>,
}

/// How to open a browsing context.
#[derive(Debug, Clone, Copy)]
pub struct TabOptions {
    /// Whether page script runs.
    pub javascript: bool,
    /// Window width, CSS pixels.
    pub width: u32,
    /// Window height, CSS pixels.
    pub height: u32,
}

impl Default for TabOptions {
    fn default() -> Self {
        Self {
            javascript: true,
            width: 1024,
            height: 900,
        }
    }
}

impl Browser {
    /// Starts chromedriver for the test `name`. A missing browser fails the
    /// test: the browser tests are `#[ignore]`d, so they run only when asked
    /// for (`--include-ignored`, as `scripts/test.sh` does), and then a
    /// missing browser must not look like a pass.
    pub async fn launch(name: &str) -> Self {
        let Some((driver, chromium)) = find_binaries() else {
            panic!(
                "chromium or chromedriver not found: install Debian's `chromium` and \
                 `chromium-driver` (scripts/test.sh does), or point PORTCULLIS_CHROMIUM \
                 and PORTCULLIS_CHROMEDRIVER at them"
            );
        };
        let port = free_port();
        let mut command = Command::new(&driver);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that dropping the browser can stop
            // chromedriver and every Chromium it started, and nothing else.
            .process_group(0);
        let driver = command.spawn().expect("chromedriver starts");
        let driver_url = format!("http://127.0.0.1:{port}");
        let shots = screenshot_dir().join(name);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("screenshot folder");
        let browser = Self {
            driver,
            driver_url,
            chromium,
            shots,
            counter: AtomicUsize::new(0),
            profiles: Mutex::new(Vec::new()),
        };
        browser.wait_until_ready().await;
        browser
    }

    async fn wait_until_ready(&self) {
        let status = format!("{}/status", self.driver_url);
        let http = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(r) = http.get(&status).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(start.elapsed() < DEADLINE, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens a browsing context with default options.
    pub async fn tab(&self) -> Tab<'_> {
        self.tab_with(TabOptions::default()).await
    }

    /// Opens a browsing context: a new Chromium with a fresh profile.
    pub async fn tab_with(&self, options: TabOptions) -> Tab<'_> {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args = vec![
            "--headless".to_owned(),
            // Root in a container: Chromium's sandbox needs namespaces we lack.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            // No network beyond loopback here: nothing may try to phone home.
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--password-store=basic".to_owned(),
            format!("--window-size={},{}", options.width, options.height),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if !options.javascript {
            args.push("--blink-settings=scriptEnabled=false".to_owned());
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": args,
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.driver_url)
            .await
            .expect("a WebDriver session starts");
        client
            .set_window_size(options.width, options.height)
            .await
            .expect("window size");
        self.profiles.lock().expect("lock").push(profile);
        Tab {
            client,
            shots: self.shots.clone(),
            counter: &self.counter,
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.wait();
    }
}

/// A browsing context.
pub struct Tab<'b> {
    client: Client,
    shots: PathBuf,
    counter: &'b AtomicUsize,
}

impl Tab<'_> {
    /// The WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Navigates and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigation");
    }

    /// The current URL.
    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("current url")
    }

    /// Waits until the URL's path is `path`.
    pub async fn wait_for_path(&self, path: &str) {
        let start = Instant::now();
        loop {
            let url = self.url().await;
            if url.path() == path {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "still at {url} instead of {path}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for an element to exist.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(DEADLINE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Waits until `css` exists, is shown and its text contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let start = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && text.contains(needle)
            {
                return text;
            }
            if start.elapsed() > DEADLINE {
                let text = match self.client.find(Locator::Css(css)).await {
                    Ok(e) => e.text().await.unwrap_or_default(),
                    Err(_) => "<missing>".into(),
                };
                self.screenshot("timeout").await;
                panic!("{css} never contained {needle:?}; it says {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a script expression is true.
    pub async fn wait_until(&self, expression: &str) {
        let start = Instant::now();
        loop {
            if self.eval(expression).await == Value::Bool(true) {
                return;
            }
            if start.elapsed() > DEADLINE {
                self.screenshot("timeout").await;
                panic!("never true: {expression}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks an element.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Types into an element.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.find(css).await.send_keys(text).await.expect("typing");
    }

    /// Types into whatever has the focus, as a keyboard would.
    pub async fn keys(&self, text: &str) {
        self.client
            .active_element()
            .await
            .expect("a focused element")
            .send_keys(text)
            .await
            .expect("typing");
    }

    /// The `id` of the focused element.
    pub async fn focused_id(&self) -> String {
        self.client
            .active_element()
            .await
            .expect("a focused element")
            .attr("id")
            .await
            .expect("attribute")
            .unwrap_or_default()
    }

    /// Evaluates an expression in the page.
    pub async fn eval(&self, expression: &str) -> Value {
        self.client
            .execute(&format!("return ({expression});"), vec![])
            .await
            .expect("script runs")
    }

    /// The cookies as the browser holds them (WebDriver sees `HttpOnly` ones).
    pub async fn cookies(&self) -> Vec<cookie::Cookie<'static>> {
        self.client.get_all_cookies().await.expect("cookies")
    }

    /// The value of one cookie, if the browser holds it.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.cookies()
            .await
            .into_iter()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    }

    /// Saves a screenshot as `NN-label.png` in the test's folder.
    pub async fn screenshot(&self, label: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let path = self.shots.join(format!("{n:02}-{label}.png"));
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// Ends the WebDriver session and its Chromium.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// chromedriver and the browser binary: `PORTCULLIS_CHROMEDRIVER` and
/// `PORTCULLIS_CHROMIUM` when set, else what Debian's packages install.
fn find_binaries() -> Option<(PathBuf, PathBuf)> {
    let driver = std::env::var_os("PORTCULLIS_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| on_path("chromedriver"))?;
    let chromium = std::env::var_os("PORTCULLIS_CHROMIUM")
        .map(PathBuf::from)
        // Debian's /usr/bin/chromium is a shell wrapper around this.
        .or_else(|| Some(PathBuf::from("/usr/lib/chromium/chromium")).filter(|p| p.is_file()))
        .or_else(|| {
            ["chromium", "chromium-browser", "google-chrome"]
                .into_iter()
                .find_map(on_path)
        })?;
    Some((driver, chromium))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}

/// A port nobody listens on right now, for servers that cannot report a port
/// they picked themselves (chromedriver, `next start`).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
