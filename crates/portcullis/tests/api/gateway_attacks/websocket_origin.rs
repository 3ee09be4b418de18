//! Attack 1: a page on a sibling subdomain (user content, a taken-over
//! CNAME) is "same-site", so the browser sends the `SameSite=Strict`
//! cookies with its `new WebSocket("wss://app…/api/ws")`, applies no CORS,
//! and the page reads what the tunnel carries with the victim's token. A
//! handshake must pass the cross-site check of a state-changing request.

use super::*;

/// Origins and fetch metadata a page elsewhere would send.
const FOREIGN: [&[(&str, &str)]; 4] = [
    &[("origin", "http://user-content.app.test")],
    &[("origin", "null")],
    &[("sec-fetch-site", "same-site")],
    &[("sec-fetch-site", "cross-site")],
];

#[tokio::test]
async fn a_cross_site_websocket_to_the_api_is_refused_before_the_upstream_is_reached() {
    let echo = Echo::spawn().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &echo.url)]).await;
    let jar = app.signed_in("ada").await;
    for headers in FOREIGN {
        let (status, problem) = refusal(websocket(&app, "/api/ws", Some(&jar), headers).await);
        assert_eq!(status, 403, "{headers:?}");
        assert_eq!(problem["code"], "cross_site_request", "{headers:?}");
    }
    assert_eq!(echo.connections(), 0, "the upstream was reached");
}

#[tokio::test]
async fn a_cross_site_websocket_to_the_frontend_is_refused_too() {
    let echo = Echo::spawn().await;
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_FRONTEND", &echo.url),
        ("PORTCULLIS_FRONTEND_TOKEN", "true"),
    ])
    .await;
    let jar = app.signed_in("ada").await;
    for headers in FOREIGN {
        let (status, problem) = refusal(websocket(&app, "/live", Some(&jar), headers).await);
        assert_eq!(status, 403, "{headers:?}");
        assert_eq!(problem["code"], "cross_site_request", "{headers:?}");
    }
    assert_eq!(echo.connections(), 0, "the frontend was reached");
}

#[tokio::test]
async fn a_websocket_from_the_own_origin_or_from_no_browser_is_tunnelled() {
    let echo = Echo::spawn().await;
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &echo.url),
        ("PORTCULLIS_PUBLIC_URL", "https://app.test"),
    ])
    .await;
    let jar = app.signed_in("ada").await;
    let own = [
        ("origin", "https://app.test"),
        ("sec-fetch-site", "same-origin"),
    ];
    let mut ws = websocket(&app, "/api/ws", Some(&jar), &own)
        .await
        .expect("same origin");
    echoes(&mut ws, "hello").await;
    let mut ws = websocket(&app, "/api/ws", Some(&jar), &[])
        .await
        .expect("no browser headers");
    echoes(&mut ws, "hello").await;
}
