//! Integration tests: the real server on a random port, spoken to over HTTP,
//! and the store conformance suite on both databases.

mod databases;
// Shared by every test module; not every branch's tests use every helper.
#[allow(dead_code)]
mod helpers;
mod tcp_proxy;

mod auth_flow;
mod instances;
mod store;
