//! The schema on both backends: a new database is migrated to the newest version, and
//! opening it again applies nothing twice.

// Test bodies outside #[test] fns (backends! makes them) unwrap like tests.
#![allow(clippy::unwrap_used)]

mod common;

use logward_store::{PgStore, Store as _};
use logward_test_support::postgres::TestDb;

backends! {
    fn a_new_database_is_at_the_newest_schema(s: &mut dyn CollectorStore) {
        assert!(s.schema_version().unwrap() >= 1);
    }
}

#[test]
fn postgres_reconnects_without_migrating_twice_and_refuses_a_newer_schema() {
    let Some(db) = TestDb::create() else { return };
    let v = PgStore::connect(db.url(), None)
        .unwrap()
        .schema_version()
        .unwrap();
    let mut again = PgStore::connect(db.url(), None).unwrap();
    assert_eq!(again.schema_version().unwrap(), v);
    assert_eq!(db.sql("SELECT count(*) FROM schema_version"), v.to_string());
    drop(again);
    db.sql("INSERT INTO schema_version VALUES (999, 'future', 0)");
    let e = PgStore::connect(db.url(), None).unwrap_err().to_string();
    assert!(e.contains("999") && e.contains("newer"), "{e}");
}

#[test]
fn postgres_two_collectors_starting_together_migrate_once() {
    let Some(db) = TestDb::create() else { return };
    let url = db.url().to_string();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::connect(&url, None).map(|_| ()))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    assert_eq!(
        db.sql("SELECT count(*) FROM schema_version WHERE version = 1"),
        "1"
    );
}

#[test]
fn postgres_unreachable_server_is_a_clear_error_with_the_password_redacted() {
    let port = logward_test_support::free_port();
    let url = format!("postgresql://lw:hunter2@127.0.0.1:{port}/logward?connect_timeout=2");
    let e = PgStore::connect(&url, None).unwrap_err().to_string();
    assert!(e.contains("connect to PostgreSQL"), "{e}");
    assert!(
        !e.contains("hunter2") && e.contains("lw:***@127.0.0.1"),
        "{e}"
    );
}
