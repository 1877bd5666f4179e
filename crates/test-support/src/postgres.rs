//! PostgreSQL for the store tests: scripts/test.sh starts a throwaway cluster on loopback and
//! passes its URL in `LOGWARD_TEST_PG_URL`; each test takes its own database
//! ([`TestDb::create`]), dropped when the test ends, so tests run in parallel without seeing
//! each other's rows. Databases are made and dropped with `psql` (argv only), so this crate
//! stays free of a PostgreSQL client.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::skip::skipped;

/// The environment variable naming the test cluster (a superuser URL).
pub const URL_VAR: &str = "LOGWARD_TEST_PG_URL";

/// The test cluster's URL, or `None` after [`skipped`] (a failure under `CI=true`).
pub fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            skipped(format_args!(
                "{URL_VAR} is not set (scripts/test.sh starts a PostgreSQL cluster and sets it)"
            ));
            None
        }
    }
}

/// A database of its own for one test, dropped (with its connections) on drop.
#[derive(Debug)]
pub struct TestDb {
    admin: String,
    name: String,
    url: String,
}

impl TestDb {
    /// Creates an empty database on the test cluster; `None` when there is none (skipped).
    pub fn create() -> Option<TestDb> {
        let admin = server_url()?;
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "logward_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        // postgresql://user@host:port/DB: the same server and user, this database.
        let slash = admin
            .rfind('/')
            .filter(|&i| i > admin.find("://").map_or(0, |s| s + 2));
        let url = match slash {
            Some(i) => format!("{}/{name}", &admin[..i]),
            None => panic!("{URL_VAR} must end in /DATABASE: {admin}"),
        };
        psql(&admin, &format!("CREATE DATABASE {name}"));
        Some(TestDb { admin, name, url })
    }

    /// The database's URL (superuser, trust authentication on loopback).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs one SQL command in this database through `psql`, returning what it printed
    /// (unaligned, tuples only); panics when it fails.
    pub fn sql(&self, command: &str) -> String {
        psql(&self.url, command)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.admin, "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

/// `psql -d URL -c COMMAND`, tuples only; panics with its stderr when it fails.
fn psql(url: &str, command: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            command,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql (Debian's postgresql-client): {e}"));
    assert!(
        out.status.success(),
        "psql {command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
