//! The LLM second opinion on alerts (migration 5, the collector's store): one row per alert
//! asked about, read by the dashboard and by delivery (which appends a finished analysis to
//! the notification, or waits a bounded time for a pending one).

use rusqlite::{params, OptionalExtension, Row};

use super::SqliteStore;
use crate::collector::{Analysis, AnalysisState, PendingAnalysis};
use crate::error::{sql, Result};
use crate::types::UnixTime;

const COLUMNS: &str =
    "alert_id, state, model, text, error, cache_key, requested_at, finished_at, latency_ms";

fn row(r: &Row<'_>) -> rusqlite::Result<Analysis> {
    let state: String = r.get(1)?;
    Ok(Analysis {
        alert_id: r.get(0)?,
        // The CHECK constraint admits only the four words.
        state: AnalysisState::parse(&state).unwrap_or(AnalysisState::Failed),
        model: r.get(2)?,
        text: r.get(3)?,
        error: r.get(4)?,
        cache_key: r.get(5)?,
        requested_at: r.get(6)?,
        finished_at: r.get(7)?,
        latency_ms: r.get(8)?,
    })
}

impl SqliteStore {
    /// Writes (inserts or replaces) an alert's analysis row.
    pub(crate) fn put_analysis(&mut self, a: &Analysis) -> Result<()> {
        self.conn
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO alert_analysis ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    a.alert_id,
                    a.state.as_str(),
                    a.model,
                    a.text,
                    a.error,
                    a.cache_key,
                    a.requested_at,
                    a.finished_at,
                    a.latency_ms
                ])
            })
            .map(|_| ())
            .map_err(sql(&self.path, "store an analysis"))
    }

    /// An alert's analysis, if it was asked for.
    pub(crate) fn analysis(&mut self, alert_id: i64) -> Result<Option<Analysis>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM alert_analysis WHERE alert_id = ?1"
            ))
            .and_then(|mut s| s.query_row([alert_id], row).optional())
            .map_err(sql(&self.path, "read an analysis"))
    }

    /// The newest finished analysis with this cache key, if any answered since `since`.
    pub(crate) fn cached_analysis(
        &mut self,
        cache_key: &str,
        since: UnixTime,
    ) -> Result<Option<Analysis>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM alert_analysis WHERE cache_key = ?1 AND state = 'done' \
                 AND finished_at >= ?2 ORDER BY finished_at DESC LIMIT 1"
            ))
            .and_then(|mut s| s.query_row(params![cache_key, since], row).optional())
            .map_err(sql(&self.path, "read a cached analysis"))
    }

    /// Pending analyses, oldest first, at most `limit`, with their alerts' JSON.
    pub(crate) fn pending_analyses(&mut self, limit: usize) -> Result<Vec<PendingAnalysis>> {
        self.conn
            .prepare_cached(
                "SELECT l.alert_id, l.cache_key, l.requested_at, a.json \
                 FROM alert_analysis l JOIN alerts a ON a.id = l.alert_id \
                 WHERE l.state = 'pending' ORDER BY l.alert_id LIMIT ?1",
            )
            .and_then(|mut s| {
                s.query_map([super::limit_to_sql(limit)], |r| {
                    Ok(PendingAnalysis {
                        alert_id: r.get(0)?,
                        cache_key: r.get(1)?,
                        requested_at: r.get(2)?,
                        alert_json: r.get(3)?,
                    })
                })?
                .collect()
            })
            .map_err(sql(&self.path, "read pending analyses"))
    }

    /// Finishes the pending analyses of `alert_ids` with `a`'s state, text, model, error and
    /// latency (one answer for alerts that share a cache key). Rows no longer pending are
    /// left alone. Returns how many were updated.
    pub(crate) fn finish_analyses(&mut self, alert_ids: &[i64], a: &Analysis) -> Result<u64> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction()
            .map_err(sql(path, "finish analyses"))?;
        let mut n = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE alert_analysis SET state = ?2, model = ?3, text = ?4, error = ?5, \
                     finished_at = ?6, latency_ms = ?7 WHERE alert_id = ?1 AND state = 'pending'",
                )
                .map_err(sql(path, "finish analyses"))?;
            for id in alert_ids {
                n += stmt
                    .execute(params![
                        id,
                        a.state.as_str(),
                        a.model,
                        a.text,
                        a.error,
                        a.finished_at,
                        a.latency_ms
                    ])
                    .map_err(sql(path, "finish analyses"))? as u64;
            }
        }
        tx.commit().map_err(sql(path, "finish analyses"))?;
        Ok(n)
    }
}
