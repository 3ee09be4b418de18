//! The proxy in front of a raw upstream that reports what it received.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;
use crate::upstreams::*;

async fn gateway(recorder: &Recorder, extra: &[(&str, &str)]) -> TestApp {
    let upstream = recorder.url();
    let mut vars = vec![("PORTCULLIS_UPSTREAM", upstream.as_str())];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars).await
}

#[tokio::test]
async fn the_access_token_is_attached_as_a_bearer_token_equal_to_the_cookie() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let mut jar = app.signed_in("ada").await;
    let response = app.get(&mut jar, "/api/things").await;
    assert_eq!(response.status(), StatusCode::OK);
    let report = Report::of(response).await;
    let expected = format!("Bearer {}", jar.access().expect("access cookie"));
    assert_eq!(report.header("authorization"), Some(expected));
}

#[tokio::test]
async fn method_path_query_and_body_arrive_unchanged() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let jar = app.signed_in("ada").await;
    let response = app
        .client
        .request(Method::PATCH, app.url("/api/items/42?x=1&y=a%20b&x=2"))
        .header("cookie", jar.header().expect("cookies"))
        .header("content-type", "text/plain")
        .body("hello, upstream")
        .send()
        .await
        .expect("answered");
    let report = Report::of(response).await;
    assert_eq!(report.0["method"], "PATCH");
    assert_eq!(report.0["uri"], "/api/items/42?x=1&y=a%20b&x=2");
    assert_eq!(report.0["body_len"], 15);
    assert_eq!(report.header("content-type").as_deref(), Some("text/plain"));
    // The upstream is addressed as itself; the browser's host is forwarded.
    let upstream_host = recorder.addr.expect("addr").to_string();
    assert_eq!(report.header("host"), Some(upstream_host));
    assert_eq!(
        report.header("x-forwarded-host"),
        Some(app.addr.to_string())
    );
}

#[tokio::test]
async fn a_browser_sent_authorization_header_is_replaced() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let jar = app.signed_in("ada").await;
    let response = app
        .client
        .get(app.url("/api/things"))
        .header("cookie", jar.header().expect("cookies"))
        .header("authorization", "Bearer forged.by.page")
        .send()
        .await
        .expect("answered");
    let report = Report::of(response).await;
    assert_eq!(
        report.headers("authorization"),
        [format!("Bearer {}", jar.access().expect("access"))]
    );
}

#[tokio::test]
async fn our_cookies_are_stripped_and_the_apps_cookies_kept() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let mut jar = app.signed_in("ada").await;
    jar.cookies.insert("theme".into(), "dark".into());
    jar.cookies
        .insert("cart".into(), "3 items".replace(' ', "_"));
    let response = app.get(&mut jar, "/api/things").await;
    let report = Report::of(response).await;
    let cookie = report.header("cookie").expect("the app's cookies");
    assert!(
        !cookie.contains(ACCESS) && !cookie.contains(REFRESH),
        "{cookie}"
    );
    assert!(
        !cookie.contains(jar.refresh().expect("refresh")),
        "{cookie}"
    );
    let mut pairs: Vec<&str> = cookie.split("; ").collect();
    pairs.sort_unstable();
    assert_eq!(pairs, ["cart=3_items", "theme=dark"]);
}

#[tokio::test]
async fn hop_by_hop_headers_are_removed_both_ways() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let jar = app.signed_in("ada").await;
    let response = app
        .client
        .get(app.url("/api/things"))
        .header("cookie", jar.header().expect("cookies"))
        .header("connection", "keep-alive, x-private-hop")
        .header("x-private-hop", "secret")
        .header("keep-alive", "timeout=99")
        .header("te", "trailers")
        .header("trailer", "x-checksum")
        .header("proxy-authorization", "Basic dXNlcjpwYXNz")
        .header("x-end-to-end", "kept")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.headers()["x-app-header"], "kept");
    for gone in ["x-upstream-hop", "keep-alive"] {
        assert!(response.headers().get(gone).is_none(), "{gone} came back");
    }
    let report = Report::of(response).await;
    for gone in [
        "connection",
        "x-private-hop",
        "keep-alive",
        "te",
        "trailer",
        "proxy-authorization",
    ] {
        assert_eq!(report.header(gone), None, "{gone} was forwarded");
    }
    assert_eq!(report.header("x-end-to-end").as_deref(), Some("kept"));
}

#[tokio::test]
async fn an_upstream_cannot_set_our_cookies_but_may_set_its_own() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let jar = app.signed_in("ada").await;
    let response = app
        .client
        .get(app.url("/api/things"))
        .header("cookie", jar.header().expect("cookies"))
        .send()
        .await
        .expect("answered");
    let set = set_cookies(response.headers());
    let names: Vec<&str> = set.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["app_pref"]);
}

#[tokio::test]
async fn forwarded_headers_are_set_and_a_spoofed_chain_ignored() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let jar = app.signed_in("ada").await;
    let response = app
        .client
        .get(app.url("/api/things"))
        .header("cookie", jar.header().expect("cookies"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "evil.test")
        .send()
        .await
        .expect("answered");
    let report = Report::of(response).await;
    assert_eq!(
        report.header("x-forwarded-for").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(report.header("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(
        report.header("x-forwarded-host"),
        Some(app.addr.to_string())
    );
}

#[tokio::test]
async fn a_trusted_proxys_chain_is_extended() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let jar = app.signed_in("ada").await;
    let response = app
        .client
        .get(app.url("/api/things"))
        .header("cookie", jar.header().expect("cookies"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "app.example.com")
        .send()
        .await
        .expect("answered");
    let report = Report::of(response).await;
    assert_eq!(
        report.header("x-forwarded-for").as_deref(),
        Some("203.0.113.7, 127.0.0.1")
    );
    assert_eq!(report.header("x-forwarded-proto").as_deref(), Some("https"));
    assert_eq!(
        report.header("x-forwarded-host").as_deref(),
        Some("app.example.com")
    );
}

#[tokio::test]
async fn without_a_session_the_answer_is_401_and_the_upstream_is_not_called() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    for mut jar in [
        Jar::default(),
        Jar::with(&[(ACCESS, "not.a.token")]),
        Jar::with(&[(ACCESS, "not.a.token"), (REFRESH, "not-a-refresh-token")]),
    ] {
        let response = app.get(&mut jar, "/api/things").await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let response = app
        .client
        .get(app.url("/api/things"))
        .header("authorization", "Bearer whatever")
        .send()
        .await
        .expect("answered");
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(recorder.calls(), 0);
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_transparently() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let mut jar = app.signed_in("ada").await;
    let old_access = jar.access().expect("access").to_owned();
    let old_refresh = jar.refresh().expect("refresh").to_owned();
    app.advance(Duration::from_secs(16 * 60));

    let response = app.get(&mut jar, "/api/things").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let renewed = set_cookies(response.headers());
    let report = Report::of(response).await;
    assert!(renewed.iter().any(|c| c.name == ACCESS));
    assert!(renewed.iter().any(|c| c.name == REFRESH));
    let new_access = jar.access().expect("renewed access");
    assert_ne!(new_access, old_access);
    assert_ne!(jar.refresh().expect("renewed refresh"), old_refresh);
    assert_eq!(
        report.header("authorization"),
        Some(format!("Bearer {new_access}"))
    );
    assert_eq!(recorder.calls(), 1);
}

#[tokio::test]
async fn upstream_errors_are_passed_through_as_they_are() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let mut jar = app.signed_in("ada").await;
    for code in [400u16, 404, 418, 500, 503] {
        let response = app.get(&mut jar, &format!("/api/status/{code}")).await;
        assert_eq!(response.status().as_u16(), code);
        assert_eq!(response.headers()["x-upstream-error"], "yes");
        assert_eq!(
            response.text().await.expect("body"),
            r#"{"error":"from the upstream"}"#
        );
    }
}

#[tokio::test]
async fn a_refused_connection_is_502_upstream_unavailable() {
    let upstream = closed_url().await;
    let app = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &upstream)]).await;
    let mut jar = app.signed_in("ada").await;
    let response = app.get(&mut jar, "/api/things").await;
    assert_problem(response, StatusCode::BAD_GATEWAY, "upstream_unavailable").await;
}

#[tokio::test]
async fn an_upstream_that_never_answers_is_504_upstream_timeout() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[("PORTCULLIS_UPSTREAM_TIMEOUT", "300ms")]).await;
    let mut jar = app.signed_in("ada").await;
    let response = app.get(&mut jar, "/api/never").await;
    assert_problem(response, StatusCode::GATEWAY_TIMEOUT, "upstream_timeout").await;
    let response = app
        .client
        .post(app.url("/api/never"))
        .header("cookie", jar.header().expect("cookies"))
        .body(vec![0u8; 256 * 1024])
        .send()
        .await
        .expect("answered");
    assert_problem(response, StatusCode::GATEWAY_TIMEOUT, "upstream_timeout").await;
}

#[tokio::test]
async fn without_an_upstream_other_api_paths_are_404() {
    let app = TestApp::spawn().await;
    let mut jar = app.signed_in("ada").await;
    let response = app.get(&mut jar, "/api/things").await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_cross_site_request_is_refused_before_the_upstream_is_called() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let jar = app.signed_in("ada").await;
    let response = app
        .client
        .post(app.url("/api/things"))
        .header("cookie", jar.header().expect("cookies"))
        .header("origin", "https://evil.test")
        .send()
        .await
        .expect("answered");
    assert_problem(response, StatusCode::FORBIDDEN, "cross_site_request").await;
    assert_eq!(recorder.calls(), 0);
}

const FIFTY_MB: usize = 50 * 1024 * 1024;

#[tokio::test]
async fn fifty_megabytes_stream_up_and_down() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let jar = app.signed_in("ada").await;
    let cookies = jar.header().expect("cookies");

    // Up: made chunk by chunk as it is sent, never held whole by the test.
    let chunks = futures_util::stream::iter(
        (0..FIFTY_MB / CHUNK).map(|_| Ok::<_, std::io::Error>(vec![7u8; CHUNK])),
    );
    let response = app
        .client
        .put(app.url("/api/upload"))
        .header("cookie", &cookies)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let report = Report::of(response).await;
    assert_eq!(report.0["body_len"], FIFTY_MB as u64);

    // Down: counted as it arrives.
    let response = app
        .client
        .get(app.url(&format!("/api/download/{FIFTY_MB}")))
        .header("cookie", &cookies)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-length"],
        FIFTY_MB.to_string().as_str()
    );
    let mut received = 0usize;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        received += chunk.expect("chunk").len();
    }
    assert_eq!(received, FIFTY_MB);
}

#[tokio::test]
async fn an_upload_reaches_the_upstream_before_it_is_finished() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let jar = app.signed_in("ada").await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let request = app
        .client
        .post(app.url("/api/upload-probe"))
        .header("cookie", jar.header().expect("cookies"))
        .body(reqwest::Body::wrap_stream(tokio_stream_from(rx)))
        .send();
    let sender = async {
        tx.send(Ok(vec![1u8; CHUNK])).await.expect("first chunk");
        // A gateway that buffered the body would not pass on a byte before the
        // end, and the end only comes after the upstream has seen a byte.
        expect_notified(
            &recorder.first_bytes_arrived,
            "the first bytes reaching the upstream",
        )
        .await;
        tx.send(Ok(vec![2u8; CHUNK])).await.expect("last chunk");
        drop(tx);
    };
    let (response, ()) = tokio::join!(request, sender);
    let report: Value = response.expect("answered").json().await.expect("json");
    assert_eq!(report["body_len"], 2 * CHUNK as u64);
}

#[tokio::test]
async fn an_answer_reaches_the_browser_before_it_is_finished() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let jar = app.signed_in("ada").await;
    let response = app
        .client
        .get(app.url("/api/drip"))
        .header("cookie", jar.header().expect("cookies"))
        .send()
        .await
        .expect("answered");
    let mut body = response.bytes_stream();
    let mut received = Vec::new();
    // The upstream sends its last chunk only once told that the first one
    // arrived here.
    while received.len() < CHUNK {
        received.extend_from_slice(&body.next().await.expect("more").expect("chunk"));
    }
    assert!(received.iter().all(|b| *b == b'a'));
    recorder.send_the_rest.notify_one();
    while let Some(chunk) = body.next().await {
        received.extend_from_slice(&chunk.expect("chunk"));
    }
    assert_eq!(received.len(), 2 * CHUNK);
    assert!(received[CHUNK..].iter().all(|b| *b == b'b'));
}

/// A stream of what arrives on `rx`.
fn tokio_stream_from<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

#[tokio::test]
async fn the_request_id_reaches_the_upstream_and_upstream_calls_are_measured() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder, &[]).await;
    let jar = app.signed_in("ada").await;
    let response = app
        .client
        .get(app.url("/api/things"))
        .header("cookie", jar.header().expect("cookies"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    let report = Report::of(response).await;
    assert_eq!(
        report.header("x-request-id").as_deref(),
        Some("trace-me-42")
    );

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("answered");
    let text = metrics.text().await.expect("text");
    assert!(
        text.lines()
            .any(|l| l.starts_with("portcullis_upstream") && l.contains("200")),
        "no upstream metric in:\n{text}"
    );
}
