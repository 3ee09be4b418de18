//! `--frontend`: non-API paths proxied to a frontend server, WebSockets
//! included; Portcullis's own paths stay its own.

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;
use crate::upstreams::*;

#[tokio::test]
async fn pages_go_to_the_frontend_without_our_cookies_or_a_token() {
    let frontend = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_FRONTEND", &frontend.url())]).await;
    let mut jar = app.signed_in("ada").await;
    jar.cookies.insert("theme".into(), "dark".into());
    let response = app.get(&mut jar, "/dashboard/settings?tab=2").await;
    assert_eq!(response.status(), StatusCode::OK);
    let report = Report::of(response).await;
    assert_eq!(report.0["uri"], "/dashboard/settings?tab=2");
    assert_eq!(report.header("cookie").as_deref(), Some("theme=dark"));
    assert_eq!(report.header("authorization"), None);
}

#[tokio::test]
async fn portcullis_keeps_its_own_paths() {
    let frontend = Recorder::spawn().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_FRONTEND", &frontend.url())]).await;
    let mut jar = Jar::default();
    assert_eq!(app.get(&mut jar, "/healthz").await.status(), StatusCode::OK);
    assert_eq!(
        app.get(&mut jar, "/.well-known/jwks.json").await.status(),
        StatusCode::OK
    );
    let session = app.get(&mut jar, "/api/auth/session").await;
    assert_problem(session, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // No upstream: the API is not the frontend's either.
    let api = app.get(&mut jar, "/api/notes").await;
    assert_problem(api, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(frontend.calls(), 0);
}

#[tokio::test]
async fn a_websocket_is_proxied_to_the_frontend() {
    let echo = spawn_ws_echo().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_FRONTEND", &echo)]).await;
    let url = format!("ws://{}/_next/webpack-hmr", app.addr);
    let (mut ws, response) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgraded through the gateway");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    for text in ["hello", "through", "portcullis"] {
        ws.send(Message::text(text)).await.expect("sent");
        let echoed = ws.next().await.expect("a message").expect("ok");
        assert_eq!(echoed, Message::text(text));
    }
    let big = vec![9u8; 256 * 1024];
    ws.send(Message::binary(big.clone())).await.expect("sent");
    let echoed = ws.next().await.expect("a message").expect("ok");
    assert_eq!(echoed.into_data().as_ref(), big.as_slice());
    ws.close(None).await.expect("closed");
}

#[tokio::test]
async fn an_unreachable_frontend_is_502() {
    let frontend = closed_url().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_FRONTEND", &frontend)]).await;
    let response = app.get(&mut Jar::default(), "/").await;
    assert_problem(response, StatusCode::BAD_GATEWAY, "upstream_unavailable").await;
}
