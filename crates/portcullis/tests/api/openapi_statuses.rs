//! What the OpenAPI document says each operation answers is what it answers.
//!
//! The document must list exactly the statuses of [`DOCUMENTED`] (the rule
//! behind the table is in `src/http/openapi.rs`), and every one of them is
//! provoked here against real servers: the database cut behind a TCP proxy for
//! 503, per-address limits of one for 429, a closed port and a silent upstream
//! for 502 and 504. Every answer met on the way must be documented for its
//! operation, and a problem's `code` must be named in that status's
//! description.

use std::collections::BTreeSet;
use std::sync::Mutex;

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::databases::{SMALL_POOL, TestDb};
use crate::helpers::*;
use crate::tcp_proxy::TcpProxy;
use crate::upstreams::{Recorder, closed_url};

/// Every operation's documented statuses; `default` is the upstream's own
/// answer.
const DOCUMENTED: &[&str] = &[
    "post /api/auth/register: 201 400 403 409 413 415 429 431 503",
    "post /api/auth/login: 200 201 400 401 403 413 415 429 431 503",
    "post /api/auth/refresh: 204 401 403 429 431 503",
    "post /api/auth/logout: 204 403 431 503",
    "post /api/auth/logout-all: 204 401 403 429 431 503",
    "get /api/auth/session: 200 401 429 431 503",
    "get /api/auth/sessions: 200 401 429 431 503",
    "delete /api/auth/sessions/{id}: 204 401 403 404 429 431 503",
    "post /api/auth/password: 204 400 401 403 413 415 429 431 503",
    "post /api/auth/password/forgot: 202 400 403 404 413 415 429 431 503",
    "post /api/auth/password/reset: 204 400 403 404 413 415 429 431 503",
    "post /api/auth/email/verify: 204 400 403 404 409 413 415 429 431 503",
    "post /api/auth/email/resend: 202 401 403 404 429 431 503",
    "post /api/auth/email: 202 400 401 403 404 409 413 415 429 431 503",
    "get /api/auth/oidc/providers: 200 431",
    "get /api/auth/oidc/{provider}/start: 302 400 404 431 502 503",
    "get /api/auth/oidc/{provider}/callback: 200 400 401 403 404 409 429 431 502 503",
    "post /api/auth/oidc/{provider}/link: 200 400 401 403 404 429 431 502 503",
    "delete /api/auth/oidc/{provider}/link: 204 401 403 404 409 429 431 503",
    "get /api/auth/identities: 200 401 429 431 503",
    "post /api/auth/mfa/verify: 201 400 401 403 404 413 415 429 431 503",
    "post /api/auth/mfa/totp: 200 401 403 409 429 431 503",
    "delete /api/auth/mfa/totp: 204 401 403 409 429 431 503",
    "post /api/auth/mfa/totp/confirm: 200 400 401 403 409 413 415 429 431 503",
    "post /api/auth/mfa/recovery-codes: 200 401 403 409 429 431 503",
    "get /api/auth/mfa: 200 401 429 431 503",
    "post /api/auth/reauthenticate: 204 400 401 403 404 413 415 429 431 503",
    "post /api/auth/passkeys/register/start: 200 401 403 404 409 429 431 503",
    "post /api/auth/passkeys/register/finish: 201 400 401 403 404 409 413 415 429 431 503",
    "get /api/auth/passkeys: 200 401 404 429 431 503",
    "patch /api/auth/passkeys/{id}: 204 400 401 403 404 413 415 429 431 503",
    "delete /api/auth/passkeys/{id}: 204 401 403 404 409 429 431 503",
    "post /api/auth/passkeys/login/start: 200 403 404 431 503",
    "post /api/auth/passkeys/login/finish: 201 400 401 403 404 413 415 429 431 503",
    "post /api/auth/mfa/webauthn/start: 200 401 403 404 409 431 503",
    "post /api/auth/reauthenticate/webauthn/start: 200 401 403 404 409 429 431 503",
    "get /api/auth/openapi.json: 200 431",
    "get /.well-known/jwks.json: 200 431",
    "get /.well-known/openid-configuration: 200 400 431",
    "get /healthz: 200 431",
    "get /readyz: 200 431 503",
    "get /metrics: 200 431",
    "get /api/{rest}: default 401 404 429 431 502 503 504",
    "post /api/{rest}: default 401 403 404 429 431 502 503 504",
    "put /api/{rest}: default 401 403 404 429 431 502 503 504",
    "patch /api/{rest}: default 401 403 404 429 431 502 503 504",
    "delete /api/{rest}: default 401 403 404 429 431 502 503 504",
];

/// The operations of [`DOCUMENTED`]: method, path template, statuses.
fn operations() -> impl Iterator<Item = (&'static str, &'static str, Vec<&'static str>)> {
    DOCUMENTED.iter().map(|line| {
        let (operation, statuses) = line.split_once(": ").expect("operation: statuses");
        let (method, path) = operation.split_once(' ').expect("method path");
        (method, path, statuses.split(' ').collect())
    })
}

const GATEWAY: &str = "/api/{rest}";
const GATEWAY_METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// One documented response: method (lower case), path, status.
type Entry = (String, String, String);

fn table() -> BTreeSet<Entry> {
    operations()
        .flat_map(|(method, path, statuses)| {
            statuses
                .into_iter()
                .map(move |status| (method.to_owned(), path.to_owned(), status.to_owned()))
        })
        .collect()
}

fn generated_document() -> Value {
    serde_json::to_value(portcullis::server::routes().1).expect("the document serialises")
}

fn listed(document: &Value) -> BTreeSet<Entry> {
    let mut entries = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let Some(responses) = operation["responses"].as_object() else {
                continue;
            };
            for status in responses.keys() {
                entries.insert((method.clone(), path.clone(), status.clone()));
            }
        }
    }
    entries
}

#[test]
fn every_operation_lists_exactly_the_statuses_of_the_table() {
    let document = generated_document();
    let listed = listed(&document);
    let expected = table();
    let missing: Vec<_> = expected.difference(&listed).collect();
    let unexpected: Vec<_> = listed.difference(&expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "not documented: {missing:?}; documented but not in the table: {unexpected:?}"
    );
    // The admission guards, which run before every route, appear as the
    // rule says: 431 everywhere, `cross_site_request` on every write only.
    for (method, path, _) in &listed {
        let responses = &document["paths"][path][method]["responses"];
        assert!(responses["431"].is_object(), "{method} {path}: 431");
        let cross_site = responses["403"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("`cross_site_request`"));
        assert_eq!(cross_site, method != "get", "{method} {path}: 403");
    }
}

/// The template of the operation a concrete path routes to.
fn template_of(path: &str) -> &'static str {
    if let Some((_, template, _)) = operations().find(|(_, t, _)| *t == path) {
        template
    } else if path.starts_with("/api/auth/sessions/") {
        "/api/auth/sessions/{id}"
    } else if path.starts_with("/api/auth/passkeys/") {
        "/api/auth/passkeys/{id}"
    } else if let Some(rest) = path.strip_prefix("/api/auth/oidc/")
        && rest != "providers"
    {
        match rest.rsplit_once('/').map(|(_, last)| last) {
            Some("start") => "/api/auth/oidc/{provider}/start",
            Some("callback") => "/api/auth/oidc/{provider}/callback",
            _ => "/api/auth/oidc/{provider}/link",
        }
    } else if path.starts_with("/api/") && !path.starts_with("/api/auth/") {
        GATEWAY
    } else {
        panic!("{path} is no documented operation")
    }
}

/// A path that routes to `template`.
fn concrete(template: &str) -> String {
    template
        .replace("{id}", &uuid::Uuid::new_v4().to_string())
        .replace("{rest}", "status/418")
        .replace("{provider}", crate::oidc::PROVIDER)
}

/// Provokes documented answers and remembers which were seen.
pub(crate) struct Probe {
    document: Value,
    seen: Mutex<BTreeSet<Entry>>,
}

impl Probe {
    /// Sends `request`, expects `status` (`default`: the upstream's own
    /// answer), and checks the answer against the document.
    pub(crate) async fn expect(&self, request: RequestBuilder, status: &str) {
        let (client, request) = request.build_split();
        let request = request.expect("a valid request");
        let method = request.method().as_str().to_lowercase();
        let template = template_of(request.url().path());
        let response = client.execute(request).await.expect("answered");
        let observed = if template == GATEWAY && response.headers().contains_key("x-upstream-error")
        {
            "default".to_owned()
        } else {
            response.status().as_str().to_owned()
        };
        let is_problem = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "application/problem+json");
        let body = response.text().await.expect("body");
        assert_eq!(observed, status, "{method} {template}: {body}");
        let documented = &self.document["paths"][template][&method]["responses"][&observed];
        assert!(
            documented.is_object(),
            "{method} {template} answered {observed}, which is not documented"
        );
        if is_problem {
            let problem: Value = serde_json::from_str(&body).expect("problem JSON");
            let code = problem["code"].as_str().expect("code");
            let description = documented["description"].as_str().unwrap_or_default();
            assert!(
                description.contains(&format!("`{code}`")),
                "{method} {template} {observed}: `{code}` is not in \"{description}\""
            );
        }
        let entry = (method, template.to_owned(), observed);
        self.seen.lock().expect("lock").insert(entry);
    }

    /// Sends each request in turn, expecting its status.
    pub(crate) async fn all(&self, cases: Vec<(RequestBuilder, &str)>) {
        for (request, status) in cases {
            self.expect(request, status).await;
        }
    }
}

/// Requests to one server, with a jar's cookies.
pub(crate) struct Calls<'a>(pub(crate) &'a TestApp);

impl Calls<'_> {
    pub(crate) fn call(&self, method: Method, path: &str, jar: &Jar) -> RequestBuilder {
        let request = self.0.client.request(method, self.0.url(path));
        match jar.header() {
            Some(cookies) => request.header("cookie", cookies),
            None => request,
        }
    }

    pub(crate) fn get(&self, path: &str, jar: &Jar) -> RequestBuilder {
        self.call(Method::GET, path, jar)
    }

    pub(crate) fn post(&self, path: &str, jar: &Jar) -> RequestBuilder {
        self.call(Method::POST, path, jar)
    }

    pub(crate) fn delete(&self, path: &str, jar: &Jar) -> RequestBuilder {
        self.call(Method::DELETE, path, jar)
    }
}

fn method_of(name: &str) -> Method {
    name.to_uppercase().parse().expect("a method")
}

/// The operations that require a session (and so may refresh in place).
fn session_operations() -> impl Iterator<Item = (Method, String)> {
    let needs_session = [
        "logout-all",
        "session",
        "sessions",
        "sessions/{id}",
        "password",
        "oidc/{provider}/link",
        "identities",
        "mfa/totp",
        "mfa/totp/confirm",
        "mfa/recovery-codes",
        "mfa",
        "reauthenticate",
        "passkeys",
        "passkeys/{id}",
        "passkeys/register/start",
        "passkeys/register/finish",
        "reauthenticate/webauthn/start",
    ];
    operations()
        .filter(move |(_, path, _)| {
            path.strip_prefix("/api/auth/")
                .is_some_and(|rest| needs_session.contains(&rest))
        })
        .map(|(name, template, _)| (method_of(name), concrete(template)))
        .chain(GATEWAY_METHODS.map(|method| (method, concrete(GATEWAY))))
}

fn account(name: &str) -> Value {
    json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD})
}

fn credentials(name: &str, password: &str) -> Value {
    json!({"username": name, "password": password})
}

fn new_password(current: &str) -> Value {
    json!({"current_password": current, "new_password": "a different horse battery"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_status_is_answered_for_real() {
    let probe = Probe {
        document: generated_document(),
        seen: Mutex::new(BTreeSet::new()),
    };
    let upstream = Recorder::spawn().await;
    guards_and_bodies(&probe, &upstream).await;
    everyday_answers(&probe, &upstream).await;
    limits(&probe, &upstream).await;
    database_down(&probe, &upstream).await;
    upstream_failures(&probe).await;
    crate::openapi_email::email_routes(&probe).await;
    crate::oidc::openapi::provider_routes(&probe).await;
    crate::openapi_mfa::mfa_routes(&probe).await;
    crate::openapi_passkeys::passkey_routes(&probe).await;

    let seen = probe.seen.into_inner().expect("lock");
    let never: Vec<_> = table().difference(&seen).cloned().collect();
    assert!(never.is_empty(), "documented but never provoked: {never:?}");
}

/// 431 everywhere, 403 on every write, 400/413/415 where a body is read.
async fn guards_and_bodies(probe: &Probe, upstream: &Recorder) {
    let app = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &upstream.url())]).await;
    let calls = Calls(&app);
    let ada = app.signed_in("ada").await;
    let mut cases = Vec::new();
    for (name, template, _) in operations() {
        let method = method_of(name);
        let mut oversized = calls.call(method.clone(), &concrete(template), &ada);
        for i in 0..40 {
            oversized = oversized.header(format!("x-filler-{i}"), "b".repeat(1024));
        }
        cases.push((oversized, "431"));
        if method != Method::GET {
            let cross_site = calls.call(method, &concrete(template), &ada);
            cases.push((
                cross_site.header("origin", "http://elsewhere.example"),
                "403",
            ));
        }
    }
    let none = Jar::default();
    let large = json!({"password": "x".repeat(64 * 1024)});
    for (path, jar) in [
        ("/api/auth/register", &none),
        ("/api/auth/login", &none),
        ("/api/auth/password", &ada),
    ] {
        let typed = |content_type| calls.post(path, jar).header("content-type", content_type);
        cases.push((typed("application/json").body("{"), "400"));
        cases.push((calls.post(path, jar).json(&large), "413"));
        cases.push((typed("text/plain").body("{}"), "415"));
    }
    probe.all(cases).await;
}

/// Successes, refusals of the request itself, and the upstream's answers.
async fn everyday_answers(probe: &Probe, upstream: &Recorder) {
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &upstream.url()),
        ("PORTCULLIS_UPSTREAM_TIMEOUT", "300ms"),
    ])
    .await;
    let calls = Calls(&app);
    let none = Jar::default();
    let ada = app.signed_in("ada").await;
    let mut carol = app.signed_in("carol").await;
    let own = own_session(&app, &mut carol).await;
    // A password change ends every session begun before it, the caller's
    // own included (the caller gets a new one): signing out everywhere is
    // shown with another account.
    let erin = app.signed_in("erin").await;
    let register = |body: Value| calls.post("/api/auth/register", &none).json(&body);
    let login = |password| {
        calls
            .post("/api/auth/login", &none)
            .json(&credentials("ada", password))
    };
    let change = |current| {
        calls
            .post("/api/auth/password", &ada)
            .json(&new_password(current))
    };
    let unknown = concrete("/api/auth/sessions/{id}");
    let discovery = calls.get("/.well-known/openid-configuration", &none);
    probe
        .all(vec![
            (register(account("bob")), "201"),
            (register(account("ada")), "409"),
            (login(PASSWORD), "201"),
            (login("not the password at all"), "401"),
            (calls.post("/api/auth/refresh", &carol), "204"),
            (calls.post("/api/auth/refresh", &none), "401"),
            (calls.post("/api/auth/logout", &none), "204"),
            (calls.get("/api/auth/session", &ada), "200"),
            (calls.get("/api/auth/sessions", &ada), "200"),
            (calls.delete(&unknown, &ada), "404"),
            // Carol's access cookie outlives the refresh above.
            (calls.delete(&own, &carol), "204"),
            (change("not the password at all"), "403"),
            (change(PASSWORD), "204"),
            (calls.post("/api/auth/logout-all", &erin), "204"),
            (calls.get("/api/auth/openapi.json", &none), "200"),
            (calls.get("/.well-known/jwks.json", &none), "200"),
            (calls.get("/.well-known/openid-configuration", &none), "200"),
            (discovery.header("host", "bad host/with#junk"), "400"),
            (calls.get("/healthz", &none), "200"),
            (calls.get("/readyz", &none), "200"),
            (calls.get("/metrics", &none), "200"),
        ])
        .await;

    let dave = app.signed_in("dave").await;
    let mut cases = Vec::new();
    for (method, path) in session_operations() {
        cases.push((calls.call(method, &path, &none), "401"));
    }
    for method in GATEWAY_METHODS {
        cases.push((
            calls.call(method.clone(), &concrete(GATEWAY), &dave),
            "default",
        ));
        cases.push((calls.call(method, "/api/never", &dave), "504"));
    }
    probe.all(cases).await;
}

/// `/api/auth/sessions/{id}` of the session `jar` holds.
async fn own_session(app: &TestApp, jar: &mut Jar) -> String {
    let current: Value = app.session(jar).await.json().await.expect("JSON");
    let id = current["session"]["id"].as_str().expect("id");
    format!("/api/auth/sessions/{id}")
}

/// 429: per-address limits of one registration, one sign-in and one refresh.
/// Every route that requires a session refreshes in place, so is limited too.
async fn limits(probe: &Probe, upstream: &Recorder) {
    let app = TestApp::spawn_with(&[
        ("PORTCULLIS_UPSTREAM", &upstream.url()),
        ("PORTCULLIS_ADDRESS_REGISTRATIONS", "1/1h"),
        ("PORTCULLIS_ADDRESS_LOGIN_ATTEMPTS", "1/1h"),
        ("PORTCULLIS_ADDRESS_REFRESHES", "1/1h"),
    ])
    .await;
    let calls = Calls(&app);
    let none = Jar::default();
    app.signed_in("ada").await;
    let login = || {
        calls
            .post("/api/auth/login", &none)
            .json(&credentials("ada", PASSWORD))
    };
    // A refresh cookie that holds no token still counts against the limit.
    let stale = Jar::with(&[(REFRESH, "not-a-token")]);
    let mut cases = vec![
        (
            calls
                .post("/api/auth/register", &none)
                .json(&account("bob")),
            "429",
        ),
        (login(), "201"),
        (login(), "429"),
        (calls.post("/api/auth/refresh", &stale), "401"),
        (calls.post("/api/auth/refresh", &stale), "429"),
    ];
    for (method, path) in session_operations() {
        cases.push((calls.call(method, &path, &stale), "429"));
    }
    probe.all(cases).await;
}

/// 503: a PostgreSQL-backed server whose database connection is cut.
async fn database_down(probe: &Probe, upstream: &Recorder) {
    let mut db = TestDb::postgres().await;
    let proxy = TcpProxy::start("127.0.0.1:5432".parse().expect("address")).await;
    let mut via_proxy = url::Url::parse(db.url()).expect("url");
    via_proxy.set_port(Some(proxy.addr().port())).expect("port");
    let upstream = upstream.url();
    let settings = [
        ("PORTCULLIS_UPSTREAM", upstream.as_str()),
        ("PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT", "500ms"),
        ("PORTCULLIS_DATABASE_STATEMENT_TIMEOUT", "1s"),
        SMALL_POOL,
        crate::openapi_email::MAIL_SETTINGS[0],
        crate::openapi_email::MAIL_SETTINGS[1],
        crate::openapi_email::MAIL_SETTINGS[2],
    ];
    let app = TestApp::spawn_on(db.take_dir(), via_proxy.to_string(), &settings).await;
    let calls = Calls(&app);
    let none = Jar::default();
    let mut ada = app.signed_in("ada").await;
    let own = own_session(&app, &mut ada).await;
    // A second session whose answer has never been read: `own_session`'s
    // is remembered, and served without the database.
    let mut unread = Jar::default();
    assert_eq!(app.login(&mut unread, "ada", PASSWORD).await.status(), 201);
    // With only the refresh cookie, a request must refresh in place, which
    // needs the database.
    let refreshing = Jar::with(&[(REFRESH, ada.refresh().expect("refresh cookie"))]);
    let login = calls
        .post("/api/auth/login", &none)
        .json(&credentials("ada", PASSWORD));
    let change = calls
        .post("/api/auth/password", &ada)
        .json(&new_password(PASSWORD));
    let mut cases = vec![
        (
            calls
                .post("/api/auth/register", &none)
                .json(&account("bob")),
            "503",
        ),
        (login, "503"),
        (calls.post("/api/auth/refresh", &ada), "503"),
        (calls.post("/api/auth/logout", &ada), "503"),
        (calls.post("/api/auth/logout-all", &ada), "503"),
        (calls.get("/api/auth/session", &unread), "503"),
        (calls.get("/api/auth/sessions", &ada), "503"),
        (calls.delete(&own, &ada), "503"),
        (change, "503"),
        (calls.get("/readyz", &none), "503"),
    ];
    // The e-mail routes: a token that parses, so that it is looked up.
    let token = "A".repeat(43);
    let new_address = json!({"email": "new@example.com", "current_password": PASSWORD});
    cases.extend([
        (
            calls
                .post("/api/auth/password/forgot", &none)
                .json(&json!({"email": "ada@example.com"})),
            "503",
        ),
        (
            calls
                .post("/api/auth/password/reset", &none)
                .json(&json!({"token": token, "new_password": "a different horse battery"})),
            "503",
        ),
        (
            calls
                .post("/api/auth/email/verify", &none)
                .json(&json!({ "token": token })),
            "503",
        ),
        (calls.post("/api/auth/email/resend", &ada), "503"),
        (
            calls
                .post(
                    "/api/auth/mfa/verify",
                    &Jar::with(&[(crate::mfa::PENDING, &token)]),
                )
                .json(&json!({"code": "123456"})),
            "503",
        ),
        (calls.post("/api/auth/mfa/totp", &ada), "503"),
        (
            calls.call(Method::DELETE, "/api/auth/mfa/totp", &ada),
            "503",
        ),
        (
            calls
                .post("/api/auth/mfa/totp/confirm", &ada)
                .json(&json!({"code": "123456"})),
            "503",
        ),
        (calls.post("/api/auth/mfa/recovery-codes", &ada), "503"),
        (calls.get("/api/auth/mfa", &ada), "503"),
        (
            calls
                .post("/api/auth/reauthenticate", &ada)
                .json(&json!({"password": PASSWORD})),
            "503",
        ),
        (
            calls.post("/api/auth/email", &ada).json(&new_address),
            "503",
        ),
        // The passkey routes: those without a session reach the database
        // themselves; the others refresh in place first.
        (calls.post("/api/auth/passkeys/login/start", &none), "503"),
        (
            calls.post("/api/auth/passkeys/login/finish", &none).json(
                &json!({"ceremony": token, "credential": {
                    "id": "AA", "rawId": "AA", "type": "public-key", "response": {
                        "authenticatorData": "AA", "clientDataJSON": "AA",
                        "signature": "AA", "userHandle": "AA"}}}),
            ),
            "503",
        ),
        (
            calls.post(
                "/api/auth/mfa/webauthn/start",
                &Jar::with(&[(crate::mfa::PENDING, &token)]),
            ),
            "503",
        ),
        (
            calls.post("/api/auth/passkeys/register/start", &refreshing),
            "503",
        ),
        (
            calls
                .post("/api/auth/passkeys/register/finish", &refreshing)
                .json(&json!({"name": "Key", "credential": {}})),
            "503",
        ),
        (calls.get("/api/auth/passkeys", &refreshing), "503"),
        (
            calls
                .call(
                    Method::PATCH,
                    &concrete("/api/auth/passkeys/{id}"),
                    &refreshing,
                )
                .json(&json!({"name": "Key"})),
            "503",
        ),
        (
            calls.call(
                Method::DELETE,
                &concrete("/api/auth/passkeys/{id}"),
                &refreshing,
            ),
            "503",
        ),
        (
            calls.post("/api/auth/reauthenticate/webauthn/start", &refreshing),
            "503",
        ),
    ]);
    for method in GATEWAY_METHODS {
        cases.push((calls.call(method, &concrete(GATEWAY), &refreshing), "503"));
    }
    proxy.cut();
    probe.all(cases).await;
}

/// 404 without an upstream, 502 when the upstream refuses connections.
async fn upstream_failures(probe: &Probe) {
    let without = TestApp::spawn().await;
    let refusing = TestApp::spawn_with(&[("PORTCULLIS_UPSTREAM", &closed_url().await)]).await;
    let ada = refusing.signed_in("ada").await;
    let mut cases = Vec::new();
    for method in GATEWAY_METHODS {
        let anonymous = Jar::default();
        cases.push((
            Calls(&without).call(method.clone(), &concrete(GATEWAY), &anonymous),
            "404",
        ));
        cases.push((
            Calls(&refusing).call(method, &concrete(GATEWAY), &ada),
            "502",
        ));
    }
    probe.all(cases).await;
}
