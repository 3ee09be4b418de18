//! Integration tests: the real server on a random port, spoken to over HTTP.

mod helpers;

mod auth_flow;
mod cli;
mod csrf;
mod forged_tokens;
mod health;
mod login;
mod logout;
mod malformed;
mod refresh;
mod register;
mod upstreams;

mod compat;
mod frontend;
mod gateway;
mod notes_api;
