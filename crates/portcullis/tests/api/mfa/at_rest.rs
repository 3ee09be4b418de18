//! What the database holds of second factors, what a bad key file does at
//! start, and two requests racing with the same proof.

use portcullis::config::{Config, Sources};
use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn the_database_holds_neither_the_totp_secret_nor_the_recovery_codes() {
    let app = MfaApp::spawn().await;
    let (_, secret, codes) = app.enrolled("ada").await;
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("the test database");
    let (sealed,): (Vec<u8>,) = sqlx::query_as("SELECT sealed_secret FROM totp_secrets")
        .fetch_one(&pool)
        .await
        .expect("one secret");
    let hashes: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT code_hash FROM recovery_codes")
        .fetch_all(&pool)
        .await
        .expect("codes");
    pool.close().await;
    let key = secret.base32();
    let sealed_text = String::from_utf8_lossy(&sealed);
    assert!(!sealed_text.contains(&key), "the secret is sealed");
    // The sealed form is nonce, ciphertext and tag: longer than the secret.
    assert_eq!(sealed.len(), 24 + 20 + 16);
    assert_eq!(hashes.len(), 10);
    for (hash,) in hashes {
        assert_eq!(hash.len(), 32);
        for code in &codes {
            assert!(!String::from_utf8_lossy(&hash).contains(code.as_str()));
        }
    }
}

#[test]
fn a_short_or_missing_key_file_stops_the_server_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let short = dir.path().join("short.key");
    std::fs::write(&short, "too short\n").expect("write");
    let missing = dir.path().join("missing.key");
    for (path, reason) in [(&short, "at least 32"), (&missing, "No such file")] {
        let path = path.display().to_string();
        let error = Config::from_sources(&Sources::from_env([
            ("PORTCULLIS_DATABASE_URL", "sqlite://unused.db"),
            ("PORTCULLIS_MFA_KEY_FILE", path.as_str()),
        ]))
        .expect_err("refused")
        .to_string();
        assert!(error.contains(&path) && error.contains(reason), "{error}");
    }
    let window = Config::from_sources(&Sources::from_env([
        ("PORTCULLIS_DATABASE_URL", "sqlite://unused.db"),
        ("PORTCULLIS_REAUTHENTICATION_WINDOW", "5s"),
    ]))
    .expect_err("refused")
    .to_string();
    assert!(window.contains("reauthentication_window"), "{window}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_verifications_racing_with_one_pending_cookie_one_signs_in() {
    let app = MfaApp::spawn().await;
    let (_, secret, codes) = app.enrolled("ada").await;
    for round in 0..3 {
        let jar = app.password_step("ada").await;
        let cookie = jar.header().expect("cookie");
        let body = match round {
            // The same TOTP code twice, then the same recovery code twice,
            // then one of each.
            0 => [
                json!({"code": app.code(&secret, 0)}),
                json!({"code": app.code(&secret, 0)}),
            ],
            1 => [
                json!({"recovery_code": codes[0]}),
                json!({"recovery_code": codes[0]}),
            ],
            _ => [
                json!({"recovery_code": codes[1]}),
                json!({"code": app.code(&secret, 1)}),
            ],
        };
        let send = |body: serde_json::Value| {
            app.client
                .post(app.url("/api/auth/mfa/verify"))
                .header("cookie", &cookie)
                .json(&body)
                .send()
        };
        let [a, b] = body;
        let (a, b) = tokio::join!(send(a), send(b));
        let statuses = [a.expect("answered").status(), b.expect("answered").status()];
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "round {round}: {statuses:?}");
        assert!(
            statuses.contains(&StatusCode::UNAUTHORIZED),
            "round {round}: {statuses:?}"
        );
        app.advance(std::time::Duration::from_secs(2 * STEP_SECONDS));
    }
}
