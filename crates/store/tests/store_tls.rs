//! PostgreSQL over TLS: with `sslmode=require` the store speaks TLS and verifies the server's
//! certificate and name — a server it cannot verify (a stand-in in the middle) is refused,
//! with no query sent. Needs the test cluster's CA (scripts/test.sh sets LOGWARD_TEST_PG_CA);
//! skipped without it (a failure under CI=true).
#![allow(clippy::unwrap_used)]
#![allow(clippy::disallowed_methods)] // openssl makes the other CA

use std::path::PathBuf;

use logward_store::{PgStore, Store as _};
use logward_test_support::postgres::TestDb;

/// An error with every cause under it, as `logward` prints it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// Connections of this database from the store (`application_name`) over TLS and not.
fn by_tls(db: &TestDb) -> String {
    db.sql(
        "SELECT coalesce(string_agg(s.ssl::text, ',' ORDER BY s.ssl), '') FROM pg_stat_ssl s \
         JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = 'logward-collector' AND a.datname = current_database()",
    )
}

#[test]
fn postgres_tls_verifies_the_server_and_refuses_one_it_cannot_verify() {
    let Some(ca) = std::env::var_os("LOGWARD_TEST_PG_CA").map(PathBuf::from) else {
        logward_test_support::skipped("LOGWARD_TEST_PG_CA is not set (scripts/test.sh sets it)");
        return;
    };
    let Some(db) = TestDb::create() else { return };
    let tls_url = format!("{}?sslmode=require", db.url());

    let mut s = PgStore::connect_with(&tls_url, None, Some(&ca)).unwrap();
    assert!(s.schema_version().unwrap() >= 1);
    assert_eq!(by_tls(&db), "true");
    drop(s);

    // The public roots alone do not know the test CA: the server is not trusted.
    let e = PgStore::connect_with(&tls_url, None, None)
        .map(drop)
        .map_err(|e| chain(&e))
        .unwrap_err();
    assert!(e.contains("certificate"), "{e}");
    // Trusting another CA is no better.
    let other = tempfile::tempdir().unwrap();
    let other_ca = other.path().join("other.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=someone-else"])
        .arg("-keyout")
        .arg(other.path().join("other.key"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .unwrap();
    assert!(made.status.success());
    let e = PgStore::connect_with(&tls_url, None, Some(&other_ca))
        .map(drop)
        .map_err(|e| chain(&e))
        .unwrap_err();
    assert!(e.contains("certificate"), "{e}");
    // A file with no certificate is a clear error, not an empty trust list.
    std::fs::write(other.path().join("empty.pem"), "").unwrap();
    let e = PgStore::connect_with(&tls_url, None, Some(&other.path().join("empty.pem")))
        .map(drop)
        .map_err(|e| chain(&e))
        .unwrap_err();
    assert!(e.contains("no certificate"), "{e}");

    // Without sslmode=require the connection stays plain TCP.
    let _plain = PgStore::connect(db.url(), None).unwrap();
    assert_eq!(by_tls(&db), "false");
}
