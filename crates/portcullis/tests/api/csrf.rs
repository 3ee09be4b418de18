use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn a_cross_site_post_is_refused_before_anything_else() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let own = format!("http://{}", app.addr);
    let cases: [(&str, &[(&str, &str)]); 5] = [
        ("/api/auth/logout-all", &[("origin", "http://evil.test")]),
        ("/api/auth/logout", &[("origin", "null")]),
        ("/api/auth/logout", &[("sec-fetch-site", "cross-site")]),
        ("/api/auth/refresh", &[("sec-fetch-site", "same-site")]),
        // A malformed body does not get a 400 first: origin is checked before anything.
        ("/api/auth/login", &[("origin", "http://localhost:1")]),
    ];
    for (path, headers) in cases {
        let mut request = app
            .client
            .post(app.url(path))
            .header("cookie", jar.header().expect("cookies"))
            .body("{not json");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.expect("answered");
        assert!(
            set_cookies(response.headers()).is_empty(),
            "{path}: cookies touched"
        );
        assert_problem(response, StatusCode::FORBIDDEN, "cross_site_request").await;
    }
    // Nothing happened: the session is alive.
    assert_eq!(app.session(&mut jar).await.status(), StatusCode::OK);

    let same_origin = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", jar.header().expect("cookies"))
        .header("origin", &own)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("answered");
    assert_eq!(same_origin.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_configured_public_url_is_the_only_accepted_origin() {
    let app = TestApp::spawn_with(&[("PORTCULLIS_PUBLIC_URL", "https://auth.example.com")]).await;
    let post = |origin: &'static str| {
        app.client
            .post(app.url("/api/auth/logout"))
            .header("origin", origin)
            .send()
    };
    assert_eq!(
        post("https://auth.example.com")
            .await
            .expect("answered")
            .status(),
        StatusCode::NO_CONTENT
    );
    let from_host = format!("http://{}", app.addr);
    let response = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("origin", from_host)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn safe_methods_and_requests_without_browser_headers_pass() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let response = app
        .client
        .get(app.url("/api/auth/session"))
        .header("cookie", jar.header().expect("cookies"))
        .header("origin", "http://evil.test")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
}
