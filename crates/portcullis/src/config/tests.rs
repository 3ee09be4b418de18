//! The layers, the defaults, the checks, and every message naming its setting.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_sources(&Sources::from_env(vars.iter().copied()))
}

fn message(vars: &[(&str, &str)]) -> String {
    config(vars).expect_err("refused").to_string()
}

/// A configuration file in a fresh directory (kept alive by the guard).
fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("portcullis.toml");
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let c = config(&[]).expect("defaults are valid");
    assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.sessions.access_token_ttl, Duration::from_secs(900));
    assert_eq!(c.sessions.idle_timeout, Duration::from_secs(7 * 86_400));
    assert_eq!(c.sessions.max_lifetime, Duration::from_secs(30 * 86_400));
    assert_eq!(c.sessions.reuse_grace, Duration::from_secs(10));
    assert_eq!(c.clock_leeway, Duration::from_secs(5));
    assert_eq!(
        (c.issuer.as_str(), c.audience.as_str()),
        ("portcullis", "portcullis")
    );
    assert_eq!(c.registration, Registration::Open);
    assert!(!c.insecure_dev_cookies);
    assert!(c.upstream.is_none() && !c.notes_page);
    assert_eq!(c.database.max_connections, 10);
    assert_eq!(c.database.min_connections, 0);
    assert_eq!(c.database.acquire_timeout, Duration::from_secs(3));
    assert_eq!(c.database.statement_timeout, Duration::from_secs(5));
    assert_eq!(c.revocation_max_staleness, Duration::from_secs(5));
    assert_eq!(c.address_rates, AddressRates::default());
    assert_eq!(c.address_ipv6_prefix, 64);
    assert_eq!(c.audit_retention, Some(Duration::from_secs(365 * 86_400)));
    assert_eq!(c.log_format, LogFormat::Text);
}

#[test]
fn pool_and_staleness_settings_are_checked_together() {
    let pg = ("PORTCULLIS_DATABASE_URL", "postgres://db/portcullis");
    assert!(config(&[pg, ("PORTCULLIS_DATABASE_MAX_CONNECTIONS", "1")]).is_err());
    assert!(config(&[("PORTCULLIS_DATABASE_MAX_CONNECTIONS", "1")]).is_ok());
    assert!(config(&[("PORTCULLIS_DATABASE_MAX_CONNECTIONS", "0")]).is_err());
    assert!(config(&[("PORTCULLIS_DATABASE_MIN_CONNECTIONS", "11")]).is_err());
    assert!(config(&[("PORTCULLIS_REVOCATION_MAX_STALENESS", "1s")]).is_err());
    assert!(config(&[("PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT", "0s")]).is_err());
    let c = config(&[pg, ("PORTCULLIS_REVOCATION_MAX_STALENESS", "30s")]).expect("valid");
    assert!(c.database.is_postgres());
    assert_eq!(c.revocation_max_staleness, Duration::from_secs(30));
}

#[test]
fn the_issuer_defaults_to_the_public_url() {
    let c = config(&[("PORTCULLIS_PUBLIC_URL", "https://auth.example.com/")]).expect("valid");
    assert_eq!(c.issuer, "https://auth.example.com");
    assert_eq!(c.audience, "https://auth.example.com");
    let c = config(&[
        ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com/"),
        ("PORTCULLIS_AUDIENCE", "api"),
    ])
    .expect("valid");
    assert_eq!(
        (c.issuer.as_str(), c.audience.as_str()),
        ("https://auth.example.com", "api")
    );
}

#[test]
fn flags_win_over_the_environment() {
    let sources = Sources::from_env([("PORTCULLIS_BIND", "127.0.0.1:1")]).with_flags(Flags {
        bind: Some("127.0.0.1:2".parse().expect("addr")),
        ..Flags::default()
    });
    let c = Config::from_sources(&sources).expect("valid");
    assert_eq!(c.bind.port(), 2);
}

#[test]
fn an_unset_flag_leaves_the_setting_to_the_layers_below() {
    let sources = Sources::from_env([("PORTCULLIS_INSECURE_DEV_COOKIES", "true")])
        .with_flags(Flags::default());
    assert!(
        Config::from_sources(&sources)
            .expect("valid")
            .insecure_dev_cookies
    );
}

#[test]
fn the_environment_wins_over_the_file() {
    let (_dir, path) = file("bind = \"127.0.0.1:1\"\naccess_token_ttl = \"2m\"\nhash_queue = 7\n");
    let sources = Sources::from_env([("PORTCULLIS_BIND", "127.0.0.1:3")])
        .with_file(&path)
        .expect("loads");
    let c = Config::from_sources(&sources).expect("valid");
    assert_eq!(c.bind.port(), 3);
    assert_eq!(c.sessions.access_token_ttl, Duration::from_secs(120));
    assert_eq!(c.hashing.queue, 7, "a TOML number is read as its text");
}

#[test]
fn a_bad_value_names_the_setting_and_its_origin() {
    assert_eq!(
        message(&[("PORTCULLIS_ACCESS_TOKEN_TTL", "soon")]),
        "invalid access_token_ttl from PORTCULLIS_ACCESS_TOKEN_TTL: \"soon\" is not a duration such as 30s, 15m or 7d"
    );
    assert!(config(&[("PORTCULLIS_UPSTREAM", "ftp://x")]).is_err());
    assert!(config(&[("PORTCULLIS_REGISTRATION", "maybe")]).is_err());
    assert!(config(&[("PORTCULLIS_HASH_CONCURRENCY", "0")]).is_err());
    assert!(config(&[("PORTCULLIS_LOG_FORMAT", "xml")]).is_err());

    let (_dir, path) = file("hash_queue = 1.5\n");
    let err = Config::from_sources(&Sources::default().with_file(&path).expect("loads"))
        .expect_err("a float");
    assert_eq!(
        err.to_string(),
        format!(
            "invalid hash_queue in {}: float `1.5` is not a whole number",
            path.display()
        )
    );
}

#[test]
fn a_misspelt_variable_is_refused_with_the_closest_known_one() {
    assert_eq!(
        message(&[("PORTCULLIS_ACCES_TOKEN_TTL", "2s")]),
        "unknown setting PORTCULLIS_ACCES_TOKEN_TTL (environment); did you mean PORTCULLIS_ACCESS_TOKEN_TTL?"
    );
    assert_eq!(
        message(&[("PORTCULLIS_bind", "127.0.0.1:1")]),
        "unknown setting PORTCULLIS_bind (environment); did you mean PORTCULLIS_BIND?"
    );
    let nothing_close = message(&[("PORTCULLIS_ZZZ", "1")]);
    assert!(
        nothing_close.starts_with(
            "unknown setting PORTCULLIS_ZZZ (environment); known settings: PORTCULLIS_BIND, "
        ),
        "{nothing_close}"
    );
}

#[test]
fn variables_without_the_prefix_and_the_log_filter_are_not_settings() {
    assert!(config(&[("HOME", "/root"), ("PORTCULLIS_LOG", "debug")]).is_ok());
}

#[test]
fn a_misspelt_file_key_is_refused_with_the_closest_known_one() {
    let (_dir, path) = file("acess_token_ttl = \"2m\"\n");
    let sources = Sources::default().with_file(&path).expect("valid TOML");
    let err = Config::from_sources(&sources).expect_err("typo");
    assert_eq!(
        err.to_string(),
        format!(
            "unknown setting acess_token_ttl (file {}); did you mean access_token_ttl?",
            path.display()
        )
    );
}

#[test]
fn a_file_that_is_not_toml_is_refused_with_the_line() {
    let (_dir, path) = file("bind = \"127.0.0.1:1\"\nbind\n");
    let err = Sources::default().with_file(&path).expect_err("not TOML");
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = Sources::default()
        .with_file(&path.with_file_name("missing.toml"))
        .expect_err("missing");
    assert!(
        err.to_string()
            .starts_with("cannot read the configuration file"),
        "{err}"
    );
}

#[test]
fn every_known_setting_is_read_and_named_consistently() {
    let mut keys: Vec<&str> = known_settings().iter().map(|s| s.key).collect();
    for s in known_settings() {
        assert_eq!(s.env, format!("PORTCULLIS_{}", s.key.to_ascii_uppercase()));
        if let Some(flag) = s.flag {
            assert_eq!(flag, format!("--{}", s.key.replace('_', "-")));
        }
    }
    // serde's list of the fields is the one an unknown key is refused against.
    let figment = figment::Figment::from(figment::providers::Serialized::defaults(
        [("not_a_setting", 1)]
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
    ));
    let Err(error) = figment.extract::<settings::Settings>() else {
        panic!("refused");
    };
    let figment::error::Kind::UnknownField(_, fields) = error.kind else {
        panic!("{error}");
    };
    let mut fields = fields.to_vec();
    fields.sort_unstable();
    keys.sort_unstable();
    assert_eq!(fields, keys);
}

#[test]
fn the_flags_are_exactly_the_settings_with_a_flag() {
    let every = Flags {
        bind: Some("127.0.0.1:2".parse().expect("addr")),
        database_url: Some(parse_setting("sqlite://x.db").expect("url")),
        upstream: Some(parse_setting("http://api").expect("url")),
        frontend: Some(parse_setting("http://web").expect("url")),
        public_url: Some(parse_setting("https://auth.example.com").expect("url")),
        insecure_dev_cookies: true,
        tls_cert: Some("cert.pem".into()),
        tls_key: Some("key.pem".into()),
    };
    let given = figment::providers::Serialized::defaults(&every);
    let data = figment::Provider::data(&given).expect("serializes");
    let mut keys: Vec<&str> = data
        .values()
        .flat_map(|dict| dict.keys().map(String::as_str))
        .collect();
    keys.sort_unstable();
    let mut with_flag: Vec<&str> = known_settings()
        .iter()
        .filter(|s| s.flag.is_some())
        .map(|s| s.key)
        .collect();
    with_flag.sort_unstable();
    assert_eq!(keys, with_flag);
    let c = Config::from_sources(&Sources::default().with_flags(every)).expect("valid");
    assert_eq!(c.upstream.map(String::from).as_deref(), Some("http://api/"));
    assert!(c.insecure_dev_cookies && c.tls.is_some());
}

#[test]
fn trusted_proxies_take_addresses_and_networks() {
    let c = config(&[("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")]).expect("valid");
    assert_eq!(c.trusted_proxies.len(), 2);
    assert!(config(&[("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/33")]).is_err());
}

#[test]
fn per_address_rates_parse_or_turn_off() {
    let c = config(&[
        ("PORTCULLIS_ADDRESS_LOGIN_ATTEMPTS", "off"),
        ("PORTCULLIS_ADDRESS_REFRESHES", "5/1s"),
    ])
    .expect("valid");
    assert_eq!(c.address_rates.login_attempts, None);
    assert_eq!(
        c.address_rates.refreshes,
        Some(Rate {
            count: std::num::NonZeroU32::new(5).expect("non-zero"),
            per: Duration::from_secs(1)
        })
    );
    assert_eq!(
        c.address_rates.registrations,
        AddressRates::default().registrations
    );
    for bad in ["", "20", "0/1m", "x/1m", "20/0s", "20/soon"] {
        assert_eq!(Rate::parse(bad), None, "{bad}");
        assert!(
            config(&[("PORTCULLIS_ADDRESS_REGISTRATIONS", bad)]).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn the_ipv6_prefix_is_a_length_from_1_to_128() {
    for (given, bits) in [("48", 48), ("/56", 56), ("128", 128), ("1", 1)] {
        let c = config(&[("PORTCULLIS_ADDRESS_IPV6_PREFIX", given)]).expect("valid");
        assert_eq!(c.address_ipv6_prefix, bits, "{given}");
    }
    for bad in ["0", "129", "64.5", "-1", "", "off"] {
        assert!(
            config(&[("PORTCULLIS_ADDRESS_IPV6_PREFIX", bad)]).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn the_audit_log_is_kept_for_at_least_thirty_days_or_for_ever() {
    let c = config(&[("PORTCULLIS_AUDIT_RETENTION", "off")]).expect("valid");
    assert_eq!(c.audit_retention, None);
    let c = config(&[("PORTCULLIS_AUDIT_RETENTION", "90d")]).expect("valid");
    assert_eq!(c.audit_retention, Some(Duration::from_secs(90 * 86_400)));
    assert_eq!(
        message(&[("PORTCULLIS_AUDIT_RETENTION", "29d")]),
        "audit_retention must be `off` or at least 30d: the database refuses to delete younger events"
    );
    assert!(config(&[("PORTCULLIS_AUDIT_RETENTION", "soon")]).is_err());
}

#[test]
fn inconsistent_lifetimes_are_refused() {
    assert!(config(&[("PORTCULLIS_ACCESS_TOKEN_TTL", "8d")]).is_err());
    assert!(config(&[("PORTCULLIS_REFRESH_IDLE_TIMEOUT", "40d")]).is_err());
    assert!(config(&[("PORTCULLIS_REFRESH_REUSE_GRACE", "1h")]).is_err());
    assert_eq!(
        message(&[("PORTCULLIS_ACCESS_TOKEN_TTL", "8d")]),
        "access_token_ttl (8days) must be shorter than refresh_idle_timeout (7days)"
    );
}

#[test]
fn gateway_settings_have_safe_defaults_and_are_checked() {
    let c = config(&[]).expect("defaults");
    assert_eq!(c.upstream_timeout, Duration::from_secs(30));
    assert_eq!(c.upstream_token_cookie, None);
    assert!(c.hs256_secret.is_none() && !c.legacy_id_claim);
    let c = config(&[
        ("PORTCULLIS_UPSTREAM", "http://127.0.0.1:3000"),
        ("PORTCULLIS_UPSTREAM_TIMEOUT", "2s"),
        ("PORTCULLIS_UPSTREAM_TOKEN_COOKIE", "accessToken"),
        ("PORTCULLIS_LEGACY_ID_CLAIM", "true"),
    ])
    .expect("valid");
    assert_eq!(c.upstream_timeout, Duration::from_secs(2));
    assert_eq!(c.upstream_token_cookie.as_deref(), Some("accessToken"));
    assert!(c.legacy_id_claim);
    for bad in ["access token", "a;b", "a=b", ""] {
        assert!(
            config(&[("PORTCULLIS_UPSTREAM_TOKEN_COOKIE", bad)]).is_err(),
            "{bad:?}"
        );
    }
    assert!(config(&[("PORTCULLIS_UPSTREAM", "https://api.internal")]).is_err());
    assert!(config(&[("PORTCULLIS_FRONTEND", "http://x?y=1")]).is_err());
}

#[test]
fn the_notes_page_is_off_unless_asked_for_and_needs_an_upstream() {
    let upstream = ("PORTCULLIS_UPSTREAM", "http://127.0.0.1:3000");
    let on = ("PORTCULLIS_NOTES_PAGE", "true");
    assert!(!config(&[upstream]).expect("valid").notes_page);
    assert!(config(&[upstream, on]).expect("valid").notes_page);
    assert_eq!(
        message(&[on]),
        "notes_page needs an upstream: the page calls /api/notes on it (set upstream, or turn notes_page off)"
    );
    let frontend = ("PORTCULLIS_FRONTEND", "http://127.0.0.1:3001");
    assert!(message(&[upstream, frontend, on]).contains("a frontend replaces"));
}

#[test]
fn the_frontend_token_is_off_by_default_and_public_paths_are_prefixes() {
    let c = config(&[]).expect("defaults");
    assert!(!c.frontend_token && c.frontend_public_paths.is_empty());
    let frontend = ("PORTCULLIS_FRONTEND", "http://127.0.0.1:3001");
    let on = ("PORTCULLIS_FRONTEND_TOKEN", "true");
    let c = config(&[
        frontend,
        on,
        (
            "PORTCULLIS_FRONTEND_PUBLIC_PATHS",
            "/favicon.ico, /images/,",
        ),
    ])
    .expect("valid");
    assert!(c.frontend_token);
    assert_eq!(c.frontend_public_paths, ["/favicon.ico", "/images/"]);
    for bad in ["images/", "/a b", "/a,b"] {
        assert!(
            config(&[frontend, on, ("PORTCULLIS_FRONTEND_PUBLIC_PATHS", bad)]).is_err(),
            "{bad:?}"
        );
    }
    assert!(config(&[frontend, ("PORTCULLIS_FRONTEND_TOKEN", "on")]).is_err());
}

#[test]
fn the_frontend_token_needs_a_frontend() {
    let on = ("PORTCULLIS_FRONTEND_TOKEN", "true");
    assert_eq!(
        message(&[on]),
        "frontend_token needs a frontend: it sends the token to the pages the frontend serves (set frontend, or turn frontend_token off)"
    );
    let frontend = ("PORTCULLIS_FRONTEND", "http://127.0.0.1:3001");
    let paths = ("PORTCULLIS_FRONTEND_PUBLIC_PATHS", "/favicon.ico");
    assert!(config(&[frontend, on, paths]).is_ok());
    assert!(config(&[frontend, paths]).is_ok(), "redundant, not wrong");
}

#[test]
fn an_hs256_secret_under_256_bits_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let short = dir.path().join("short");
    std::fs::write(&short, format!("{}\n", "s".repeat(31))).expect("write");
    let long = dir.path().join("long");
    std::fs::write(&long, format!("{}\n", "s".repeat(32))).expect("write");
    let err = config(&[(
        "PORTCULLIS_HS256_SECRET_FILE",
        short.to_str().expect("utf-8"),
    )])
    .expect_err("too short");
    assert!(err.to_string().contains("31 bytes"), "{err}");
    assert!(!err.to_string().contains("sss"), "the secret is not echoed");
    let c = config(&[(
        "PORTCULLIS_HS256_SECRET_FILE",
        long.to_str().expect("utf-8"),
    )])
    .expect("long enough");
    let secret = c.hs256_secret.expect("read");
    assert_eq!(secret.expose_secret(), "s".repeat(32).as_bytes());
    assert!(config(&[("PORTCULLIS_HS256_SECRET_FILE", "/nonexistent/secret")]).is_err());
}

#[test]
fn tls_files_go_together_and_rotation_can_be_turned_off() {
    let c = config(&[]).expect("defaults");
    assert_eq!(c.tls, None);
    assert_eq!(c.key_rotation_interval, Some(DEFAULT_KEY_ROTATION_INTERVAL));
    assert_eq!(c.shutdown_timeout, Duration::from_secs(30));
    assert!(config(&[("PORTCULLIS_TLS_CERT", "cert.pem")]).is_err());
    let c = config(&[
        ("PORTCULLIS_TLS_CERT", "cert.pem"),
        ("PORTCULLIS_TLS_KEY", "key.pem"),
        ("PORTCULLIS_KEY_ROTATION_INTERVAL", "off"),
    ])
    .expect("valid");
    assert_eq!(c.tls.map(|t| t.key), Some(PathBuf::from("key.pem")));
    assert_eq!(c.key_rotation_interval, None);
    assert!(config(&[("PORTCULLIS_KEY_ROTATION_INTERVAL", "1h")]).is_err());
}

#[test]
fn a_bad_database_url_is_not_echoed() {
    let err = message(&[("PORTCULLIS_DATABASE_URL", "mysql://root:hunter2@db")]);
    assert_eq!(
        err,
        "invalid database_url from PORTCULLIS_DATABASE_URL: \"<redacted>\" is not a sqlite:// or postgres:// URL"
    );
    let (_dir, path) = file("database_url = \"mysql://root:hunter2@db\"\n");
    let sources = Sources::default().with_file(&path).expect("valid TOML");
    let err = Config::from_sources(&sources)
        .expect_err("invalid")
        .to_string();
    assert!(!err.contains("hunter2") && err.contains("in "), "{err}");
}

#[test]
fn connection_limits_default_to_bounded_timeouts_and_refuse_useless_values() {
    let c = config(&[]).expect("defaults");
    assert_eq!(
        c.connections,
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(75),
            max_connections: 10_000,
        }
    );
    let c = config(&[
        ("PORTCULLIS_HEADER_READ_TIMEOUT", "2s"),
        ("PORTCULLIS_KEEP_ALIVE_TIMEOUT", "5m"),
        ("PORTCULLIS_MAX_CONNECTIONS", "64"),
    ])
    .expect("valid");
    assert_eq!(c.connections.header_read_timeout, Duration::from_secs(2));
    assert_eq!(c.connections.keep_alive_timeout, Duration::from_secs(300));
    assert_eq!(c.connections.max_connections, 64);
    for refused in [
        ("PORTCULLIS_HEADER_READ_TIMEOUT", "500ms"),
        ("PORTCULLIS_HEADER_READ_TIMEOUT", "1h"),
        ("PORTCULLIS_KEEP_ALIVE_TIMEOUT", "0s"),
        ("PORTCULLIS_MAX_CONNECTIONS", "0"),
        ("PORTCULLIS_MAX_CONNECTIONS", "1000001"),
    ] {
        assert!(config(&[refused]).is_err(), "{refused:?}");
    }
}

#[test]
fn providers_are_read_from_tables_in_the_file_or_one_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").expect("write");
    let (_guard, path) = file(&format!(
        r#"public_url = "https://app.example.com"

[[oidc_providers]]
id = "google"
name = "Google"
issuer = "https://accounts.google.com"
client_id = "abc"
client_secret_file = "{0}"

[[oidc_providers]]
id = "github"
name = "GitHub"
kind = "github"
client_id = "def"
client_secret_file = "{0}"
"#,
        secret.display()
    ));
    let sources = Sources::default().with_file(&path).expect("loads");
    let from_file = Config::from_sources(&sources).expect("valid");
    let [google, github] = &from_file.oidc_providers[..] else {
        panic!("two providers");
    };
    assert_eq!(
        google.kind,
        ProviderKind::Oidc {
            issuer: "https://accounts.google.com".into()
        }
    );
    assert_eq!(google.scopes, ["openid", "email", "profile"]);
    assert_eq!(google.client_secret.expose_secret(), "s3cret");
    assert!(
        matches!(&github.kind, ProviderKind::Github { api, .. } if api.as_str() == "https://api.github.com/")
    );
    assert_eq!(github.scopes, ["read:user", "user:email"]);
    assert!(
        !format!("{from_file:?}").contains("s3cret"),
        "the secret is redacted"
    );

    let inline = format!(
        r#"[{{ id = "kc", name = "Keycloak", issuer = "http://localhost:8081/realms/x", client_id = "p", client_secret_file = "{}", scopes = ["email"] }}]"#,
        secret.display()
    );
    let from_env = config(&[
        ("PORTCULLIS_PUBLIC_URL", "https://app.example.com"),
        ("PORTCULLIS_OIDC_PROVIDERS", &inline),
    ])
    .expect("valid");
    assert_eq!(from_env.oidc_providers[0].scopes, ["openid", "email"]);
}

#[test]
fn providers_need_a_public_url_known_keys_and_a_safe_issuer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret").expect("write");
    let one = |fields: &str| {
        format!(
            r#"[{{ id = "x", name = "X", client_id = "c", client_secret_file = "{}", {fields} }}]"#,
            secret.display()
        )
    };
    let public = ("PORTCULLIS_PUBLIC_URL", "https://app.example.com");
    let good = one(r#"issuer = "https://idp.example.com""#);
    assert!(message(&[("PORTCULLIS_OIDC_PROVIDERS", &good)]).contains("public_url"));
    for (fields, expected) in [
        (r#"issuer = "http://idp.example.com""#, "https"),
        (
            r#"issuer = "https://idp.example.com", secret = "x""#,
            "OIDC_PROVIDERS",
        ),
        (
            r#"kind = "saml", issuer = "https://idp.example.com""#,
            "kind",
        ),
        ("scopes = []", "issuer is required"),
    ] {
        let text = message(&[public, ("PORTCULLIS_OIDC_PROVIDERS", &one(fields))]);
        assert!(text.contains(expected), "{fields}: {text}");
    }
    let missing = r#"[{ id = "x", name = "X", issuer = "https://i.example.com", client_id = "c", client_secret_file = "/nonexistent/secret" }]"#;
    assert!(
        message(&[public, ("PORTCULLIS_OIDC_PROVIDERS", missing)]).contains("client_secret_file")
    );
    let bad_id = r#"[{ id = "Bad Id", name = "X", issuer = "https://i.example.com", client_id = "c", client_secret_file = "/x" }]"#;
    assert!(message(&[public, ("PORTCULLIS_OIDC_PROVIDERS", bad_id)]).contains("lower-case"));
    let twice = format!(
        "[{}, {}]",
        &good[1..good.len() - 1],
        &good[1..good.len() - 1]
    );
    assert!(message(&[public, ("PORTCULLIS_OIDC_PROVIDERS", &twice)]).contains("twice"));
}
