//! Automatic key rotation: published ahead, signing on schedule, the old key
//! kept until its tokens have expired, one rotation however many instances.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::auth::key_rotation::{PUBLISH_AHEAD, RotationSchedule};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

const DAY: Duration = Duration::from_secs(86_400);
/// The background check is turned off: the test calls it at the moments it
/// wants, with this schedule.
const SETTINGS: &[(&str, &str)] = &[
    ("PORTCULLIS_KEY_ROTATION_INTERVAL", "off"),
    ("PORTCULLIS_ACCESS_TOKEN_TTL", "1h"),
];

fn schedule() -> RotationSchedule {
    RotationSchedule {
        interval: 30 * DAY,
        keep_old_for: Duration::from_secs(3600 + 60),
    }
}

fn kid(token: &str) -> String {
    let header = token.split('.').next().expect("a JWS");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("JSON");
    header["kid"].as_str().expect("kid").to_owned()
}

async fn published(app: &TestApp) -> BTreeSet<String> {
    let jwks: Value = app
        .get(&mut Jar::default(), "/.well-known/jwks.json")
        .await
        .json()
        .await
        .expect("JSON");
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

async fn signs_with(app: &TestApp, name: &str) -> (Jar, String) {
    let jar = app.signed_in(name).await;
    let kid = kid(jar.access().expect("access cookie"));
    (jar, kid)
}

#[tokio::test]
async fn the_next_key_is_published_before_it_signs_and_the_old_one_outlives_its_tokens() {
    let app = TestApp::spawn_with(SETTINGS).await;
    let (_, first) = signs_with(&app, "ada").await;
    let schedule = schedule();
    let rotate = || app.auth.rotate_keys_if_due(&schedule);
    assert_eq!(
        rotate().await.expect("checks"),
        None,
        "a new key is not due"
    );

    app.advance(31 * DAY);
    let next = rotate()
        .await
        .expect("checks")
        .expect("due after the interval");
    assert_eq!(rotate().await.expect("checks"), None, "rotates once");
    assert_eq!(
        published(&app).await,
        BTreeSet::from([first.clone(), next.clone()])
    );
    let (old_jar, kid) = signs_with(&app, "grace").await;
    assert_eq!(kid, first, "the next key does not sign before its time");

    app.advance(PUBLISH_AHEAD + Duration::from_secs(1));
    app.auth.keys().reload().await.expect("reloads");
    let (_, kid) = signs_with(&app, "alan").await;
    assert_eq!(kid, next, "then it signs");
    let mut old_token = Jar::with(&[(ACCESS, old_jar.access().expect("access"))]);
    assert_eq!(
        app.session(&mut old_token).await.status(),
        StatusCode::OK,
        "tokens of the old key still verify"
    );
    assert!(published(&app).await.contains(&first));

    app.advance(schedule.keep_old_for);
    app.auth.keys().reload().await.expect("reloads");
    assert_eq!(published(&app).await, BTreeSet::from([next]));
}

#[tokio::test]
async fn instances_checking_at_once_rotate_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let a = TestApp::spawn_on(dir, url.clone(), SETTINGS).await;
    let b = TestApp::spawn_on(tempfile::tempdir().expect("tempdir"), url, SETTINGS).await;
    a.advance(31 * DAY);
    b.advance(31 * DAY);
    let schedule = schedule();
    let (ra, rb) = tokio::join!(
        a.auth.rotate_keys_if_due(&schedule),
        b.auth.rotate_keys_if_due(&schedule)
    );
    let rotated = [ra.expect("a checks"), rb.expect("b checks")];
    assert_eq!(rotated.iter().flatten().count(), 1, "{rotated:?}");
    // The instance that did not rotate learns of it at its next reload.
    a.auth.keys().reload().await.expect("reloads");
    b.auth.keys().reload().await.expect("reloads");
    assert_eq!(published(&a).await, published(&b).await);
    assert_eq!(published(&a).await.len(), 2);
}
