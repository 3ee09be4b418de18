//! Integration tests: the real server on a random port, spoken to over HTTP.

// Shared by every test module; not every branch's tests use every helper.
#[allow(dead_code)]
mod helpers;

mod auth_flow;
