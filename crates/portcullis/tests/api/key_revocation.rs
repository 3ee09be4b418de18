//! `portcullis keys revoke KID`, for a leaked signing key: the key stops
//! verifying at once (even for tokens verified and remembered before),
//! leaves the JWKS, and a new key signs at once; browsers holding a token it
//! signed are refreshed transparently on the API, `/api/auth/session` and
//! the pages; and every instance sharing the database refuses it at once.

use std::time::Duration;

use portcullis::auth::key_revocation::RevokedKey;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::instances::{
    Cluster, PROPAGATION, accepted_everywhere, access_only, access_status, admin, eventually, jwks,
    kids, refused_everywhere, token_kid,
};
use crate::upstreams::{Recorder, Report};

async fn gateway(recorder: &Recorder) -> TestApp {
    TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", recorder.url().as_str())]).await
}

/// Revokes `kid` through the server's own auth service, as the command does.
async fn revoke(app: &TestApp, kid: &str) -> RevokedKey {
    app.auth
        .revoke_key(kid, app.auth.now() + Duration::from_secs(20 * 60))
        .await
        .expect("revoked")
}

#[tokio::test]
async fn a_revoked_key_stops_verifying_at_once_even_for_a_token_verified_before() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder).await;
    let jar = app.signed_in("ada").await;
    let access = access_only(&jar);
    // Verified, and remembered by the verified-token cache.
    for _ in 0..2 {
        assert_eq!(access_status(&app, &access).await, StatusCode::OK);
    }
    let kid = token_kid(&jar);

    let revoked = revoke(&app, &kid).await;
    let replacement = revoked.replacement.expect("the signing key is replaced");

    let response = app.get(&mut access.clone(), "/api/auth/sessions").await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let calls = recorder.calls();
    let response = app.get(&mut access.clone(), "/api/things").await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(recorder.calls(), calls, "the upstream never saw the token");

    let published = kids(&jwks(&app).await);
    assert!(!published.contains(&kid), "the revoked key left the JWKS");
    assert!(published.contains(&replacement));
    let other = app.signed_in("grace").await;
    assert_eq!(token_kid(&other), replacement, "the new key signs at once");
}

#[tokio::test]
async fn a_browser_whose_token_the_revoked_key_signed_is_refreshed_transparently() {
    let recorder = Recorder::spawn().await;
    let app = gateway(&recorder).await;
    // Three sessions of one user, one for each place a browser may land.
    let mut on_session = app.signed_in("ada").await;
    let mut on_api = Jar::default();
    let mut on_page = Jar::default();
    for jar in [&mut on_api, &mut on_page] {
        let response = app.login(jar, "ada", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let revoked = revoke(&app, &token_kid(&on_session)).await;
    let replacement = revoked.replacement.expect("replaced");

    let response = app.session(&mut on_session).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(token_kid(&on_session), replacement);

    let response = app.get(&mut on_api, "/api/things").await;
    assert_eq!(response.status(), StatusCode::OK);
    let report = Report::of(response).await;
    let sent = format!("Bearer {}", on_api.access().expect("renewed"));
    assert_eq!(report.header("authorization"), Some(sent));
    assert_eq!(token_kid(&on_api), replacement);

    let response = app.get(&mut on_page, "/account").await;
    assert_eq!(response.status(), StatusCode::OK, "not sent to sign in");
    assert_eq!(token_kid(&on_page), replacement);
}

#[tokio::test]
async fn revoking_a_key_that_no_longer_signs_leaves_the_signer_in_place() {
    let app = TestApp::spawn().await;
    let before = app.signed_in("ada").await;
    let old = token_kid(&before);
    let new = app
        .auth
        .rotate_keys_now(app.auth.now() + Duration::from_secs(20 * 60))
        .await
        .expect("rotated");
    app.auth.keys().reload().await.expect("reloaded");
    let revoked = revoke(&app, &old).await;
    assert_eq!(revoked.replacement, None);
    assert_eq!(token_kid(&app.signed_in("grace").await), new);
    assert_eq!(
        access_status(&app, &access_only(&before)).await,
        StatusCode::UNAUTHORIZED
    );
}

/// Runs the binary on `database` with `args`; its status and output.
async fn command(database: &str, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let mut command = portcullis_binary();
    command
        .arg("--database-url")
        .arg(database)
        .args(args)
        .envs(env.iter().copied());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("task")
        .expect("portcullis runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_revoke_command_reaches_a_running_server_on_sqlite_and_is_audited() {
    let app = TestApp::spawn().await;
    let db = app.database_url.clone();
    let jar = app.signed_in("ada").await;
    let access = access_only(&jar);
    assert_eq!(access_status(&app, &access).await, StatusCode::OK);
    let kid = token_kid(&jar);

    let (ok, out, err) = command(&db, &[], &["keys", "revoke", &kid]).await;
    assert!(ok, "{err}");
    let replacement = out
        .strip_prefix(&format!("revoked signing key {kid}; new signing key "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("the new kid is printed: {out}"))
        .to_owned();
    // SQLite has no notifications: the server rereads its keys every
    // second (not every 30 seconds, as it did).
    let (app, access) = (&app, &access);
    eventually(
        Duration::from_secs(5),
        "the server refuses the key",
        || async move { access_status(app, access).await == StatusCode::UNAUTHORIZED },
    )
    .await;
    let published = kids(&jwks(app).await);
    assert!(!published.contains(&kid) && published.contains(&replacement));

    let (ok, out, err) = command(&db, &[], &["audit", "--limit", "5"]).await;
    assert!(ok, "{err}");
    let event = out
        .lines()
        .find(|l| l.contains("key_revoked"))
        .unwrap_or_else(|| panic!("the revocation is in the audit log: {out}"));
    assert!(
        event.contains(&kid) && event.contains(&replacement),
        "{event}"
    );

    let (ok, _, err) = command(&db, &[], &["keys", "revoke", "no-such-kid"]).await;
    assert!(!ok, "an unknown kid fails");
    assert!(
        err.contains("no signing key has the id \"no-such-kid\""),
        "{err}"
    );
    let (ok, _, err) = command(&db, &[], &["keys", "revoke", &kid]).await;
    assert!(!ok, "a key revoked already is unknown");
    assert!(err.contains("no signing key has the id"), "{err}");
}

#[tokio::test]
async fn the_hs256_secret_cannot_be_revoked_and_the_command_says_how_to_replace_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret");
    let value = "an HS256 secret of more than thirty-two bytes";
    std::fs::write(&secret, value).expect("write");
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let kid = portcullis_verifier::VerificationKey::hs256_key_id(value.as_bytes());
    let secret = secret.display().to_string();
    let env = [("PORTCULLIS_HS256_SECRET_FILE", secret.as_str())];
    let (ok, _, err) = command(&db, &env, &["keys", "revoke", &kid]).await;
    assert!(!ok);
    assert!(
        err.contains("HS256 secret") && err.contains("hs256_secret_file"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_from_the_command_line_is_refused_by_every_instance_at_once() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    let mut jar = a.signed_in("ada").await;
    let access = access_only(&jar);
    accepted_everywhere(&cluster, &access).await;
    let kid = token_kid(&jar);

    let output = admin(cluster.db.url(), &["keys", "revoke", &kid]).await;
    let replacement = output
        .split("new signing key ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("the new kid is printed")
        .to_owned();
    // Within the bound of every other revocation: the change feed, not the
    // 30-second reload, carries it.
    refused_everywhere(&cluster, &access, "keys revoke").await;
    let (kid, replacement) = (&kid, &replacement);
    for app in [a, b] {
        eventually(PROPAGATION, "the JWKS changes", || async move {
            let published = kids(&jwks(app).await);
            !published.contains(kid) && published.contains(replacement)
        })
        .await;
    }

    // The browser, on the other instance, carries on.
    let response = b.session(&mut jar).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(&token_kid(&jar), replacement);
    accepted_everywhere(&cluster, &access_only(&jar)).await;
}
