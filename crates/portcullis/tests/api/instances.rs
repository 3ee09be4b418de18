//! Several instances on one PostgreSQL database, as behind a load balancer:
//! they must behave as one.
//!
//! A revoked session is observed through `GET /api/auth/sessions` with the
//! access cookie alone: that route trusts a valid access token plus the
//! instance's revocation set (no refresh cookie, so no transparent refresh and
//! no database re-check of the session), which is exactly what the gateway
//! does for proxied requests.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::clock::{Clock, ManualClock, SystemClock};
use portcullis::domain::RefreshToken;
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::databases::{SMALL_POOL, TestDb};
use crate::helpers::*;
use crate::tcp_proxy::TcpProxy;

/// How soon a change on one instance must be seen by the others.
pub const PROPAGATION: Duration = Duration::from_secs(1);

/// Instances sharing one fresh database and one clock. Fields drop in order:
/// the servers stop before their database is dropped.
pub struct Cluster {
    pub apps: Vec<Arc<TestApp>>,
    pub clock: Arc<ManualClock>,
    pub db: TestDb,
}

impl Cluster {
    pub async fn start(instances: usize) -> Self {
        let mut db = TestDb::postgres().await;
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let mut apps = Vec::new();
        for _ in 0..instances {
            let (dir, url) = (db.take_dir(), db.url().to_owned());
            let app = TestApp::spawn_with_clock(dir, url, &[SMALL_POOL], clock.clone()).await;
            apps.push(Arc::new(app));
        }
        Self { apps, clock, db }
    }
}

/// Polls `check` until it holds, failing after `deadline`.
pub async fn eventually<F, Fut>(deadline: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            start.elapsed() < deadline,
            "{what}: not within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A jar with only the access cookie of `jar`: what a thief holding the token
/// (or the gateway checking it) presents.
pub fn access_only(jar: &Jar) -> Jar {
    Jar::with(&[(ACCESS, jar.access().expect("signed in"))])
}

/// The status `app` answers a request authenticated by `access` alone.
pub async fn access_status(app: &TestApp, access: &Jar) -> StatusCode {
    app.get(&mut access.clone(), "/api/auth/sessions")
        .await
        .status()
}

/// Waits until every instance but `except` refuses `access`.
pub async fn refused_everywhere(cluster: &Cluster, access: &Jar, what: &str) {
    for app in &cluster.apps {
        eventually(PROPAGATION, what, || async move {
            access_status(app, access).await == StatusCode::UNAUTHORIZED
        })
        .await;
    }
}

pub async fn accepted_everywhere(cluster: &Cluster, access: &Jar) {
    for app in &cluster.apps {
        assert_eq!(access_status(app, access).await, StatusCode::OK);
    }
}

/// Runs the `portcullis` binary on the cluster's database.
pub async fn admin(db_url: &str, args: &[&str]) -> String {
    let mut command = portcullis_binary();
    command.arg("--database-url").arg(db_url).args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("task")
        .expect("portcullis runs");
    assert!(
        output.status.success(),
        "portcullis {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

pub async fn jwks(app: &TestApp) -> Value {
    app.client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json")
}

pub fn kids(jwks: &Value) -> BTreeSet<String> {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

pub fn token_kid(jar: &Jar) -> String {
    let token = jar.access().expect("signed in");
    let header = token.split('.').next().expect("header");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64")).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_on_one_instance_is_enforced_by_the_others_within_a_second() {
    let cluster = Cluster::start(3).await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    let mut jar = a.signed_in("ada").await;
    assert_eq!(b.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    let access = access_only(&jar);
    accepted_everywhere(&cluster, &access).await;

    assert_eq!(
        a.post(&mut jar, "/api/auth/logout", None).await.status(),
        StatusCode::NO_CONTENT
    );
    refused_everywhere(&cluster, &access, "sign-out on A").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_revocation_reaches_every_instance() {
    let cluster = Cluster::start(2).await;
    let a = &cluster.apps[0];
    let mut main = a.signed_in("ada").await;
    let mut second = Jar::default();
    let mut third = Jar::default();
    for jar in [&mut second, &mut third] {
        assert_eq!(
            a.login(jar, "ada", PASSWORD).await.status(),
            StatusCode::CREATED
        );
    }

    // One session, ended from another.
    let target = access_only(&third);
    accepted_everywhere(&cluster, &target).await;
    let session: Value = a.session(&mut third).await.json().await.expect("json");
    let id = session["session"]["id"].as_str().expect("id");
    let response = a
        .send(
            &mut main,
            reqwest::Method::DELETE,
            &format!("/api/auth/sessions/{id}"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    refused_everywhere(&cluster, &target, "ending one session").await;

    // A password change ends the other sessions.
    let target = access_only(&second);
    accepted_everywhere(&cluster, &target).await;
    let body = json!({"current_password": PASSWORD, "new_password": "another fine passphrase"});
    let response = a.post(&mut main, "/api/auth/password", Some(body)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    refused_everywhere(&cluster, &target, "password change").await;

    // Reuse of a rotated refresh token, after the grace window.
    let before_rotation = main.clone();
    assert_eq!(a.refresh(&mut main).await.status(), StatusCode::NO_CONTENT);
    let target = access_only(&main);
    accepted_everywhere(&cluster, &target).await;
    cluster.clock.advance(Duration::from_secs(11));
    let response = a.refresh(&mut before_rotation.clone()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    refused_everywhere(&cluster, &target, "refresh-token reuse").await;

    // Sign out everywhere.
    let mut jar = Jar::default();
    let login = a.login(&mut jar, "ada", "another fine passphrase").await;
    assert_eq!(login.status(), StatusCode::CREATED);
    let target = access_only(&jar);
    accepted_everywhere(&cluster, &target).await;
    let response = a.post(&mut jar, "/api/auth/logout-all", None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    refused_everywhere(&cluster, &target, "sign-out everywhere").await;

    // An administrator, from the command line, outside every instance.
    let mut jar = Jar::default();
    let login = a.login(&mut jar, "ada", "another fine passphrase").await;
    assert_eq!(login.status(), StatusCode::CREATED);
    let target = access_only(&jar);
    accepted_everywhere(&cluster, &target).await;
    admin(cluster.db.url(), &["sessions", "revoke", "--user", "ada"]).await;
    refused_everywhere(&cluster, &target, "portcullis sessions revoke").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_refreshes_across_instances_leave_one_live_successor() {
    let cluster = Cluster::start(3).await;
    let original = cluster.apps[0].signed_in("ada").await;
    let mut refreshes = JoinSet::new();
    for i in 0..50 {
        let app = cluster.apps[i % cluster.apps.len()].clone();
        let mut jar = original.clone();
        refreshes.spawn(async move {
            let status = app.refresh(&mut jar).await.status();
            (status, jar)
        });
    }
    let mut successors = BTreeSet::new();
    while let Some(joined) = refreshes.join_next().await {
        let (status, jar) = joined.expect("task");
        assert_eq!(status, StatusCode::NO_CONTENT, "every refresh succeeds");
        successors.insert(jar.refresh().expect("refresh cookie").to_owned());
    }
    assert_eq!(successors.len(), 1, "all converge on one successor");
    let successor = successors.pop_first().expect("one");
    assert_ne!(Some(successor.as_str()), original.refresh());

    let store = cluster.db.store().await;
    let token = RefreshToken::parse(&successor).expect("well-formed");
    let issued = store
        .refresh_token(&token.hash())
        .await
        .expect("query")
        .expect("issued");
    let session = store
        .session(issued.session_id)
        .await
        .expect("query")
        .expect("found");
    assert_eq!((issued.generation, session.generation), (1, 1));
    assert!(session.revoked_at.is_none());

    let mut jar = Jar::with(&[(REFRESH, successor.as_str())]);
    for app in &cluster.apps {
        assert_eq!(app.session(&mut jar).await.status(), StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_is_used_and_published_by_every_instance() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    let before = jwks(a).await;
    assert_eq!(before, jwks(b).await);
    assert_eq!(kids(&before).len(), 1);

    // The command stamps the new key with the wall clock; move the servers'
    // clock past it so that the key may sign.
    cluster.clock.advance(Duration::from_secs(60));
    let output = admin(cluster.db.url(), &["keys", "rotate"]).await;
    let kid = output
        .strip_prefix("new signing key ")
        .and_then(|rest| rest.split(';').next())
        .expect("the new kid is printed")
        .to_owned();

    let kid = &kid;
    for app in [a, b] {
        eventually(PROPAGATION, "the new key is published", || async move {
            kids(&jwks(app).await).contains(kid)
        })
        .await;
    }
    assert_eq!(jwks(a).await, jwks(b).await, "the same JWKS everywhere");
    assert_eq!(kids(&jwks(a).await).len(), 2, "the old key still verifies");

    let jar = a.signed_in("ada").await;
    assert_eq!(&token_kid(&jar), kid, "A signs with the new key");
    assert_eq!(access_status(b, &access_only(&jar)).await, StatusCode::OK);
    let jar = b.signed_in("grace").await;
    assert_eq!(&token_kid(&jar), kid, "B signs with the new key");
    assert_eq!(access_status(a, &access_only(&jar)).await, StatusCode::OK);
}

fn sets_no_cookie(response: &reqwest::Response) -> bool {
    response.headers().get(SET_COOKIE).is_none()
}

async fn assert_unavailable(response: reqwest::Response) {
    assert!(sets_no_cookie(&response), "cookies are left alone");
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_its_database_unreachable_an_instance_fails_closed_then_recovers() {
    const STALENESS: Duration = Duration::from_secs(2);
    let mut db = TestDb::postgres().await;
    let proxy = TcpProxy::start("127.0.0.1:5432".parse().expect("address")).await;
    let mut via_proxy = url::Url::parse(db.url()).expect("url");
    via_proxy.set_port(Some(proxy.addr().port())).expect("port");
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let a = &TestApp::spawn_with_clock(
        db.take_dir(),
        via_proxy.to_string(),
        &[
            ("PORTCULLIS_REVOCATION_MAX_STALENESS", "2s"),
            ("PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT", "500ms"),
            ("PORTCULLIS_DATABASE_STATEMENT_TIMEOUT", "1s"),
            SMALL_POOL,
        ],
        clock.clone(),
    )
    .await;
    let (dir, url) = (db.take_dir(), db.url().to_owned());
    let b = &TestApp::spawn_with_clock(dir, url, &[SMALL_POOL], clock).await;

    let mut jar = b.signed_in("ada").await;
    let access = access_only(&jar);
    // Past the staleness bound, a healthy instance is still current: its
    // heartbeats keep proving it.
    tokio::time::sleep(STALENESS + Duration::from_millis(500)).await;
    assert_eq!(
        a.get(&mut Jar::default(), "/readyz").await.status(),
        StatusCode::OK
    );
    assert_eq!(access_status(a, &access).await, StatusCode::OK);

    proxy.cut();
    assert_unavailable(a.get(&mut Jar::default(), "/readyz").await).await;
    assert_unavailable(a.login(&mut Jar::default(), "ada", PASSWORD).await).await;
    assert_unavailable(a.register(&mut Jar::default(), "grace").await).await;
    assert_unavailable(a.refresh(&mut jar.clone()).await).await;
    assert_unavailable(a.session(&mut jar.clone()).await).await;

    // Revoked where A cannot hear it; A goes stale while cut off.
    assert_eq!(
        b.post(&mut jar, "/api/auth/logout", None).await.status(),
        StatusCode::NO_CONTENT
    );
    tokio::time::sleep(STALENESS + Duration::from_millis(500)).await;
    assert_unavailable(a.get(&mut access.clone(), "/api/auth/sessions").await).await;

    proxy.restore();
    let access = &access;
    // A must not trust its set again before it has reloaded it: never a 200.
    eventually(
        Duration::from_secs(10),
        "A enforces the missed sign-out",
        || async move {
            let status = access_status(a, access).await;
            assert!(
                [StatusCode::SERVICE_UNAVAILABLE, StatusCode::UNAUTHORIZED].contains(&status),
                "a revoked session was let through: {status}"
            );
            status == StatusCode::UNAUTHORIZED
        },
    )
    .await;
    eventually(Duration::from_secs(10), "A is ready again", || async move {
        a.get(&mut Jar::default(), "/readyz").await.status() == StatusCode::OK
    })
    .await;
    // Nothing was half-written: the failed registration left no account.
    let mut grace = Jar::default();
    assert_eq!(
        a.register(&mut grace, "grace").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(a.refresh(&mut grace).await.status(), StatusCode::NO_CONTENT);
    let mut ada = Jar::default();
    assert_eq!(
        a.login(&mut ada, "ada", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(access_status(b, &access_only(&ada)).await, StatusCode::OK);
}
