//! Small named facts the agent keeps between runs (the `meta` table): when the daily report
//! last went out, and the like. Values are text; callers parse their own.

use rusqlite::{params, OptionalExtension};

use super::SqliteStore;
use crate::error::{sql, Result};

impl SqliteStore {
    /// The value stored under `key`, if any.
    pub(crate) fn meta(&mut self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(sql(&self.path, "read meta"))
    }

    /// Stores `value` under `key`, replacing what was there.
    pub(crate) fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(sql(&self.path, "write meta"))?;
        Ok(())
    }

    /// Stores `value` under `key` unless a value is there; the value there then.
    pub(crate) fn init_meta(&mut self, key: &str, value: &str) -> Result<String> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                params![key, value],
            )
            .map_err(sql(&self.path, "write meta"))?;
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .map_err(sql(&self.path, "read meta"))
    }
}
