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
//! - [`auth`] is the service itself: registration and sign-in, argon2id on a
//!   bounded blocking pool, sessions and the refresh-token rotation rules,
//!   access tokens, signing keys, the in-memory revocation set.
//! - [`domain`] holds the parsed values — usernames, e-mail addresses,
//!   passwords, ids, refresh tokens — so that nothing further in handles an
//!   unchecked string.
//! - [`store`] is all persistence, with each database's SQL in its own file.
//! - [`clock`] is where time comes from; tests inject a clock they can move.
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
pub mod http;
pub mod store;
