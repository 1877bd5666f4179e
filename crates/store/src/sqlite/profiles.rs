//! The anomaly detector's login profiles: written with the batch whose lines changed them
//! (so a restart neither forgets nor double-learns a login), read back one key at a time.

use std::path::Path;

use rusqlite::{params, OptionalExtension, Transaction};

use super::SqliteStore;
use crate::collector::ProfileLookup;
use crate::error::{sql, Result};
use crate::types::ProfileRow;

const UPSERT: &str = "INSERT INTO profiles (key, data, updated_at) VALUES (?1, ?2, ?3) \
                      ON CONFLICT (key) DO UPDATE SET data = excluded.data, \
                      updated_at = excluded.updated_at";

pub(crate) fn put(tx: &Transaction<'_>, path: &Path, rows: &[ProfileRow]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(UPSERT)
        .map_err(sql(path, "store login profiles"))?;
    for r in rows {
        stmt.execute(params![r.key, r.data, r.updated_at])
            .map_err(sql(path, "store login profiles"))?;
    }
    Ok(())
}

/// Reads profiles inside a transaction (the collector's fleet anomaly detector, during an
/// ingest).
pub(crate) struct ProfileReader<'a> {
    pub(crate) tx: &'a Transaction<'a>,
    pub(crate) path: &'a Path,
}

impl std::fmt::Debug for ProfileReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileReader").finish_non_exhaustive()
    }
}

impl ProfileLookup for ProfileReader<'_> {
    fn profile(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.tx
            .prepare_cached("SELECT data FROM profiles WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(sql(self.path, "read a login profile"))
    }
}

impl SqliteStore {
    /// The stored profile under `key` (JSON).
    pub(crate) fn profile(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path.clone();
        self.conn
            .prepare_cached("SELECT data FROM profiles WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(sql(&path, "read a login profile"))
    }

    /// Writes profiles outside a batch (`logward learn`), in one transaction.
    pub(crate) fn put_profiles(&mut self, rows: &[ProfileRow]) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(sql(&path, "store login profiles"))?;
        put(&tx, &path, rows)?;
        tx.commit().map_err(sql(&path, "store login profiles"))
    }

    /// How many profiles are stored.
    pub(crate) fn profile_count(&mut self) -> Result<u64> {
        let path = self.path.clone();
        self.conn
            .query_row("SELECT count(*) FROM profiles", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(sql(&path, "count login profiles"))
    }
}
