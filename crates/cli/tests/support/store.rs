//! The store a browser test's collector keeps its state in: every dashboard scenario runs on
//! the SQLite default and on PostgreSQL (a database of the test's own on the cluster
//! scripts/test.sh starts), so the pages are checked against both backends' answers.
//! `on_both!` makes the two tests of a scenario; without `LOGWARD_TEST_PG_URL` the PostgreSQL
//! one is skipped (a failure under `CI=true`).
#![allow(dead_code)] // each test file uses its own part

use std::path::Path;

use logward_store::SqliteStore;
use logward_test_support::postgres::TestDb;

/// Which store the collector under test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// `on_both!(name);` beside a `fn name(backend: Backend)` makes the tests `name::sqlite` and
/// `name::postgres` (libtest runs them side by side, each with its own collector and browser).
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(super::Backend::Sqlite);
                }

                #[test]
                fn postgres() {
                    super::$name(super::Backend::Postgres);
                }
            }
        )+
    };
}

/// A collector's store: the `store:` line of its config and, on PostgreSQL, its database
/// (dropped with this, after the collector that uses it).
#[derive(Debug)]
pub struct Store {
    pub backend: Backend,
    db: Option<TestDb>,
}

impl Store {
    /// The store for `backend`; `None` (after the skip is reported) for PostgreSQL without
    /// the test cluster.
    pub fn new(backend: Backend) -> Option<Store> {
        let db = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDb::create()?),
        };
        Some(Store { backend, db })
    }

    /// The collector config's `store:` line (nothing for SQLite, the default in `state_dir`).
    pub fn yaml(&self) -> String {
        match &self.db {
            None => String::new(),
            Some(db) => format!("store: {{type: postgres, url: \"{}\"}}\n", db.url()),
        }
    }

    /// A screenshot's name for this backend (`pg-` in front on PostgreSQL), so the two runs
    /// of a scenario keep their own pictures.
    pub fn shot(&self, name: &str) -> String {
        match self.backend {
            Backend::Sqlite => name.to_owned(),
            Backend::Postgres => format!("pg-{name}"),
        }
    }

    /// Asserts that the collector with `state_dir` kept its alerts in this store (and so the
    /// pages just checked were read from it): on PostgreSQL, rows in the database and no
    /// SQLite file beside; on SQLite, the file.
    pub fn assert_in_use(&self, state_dir: &Path) {
        let file = state_dir.join(SqliteStore::FILE_NAME);
        match &self.db {
            None => assert!(file.exists(), "no {}", file.display()),
            Some(db) => {
                assert!(!file.exists(), "{} on PostgreSQL", file.display());
                let alerts: u64 = db.sql("SELECT count(*) FROM alerts").parse().unwrap();
                assert!(alerts > 0, "no alert in the PostgreSQL database");
            }
        }
    }
}
