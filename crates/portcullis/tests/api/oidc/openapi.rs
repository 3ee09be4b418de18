//! Every status the OpenAPI document lists for the provider routes,
//! provoked against real servers (see `openapi_statuses.rs`): a provider of
//! our own that signs what each case needs, one that is down, and a
//! PostgreSQL database cut behind a TCP proxy.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;
use crate::databases::{SMALL_POOL, TestDb};
use crate::openapi_statuses::{Calls, Probe};
use crate::tcp_proxy::TcpProxy;

/// Begins a flow (with `jar`'s session, when linking) and returns its state
/// and nonce; the flow cookie lands in `jar`.
async fn begin(app: &OidcApp, jar: &mut Jar, link: bool) -> (String, String) {
    let authorization = if link {
        let response = app
            .post(jar, &format!("/api/auth/oidc/{PROVIDER}/link"), None)
            .await;
        let body: Value = response.json().await.expect("JSON");
        reqwest::Url::parse(body["location"].as_str().expect("location")).expect("URL")
    } else {
        app.start(jar, "/account").await
    };
    (
        param(&authorization, "state"),
        param(&authorization, "nonce"),
    )
}

fn claims(
    app: &OidcApp,
    op: &FakeOp,
    nonce: &str,
    subject: &str,
    email: Option<&str>,
    verified: bool,
) -> Value {
    let now = now_secs(app);
    let mut claims = json!({
        "iss": op.issuer, "sub": subject, "aud": CLIENT_ID,
        "exp": now + 300, "iat": now, "nonce": nonce, "email_verified": verified,
    });
    if let Some(email) = email {
        claims["email"] = json!(email);
    }
    claims
}

fn callback_path(state: &str) -> String {
    format!("/api/auth/oidc/{PROVIDER}/callback?code=c&state={state}")
}

pub async fn provider_routes(probe: &Probe) {
    let op = FakeOp::spawn().await;
    // ada's registration is the first; one account made by a provider the
    // second; a third is over the limit.
    let app = OidcApp::spawn(
        free_port(),
        &op.issuer,
        &[("PORTCULLIS_ADDRESS_REGISTRATIONS", "2/1h")],
    )
    .await;
    let calls = Calls(&app);
    let none = Jar::default();
    let mut ada = app.signed_in("ada").await;
    let link_path = format!("/api/auth/oidc/{PROVIDER}/link");
    let start_path = format!("/api/auth/oidc/{PROVIDER}/start");

    probe
        .all(vec![
            (calls.get("/api/auth/oidc/providers", &none), "200"),
            (
                calls.get(&format!("{start_path}?next=/account"), &none),
                "302",
            ),
            (
                calls.get(&format!("{start_path}?next=//evil.test"), &none),
                "400",
            ),
            (calls.get("/api/auth/oidc/nope/start", &none), "404"),
            (
                calls.get("/api/auth/oidc/nope/callback?code=c&state=s", &none),
                "404",
            ),
            (calls.get(&callback_path("s"), &none), "400"),
            (calls.get("/api/auth/identities", &ada), "200"),
            (calls.get("/api/auth/identities", &none), "401"),
            (calls.post(&link_path, &ada), "200"),
            (
                calls.post(&format!("{link_path}?next=//evil.test"), &ada),
                "400",
            ),
            (calls.post(&link_path, &none), "401"),
            (calls.post("/api/auth/oidc/nope/link", &ada), "404"),
            (calls.call(Method::DELETE, &link_path, &none), "401"),
            (calls.call(Method::DELETE, &link_path, &ada), "404"),
        ])
        .await;

    // A new account (200), then one without an address (403), one with
    // ada's address unverified (409), a wrong nonce (401), and a second new
    // account over the registration limit (429).
    let mut newcomer = Jar::default();
    let (state, nonce) = begin(&app, &mut newcomer, false).await;
    op.will_sign(claims(
        &app,
        &op,
        &nonce,
        "s1",
        Some("new1@example.com"),
        true,
    ));
    probe
        .expect(calls.get(&callback_path(&state), &newcomer), "200")
        .await;
    let newcomer = {
        // The probe's request did not pass through the jar: sign in again
        // through the helper to hold the account's session.
        let mut jar = Jar::default();
        let (state, nonce) = begin(&app, &mut jar, false).await;
        op.will_sign(claims(
            &app,
            &op,
            &nonce,
            "s1",
            Some("new1@example.com"),
            true,
        ));
        app.callback(&mut jar, &format!("code=c&state={state}"))
            .await;
        jar
    };
    for (subject, email, verified, status) in [
        ("s2", None, true, "403"),
        ("s3", Some("ada@example.com"), false, "409"),
        ("s4", Some("new4@example.com"), true, "429"),
    ] {
        let mut jar = Jar::default();
        let (state, nonce) = begin(&app, &mut jar, false).await;
        op.will_sign(claims(&app, &op, &nonce, subject, email, verified));
        probe
            .expect(calls.get(&callback_path(&state), &jar), status)
            .await;
    }
    let mut jar = Jar::default();
    let (state, _) = begin(&app, &mut jar, false).await;
    op.will_sign(claims(
        &app,
        &op,
        &"X".repeat(43),
        "s5",
        Some("new5@example.com"),
        true,
    ));
    probe
        .expect(calls.get(&callback_path(&state), &jar), "401")
        .await;

    // Linking for ada, then unlinking (204); the provider-made account's
    // only way to sign in stays (409).
    let (state, nonce) = begin(&app, &mut ada, true).await;
    op.will_sign(claims(
        &app,
        &op,
        &nonce,
        "s6",
        Some("ada@example.com"),
        true,
    ));
    assert_eq!(
        app.callback(&mut ada, &format!("code=c&state={state}"))
            .await
            .status(),
        StatusCode::OK
    );
    probe
        .all(vec![
            (calls.call(Method::DELETE, &link_path, &ada), "204"),
            (calls.call(Method::DELETE, &link_path, &newcomer), "409"),
        ])
        .await;

    // The token endpoint in trouble: 502.
    let mut jar = Jar::default();
    let (state, _) = begin(&app, &mut jar, false).await;
    op.break_token_endpoint();
    probe
        .expect(calls.get(&callback_path(&state), &jar), "502")
        .await;

    // A provider that is down from the start: 502 before any flow begins.
    let down = OidcApp::spawn(
        free_port(),
        &format!("http://127.0.0.1:{}", free_port()),
        &[],
    )
    .await;
    let bob = down.signed_in("bob").await;
    let down_calls = Calls(&down);
    probe
        .all(vec![
            (down_calls.get(&start_path, &none), "502"),
            (down_calls.post(&link_path, &bob), "502"),
        ])
        .await;

    database_down(probe).await;
}

/// 503 on every provider route that uses the database.
async fn database_down(probe: &Probe) {
    let op = FakeOp::spawn().await;
    let mut db = TestDb::postgres().await;
    let proxy = TcpProxy::start("127.0.0.1:5432".parse().expect("address")).await;
    let mut via_proxy = url::Url::parse(db.url()).expect("url");
    via_proxy.set_port(Some(proxy.addr().port())).expect("port");
    let app = OidcApp::spawn_on(
        free_port(),
        &format!(r#"issuer = "{}""#, op.issuer),
        Some((db.take_dir(), via_proxy.to_string())),
        &[
            ("PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT", "500ms"),
            ("PORTCULLIS_DATABASE_STATEMENT_TIMEOUT", "1s"),
            SMALL_POOL,
        ],
    )
    .await;
    let calls = Calls(&app);
    let ada = app.signed_in("ada").await;
    // Discovery is fetched now, while all is well: what fails below is the
    // database alone.
    app.start(&mut Jar::default(), "/").await;
    // With only the refresh cookie, a request must refresh in place, which
    // needs the database.
    let refreshing = Jar::with(&[(REFRESH, ada.refresh().expect("refresh cookie"))]);
    let flow = Jar::with(&[("__Host-oidc_flow", &"A".repeat(43))]);
    let link_path = format!("/api/auth/oidc/{PROVIDER}/link");
    let cases = vec![
        (
            calls.get(&format!("/api/auth/oidc/{PROVIDER}/start"), &Jar::default()),
            "503",
        ),
        (calls.get(&callback_path("s"), &flow), "503"),
        (calls.get("/api/auth/identities", &refreshing), "503"),
        (calls.post(&link_path, &refreshing), "503"),
        (calls.call(Method::DELETE, &link_path, &refreshing), "503"),
    ];
    proxy.cut();
    probe.all(cases).await;
}
