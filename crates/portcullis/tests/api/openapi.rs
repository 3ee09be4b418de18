//! The OpenAPI document: served, complete, and in step with the router.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

/// The route templates registered in an axum router.
///
/// axum has no API to list routes; its `Debug` output is the only window on
/// them, so it is parsed here. Should that format change, this finds nothing
/// or nonsense and the assertions below fail loudly rather than pass.
fn router_paths(router: &axum::Router<impl Clone + Send + Sync + 'static>) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    // The fallbacks live in a second path router after this one.
    let routes = debug
        .split_once("fallback_router:")
        .map_or(debug.as_str(), |(routes, _)| routes);
    let mut paths = BTreeSet::new();
    for chunk in routes.split("): \"").skip(1) {
        let Some(path) = chunk.split('"').next() else {
            continue;
        };
        // A nested router's fallback appears as an internal catch-all route;
        // it is not a route of the interface.
        if path.starts_with('/') && !path.contains("__private__axum") {
            paths.insert(path.to_owned());
        }
    }
    paths
}

/// `{*rest}` (an axum wildcard) is written `{rest}` in OpenAPI.
fn openapi_template(path: &str) -> String {
    path.replace("{*", "{")
}

async fn served_document(app: &TestApp) -> Value {
    let response = app.get(&mut Jar::default(), "/api/auth/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.expect("JSON")
}

#[tokio::test]
async fn every_route_of_the_router_is_in_the_openapi_document_and_nothing_else() {
    let (router, generated) = portcullis::server::routes();
    let routes: BTreeSet<String> = router_paths(&router)
        .iter()
        .map(|p| openapi_template(p))
        .collect();
    assert!(
        routes.contains("/healthz") && routes.contains("/api/auth/sessions/{id}"),
        "the router's routes could not be read: {routes:?}"
    );

    let app = TestApp::spawn().await;
    let document = served_document(&app).await;
    assert_eq!(
        document,
        serde_json::to_value(&generated).expect("serialises"),
        "the served document is the generated one"
    );
    let documented: BTreeSet<String> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    assert_eq!(routes, documented);
}

#[tokio::test]
async fn every_method_the_server_answers_is_documented_and_no_other() {
    let app = TestApp::spawn().await;
    let document = served_document(&app).await;
    let (router, _) = portcullis::server::routes();
    for path in router_paths(&router) {
        let template = openapi_template(&path);
        let concrete = path.replace("{id}", "x").replace("{*rest}", "some/thing");
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let response = app
                .send(&mut Jar::default(), method.clone(), &concrete, None)
                .await;
            let answered = response.status() != StatusCode::METHOD_NOT_ALLOWED;
            let operation = &document["paths"][&template][method.as_str().to_lowercase()];
            assert_eq!(
                answered,
                operation.is_object(),
                "{method} {path}: answered {}, documented {}",
                response.status(),
                operation.is_object()
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_cookie_schemes_and_problem_responses() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );

    let schemes = &doc["components"]["securitySchemes"];
    for (scheme, cookie) in [("access_token", ACCESS), ("refresh_token", REFRESH)] {
        assert_eq!(schemes[scheme]["type"], "apiKey");
        assert_eq!(schemes[scheme]["in"], "cookie");
        assert_eq!(schemes[scheme]["name"], cookie);
    }
    assert_eq!(
        doc["paths"]["/api/auth/refresh"]["post"]["security"][0]["refresh_token"],
        serde_json::json!([])
    );

    let problem = &doc["components"]["schemas"]["Problem"];
    for member in ["type", "title", "status", "code", "detail", "reason"] {
        assert!(problem["properties"][member].is_object(), "{member}");
    }
    let refused = &doc["paths"]["/api/auth/refresh"]["post"]["responses"]["401"];
    assert_eq!(
        refused["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    assert!(refused["headers"]["Portcullis-Refresh-Denied"].is_object());
    let login = &doc["paths"]["/api/auth/login"]["post"];
    assert!(login["responses"]["429"]["headers"]["Retry-After"].is_object());
    assert_eq!(
        login["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/LoginBody"
    );
}
