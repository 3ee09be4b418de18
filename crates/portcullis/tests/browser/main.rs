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
//! `chromium-driver`; `scripts/test.sh` installs them. The tests that drive
//! the browser are `#[ignore = "needs chromium and chromedriver"]`, so a plain
//! `cargo test` lists them as ignored rather than passing them unrun; run them
//! with `cargo test -p portcullis --test browser -- --include-ignored`
//! (`scripts/test.sh` runs the whole suite that way), and a missing browser
//! is then a failure. The Next.js tests also need `node` and the example's
//! production build (`examples/nextjs`, built by `scripts/test.sh`); they are
//! ignored with that reason, and fail when run without them.

mod harness;

mod cross_site;
mod nextjs;
mod notes;
mod oidc;
mod pages;
mod passkeys;
mod recovery;
mod sessions;
mod sign_in;
mod two_step;
