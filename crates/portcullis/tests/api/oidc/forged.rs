//! ID tokens that must be refused, signed by a provider of our own with its
//! real key: what a compromised or confused provider, or an attacker who
//! got hold of another client's token, could send.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

/// A flow begun at the fake provider: its jar, `state` and `nonce`.
async fn begin(app: &OidcApp) -> (Jar, String, String) {
    let mut jar = Jar::default();
    let authorization = app.start(&mut jar, "/account").await;
    (
        jar,
        param(&authorization, "state"),
        param(&authorization, "nonce"),
    )
}

fn good_claims(app: &OidcApp, op: &FakeOp, nonce: &str) -> Value {
    let now = now_secs(app);
    json!({
        "iss": op.issuer,
        "sub": "subject-1",
        "aud": CLIENT_ID,
        "exp": now + 300,
        "iat": now,
        "nonce": nonce,
        "email": "forged@example.com",
        "email_verified": true,
        "preferred_username": "forged",
    })
}

async fn app_at(op: &FakeOp) -> OidcApp {
    OidcApp::spawn(free_port(), &op.issuer, &[]).await
}

#[tokio::test]
async fn a_well_formed_id_token_signs_in_so_the_refusals_below_are_for_their_one_flaw() {
    let op = FakeOp::spawn().await;
    let app = app_at(&op).await;
    let (mut jar, state, nonce) = begin(&app).await;
    op.will_sign(good_claims(&app, &op, &nonce));
    let response = app
        .callback(&mut jar, &format!("code=c&state={state}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(jar.access().is_some());
}

#[tokio::test]
async fn id_tokens_with_one_thing_wrong_are_refused() {
    let op = FakeOp::spawn().await;
    let app = app_at(&op).await;
    let now = now_secs(&app);
    type Spoil = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Spoil)> = vec![
        (
            "wrong nonce",
            Box::new(|c| c["nonce"] = json!("C".repeat(43))),
        ),
        (
            "no nonce",
            Box::new(|c| {
                c.as_object_mut().expect("object").remove("nonce");
            }),
        ),
        (
            "another audience",
            Box::new(|c| c["aud"] = json!("another-client")),
        ),
        (
            "our audience among others, no azp",
            Box::new(|c| {
                c["aud"] = json!([CLIENT_ID, "another-client"]);
            }),
        ),
        (
            "azp of another client",
            Box::new(|c| c["azp"] = json!("another-client")),
        ),
        (
            "expired",
            Box::new(move |c| {
                c["exp"] = json!(now - 120);
                c["iat"] = json!(now - 300);
            }),
        ),
        (
            "issued in the future",
            Box::new(move |c| c["iat"] = json!(now + 600)),
        ),
        (
            "issued long before the flow",
            Box::new(move |c| c["iat"] = json!(now - 3600)),
        ),
        (
            "another issuer",
            Box::new(|c| c["iss"] = json!("https://evil.test")),
        ),
    ];
    for (what, spoil) in cases {
        let (mut jar, state, nonce) = begin(&app).await;
        let mut claims = good_claims(&app, &op, &nonce);
        spoil(&mut claims);
        op.will_sign(claims);
        let response = app
            .callback(&mut jar, &format!("code=c&state={state}"))
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        let body: Value = response.json().await.expect("problem");
        assert_eq!(body["code"], "invalid_id_token", "{what}");
        assert!(jar.access().is_none(), "{what}");
    }
    // Signed with a key the provider never published.
    let (mut jar, state, nonce) = begin(&app).await;
    op.will_sign(good_claims(&app, &op, &nonce));
    op.with_kid("unknown");
    let response = app
        .callback(&mut jar, &format!("code=c&state={state}"))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_id_token").await;
}

#[tokio::test]
async fn an_answer_naming_another_issuer_is_refused_as_a_mix_up() {
    let op = FakeOp::spawn().await;
    let app = app_at(&op).await;
    let (mut jar, state, nonce) = begin(&app).await;
    op.will_sign(good_claims(&app, &op, &nonce));
    let response = app
        .callback(
            &mut jar,
            &format!("code=c&state={state}&iss=https%3A%2F%2Fevil.test"),
        )
        .await;
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_flow").await;
}
