//! Attacks on accounts and sessions, each performed against the real server
//! over HTTP: guessing a password through a stolen session, rotating IPv6
//! addresses, locking a known user out, racing a sign-in against a password
//! change, and filling the tables that only grow.

mod growth;
mod ipv6;
mod lockout;
mod password_guessing;
mod session_race;

use reqwest::Response;
use serde_json::json;

use crate::helpers::*;

/// The device cookie's name.
pub const DEVICE: &str = "__Host-device";

/// `POST /api/auth/password` from `jar`, the new password a good one.
pub async fn change_password(app: &TestApp, jar: &mut Jar, current: &str) -> Response {
    let body = json!({"current_password": current, "new_password": "a brand new passphrase"});
    app.post(jar, "/api/auth/password", Some(body)).await
}

/// A sign-in that a trusted proxy says comes from `from`.
pub async fn login_from(app: &TestApp, from: &str, username: &str, password: &str) -> Response {
    app.client
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", from)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("answered")
}

/// The `Retry-After` of a 429, in seconds.
pub fn retry_after(response: &Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds")
}

/// A jar holding only the session's two cookies: what a thief copies.
pub fn session_only(jar: &Jar) -> Jar {
    Jar::with(&[
        (ACCESS, jar.access().expect("access cookie")),
        (REFRESH, jar.refresh().expect("refresh cookie")),
    ])
}
