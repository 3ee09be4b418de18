//! An attacker with an IPv6 /64 (what one home connection or one cloud VM is
//! given) rotating through its addresses to reset the per-address limits.

use reqwest::StatusCode;

use super::login_from;
use crate::helpers::*;

/// A server behind a trusted proxy on loopback, with a small failure budget
/// per client address.
async fn behind_a_proxy(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
        ("PORTCULLIS_ADDRESS_LOGIN_FAILURES", "3/10m"),
    ];
    settings.extend_from_slice(extra);
    let app = TestApp::spawn_with(&settings).await;
    app.signed_in("ada").await;
    app
}

/// Sprays one wrong password over four names from `addresses` in turn: the
/// fourth failure finds the budget spent.
async fn spray(app: &TestApp, addresses: &[&str; 4]) {
    for (name, from) in ["bob", "carol", "dave", "erin"].iter().zip(addresses) {
        let response = login_from(app, from, name, "Summer2026!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{from}");
    }
}

#[tokio::test]
async fn rotating_addresses_within_one_ipv6_64_does_not_reset_the_limits() {
    let app = behind_a_proxy(&[]).await;
    spray(
        &app,
        &[
            "2001:db8:1:2::1",
            "2001:db8:1:2::2",
            "2001:db8:1:2:aaaa::3",
            "2001:db8:1:2:ffff:ffff:ffff:fffe",
        ],
    )
    .await;
    let response = login_from(&app, "2001:db8:1:2:1234::99", "ada", PASSWORD).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // The next /64 is somebody else.
    let response = login_from(&app, "2001:db8:1:3::1", "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_ipv4_mapped_ipv6_address_is_its_ipv4_address() {
    let app = behind_a_proxy(&[]).await;
    spray(
        &app,
        &[
            "::ffff:192.0.2.7",
            "192.0.2.7",
            "::ffff:c000:207",
            "192.0.2.7",
        ],
    )
    .await;
    let response = login_from(&app, "192.0.2.7", "ada", PASSWORD).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // IPv4 addresses are not grouped: the neighbour is unaffected.
    let response = login_from(&app, "192.0.2.8", "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_ipv6_prefix_that_makes_one_client_is_configurable() {
    let app = behind_a_proxy(&[("PORTCULLIS_ADDRESS_IPV6_PREFIX", "48")]).await;
    spray(
        &app,
        &[
            "2001:db8:1:1::1",
            "2001:db8:1:2::1",
            "2001:db8:1:3::1",
            "2001:db8:1:ffff::1",
        ],
    )
    .await;
    let response = login_from(&app, "2001:db8:1:abcd::1", "ada", PASSWORD).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let response = login_from(&app, "2001:db8:2::1", "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // At 128 every address is a client of its own, as before.
    let app = behind_a_proxy(&[("PORTCULLIS_ADDRESS_IPV6_PREFIX", "128")]).await;
    spray(
        &app,
        &[
            "2001:db8:1:2::1",
            "2001:db8:1:2::2",
            "2001:db8:1:2::3",
            "2001:db8:1:2::4",
        ],
    )
    .await;
    let response = login_from(&app, "2001:db8:1:2::5", "ada", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}
