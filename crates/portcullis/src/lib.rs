//! Portcullis: a self-hosted authentication gateway that keeps a web app's JWTs
//! in HttpOnly cookies, rotates and revokes them properly, and (with the
//! gateway) forwards the app's API calls with the token attached.
//!
//! How the crate is laid out, from the outside in:
//!
//! - [`config`] turns the TOML file, `PORTCULLIS_*` variables and flags into
//!   one validated [`config::Config`]; nothing else reads the environment.
//! - [`app`] builds the server from a `Config` — binds the socket, opens the
//!   auth service, loads TLS — and runs it until a shutdown signal, with its
//!   background work (revocation polling, key reloads, purges, and on
//!   PostgreSQL the listener that keeps instances in step).
//! - [`connections`] accepts and serves client connections, plain or TLS:
//!   a cap on how many are held, and timeouts so that a slow or silent
//!   client cannot hold one for ever.
//! - [`admin`] implements the `portcullis user|keys|sessions|audit` commands.
//! - [`server`] is what sits above the three adapters: the state, the router
//!   that mounts them, the guards every request passes (header limits, the
//!   cross-site check, request ids, the access log), the fallbacks.
//! - [`http`] is the JSON API: the `/api/auth/*` handlers, health, keys,
//!   discovery, metrics and the OpenAPI document. It only translates between
//!   HTTP and the auth service.
//! - [`gateway`] is the proxy: the rest of `/api/*` to the upstream API with
//!   the session's access token attached, other paths to a frontend server,
//!   bodies and WebSockets streamed through.
//! - [`ui`] is the built-in web UI: server-rendered pages and the one script
//!   that enhances them, calling `/api/auth/*` like any app; mounted unless a
//!   frontend is configured.
//! - [`web`] is what those three share: the problem type, the one cookie
//!   module, the session check with its typed refusals, the client's address.
//! - [`auth`] is the service itself: registration and sign-in, the limits on
//!   guessing a password (per address, per account, per device cookie),
//!   argon2id on a bounded blocking pool, sessions and the refresh-token
//!   rotation rules, access tokens, signing keys, the in-memory revocation
//!   set, and the flows built on e-mail (password reset, address
//!   verification, security notices) with the worker that empties the mail
//!   outbox, second factors (TOTP, recovery codes, the sign-in that waits
//!   for a code, recent authentication), passkeys (WebAuthn, with
//!   webauthn-rs: alone, as a second factor, to re-authenticate), and
//!   sign-in with other providers
//!   (OpenID Connect discovery and ID-token checks, GitHub, linking
//!   identities to accounts). Every way in ends in one admission step
//!   (`auth::sign_in`). It returns its own views of what is stored.
//! - [`tls`] serves HTTPS (HTTP/2 and HTTP/1.1) with rustls, reloading the
//!   certificate when its files change; [`cli`] is the command line.
//! - [`store`] is all persistence, with each database's SQL in its own file.
//! - [`mail`] renders the messages from their templates and hands them to
//!   an SMTP server (or, in development, the log); it knows nothing of
//!   accounts or of the outbox.
//! - [`domain`] holds the parsed values — usernames, e-mail addresses,
//!   passwords, ids, refresh tokens, how a session began (`amr`, `idp`) —
//!   so that nothing further in handles an
//!   unchecked string.
//! - [`clock`] is where time comes from; tests inject a clock they can move.
//! - [`telemetry`] holds the Prometheus metrics, one registry per application.
//! - [`report`] prints an error with every cause under it.
//! - [`private_files`] creates the database file readable by its owner
//!   only, and warns at start about secret files that others may read.
//!
//! Dependencies point one way, down this order: `main` → `app`, `admin` →
//! `server`, `connections` → `http`, `gateway`, `ui` → `web` → `auth`,
//! `tls`, `cli` → `store`, `mail` → `domain`, `config`, `clock`, `telemetry`,
//! `report`, `private_files`. A module names only modules after it, never
//! one beside it: the API, the gateway and the pages do not know one
//! another, and what they share sits below them in `web`. Only `auth` names
//! `store`; everything above sees the auth service's own types. `config`,
//! `clock`, `telemetry`, `report` and `private_files` name nothing else in
//! the crate, so anything may use them. The integration test `layers` reads
//! every `crate::` path in `src/` and holds the code to this.
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
pub mod connections;
pub mod domain;
pub mod gateway;
pub mod http;
pub mod mail;
pub mod private_files;
pub mod report;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod ui;
pub mod web;
