//! The LLM analyst's rows (alert_analysis), as on SQLite (sqlite/analysis.rs). Without a
//! foreign key to the partitioned `alerts`, the store itself refuses a row for an alert that
//! is not stored (SQLite's key does) and deletes the row with its alert (retention).

use postgres::Row;

use super::base::{limit, RowError};
use super::PgStore;
use crate::collector::{Analysis, AnalysisState, PendingAnalysis};
use crate::error::{Result, StoreError};
use crate::types::UnixTime;

/// The columns [`analysis_row`] reads, in its order (a macro, for `concat!`).
macro_rules! columns {
    () => {
        "alert_id, state, model, text, error, cache_key, requested_at, finished_at, latency_ms"
    };
}

fn analysis_row(r: &Row) -> std::result::Result<Analysis, RowError> {
    let state: String = r.try_get(1)?;
    Ok(Analysis {
        alert_id: r.try_get(0)?,
        // The CHECK constraint admits only the four words.
        state: AnalysisState::parse(&state).unwrap_or(AnalysisState::Failed),
        model: r.try_get(2)?,
        text: r.try_get(3)?,
        error: r.try_get(4)?,
        cache_key: r.try_get(5)?,
        requested_at: r.try_get(6)?,
        finished_at: r.try_get(7)?,
        latency_ms: r.try_get(8)?,
    })
}

impl PgStore {
    /// Writes (inserts or replaces) an alert's analysis row; an alert that is not stored
    /// (purged while the LLM answered) is [`StoreError::NotFound`].
    pub(super) fn put_analysis(&mut self, a: &Analysis) -> Result<()> {
        let n = self.exec(
            concat!(
                "INSERT INTO alert_analysis (",
                columns!(),
                ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
                 WHERE EXISTS (SELECT 1 FROM alerts WHERE id = $1) \
                 ON CONFLICT (alert_id) DO UPDATE SET state = excluded.state, \
                 model = excluded.model, text = excluded.text, error = excluded.error, \
                 cache_key = excluded.cache_key, requested_at = excluded.requested_at, \
                 finished_at = excluded.finished_at, latency_ms = excluded.latency_ms"
            ),
            &[
                &a.alert_id,
                &a.state.as_str(),
                &a.model,
                &a.text,
                &a.error,
                &a.cache_key,
                &a.requested_at,
                &a.finished_at,
                &a.latency_ms,
            ],
            "store an analysis",
        )?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "alert",
                id: a.alert_id,
            });
        }
        Ok(())
    }

    pub(super) fn analysis(&mut self, alert_id: i64) -> Result<Option<Analysis>> {
        self.row(
            concat!(
                "SELECT ",
                columns!(),
                " FROM alert_analysis WHERE alert_id = $1"
            ),
            &[&alert_id],
            "read an analysis",
            analysis_row,
        )
    }

    pub(super) fn cached_analysis(
        &mut self,
        cache_key: &str,
        since: UnixTime,
    ) -> Result<Option<Analysis>> {
        self.row(
            concat!(
                "SELECT ",
                columns!(),
                " FROM alert_analysis WHERE cache_key = $1 AND state = 'done' \
                 AND finished_at >= $2 ORDER BY finished_at DESC LIMIT 1"
            ),
            &[&cache_key, &since],
            "read a cached analysis",
            analysis_row,
        )
    }

    pub(super) fn pending_analyses(&mut self, n: usize) -> Result<Vec<PendingAnalysis>> {
        self.rows(
            "SELECT l.alert_id, l.cache_key, l.requested_at, a.json \
             FROM alert_analysis l JOIN alerts a ON a.id = l.alert_id \
             WHERE l.state = 'pending' ORDER BY l.alert_id LIMIT $1",
            &[&limit(n)],
            "read pending analyses",
            |r| {
                Ok(PendingAnalysis {
                    alert_id: r.try_get(0)?,
                    cache_key: r.try_get(1)?,
                    requested_at: r.try_get(2)?,
                    alert_json: r.try_get(3)?,
                })
            },
        )
    }

    /// One statement for all ids (atomic, like SQLite's transaction).
    pub(super) fn finish_analyses(&mut self, alert_ids: &[i64], a: &Analysis) -> Result<u64> {
        self.exec(
            "UPDATE alert_analysis SET state = $2, model = $3, text = $4, error = $5, \
                 finished_at = $6, latency_ms = $7 WHERE alert_id = ANY($1) AND state = 'pending'",
            &[
                &alert_ids,
                &a.state.as_str(),
                &a.model,
                &a.text,
                &a.error,
                &a.finished_at,
                &a.latency_ms,
            ],
            "finish analyses",
        )
    }
}
