//! Integration tests: the real server on a random port, spoken to over HTTP.

mod helpers;

mod auth_flow;
mod cli;
mod csrf;
mod discovery;
mod forged_tokens;
mod health;
mod key_rotation;
mod login;
mod logout;
mod malformed;
mod metrics;
mod node_jose;
mod openapi;
mod packaging;
mod process;
mod refresh;
mod refresh_reasons;
mod register;
mod upstreams;

mod compat;
mod frontend;
mod gateway;
mod notes_api;
mod request_id;
mod tls;
