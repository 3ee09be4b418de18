//! The pages over plain HTTP, no browser needed: headers, escaping, redirects
//! and bad input.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION, ORIGIN};

use crate::harness::*;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn every_page_and_asset_carries_the_security_headers() {
    let app = App::spawn(&[]).await;
    for path in [
        "/",
        "/login",
        "/register",
        "/account",
        "/assets/app.js",
        "/assets/app.css",
    ] {
        let response = client().get(app.url(path)).send().await.expect("answered");
        assert!(
            response.status().is_success() || response.status().is_redirection(),
            "{path}: {}",
            response.status()
        );
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().expect("ascii");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: {directive} missing in {csp}"
            );
        }
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        if !path.starts_with("/assets/") {
            assert_eq!(h["cache-control"], "no-store", "{path}");
        }
    }
    let js = client()
        .get(app.url("/assets/app.js"))
        .send()
        .await
        .expect("answered");
    assert_eq!(js.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
    let missing = client()
        .get(app.url("/assets/nope.js"))
        .send()
        .await
        .expect("answered");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn what_a_person_typed_comes_back_escaped() {
    let app = App::spawn(&[]).await;
    let response = client()
        .post(app.url("/register"))
        .form(&[
            ("username", "<script>alert(1)</script>"),
            ("email", "\"><img src=x>@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.expect("html");
    assert!(
        page.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<img src=x>"), "{page}");
}

#[tokio::test]
async fn the_no_script_sign_in_redirects_only_to_paths_on_this_site() {
    let app = App::spawn(&[]).await;
    register_over_http(&app, "ada").await;
    for (next, want) in [
        ("/notes", "/notes"),
        ("//evil.test/", "/account"),
        ("https://evil.test/", "/account"),
        ("/\\evil.test", "/account"),
    ] {
        let response = client()
            .post(app.url("/login"))
            .form(&[("username", "ada"), ("password", PASSWORD), ("next", next)])
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(response.headers()[LOCATION], want, "{next}");
        let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
        assert_eq!(
            cookies.len(),
            3,
            "both session cookies and the device cookie"
        );
    }
}

#[tokio::test]
async fn bad_form_posts_get_a_page_never_a_server_error() {
    let app = App::spawn(&[]).await;
    let long = "x".repeat(64 * 1024);
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "/login",
            "application/x-www-form-urlencoded",
            b"%%%&&&==".to_vec(),
        ),
        (
            "/login",
            "application/json",
            br#"{"username":"a"}"#.to_vec(),
        ),
        ("/login", "text/plain", b"hello".to_vec()),
        (
            "/register",
            "application/x-www-form-urlencoded",
            vec![0xff, 0xfe, b'='],
        ),
        (
            "/register",
            "application/x-www-form-urlencoded",
            long.into_bytes(),
        ),
        ("/logout", "application/x-www-form-urlencoded", b"".to_vec()),
    ];
    for (path, content_type, body) in cases {
        let response = client()
            .post(app.url(path))
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("answered");
        let status = response.status();
        assert!(!status.is_server_error(), "{path} {content_type}: {status}");
    }
}

#[tokio::test]
async fn a_form_post_from_another_origin_is_refused_before_anything_runs() {
    let app = App::spawn(&[]).await;
    register_over_http(&app, "ada").await;
    let response = client()
        .post(app.url("/login"))
        .header(ORIGIN, "http://127.0.0.1:9")
        .form(&[("username", "ada"), ("password", PASSWORD)])
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn the_notes_page_exists_only_when_turned_on_with_an_upstream() {
    let upstream = NotesApi::start().await;
    let upstream_url = upstream.url();
    // An operator's own API has no /api/notes: an upstream alone is not enough.
    let without_page: [&[(&str, &str)]; 2] = [&[], &[("PORTCULLIS_UPSTREAM", &upstream_url)]];
    for settings in without_page {
        let app = App::spawn(settings).await;
        let response = client()
            .get(app.url("/notes"))
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{settings:?}");
        let home = home_page_signed_in(&app).await;
        assert!(home.contains("Your account"), "{home}");
        assert!(!home.contains("href=\"/notes\""), "{settings:?}: {home}");
    }

    let app = App::spawn(&[
        ("PORTCULLIS_UPSTREAM", &upstream_url),
        ("PORTCULLIS_NOTES_PAGE", "true"),
    ])
    .await;
    assert!(home_page_signed_in(&app).await.contains("href=\"/notes\""));
    // A same-origin navigation without cookies is surely signed out: on to
    // sign in. The page is there.
    let response = client()
        .get(app.url("/notes"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/login?next=/notes");
}

/// `/` as a newly registered user sees it.
async fn home_page_signed_in(app: &App) -> String {
    let response = client()
        .post(app.url("/api/auth/register"))
        .json(&serde_json::json!({
            "username": "ada",
            "email": "ada@example.com",
            "password": PASSWORD,
        }))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookies: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok()?.split(';').next())
        .collect();
    client()
        .get(app.url("/"))
        .header("cookie", cookies.join("; "))
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("html")
}

#[tokio::test]
async fn without_cookies_a_navigation_from_elsewhere_gets_a_page_that_checks_first() {
    let app = App::spawn(&[]).await;
    for site in [Some("cross-site"), Some("same-site"), None] {
        let mut request = client().get(app.url("/account"));
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        let response = request.send().await.expect("answered");
        assert_eq!(response.status(), StatusCode::OK, "{site:?}");
        assert!(response.headers().get("set-cookie").is_none(), "{site:?}");
        let page = response.text().await.expect("html");
        assert!(
            page.contains(r#"data-session="confirm""#),
            "{site:?}: {page}"
        );
    }
    for site in ["same-origin", "none"] {
        let response = client()
            .get(app.url("/account"))
            .header("sec-fetch-site", site)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{site}");
    }
}

#[tokio::test]
async fn with_a_frontend_configured_the_built_in_pages_step_aside() {
    let frontend = Site::serve(vec![("/login", "<p>the app's own sign-in</p>".to_owned())]).await;
    let app = App::spawn(&[("PORTCULLIS_FRONTEND", &frontend.url(""))]).await;
    let response = client()
        .get(app.url("/login"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.expect("html");
    assert!(page.contains("the app's own sign-in"), "{page}");
}
