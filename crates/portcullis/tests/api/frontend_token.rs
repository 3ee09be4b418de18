//! `frontend_token`: page requests carry a signed-in visitor's access token
//! as API requests do, are never refused for want of a session, refresh
//! transparently, and never pass on a token the browser made up. The
//! frontend is a [`Recorder`] that reports exactly what reached it.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, COOKIE};

use crate::helpers::*;
use crate::upstreams::*;

const ON: (&str, &str) = ("PORTCULLIS_FRONTEND_TOKEN", "true");
const COOKIE_MODE: (&str, &str) = ("PORTCULLIS_UPSTREAM_TOKEN_COOKIE", "accessToken");

/// A page on a Portcullis in front of a fresh recorder.
async fn spawn(vars: &[(&str, &str)]) -> (TestApp, Recorder) {
    let frontend = Recorder::spawn().await;
    let url = frontend.url();
    let mut all = vec![("PORTCULLIS_FRONTEND", url.as_str())];
    all.extend_from_slice(vars);
    (TestApp::spawn_with(&all).await, frontend)
}

/// Requests `path` with the jar's cookies plus `cookie` appended verbatim and
/// an optional `Authorization`, as a hand-made request would; keeps the
/// cookies the answer sets.
async fn page(
    app: &TestApp,
    jar: &mut Jar,
    path: &str,
    cookie: Option<&str>,
    authorization: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    let cookies: Vec<String> = jar
        .header()
        .into_iter()
        .chain(cookie.map(str::to_owned))
        .collect();
    if !cookies.is_empty() {
        request = request.header(COOKIE, cookies.join("; "));
    }
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    let response = request.send().await.expect("answered");
    jar.store(response.headers());
    // The recorder sets this on every answer; the tests compare cookie headers.
    jar.cookies.remove("app_pref");
    response
}

/// The bearer token the frontend received, if any.
fn bearer(report: &Report) -> Option<String> {
    report.header("authorization").map(|v| {
        v.strip_prefix("Bearer ")
            .expect("a bearer token")
            .to_owned()
    })
}

fn ours_set(response: &reqwest::Response) -> bool {
    set_cookies(response.headers())
        .iter()
        .any(|c| c.name == ACCESS || c.name == REFRESH)
}

#[tokio::test]
async fn a_signed_in_visitors_page_request_carries_the_access_token_as_bearer() {
    let (app, _frontend) = spawn(&[ON]).await;
    let mut jar = app.signed_in("ada").await;
    jar.cookies.insert("theme".into(), "dark".into());
    let response = page(
        &app,
        &mut jar,
        "/dashboard?tab=2",
        None,
        Some("Bearer forged"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!ours_set(&response), "a live token is not renewed");
    let report = Report::of(response).await;
    assert_eq!(report.0["uri"], "/dashboard?tab=2");
    assert_eq!(bearer(&report).as_deref(), jar.access());
    assert_eq!(report.header("cookie").as_deref(), Some("theme=dark"));
}

#[tokio::test]
async fn in_cookie_mode_the_page_gets_the_token_cookie_and_no_spelling_of_a_forged_one() {
    let (app, _frontend) = spawn(&[ON, COOKIE_MODE]).await;
    let mut jar = app.signed_in("ada").await;
    let forged = "accessToken =forged1; \taccessToken=forged2; accessToken\t=forged3; theme=dark";
    let response = page(&app, &mut jar, "/", Some(forged), Some("Bearer forged")).await;
    let report = Report::of(response).await;
    let token = jar.access().expect("signed in");
    assert_eq!(
        report.header("cookie"),
        Some(format!("theme=dark; accessToken={token}"))
    );
    assert_eq!(report.header("authorization"), None);
}

#[tokio::test]
async fn anonymous_requests_are_forwarded_without_any_token_the_browser_made_up() {
    for vars in [vec![ON, COOKIE_MODE], vec![COOKIE_MODE]] {
        let (app, frontend) = spawn(&vars).await;
        let mut jar = Jar::default();
        let jws = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.";
        for authorization in ["Bearer forged", jws, "bearer x"] {
            let response = page(
                &app,
                &mut jar,
                "/",
                Some("accessToken=forged; \taccessToken =forged; a=1"),
                Some(authorization),
            )
            .await;
            assert_eq!(response.status(), StatusCode::OK, "never refused");
            assert!(!ours_set(&response));
            let report = Report::of(response).await;
            assert_eq!(report.header("authorization"), None, "{authorization}");
            assert_eq!(report.header("cookie").as_deref(), Some("a=1"));
        }
        // Other schemes are the app's business.
        let response = page(&app, &mut jar, "/", None, Some("Basic dXNlcjpwYXNz")).await;
        let report = Report::of(response).await;
        assert_eq!(
            report.header("authorization").as_deref(),
            Some("Basic dXNlcjpwYXNz")
        );
        assert_eq!(frontend.calls(), 4);
    }
}

#[tokio::test]
async fn with_the_setting_off_a_signed_in_visitors_page_gets_no_token_and_no_session_work() {
    let (app, _frontend) = spawn(&[COOKIE_MODE]).await;
    let mut jar = app.signed_in("ada").await;
    app.advance(Duration::from_secs(16 * 60));
    let before = jar.clone();
    let response = page(&app, &mut jar, "/", Some("accessToken=forged"), None).await;
    assert!(!ours_set(&response), "no refresh happened");
    let report = Report::of(response).await;
    assert_eq!(report.header("cookie"), None);
    assert_eq!(report.header("authorization"), None);
    assert_eq!(jar.refresh(), before.refresh());
}

#[tokio::test]
async fn the_api_never_sees_a_forged_token_cookie_however_it_is_spelled() {
    let api = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &api.url()), COOKIE_MODE]).await;
    let mut jar = app.signed_in("ada").await;
    let forged = "accessToken =forged1; \taccessToken=forged2; accessToken; b=2";
    let response = page(&app, &mut jar, "/api/whoami", Some(forged), None).await;
    let report = Report::of(response).await;
    let token = jar.access().expect("signed in");
    assert_eq!(
        report.header("cookie"),
        Some(format!("b=2; accessToken={token}"))
    );
}

#[tokio::test]
async fn a_revoked_session_is_anonymous_and_its_cookies_are_cleared() {
    let (app, _frontend) = spawn(&[ON]).await;
    let mut jar = app.signed_in("ada").await;
    let mut stale = jar.clone();
    let logout = app.post(&mut jar, "/api/auth/logout", None).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    let response = page(&app, &mut stale, "/dashboard", None, None).await;
    assert_eq!(response.status(), StatusCode::OK, "the app decides, not us");
    assert!(clears_cookies(&response));
    assert_eq!(response.headers()["portcullis-refresh-denied"], "revoked");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let report = Report::of(response).await;
    assert_eq!(report.header("authorization"), None);
    assert!(stale.access().is_none() && stale.refresh().is_none());
}

#[tokio::test]
async fn a_forged_or_expired_session_is_anonymous_and_cleared() {
    let (app, _frontend) = spawn(&[ON]).await;
    let jar = app.signed_in("ada").await;
    let token = jar.access().expect("signed in");
    let (signed, signature) = token.rsplit_once('.').expect("a JWS");
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{signed}.{flipped}{}", &signature[1..]);
    let mut forged_jar = Jar::with(&[(ACCESS, &forged)]);
    let response = page(&app, &mut forged_jar, "/", None, None).await;
    assert!(clears_cookies(&response));
    assert_eq!(bearer(&Report::of(response).await), None);

    // Past the idle timeout, the refresh token is dead too.
    let mut idle = jar.clone();
    app.advance(Duration::from_secs(8 * 86_400));
    let response = page(&app, &mut idle, "/", None, None).await;
    assert!(clears_cookies(&response));
    assert_eq!(
        response.headers()["portcullis-refresh-denied"],
        "idle_timeout"
    );
    assert_eq!(bearer(&Report::of(response).await), None);
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_on_navigation_and_the_page_gets_the_new_one() {
    let (app, _frontend) = spawn(&[ON]).await;
    let mut jar = app.signed_in("ada").await;
    let old = jar.clone();
    app.advance(Duration::from_secs(16 * 60));
    let response = page(&app, &mut jar, "/dashboard", None, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let set = set_cookies(response.headers());
    assert!(set.iter().any(|c| c.name == ACCESS && c.max_age > Some(0)));
    assert!(set.iter().any(|c| c.name == REFRESH && c.max_age > Some(0)));
    assert_eq!(response.headers()["cache-control"], "no-store");
    let report = Report::of(response).await;
    let forwarded = bearer(&report).expect("the page got a token");
    assert_eq!(
        Some(forwarded.as_str()),
        jar.access(),
        "the new cookie's token"
    );
    assert_ne!(jar.access(), old.access());
    assert_ne!(jar.refresh(), old.refresh());
    assert_eq!(app.session(&mut jar).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_parallel_requests_of_one_page_load_converge_on_one_successor() {
    let (app, _frontend) = spawn(&[ON]).await;
    let signed_in = app.signed_in("ada").await;
    app.advance(Duration::from_secs(16 * 60));
    // The document, its RSC payload and prefetches, all with the expired
    // access cookie and the same refresh cookie.
    let loads = [
        "/dashboard",
        "/dashboard?_rsc=1",
        "/?_rsc=2",
        "/notes?_rsc=3",
        "/login",
    ]
    .map(|path| {
        let mut jar = signed_in.clone();
        let app = &app;
        async move {
            let response = page(app, &mut jar, path, None, None).await;
            assert_eq!(response.status(), StatusCode::OK);
            let report = Report::of(response).await;
            (jar, bearer(&report))
        }
    });
    let results = futures_util::future::join_all(loads).await;
    let successors: std::collections::BTreeSet<_> = results
        .iter()
        .map(|(jar, _)| jar.refresh().map(str::to_owned))
        .collect();
    assert_eq!(successors.len(), 1, "one successor: {successors:?}");
    assert_ne!(
        successors.first().cloned().flatten().as_deref(),
        signed_in.refresh()
    );
    for (mut jar, token) in results {
        assert!(token.is_some(), "every request was signed in");
        assert_eq!(
            app.session(&mut jar).await.status(),
            StatusCode::OK,
            "nobody signed out"
        );
    }
}

#[tokio::test]
async fn static_assets_skip_session_work_but_never_get_our_cookies() {
    let (app, _frontend) = spawn(&[
        ON,
        ("PORTCULLIS_FRONTEND_PUBLIC_PATHS", "/favicon.ico,/assets/"),
    ])
    .await;
    let mut jar = app.signed_in("ada").await;
    app.advance(Duration::from_secs(16 * 60));
    let before = jar.clone();
    for path in [
        "/_next/static/chunks/main.js",
        "/favicon.ico",
        "/assets/logo.svg",
    ] {
        let response = page(&app, &mut jar, path, Some("a=1"), Some("Bearer forged")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!ours_set(&response), "{path}: no refresh");
        let report = Report::of(response).await;
        assert_eq!(report.header("authorization"), None, "{path}");
        assert_eq!(report.header("cookie").as_deref(), Some("a=1"), "{path}");
    }
    assert_eq!(
        jar.refresh(),
        before.refresh(),
        "the refresh token was not spent"
    );
    // A page is not an asset: it refreshes.
    let response = page(&app, &mut jar, "/assets", None, None).await;
    assert!(ours_set(&response));
}
