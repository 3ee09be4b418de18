//! Portcullis: a self-hosted authentication gateway that keeps a web app's JWTs
//! in HttpOnly cookies, rotates and revokes them properly, and (with the
//! gateway) forwards the app's API calls with the token attached.
//!
//! How the crate is laid out, from the outside in:
//!
//! - [`config`] turns the TOML file, `PORTCULLIS_*` variables and flags into
//!   one validated [`config::Config`]; nothing else reads the environment.
//! - [`app`] builds the server from a `Config` — binds the socket, opens the
//!   store, loads keys — and runs it until a shutdown signal, with its
//!   background work (revocation polling, key reloads, purges, and on
//!   PostgreSQL the listener that keeps instances in step).
//! - [`http`] is the browser-facing interface: the `/api/auth/*` handlers, the
//!   one cookie module, the cross-site guard, problem responses. It only
//!   translates between HTTP and the auth service.
//! - [`gateway`] is the proxy: the rest of `/api/*` to the upstream API with
//!   the session's access token attached, other paths to a frontend server,
//!   bodies and WebSockets streamed through.
//! - [`ui`] is the built-in web UI: server-rendered pages and the one script
//!   that enhances them, calling `/api/auth/*` like any app; mounted unless a
//!   frontend is configured.
//! - [`auth`] is the service itself: registration and sign-in, argon2id on a
//!   bounded blocking pool, sessions and the refresh-token rotation rules,
//!   access tokens, signing keys, the in-memory revocation set.
//! - [`domain`] holds the parsed values — usernames, e-mail addresses,
//!   passwords, ids, refresh tokens — so that nothing further in handles an
//!   unchecked string.
//! - [`store`] is all persistence, with each database's SQL in its own file.
//! - [`clock`] is where time comes from; tests inject a clock they can move.
//! - [`telemetry`] holds the Prometheus metrics, one registry per application.
//! - [`tls`] serves HTTPS (HTTP/2 and HTTP/1.1) with rustls, reloading the
//!   certificate when its files change.
//! - [`admin`] implements the `portcullis user|keys|sessions` commands.
//!
//! Token verification itself lives in the `portcullis-verifier` crate, which
//! resource servers use too.
#![deny(missing_docs)]

pub mod admin;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod gateway;
pub mod http;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod ui;
