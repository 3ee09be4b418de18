//! Integration tests: the real server on a random port, spoken to over HTTP,
//! and the store conformance suite on both databases.

mod databases;
// Shared by every test module; not every branch's tests use every helper.
#[allow(dead_code)]
mod helpers;
mod smtp;
mod tcp_proxy;

mod auth_attacks;
mod auth_flow;
mod cli;
mod connection_cap;
mod contract;
mod csrf;
mod discovery;
mod email;
mod email_account_security;
mod email_admin;
mod email_delivery;
mod file_modes;
mod forged_tokens;
mod hardening;
mod health;
mod key_revocation;
mod key_rotation;
mod layers;
mod login;
mod logout;
mod malformed;
mod metrics;
mod mfa;
mod node_jose;
mod oidc;
mod openapi;
mod openapi_email;
mod openapi_mfa;
mod openapi_passkeys;
mod openapi_statuses;
mod packaging;
mod passkeys;
mod process;
mod refresh;
mod refresh_reasons;
mod register;
mod settings;
mod slow_clients;
mod start_errors;
mod upstreams;
mod verified_tokens;

mod compat;
mod frontend;
mod frontend_token;
mod gateway;
mod gateway_attacks;
mod instances;
mod notes_api;
mod request_id;
mod session_answers;
mod store;
mod tls;
