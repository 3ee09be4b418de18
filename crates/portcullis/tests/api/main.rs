//! Integration tests: the real server on a random port, spoken to over HTTP.

mod helpers;

mod auth_flow;
