//! One behaviour story for both backends: `backends!{ fn name(s: &mut dyn CollectorStore) {…} }`
//! makes each test twice, `name::sqlite` on a temporary SQLite file and `name::postgres` on a
//! database of its own in the test cluster (scripts/test.sh starts it; without it the
//! PostgreSQL half is skipped, a failure under CI=true).
#![allow(dead_code, clippy::unwrap_used)]

use logward_store::{CollectorStore, PgStore, SqliteStore};
use logward_test_support::postgres::TestDb;

/// A store under test and what must outlive it (the temp dir, the test database).
pub struct Backend {
    pub store: Box<dyn CollectorStore>,
    _dir: Option<tempfile::TempDir>,
    // Dropped after `store` (fields drop in order), so the connection is gone first.
    _db: Option<TestDb>,
}

pub fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    Backend {
        store: Box::new(store),
        _dir: Some(dir),
        _db: None,
    }
}

/// `None` when there is no test cluster (skipped; a failure under CI=true).
pub fn postgres() -> Option<Backend> {
    let db = TestDb::create()?;
    let store = PgStore::connect(db.url(), None).unwrap();
    Some(Backend {
        store: Box::new(store),
        _dir: None,
        _db: Some(db),
    })
}

/// Each `fn name(s: &mut dyn CollectorStore) { … }` becomes a module `name` with the tests
/// `sqlite` and `postgres` running the same body.
#[macro_export]
macro_rules! backends {
    ($($(#[$m:meta])* fn $name:ident($s:ident: &mut dyn CollectorStore) $body:block)*) => {
        $(
            $(#[$m])*
            fn $name($s: &mut dyn logward_store::CollectorStore) $body

            mod $name {
                #[test]
                fn sqlite() {
                    let mut b = $crate::common::sqlite();
                    super::$name(b.store.as_mut());
                }

                #[test]
                fn postgres() {
                    let Some(mut b) = $crate::common::postgres() else { return };
                    super::$name(b.store.as_mut());
                }
            }
        )*
    };
}
