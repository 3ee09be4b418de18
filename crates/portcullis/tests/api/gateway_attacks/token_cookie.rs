//! Attack 4: with `upstream_token_cookie = accessToken`, a page (or its
//! injected script) adds a cookie that a parser on the upstream's side reads
//! as `accessToken`, and the upstream sees the page's token beside — or
//! instead of — the gateway's. Each spelling below is read as `accessToken`
//! by some common parser: spaces or tabs around the name (Express's
//! `cookie`), another case (ASP.NET Core), `%XX` in the name (actix-web, the
//! `cookie` crate's encoded parser), a `,` or a space inside a pair
//! (ASP.NET Core, Python's `http.cookies`), a quoted value holding a `;`. The
//! upstream must receive exactly one `accessToken`: the gateway's.

use cookie::Cookie;

use super::*;
use crate::upstreams::{Recorder, Report};

const NAME: &str = "accessToken";

/// Cookies a page could set, each a way to spell the token cookie.
const SPELLINGS: &[&str] = &[
    "accessToken =evil",
    "theme=dark;\taccessToken=evil",
    "AccessToken=evil",
    "ACCESSTOKEN=evil",
    "access%54oken=evil",
    "%61ccessToken=evil",
    "\"accessToken\"=evil",
    "theme=dark, accessToken=evil",
    "theme=dark accessToken=evil",
    "theme=\"x; accessToken=evil\"",
    "accessToken",
];

async fn forwarded_cookie(app: &TestApp, lines: &[String]) -> String {
    let mut request = app.client.get(app.url("/api/things"));
    for line in lines {
        request = request.header("cookie", line);
    }
    let report = Report::of(request.send().await.expect("answered")).await;
    report.header("cookie").expect("a Cookie header upstream")
}

#[tokio::test]
async fn no_spelling_of_the_token_cookie_reaches_the_upstream_beside_the_gateways() {
    let recorder = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &recorder.url()),
        ("PORTCULLIS_UPSTREAM_TOKEN_COOKIE", NAME),
    ])
    .await;
    let jar = app.signed_in("ada").await;
    let ours = jar.header().expect("signed in");
    let token = jar.access().expect("access token").to_owned();
    for spelling in SPELLINGS {
        // Before our cookies, after them, and as a `Cookie` line of its own.
        for lines in [
            vec![format!("{spelling}; {ours}")],
            vec![format!("{ours}; {spelling}")],
            vec![spelling.to_string(), ours.clone()],
        ] {
            let cookie = forwarded_cookie(&app, &lines).await;
            assert!(
                !cookie.contains("evil"),
                "{lines:?} reached the upstream as {cookie}"
            );
            let lower = cookie.to_ascii_lowercase();
            assert_eq!(lower.matches("accesstoken").count(), 1, "{cookie}");
            // As a parser that decodes names reads it (actix-web does),
            // first value winning.
            let first = Cookie::split_parse_encoded(cookie.clone())
                .flatten()
                .find(|c| c.name() == NAME)
                .map(|c| c.value().to_owned());
            assert_eq!(first.as_deref(), Some(token.as_str()), "{cookie}");
        }
    }
}

#[tokio::test]
async fn without_a_session_no_spelling_of_the_token_cookie_reaches_the_frontend() {
    let recorder = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_FRONTEND", &recorder.url()),
        ("PORTCULLIS_UPSTREAM_TOKEN_COOKIE", NAME),
    ])
    .await;
    for spelling in SPELLINGS {
        let response = app
            .client
            .get(app.url("/dashboard"))
            .header("cookie", format!("keep=1; {spelling}"))
            .send()
            .await
            .expect("answered");
        let report = Report::of(response).await;
        let cookie = report.header("cookie").unwrap_or_default();
        assert!(
            !cookie.to_ascii_lowercase().contains("accesstoken"),
            "{spelling} reached the frontend as {cookie}"
        );
    }
}
