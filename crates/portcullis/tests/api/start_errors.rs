//! What the operator reads when the binary cannot start or an admin command
//! cannot run: the whole chain of causes, down to what the database or the
//! file system said, and a non-zero exit.

use std::net::TcpListener;
use std::process::{Command, Output};

use url::Url;

use crate::databases::admin_url;

/// Runs the real binary with `args` and these settings only (none of the
/// test run's own `PORTCULLIS_*` variables).
fn portcullis(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (name, _) in std::env::vars() {
        if name.starts_with("PORTCULLIS_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .env("PORTCULLIS_BIND", "127.0.0.1:0")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

/// Its stderr, after checking that it failed.
fn failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "exit status {}; stderr: {stderr}",
        output.status
    );
    stderr
}

/// The test PostgreSQL server, as `user` on `database`.
fn postgres(user: &str, database: &str) -> String {
    let mut url = Url::parse(&admin_url()).expect("a URL");
    url.set_username(user).expect("a user may be set");
    url.set_path(database);
    url.to_string()
}

fn serve_with_database(url: &str) -> String {
    failure(&portcullis(&["serve"], &[("PORTCULLIS_DATABASE_URL", url)]))
}

#[test]
fn a_database_url_of_another_kind_is_refused_naming_the_setting() {
    let stderr = serve_with_database("mysql://ada@127.0.0.1/portcullis");
    assert!(stderr.to_lowercase().contains("database_url"), "{stderr}");
}

#[test]
fn an_unparseable_database_url_says_what_is_wrong_with_it() {
    let stderr = serve_with_database("postgres://[::1/portcullis");
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(stderr.contains("invalid IPv6 address"), "{stderr}");
}

#[test]
fn an_unknown_postgresql_role_is_named_as_the_server_names_it() {
    let stderr = serve_with_database(&postgres("no_such_role", "test"));
    assert!(
        stderr.contains("portcullis: cannot open the database\n  caused by: "),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"role "no_such_role" does not exist"#),
        "{stderr}"
    );
}

#[test]
fn an_unknown_postgresql_database_is_named_as_the_server_names_it() {
    let stderr = serve_with_database(&postgres("postgres", "no_such_database"));
    assert!(
        stderr.contains(r#"database "no_such_database" does not exist"#),
        "{stderr}"
    );
}

#[test]
fn a_database_port_where_nothing_listens_says_the_connection_was_refused() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.local_addr().expect("addr").port()
    };
    let stderr = serve_with_database(&format!("postgres://postgres@127.0.0.1:{port}/test"));
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
}

#[test]
fn an_admin_command_on_an_unknown_database_says_what_the_server_said() {
    let url = postgres("postgres", "no_such_database");
    let output = portcullis(&["user", "list"], &[("PORTCULLIS_DATABASE_URL", &url)]);
    let stderr = failure(&output);
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(
        stderr.contains(r#"database "no_such_database" does not exist"#),
        "{stderr}"
    );
}

#[test]
fn a_missing_tls_key_file_is_named_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "not read that far").expect("writes");
    let key = dir.path().join("missing-key.pem");
    let database = format!("sqlite://{}", dir.path().join("p.db").display());
    let output = portcullis(
        &["serve"],
        &[
            ("PORTCULLIS_DATABASE_URL", &database),
            ("PORTCULLIS_TLS_CERT", &cert.display().to_string()),
            ("PORTCULLIS_TLS_KEY", &key.display().to_string()),
        ],
    );
    let stderr = failure(&output);
    assert!(
        stderr.contains(&format!(
            "cannot serve TLS\n  caused by: cannot read {}\n  caused by: No such file or directory",
            key.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_missing_hs256_secret_file_is_named_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("missing-secret");
    let database = format!("sqlite://{}", dir.path().join("p.db").display());
    let output = portcullis(
        &["serve"],
        &[
            ("PORTCULLIS_DATABASE_URL", &database),
            (
                "PORTCULLIS_HS256_SECRET_FILE",
                &secret.display().to_string(),
            ),
        ],
    );
    let stderr = failure(&output);
    assert!(stderr.contains(&secret.display().to_string()), "{stderr}");
    assert!(stderr.contains("No such file or directory"), "{stderr}");
}
