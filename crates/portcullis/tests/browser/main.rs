//! End-to-end tests of the web UI in a real, headless Chromium.
//!
//! `HttpOnly`, `SameSite=Strict` and the Content Security Policy are promises
//! about what a browser does, so they are checked in one: each test starts the
//! real server on a random port, drives Chromium through chromedriver, and
//! saves screenshots under `target/screenshots/<test>/`.
//!
//! The app is reached as `http://localhost:PORT`: Chromium treats `localhost`
//! as a secure context and accepts the `Secure`, `__Host-` cookies there over
//! plain HTTP, so nothing is weakened for the tests. "Another site" is
//! `http://127.0.0.1:OTHERPORT`, a different site to the browser.
//!
//! Chromium and chromedriver come from Debian's `chromium` and
//! `chromium-driver`; `scripts/test.sh` installs them. When they cannot be
//! found the browser tests print a loud notice and pass without running —
//! unless `PORTCULLIS_REQUIRE_BROWSER` is set, as `scripts/test.sh` sets it,
//! in which case a missing browser is a failure. Run only these with
//! `cargo test -p portcullis --test browser`.

mod harness;

mod cross_site;
mod nextjs;
mod notes;
mod pages;
mod sessions;
mod sign_in;
