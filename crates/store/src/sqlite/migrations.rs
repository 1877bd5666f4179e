//! Numbered, forward-only schema migrations for the SQLite backend.
//!
//! `schema_version` holds one row per applied migration. Opening a database applies every
//! migration newer than its highest row, each in its own `BEGIN IMMEDIATE` transaction
//! together with its row, so a crash mid-migration leaves the previous version intact and two
//! processes opening the same file cannot both apply one. A database with a version newer
//! than this build knows is refused, never "downgraded". Migrations are never edited once
//! released: a change is a new file with the next number.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{sql, Result, StoreError};

/// One migration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Its number: 1, 2, 3 … without gaps.
    pub version: u32,
    /// A short name, recorded beside the number.
    pub name: &'static str,
    /// The SQL, run as one batch.
    pub sql: &'static str,
}

/// One row of [`MIGRATIONS`]: the number, the name and the SQL file under `migrations/`,
/// read into the binary at build time (`include_str!` needs a literal path, hence a macro).
macro_rules! migration {
    ($version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("migrations/", $file)),
        }
    };
}

/// The SQLite backend's migrations, in order.
pub(crate) const MIGRATIONS: &[Migration] = &[
    migration!(1, "initial", "0001_initial.sql"),
    migration!(2, "outbox", "0002_outbox.sql"),
    migration!(3, "spool", "0003_spool.sql"),
    migration!(4, "fleet", "0004_fleet.sql"),
    migration!(5, "analysis", "0005_analysis.sql"),
    migration!(6, "decision_log", "0006_decision_log.sql"),
    migration!(7, "profiles", "0007_profiles.sql"),
    migration!(8, "dashboard", "0008_dashboard.sql"),
    migration!(9, "llm", "0009_llm.sql"),
    migration!(10, "event_indexes", "0010_event_indexes.sql"),
    migration!(11, "event_keys", "0011_event_keys.sql"),
    migration!(12, "dns_hits", "0012_dns_hits.sql"),
    migration!(13, "seq_ranges", "0013_seq_ranges.sql"),
    migration!(14, "collectors", "0014_collectors.sql"),
];

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
)";

/// The highest applied version (0 for an empty database).
pub(crate) fn current_version(conn: &Connection, path: &Path) -> Result<u32> {
    let v: Option<i64> = conn
        .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
        .optional()
        .map_err(sql(path, "read the schema version"))?
        .flatten();
    let v = v.unwrap_or(0);
    u32::try_from(v).map_err(|_| StoreError::invalid("schema version", v.to_string()))
}

/// Brings the database up to the last of `migrations`; returns the resulting version.
pub(crate) fn migrate(conn: &mut Connection, path: &Path, migrations: &[Migration]) -> Result<u32> {
    let supported = migrations.last().map_or(0, |m| m.version);
    conn.execute_batch(VERSION_TABLE)
        .map_err(sql(path, "create the schema version table"))?;
    if current_version(conn, path)? == supported {
        return Ok(supported);
    }
    let now = logward_core::clock::unix_now();
    for m in migrations {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "start a schema migration"))?;
        // Read again under the write lock: another process may have migrated meanwhile.
        let current = current_version(&tx, path)?;
        if current > supported {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: current,
                supported,
            });
        }
        if m.version <= current {
            continue;
        }
        if m.version != current + 1 {
            return Err(StoreError::invalid(
                "schema version",
                format!(
                    "the database is at version {current}, the next migration is {}",
                    m.version
                ),
            ));
        }
        let fail = |source: rusqlite::Error| StoreError::Migration {
            path: path.to_path_buf(),
            version: m.version,
            name: m.name,
            source: source.into(),
        };
        tx.execute_batch(m.sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)",
            (m.version, m.name, now),
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
    let v = current_version(conn, path)?;
    if v > supported {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: v,
            supported,
        });
    }
    Ok(v)
}
