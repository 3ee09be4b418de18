//! The e-mail routes' part of `openapi_statuses`: every status their
//! documentation lists, provoked for real. The mail goes to the log
//! transport; the links' tokens are made here, in the database, as the
//! mail worker makes them.

use portcullis::config::{Config, Sources};
use portcullis::domain::{LinkToken, UserId};
use portcullis::store::{NewEmailToken, Store, TokenPurpose};
use reqwest::RequestBuilder;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::openapi_statuses::{Calls, Probe};

/// E-mail on, to the log.
pub const MAIL_SETTINGS: [(&str, &str); 3] = [
    ("PORTCULLIS_SMTP_URL", "log:"),
    ("PORTCULLIS_MAIL_FROM", "no-reply@auth.example.test"),
    ("PORTCULLIS_PUBLIC_URL", "https://auth.example.test"),
];

const FORGOT: &str = "/api/auth/password/forgot";
const RESET: &str = "/api/auth/password/reset";
const VERIFY: &str = "/api/auth/email/verify";
const RESEND: &str = "/api/auth/email/resend";
const CHANGE: &str = "/api/auth/email";

/// A live link token for `user`, made as the mail worker makes them.
async fn mint(app: &TestApp, user: &str, purpose: TokenPurpose, email: &str) -> String {
    let config = Config::from_sources(&Sources::from_env([(
        "PORTCULLIS_DATABASE_URL",
        app.database_url.as_str(),
    )]))
    .expect("config");
    let store = Store::connect(&config.database).await.expect("store");
    let token = LinkToken::generate().expect("randomness");
    let now = app.auth.now();
    store
        .replace_email_token(&NewEmailToken {
            token_hash: &token.hash(),
            user_id: user.parse::<UserId>().expect("a user id"),
            purpose,
            email,
            now,
            expires_at: now + time::Duration::minutes(30),
        })
        .await
        .expect("stored");
    token.encode()
}

async fn user_id(app: &TestApp, jar: &mut Jar) -> String {
    let session: Value = app.session(jar).await.json().await.expect("JSON");
    session["user"]["id"].as_str().expect("id").to_owned()
}

fn body(request: RequestBuilder, body: Value) -> RequestBuilder {
    request.json(&body)
}

pub(crate) async fn email_routes(probe: &Probe) {
    everyday(probe).await;
    bodies(probe).await;
    limits(probe).await;
    off(probe).await;
}

/// Successes and refusals of the request itself.
async fn everyday(probe: &Probe) {
    let app = TestApp::spawn_with(&MAIL_SETTINGS).await;
    let calls = Calls(&app);
    let none = Jar::default();
    let mut ada = app.signed_in("ada").await;
    let mut bob = app.signed_in("bob").await;
    let ada_id = user_id(&app, &mut ada).await;
    let bob_id = user_id(&app, &mut bob).await;
    let verify = mint(&app, &ada_id, TokenPurpose::VerifyEmail, "ada@example.com").await;
    let taken = mint(&app, &bob_id, TokenPurpose::ChangeEmail, "ada@example.com").await;
    let reset = mint(
        &app,
        &bob_id,
        TokenPurpose::PasswordReset,
        "bob@example.com",
    )
    .await;
    let change = |email: &str, password: &str| {
        body(
            calls.post(CHANGE, &ada),
            json!({"email": email, "current_password": password}),
        )
    };
    let new_password = "a different horse battery";
    probe
        .all(vec![
            (
                body(calls.post(FORGOT, &none), json!({"email": "x@example.com"})),
                "202",
            ),
            (
                body(calls.post(VERIFY, &none), json!({ "token": verify })),
                "204",
            ),
            (
                body(calls.post(VERIFY, &none), json!({ "token": verify })),
                "400",
            ),
            (
                body(calls.post(VERIFY, &none), json!({ "token": taken })),
                "409",
            ),
            (
                body(
                    calls.post(RESET, &none),
                    json!({"token": "nope", "new_password": new_password}),
                ),
                "400",
            ),
            (calls.post(RESEND, &ada), "202"),
            (calls.post(RESEND, &none), "401"),
            (change("ada@new.example", PASSWORD), "202"),
            (change("not an address", PASSWORD), "400"),
            (change("ada@new.example", "not the password at all"), "403"),
            (change("bob@example.com", PASSWORD), "409"),
            (
                body(
                    calls.post(CHANGE, &none),
                    json!({"email": "x@example.com", "current_password": PASSWORD}),
                ),
                "401",
            ),
            // Last: it signs bob out everywhere.
            (
                body(
                    calls.post(RESET, &none),
                    json!({"token": reset, "new_password": new_password}),
                ),
                "204",
            ),
        ])
        .await;
}

/// 400, 413 and 415 where a JSON body is read.
async fn bodies(probe: &Probe) {
    let app = TestApp::spawn_with(&MAIL_SETTINGS).await;
    let calls = Calls(&app);
    let none = Jar::default();
    let ada = app.signed_in("ada").await;
    // Just over the 16 KiB limit: small enough that the whole body is in
    // the socket's buffers before the server answers and closes.
    let large = json!({"token": "x".repeat(17 * 1024)});
    let mut cases = Vec::new();
    for (path, jar) in [
        (FORGOT, &none),
        (RESET, &none),
        (VERIFY, &none),
        (CHANGE, &ada),
    ] {
        let typed = |content_type| calls.post(path, jar).header("content-type", content_type);
        cases.push((typed("application/json").body("{"), "400"));
        cases.push((calls.post(path, jar).json(&large), "413"));
        cases.push((typed("text/plain").body("{}"), "415"));
    }
    probe.all(cases).await;
}

/// 429: one request to the e-mail routes per client address, then none;
/// and the signed-in routes' refresh in place.
async fn limits(probe: &Probe) {
    let mut settings = MAIL_SETTINGS.to_vec();
    settings.push(("PORTCULLIS_ADDRESS_EMAIL_REQUESTS", "1/1h"));
    let app = TestApp::spawn_with(&settings).await;
    let calls = Calls(&app);
    let none = Jar::default();
    let ada = app.signed_in("ada").await;
    let forgot = || body(calls.post(FORGOT, &none), json!({"email": "x@example.com"}));
    let token = "A".repeat(43);
    probe
        .all(vec![
            (forgot(), "202"),
            (forgot(), "429"),
            (
                body(
                    calls.post(RESET, &none),
                    json!({"token": token, "new_password": "a horse battery staple"}),
                ),
                "429",
            ),
            (
                body(calls.post(VERIFY, &none), json!({ "token": token })),
                "429",
            ),
            (calls.post(RESEND, &ada), "429"),
            (
                body(
                    calls.post(CHANGE, &ada),
                    json!({"email": "n@example.com", "current_password": PASSWORD}),
                ),
                "429",
            ),
        ])
        .await;
}

/// 404: e-mail off.
async fn off(probe: &Probe) {
    let app = TestApp::spawn().await;
    let calls = Calls(&app);
    let ada = app.signed_in("ada").await;
    let cases = [FORGOT, RESET, VERIFY, RESEND, CHANGE]
        .into_iter()
        .map(|path| (calls.post(path, &ada).json(&json!({})), "404"))
        .collect();
    probe.all(cases).await;
}
