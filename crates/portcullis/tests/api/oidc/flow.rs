//! The flow against `oidc-provider`: sign-in, a new account, the same
//! account next time, and every way a callback can be wrong.

use reqwest::StatusCode;
use serde_json::Value;

use super::*;

async fn node_app(extra: &[(&str, &str)]) -> (NodeOp, OidcApp) {
    let reserved = Reserved::new();
    let port = reserved.port();
    let (_, callback) = urls(port);
    let op = NodeOp::spawn(&[callback]);
    drop(reserved);
    let app = OidcApp::spawn(port, &op.issuer, extra).await;
    (op, app)
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn a_new_identity_creates_an_account_and_is_signed_in_with_the_provider_recorded() {
    let (_op, app) = node_app(&[]).await;
    let mut jar = Jar::default();
    let authorization = app.start(&mut jar, "/account").await;
    // Authorization code with PKCE S256, state and nonce.
    assert_eq!(param(&authorization, "response_type"), "code");
    assert_eq!(param(&authorization, "code_challenge_method"), "S256");
    assert_eq!(param(&authorization, "client_id"), CLIENT_ID);
    assert!(
        param(&authorization, "scope")
            .split(' ')
            .any(|s| s == "openid")
    );
    assert!(param(&authorization, "nonce").len() >= 43);
    let flow = jar
        .cookies
        .get("__Host-oidc_flow")
        .expect("flow cookie")
        .clone();
    assert!(
        !authorization.as_str().contains(&flow),
        "the cookie is not the state"
    );

    let query = sign_in_at_op(&authorization, "alice").await;
    let response = app.callback(&mut jar, &query).await;
    assert_eq!(response.status(), StatusCode::OK);
    let set = set_cookies(response.headers());
    let flow_cookie = set
        .iter()
        .find(|c| c.name == "__Host-oidc_flow")
        .expect("flow cleared");
    assert_eq!(flow_cookie.max_age, Some(0));
    let access = set
        .iter()
        .find(|c| c.name == ACCESS)
        .expect("access cookie");
    assert!(access.attributes.iter().any(|a| a == "SameSite=Strict"));
    assert_eq!(response.headers()["cache-control"], "no-store");
    // The same-origin step: a page of ours that continues to `next`.
    assert!(continues_to(response, "/account").await);

    let session: Value = app.session(&mut jar).await.json().await.expect("JSON");
    assert_eq!(session["user"]["username"], "alice");
    assert_eq!(session["user"]["email"], "alice@example.com");
    assert_eq!(session["user"]["email_verified"], true);
    let claims = jwt_claims(jar.access().expect("access token"));
    assert_eq!(claims["idp"], PROVIDER);
    let sessions: Value = app
        .get(&mut jar, "/api/auth/sessions")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(sessions["sessions"][0]["idp"], PROVIDER);
    // A refresh keeps the provider in the new token.
    assert_eq!(app.refresh(&mut jar).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(jwt_claims(jar.access().expect("access"))["idp"], PROVIDER);
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn signing_in_again_lands_on_the_same_account_and_a_password_never_works_for_it() {
    let (_op, app) = node_app(&[]).await;
    let mut jar = Jar::default();
    assert_eq!(
        round_trip(&app, &mut jar, "alice").await.status(),
        StatusCode::OK
    );
    let first: Value = app.session(&mut jar).await.json().await.expect("JSON");
    assert_eq!(
        app.post(&mut jar, "/api/auth/logout", None).await.status(),
        StatusCode::NO_CONTENT
    );

    let mut again = Jar::default();
    assert_eq!(
        round_trip(&app, &mut again, "alice").await.status(),
        StatusCode::OK
    );
    let second: Value = app.session(&mut again).await.json().await.expect("JSON");
    assert_eq!(first["user"]["id"], second["user"]["id"]);

    // No password was ever set: none signs in, and the refusal is the
    // same as a wrong password's.
    for password in ["", PASSWORD, "anything at all"] {
        let response = app.login(&mut Jar::default(), "alice", password).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn a_replayed_callback_is_refused() {
    let (_op, app) = node_app(&[]).await;
    let mut jar = Jar::default();
    let authorization = app.start(&mut jar, "/").await;
    let flow = jar.cookies.get("__Host-oidc_flow").expect("flow").clone();
    let query = sign_in_at_op(&authorization, "alice").await;
    assert_eq!(
        app.callback(&mut jar, &query).await.status(),
        StatusCode::OK
    );
    // The same answer again, with the same flow cookie.
    let mut replay = Jar::with(&[("__Host-oidc_flow", &flow)]);
    let response = app.callback(&mut replay, &query).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_flow").await;
    assert!(replay.access().is_none());
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn a_callback_without_the_browsers_flow_cookie_is_refused() {
    let (_op, app) = node_app(&[]).await;
    let mut jar = Jar::default();
    let authorization = app.start(&mut jar, "/").await;
    let query = sign_in_at_op(&authorization, "alice").await;
    // Login CSRF: the attacker's own code and state, delivered to a victim
    // whose browser did not begin the flow.
    let forged = "A".repeat(43);
    for mut other in [
        Jar::default(),
        Jar::with(&[("__Host-oidc_flow", &forged)]),
        Jar::with(&[("__Host-oidc_flow", "not a token")]),
    ] {
        let response = app.callback(&mut other, &query).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_flow").await;
        assert!(other.access().is_none());
    }
    // The real browser still can, once.
    assert_eq!(
        app.callback(&mut jar, &query).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn a_state_of_another_flow_is_refused_and_ends_the_flow() {
    let (_op, app) = node_app(&[]).await;
    let mut jar = Jar::default();
    let authorization = app.start(&mut jar, "/").await;
    let query = sign_in_at_op(&authorization, "alice").await;
    let state = param(&authorization, "state");
    let tampered = query.replace(&state, &"B".repeat(43));
    let response = app.callback(&mut jar, &tampered).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_flow").await;
    // The flow is used up: the right answer is too late now.
    let response = app.callback(&mut jar, &query).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_flow").await;
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn a_next_to_another_site_is_refused_and_unknown_providers_are_not_found() {
    let (_op, app) = node_app(&[]).await;
    for next in [
        "//evil.test/",
        "https://evil.test/",
        "/\\evil.test",
        "evil",
        "%2F%2Fevil.test",
    ] {
        let mut jar = Jar::default();
        let path = format!("/api/auth/oidc/{PROVIDER}/start?next={next}");
        let response = app.get(&mut jar, &path).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(jar.cookies.is_empty(), "no flow begun for {next}");
    }
    for path in [
        "/api/auth/oidc/nope/start",
        "/api/auth/oidc/nope/callback?code=x&state=y",
    ] {
        let response = app.get(&mut Jar::default(), path).await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // A browser gets a page, not JSON.
    let response = app
        .client
        .get(app.url("/api/auth/oidc/nope/start"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn a_refusal_at_the_provider_or_a_bad_code_ends_on_a_clear_problem() {
    let (_op, app) = node_app(&[]).await;
    let mut jar = Jar::default();
    let authorization = app.start(&mut jar, "/").await;
    let state = param(&authorization, "state");
    let response = app
        .callback(&mut jar, &format!("error=access_denied&state={state}"))
        .await;
    let body = assert_problem(response, StatusCode::UNAUTHORIZED, "provider_denied").await;
    assert_eq!(body["detail"], "access_denied");

    let mut jar = Jar::default();
    let authorization = app.start(&mut jar, "/").await;
    let state = param(&authorization, "state");
    let response = app
        .callback(&mut jar, &format!("code=made-up&state={state}"))
        .await;
    let body = assert_problem(response, StatusCode::UNAUTHORIZED, "provider_denied").await;
    assert_eq!(body["detail"], "invalid_grant");
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn an_unverified_address_of_an_existing_account_is_never_linked() {
    let (_op, app) = node_app(&[]).await;
    let mut victim = app.signed_in("victim").await;
    let mut jar = Jar::default();
    // mallory's provider account claims victim@example.com, unverified.
    let response = round_trip(&app, &mut jar, "mallory").await;
    assert_problem(response, StatusCode::CONFLICT, "account_exists").await;
    assert!(jar.access().is_none());
    assert!(!jar.cookies.contains_key("__Host-oidc_link"));
    let identities: Value = app
        .get(&mut victim, "/api/auth/identities")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(identities["identities"], serde_json::json!([]));
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn a_verified_address_of_an_existing_account_links_only_with_its_password() {
    let (_op, app) = node_app(&[]).await;
    let mut carol = app.signed_in("carol").await;
    let carol_id = app
        .session(&mut carol)
        .await
        .json::<Value>()
        .await
        .expect("JSON")["user"]["id"]
        .clone();
    let _dave = app.signed_in("dave").await;

    // Signing in at the provider offers the link; nothing is signed in yet.
    let mut jar = Jar::default();
    let response = round_trip(&app, &mut jar, "carol").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(jar.access().is_none());
    assert!(jar.cookies.contains_key("__Host-oidc_link"));
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("/login?notice=link-provider")
    );

    // Signing in to another account does not take the offer.
    let mut wrong = jar.clone();
    assert_eq!(
        app.login(&mut wrong, "dave", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    assert!(!wrong.cookies.contains_key("__Host-oidc_link"));

    // Carol's own password does.
    let mut jar2 = Jar::default();
    assert_eq!(
        round_trip(&app, &mut jar2, "carol").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login(&mut jar2, "carol", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let identities: Value = app
        .get(&mut carol, "/api/auth/identities")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(identities["identities"][0]["provider"], PROVIDER);

    // From then on the provider signs in to carol.
    let mut via_provider = Jar::default();
    assert_eq!(
        round_trip(&app, &mut via_provider, "carol").await.status(),
        StatusCode::OK
    );
    let session: Value = app
        .session(&mut via_provider)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(session["user"]["id"], carol_id);
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn closed_registration_refuses_a_new_identity() {
    let (_op, app) = node_app(&[("PORTCULLIS_REGISTRATION", "closed")]).await;
    let mut jar = Jar::default();
    let response = round_trip(&app, &mut jar, "alice").await;
    assert_problem(response, StatusCode::FORBIDDEN, "registration_closed").await;
    let response = round_trip(&app, &mut Jar::default(), "noemail").await;
    assert_problem(response, StatusCode::FORBIDDEN, "email_required").await;
}

#[tokio::test]
async fn a_provider_that_is_down_does_not_stop_portcullis_and_answers_a_clear_problem() {
    let port = free_port();
    let closed = format!("http://127.0.0.1:{}", free_port());
    let app = OidcApp::spawn(port, &closed, &[]).await;
    assert_eq!(
        app.get(&mut Jar::default(), "/healthz").await.status(),
        StatusCode::OK
    );
    let mut jar = Jar::default();
    let response = app
        .get(&mut jar, &format!("/api/auth/oidc/{PROVIDER}/start"))
        .await;
    assert_problem(response, StatusCode::BAD_GATEWAY, "provider_unavailable").await;
    assert!(!jar.cookies.contains_key("__Host-oidc_flow"));
    let providers: Value = app
        .get(&mut jar, "/api/auth/oidc/providers")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(providers["providers"][0]["id"], PROVIDER);
    assert_eq!(providers["providers"][0]["name"], "Test OP");
}

#[tokio::test]
#[ignore = "needs node and tests/node/oidc-provider's packages"]
async fn an_address_kept_out_of_the_id_token_is_read_from_userinfo() {
    let reserved = Reserved::new();
    let port = reserved.port();
    let (_, callback) = urls(port);
    let _op = NodeOp::spawn_with(&[callback], &[("OP_CONFORM", "1")]);
    drop(reserved);
    let app = OidcApp::spawn(port, &_op.issuer, &[]).await;
    let mut jar = Jar::default();
    assert_eq!(
        round_trip(&app, &mut jar, "alice").await.status(),
        StatusCode::OK
    );
    let session: Value = app.session(&mut jar).await.json().await.expect("JSON");
    assert_eq!(session["user"]["email"], "alice@example.com");
    assert_eq!(session["user"]["email_verified"], true);
    assert_eq!(session["user"]["username"], "alice");
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_with_its_provider() {
    let op = FakeOp::spawn().await;
    let app = OidcApp::spawn(free_port(), &op.issuer, &[]).await;
    let sign_in = |jar: Jar| {
        let app = &app;
        let op = &op;
        async move {
            let mut jar = jar;
            let authorization = app.start(&mut jar, "/").await;
            let now = now_secs(app);
            op.will_sign(serde_json::json!({
                "iss": op.issuer, "sub": "s1", "aud": CLIENT_ID, "exp": now + 300, "iat": now,
                "nonce": param(&authorization, "nonce"), "email": "dis@example.com",
                "email_verified": true, "preferred_username": "dis",
            }));
            let state = param(&authorization, "state");
            let response = app
                .callback(&mut jar, &format!("code=c&state={state}"))
                .await;
            (response, jar)
        }
    };
    let (response, mut jar) = sign_in(Jar::default()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id: portcullis::domain::UserId = app
        .session(&mut jar)
        .await
        .json::<Value>()
        .await
        .expect("JSON")["user"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("a user id");
    assert!(app.auth.disable_user(id).await.expect("disabled"));
    let (response, jar) = sign_in(Jar::default()).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert!(jar.access().is_none());
}

#[tokio::test]
async fn the_no_script_sign_in_form_completes_a_pending_link_too() {
    let op = FakeOp::spawn().await;
    let app = OidcApp::spawn(free_port(), &op.issuer, &[]).await;
    let mut carol = app.signed_in("carol").await;
    let mut jar = Jar::default();
    let authorization = app.start(&mut jar, "/account").await;
    let now = now_secs(&app);
    op.will_sign(serde_json::json!({
        "iss": op.issuer, "sub": "c1", "aud": CLIENT_ID, "exp": now + 300, "iat": now,
        "nonce": param(&authorization, "nonce"), "email": "carol@example.com",
        "email_verified": true,
    }));
    let state = param(&authorization, "state");
    let response = app
        .callback(&mut jar, &format!("code=c&state={state}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(jar.access().is_none());
    let response = app
        .client
        .post(app.url("/login"))
        .header("cookie", jar.header().expect("cookies"))
        .form(&[
            ("username", "carol"),
            ("password", PASSWORD),
            ("next", "/account"),
        ])
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cleared = set_cookies(response.headers())
        .into_iter()
        .any(|c| c.name == "__Host-oidc_link" && c.max_age == Some(0));
    assert!(cleared, "the offer is spent");
    let identities: Value = app
        .get(&mut carol, "/api/auth/identities")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(identities["identities"][0]["provider"], PROVIDER);
}
