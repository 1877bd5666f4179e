//! Numbered, forward-only schema migrations for the PostgreSQL backend, like SQLite's: one
//! `schema_version` row per migration applied, each migration in its own transaction with its
//! row, a database newer than this build refused. Every transaction takes one advisory lock
//! first, so collectors started together apply each migration once.

use std::path::Path;

use postgres::Client;

use super::pg_error;
use crate::error::{Result, StoreError};

/// One migration.
pub(super) struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The PostgreSQL backend's migrations, in order (numbered on their own: PostgreSQL's first
/// one holds all of SQLite's first twelve).
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "seq_ranges",
        sql: include_str!("migrations/0002_seq_ranges.sql"),
    },
    Migration {
        version: 3,
        name: "collectors",
        sql: include_str!("migrations/0003_collectors.sql"),
    },
];

/// Any number both sides agree on: the key of the advisory lock migrations take.
const MIGRATION_LOCK: i64 = 0x6c6f_6777_6172_6401;

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at bigint NOT NULL
)";

/// Brings the database to the newest schema this build knows.
pub(super) fn migrate(client: &mut Client, shown: &Path) -> Result<()> {
    let newest = MIGRATIONS.last().map_or(0, |m| m.version);
    for m in MIGRATIONS {
        let mut tx = client
            .transaction()
            .map_err(|e| pg_error(shown, "begin a migration", e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(|e| pg_error(shown, "lock the schema for a migration", e))?;
        // Under the lock: two first starts would race on the catalogue otherwise.
        tx.batch_execute(VERSION_TABLE)
            .map_err(|e| pg_error(shown, "create the schema_version table", e))?;
        let current: Option<i32> = tx
            .query_one("SELECT max(version) FROM schema_version", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| pg_error(shown, "read the schema version", e))?;
        let current = u32::try_from(current.unwrap_or(0)).unwrap_or(0);
        if current > newest {
            return Err(StoreError::TooNew {
                path: shown.to_path_buf(),
                found: current,
                supported: newest,
            });
        }
        if current >= m.version {
            continue;
        }
        let failed = |e: postgres::Error| StoreError::Migration {
            path: shown.to_path_buf(),
            version: m.version,
            name: m.name,
            source: Box::new(e),
        };
        tx.batch_execute(m.sql).map_err(failed)?;
        let version = i32::try_from(m.version).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at) \
             VALUES ($1, $2, extract(epoch FROM now())::bigint)",
            &[&version, &m.name],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    Ok(())
}

/// The highest migration applied.
pub(super) fn version(client: &mut Client, shown: &Path) -> Result<u32> {
    let v: Option<i32> = client
        .query_one("SELECT max(version) FROM schema_version", &[])
        .and_then(|r| r.try_get(0))
        .map_err(|e| pg_error(shown, "read the schema version", e))?;
    Ok(u32::try_from(v.unwrap_or(0)).unwrap_or(0))
}
