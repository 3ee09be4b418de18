//! Files holding secrets, on the real binary: the SQLite database (the
//! signing keys' private halves, the password hashes) is created readable
//! by its owner only, `-wal` and `-shm` included; an existing database, an
//! HS256 secret file or a TLS key that others may read is reported at start
//! with its path and mode.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

use crate::process::{Server, message};
use crate::tls::generate;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The start-up warnings about a file others may read.
fn exposure_warnings(log: &[Value]) -> Vec<&Value> {
    log.iter()
        .filter(|l| l["level"] == "WARN" && message(l).contains("other users may read it"))
        .collect()
}

/// Starts the binary on a database in `dir`, waits until it listens, and
/// stops it; returns its log.
fn run(dir: tempfile::TempDir, env: &[(&str, &str)], check: impl FnOnce(&Path)) -> Vec<Value> {
    let path = dir.path().to_owned();
    let database = format!("sqlite://{}", path.join("p.db").display());
    let server = Server::start_in(dir, &database, env);
    check(&path);
    server.terminate();
    let (status, log) = server.wait();
    assert!(status.success(), "exit status {status}");
    log
}

#[test]
fn a_new_database_and_its_wal_and_shm_files_are_readable_by_their_owner_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = run(dir, &[], |dir| {
        // Checked while the server runs: SQLite removes -wal and -shm when
        // the last connection closes.
        for file in ["p.db", "p.db-wal", "p.db-shm"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
    });
    assert!(exposure_warnings(&log).is_empty(), "{log:#?}");
}

#[test]
fn an_existing_database_others_may_read_is_reported_with_its_path_and_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    // An empty file is an empty SQLite database.
    std::fs::write(&db, b"").expect("write");
    set_mode(&db, 0o644);
    let log = run(dir, &[], |dir| {
        // Reported, not changed behind the operator's back.
        assert_eq!(mode(&dir.join("p.db")), 0o644);
    });
    let warnings = exposure_warnings(&log);
    assert_eq!(warnings.len(), 1, "{log:#?}");
    assert_eq!(warnings[0]["fields"]["path"], db.display().to_string());
    assert_eq!(warnings[0]["fields"]["mode"], "0644");
}

#[test]
fn an_existing_private_database_is_not_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    std::fs::write(&db, b"").expect("write");
    set_mode(&db, 0o600);
    let log = run(dir, &[], |dir| {
        assert_eq!(mode(&dir.join("p.db-wal")), 0o600);
    });
    assert!(exposure_warnings(&log).is_empty(), "{log:#?}");
}

#[test]
fn an_hs256_secret_file_others_may_read_is_reported_with_its_path_and_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("hs256.secret");
    std::fs::write(&secret, "an HS256 secret of more than thirty-two bytes\n").expect("write");
    set_mode(&secret, 0o604);
    let setting = secret.display().to_string();
    let log = run(dir, &[("PORTCULLIS_HS256_SECRET_FILE", &setting)], |_| {});
    let warnings = exposure_warnings(&log);
    assert_eq!(warnings.len(), 1, "{log:#?}");
    assert_eq!(warnings[0]["fields"]["path"], setting);
    assert_eq!(warnings[0]["fields"]["mode"], "0604");
}

#[test]
fn a_tls_key_others_may_read_is_reported_but_one_shared_with_a_group_is_not() {
    let pair = generate();
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &pair.cert_pem).expect("write");
    std::fs::write(&key, &pair.key_pem).expect("write");
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let settings = [
        ("PORTCULLIS_TLS_CERT", cert.as_str()),
        ("PORTCULLIS_TLS_KEY", key.as_str()),
    ];

    // The `ssl-cert` group arrangement of certificate tools.
    set_mode(Path::new(&key), 0o640);
    let other_dir = tempfile::tempdir().expect("tempdir");
    let log = run(other_dir, &settings, |_| {});
    assert!(exposure_warnings(&log).is_empty(), "{log:#?}");

    set_mode(Path::new(&key), 0o644);
    let log = run(dir, &settings, |_| {});
    let warnings = exposure_warnings(&log);
    assert_eq!(warnings.len(), 1, "{log:#?}");
    assert_eq!(warnings[0]["fields"]["path"], key);
    assert_eq!(warnings[0]["fields"]["mode"], "0644");
}

#[test]
fn wal_files_left_over_with_a_wider_mode_are_brought_down_to_the_databases() {
    let kept = tempfile::tempdir().expect("tempdir");
    let database = format!("sqlite://{}", kept.path().join("p.db").display());
    let scratch = || tempfile::tempdir().expect("tempdir");
    // Killed outright (dropping the server sends SIGKILL), so that -wal and
    // -shm stay behind.
    drop(Server::start_in(scratch(), &database, &[]));
    for file in ["p.db-wal", "p.db-shm"] {
        set_mode(&kept.path().join(file), 0o644);
    }
    let server = Server::start_in(scratch(), &database, &[]);
    for file in ["p.db", "p.db-wal", "p.db-shm"] {
        assert_eq!(mode(&kept.path().join(file)), 0o600, "{file}");
    }
    server.terminate();
    let (status, log) = server.wait();
    assert!(status.success(), "exit status {status}");
    assert!(exposure_warnings(&log).is_empty(), "{log:#?}");
}
