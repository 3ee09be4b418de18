//! Fresh databases for tests: a SQLite file in a temporary directory, or a
//! uniquely named PostgreSQL database created through the `test` database and
//! dropped when the test ends, so that tests run in parallel without sharing
//! state.

use portcullis::config::{Config, DatabaseConfig, Sources};
use portcullis::store::Store;
use sqlx::{Connection, Executor, PgConnection};

/// The pool size of a test server. The PostgreSQL server is shared with every
/// other test run on the machine (its limit is 100 connections): small pools
/// keep parallel runs from starving each other. One connection listens, the
/// rest serve requests; enough for the 50-refresh test.
pub const SMALL_POOL: (&str, &str) = ("PORTCULLIS_DATABASE_MAX_CONNECTIONS", "4");

/// The server every PostgreSQL test uses: `PORTCULLIS_TEST_POSTGRES_URL`, or the
/// one scripts/test.sh starts.
pub fn admin_url() -> String {
    std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database that exists for one test.
pub struct TestDb {
    url: String,
    /// Holds the SQLite file; for PostgreSQL an empty directory for the servers.
    dir: Option<tempfile::TempDir>,
    /// The PostgreSQL database to drop at the end.
    pg_name: Option<String>,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self {
            url,
            dir: Some(dir),
            pg_name: None,
        }
    }

    pub async fn postgres() -> Self {
        let admin = admin_url();
        let name = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL at 127.0.0.1:5432 (scripts/test.sh starts it)");
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        conn.close().await.expect("close admin connection");
        let mut url = url::Url::parse(&admin).expect("admin URL");
        url.set_path(&name);
        Self {
            url: url.to_string(),
            dir: Some(tempfile::tempdir().expect("tempdir")),
            pg_name: Some(name),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A scratch directory for a server's `TestApp`.
    pub fn take_dir(&mut self) -> tempfile::TempDir {
        self.dir
            .take()
            .unwrap_or_else(|| tempfile::tempdir().expect("tempdir"))
    }

    /// The database settings of a server using this database.
    pub fn config(&self, vars: &[(&str, &str)]) -> DatabaseConfig {
        let mut env = vec![("PORTCULLIS_DATABASE_URL", self.url.as_str()), SMALL_POOL];
        env.extend_from_slice(vars);
        Config::from_sources(&Sources::from_env(env.iter().copied()))
            .expect("valid test config")
            .database
    }

    /// A migrated store on this database.
    pub async fn store(&self) -> Store {
        Store::connect(&self.config(&[]))
            .await
            .expect("store connects")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop is synchronous and may run inside the test's runtime: do the
        // async work on a thread with a runtime of its own. FORCE ends the
        // connections of servers that are still shutting down.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin_url()).await?;
                conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop a test database");
        }
    }
}
