//! [`Store`] on [`PgStore`]: alerts, the outbox, counters, profiles, meta, report entries and
//! retention — what the collector shares with the agent.
//!
//! Retention (`purge`) removes what SQLite's does — alerts older than the cutoff unless a
//! delivery of theirs is unsent, sent deliveries, report entries, whole days of DNS hits —
//! and drops an alerts day partition whole when every row in it would go, instead of
//! deleting its rows one by one.

use postgres::types::ToSql;
use postgres::Row;

use super::{partitions, pg_error, PgStore};
use crate::collector::by_inherent::by_inherent;
use crate::collector::AnalysisState;
use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::types::retention_cutoff;
use crate::types::{
    CounterSnapshot, NewAlert, OutboxAnalysis, OutboxCounts, OutboxItem, OutboxState, PurgeStats,
    ReportEntry, ReportSection, StoredAlert, StoredReportEntry, UnixTime,
};

/// The columns [`alert_from_row`] reads, in its order (a macro, for `concat!`).
macro_rules! alert_columns {
    () => {
        "id, time, rule_id, severity, host, source_address, user_name, json"
    };
}

/// An alert row selected with `alert_columns!()`.
pub(super) fn alert_from_row(r: &Row) -> std::result::Result<StoredAlert, RowError> {
    let severity: i32 = r.try_get(3)?;
    Ok(StoredAlert {
        id: r.try_get(0)?,
        alert: NewAlert {
            time: r.try_get(1)?,
            rule_id: r.try_get(2)?,
            // The CHECK constraint keeps it 1–5.
            severity: u8::try_from(severity)
                .map_err(|_| RowError::Invalid("alert severity", severity.to_string()))?,
            host: r.try_get(4)?,
            source_address: r.try_get(5)?,
            user: r.try_get(6)?,
            json: r.try_get(7)?,
            dns: None,
        },
    })
}

/// What can go wrong turning a row into a value: the driver's error (a column of another
/// type) or a value the types do not admit.
#[derive(Debug)]
pub(super) enum RowError {
    Pg(postgres::Error),
    Invalid(&'static str, String),
}

impl From<postgres::Error> for RowError {
    fn from(e: postgres::Error) -> RowError {
        RowError::Pg(e)
    }
}

impl PgStore {
    /// Runs `sql` and turns every row into a value with `f` (errors name `context`).
    pub(super) fn rows<T>(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        context: &'static str,
        f: impl Fn(&Row) -> std::result::Result<T, RowError>,
    ) -> Result<Vec<T>> {
        let rows = (self.stmts).query(&mut self.client, &self.shown, context, sql, params)?;
        rows.iter()
            .map(|r| f(r).map_err(|e| self.row_error(context, e)))
            .collect()
    }

    /// [`rows`](Self::rows) of a query returning at most one row.
    pub(super) fn row<T>(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        context: &'static str,
        f: impl Fn(&Row) -> std::result::Result<T, RowError>,
    ) -> Result<Option<T>> {
        let row = (self.stmts).query_opt(&mut self.client, &self.shown, context, sql, params)?;
        row.map(|r| f(&r).map_err(|e| self.row_error(context, e)))
            .transpose()
    }

    /// Runs one statement; how many rows it changed.
    pub(super) fn exec(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        context: &'static str,
    ) -> Result<u64> {
        (self.stmts).execute(&mut self.client, &self.shown, context, sql, params)
    }

    fn row_error(&self, context: &'static str, e: RowError) -> StoreError {
        match e {
            RowError::Pg(e) => pg_error(&self.shown, context, e),
            RowError::Invalid(what, detail) => StoreError::invalid(what, detail),
        }
    }
}

/// A `LIMIT` parameter.
pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count PostgreSQL returned (`count(*)` is never negative).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The idempotency key of the delivery of alert `alert_id` to `sink`, as on SQLite: unique
/// per database (`instance` is random per database), alert and sink, the same at every
/// attempt.
fn idempotency_key(instance: &str, alert_id: i64, sink: &str) -> String {
    format!("{instance}-{alert_id}-{sink}")
}

/// Outbox rows with their alert's JSON and analysis; the WHERE/ORDER/LIMIT clause follows
/// (a macro, for `concat!`).
macro_rules! outbox_select {
    () => {
        "SELECT o.id, o.alert_id, o.sink, o.state, o.attempts, \
     o.next_attempt_at, o.last_error, a.json, l.state, l.text, l.requested_at, \
     (SELECT value FROM meta WHERE key = 'instance') \
     FROM outbox o JOIN alerts a ON a.id = o.alert_id \
     LEFT JOIN alert_analysis l ON l.alert_id = o.alert_id "
    };
}

fn outbox_item(r: &Row) -> std::result::Result<OutboxItem, RowError> {
    let alert_id: i64 = r.try_get(1)?;
    let sink: String = r.try_get(2)?;
    let state: String = r.try_get(3)?;
    let attempts: i32 = r.try_get(4)?;
    let analysis = match r.try_get::<_, Option<String>>(8)? {
        None => None,
        Some(state) => Some(OutboxAnalysis {
            state: AnalysisState::parse(&state)
                .ok_or(RowError::Invalid("analysis state", state))?,
            text: r.try_get(9)?,
            requested_at: r.try_get(10)?,
        }),
    };
    let instance: Option<String> = r.try_get(11)?;
    Ok(OutboxItem {
        id: r.try_get(0)?,
        idempotency_key: idempotency_key(instance.as_deref().unwrap_or(""), alert_id, &sink),
        alert_id,
        sink,
        state: OutboxState::parse(&state).ok_or(RowError::Invalid("outbox state", state))?,
        attempts: u32::try_from(attempts)
            .map_err(|_| RowError::Invalid("outbox attempts", attempts.to_string()))?,
        next_attempt_at: r.try_get(5)?,
        last_error: r.try_get(6)?,
        alert_json: r.try_get(7)?,
        analysis,
    })
}

impl PgStore {
    pub(super) fn alert(&mut self, id: i64) -> Result<Option<StoredAlert>> {
        self.row(
            concat!("SELECT ", alert_columns!(), " FROM alerts WHERE id = $1"),
            &[&id],
            "read an alert",
            alert_from_row,
        )
    }

    pub(super) fn alerts_between(
        &mut self,
        from: UnixTime,
        to: UnixTime,
        n: usize,
    ) -> Result<Vec<StoredAlert>> {
        self.rows(
            concat!(
                "SELECT ",
                alert_columns!(),
                " FROM alerts WHERE time >= $1 AND time < $2 ORDER BY time, id LIMIT $3"
            ),
            &[&from, &to, &limit(n)],
            "read alerts",
            alert_from_row,
        )
    }

    pub(super) fn due_outbox_for(
        &mut self,
        sink: Option<&str>,
        now: UnixTime,
        n: usize,
    ) -> Result<Vec<OutboxItem>> {
        self.rows(
            concat!(
                outbox_select!(),
                "WHERE o.state = 'pending' AND o.next_attempt_at <= $1 \
                 AND ($2::text IS NULL OR o.sink = $2) ORDER BY o.next_attempt_at, o.id LIMIT $3"
            ),
            &[&now, &sink, &limit(n)],
            "read the outbox",
            outbox_item,
        )
    }

    pub(super) fn outbox_list(
        &mut self,
        state: Option<OutboxState>,
        n: usize,
    ) -> Result<Vec<OutboxItem>> {
        self.rows(
            concat!(
                outbox_select!(),
                "WHERE ($1::text IS NULL OR o.state = $1) ORDER BY o.id DESC LIMIT $2"
            ),
            &[&state.map(OutboxState::as_str), &limit(n)],
            "read the outbox",
            outbox_item,
        )
    }

    pub(super) fn next_due(&mut self, sink: &str) -> Result<Option<UnixTime>> {
        let due = self.row(
            "SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending' AND sink = $1",
            &[&sink],
            "read the outbox",
            |r| Ok(r.try_get::<_, Option<i64>>(0)?),
        )?;
        Ok(due.flatten())
    }

    /// One statement for all ids: atomic like SQLite's transaction, one round trip.
    pub(super) fn postpone(&mut self, ids: &[i64], until: UnixTime, at: UnixTime) -> Result<()> {
        self.exec(
            "UPDATE outbox SET next_attempt_at = $2, updated_at = $3 \
             WHERE id = ANY($1) AND state = 'pending'",
            &[&ids, &until, &at],
            "postpone deliveries",
        )?;
        Ok(())
    }

    pub(super) fn mark_sent_many(&mut self, ids: &[i64], at: UnixTime) -> Result<()> {
        self.exec(
            "UPDATE outbox SET state = 'sent', updated_at = $2 WHERE id = ANY($1)",
            &[&ids, &at],
            "mark deliveries sent",
        )?;
        Ok(())
    }

    pub(super) fn purge_outbox(&mut self, state: OutboxState) -> Result<u64> {
        self.exec(
            "DELETE FROM outbox WHERE state = $1",
            &[&state.as_str()],
            "purge the outbox",
        )
    }

    pub(super) fn mark_sent(&mut self, id: i64, at: UnixTime) -> Result<()> {
        let n = self.exec(
            "UPDATE outbox SET state = 'sent', updated_at = $2 WHERE id = $1",
            &[&id, &at],
            "mark a delivery sent",
        )?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "outbox row",
                id,
            });
        }
        Ok(())
    }

    pub(super) fn mark_failed(
        &mut self,
        id: i64,
        at: UnixTime,
        error: &str,
        retry_at: Option<UnixTime>,
    ) -> Result<()> {
        let state = OutboxState::after_failure(retry_at);
        let n = self.exec(
            "UPDATE outbox SET state = $2, attempts = attempts + 1, last_error = $3, \
             next_attempt_at = coalesce($4::bigint, next_attempt_at), updated_at = $5 \
             WHERE id = $1 AND state <> 'sent'",
            &[&id, &state.as_str(), &error, &retry_at, &at],
            "record a failed delivery",
        )?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "unsent outbox row",
                id,
            });
        }
        Ok(())
    }

    pub(super) fn retry_failed(&mut self, sink: Option<&str>, now: UnixTime) -> Result<u64> {
        self.exec(
            "UPDATE outbox SET state = 'pending', next_attempt_at = $2, updated_at = $2 \
             WHERE state = 'failed' AND ($1::text IS NULL OR sink = $1)",
            &[&sink, &now],
            "retry failed deliveries",
        )
    }

    pub(super) fn retry_pending_now(&mut self, sink: &str, now: UnixTime) -> Result<u64> {
        self.exec(
            "UPDATE outbox SET next_attempt_at = $2, updated_at = $2 \
             WHERE state = 'pending' AND sink = $1 AND attempts > 0 AND next_attempt_at > $2",
            &[&sink, &now],
            "retry pending deliveries",
        )
    }

    pub(super) fn outbox_counts(&mut self) -> Result<OutboxCounts> {
        let rows = self.rows(
            "SELECT state, count(*) FROM outbox GROUP BY state",
            &[],
            "count the outbox",
            |r| Ok((r.try_get::<_, String>(0)?, count(r.try_get(1)?))),
        )?;
        let mut counts = OutboxCounts::default();
        for (state, n) in rows {
            match OutboxState::parse(&state) {
                Some(OutboxState::Pending) => counts.pending = n,
                Some(OutboxState::Sent) => counts.sent = n,
                Some(OutboxState::Failed) => counts.failed = n,
                None => return Err(StoreError::invalid("outbox state", state)),
            }
        }
        Ok(counts)
    }

    pub(super) fn load_counters(&mut self, name: &str) -> Result<Option<CounterSnapshot>> {
        self.row(
            "SELECT name, data, saved_at FROM counters WHERE name = $1",
            &[&name],
            "load counters",
            |r| {
                Ok(CounterSnapshot {
                    name: r.try_get(0)?,
                    data: r.try_get(1)?,
                    saved_at: r.try_get(2)?,
                })
            },
        )
    }

    pub(super) fn profile(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        self.row(
            "SELECT data FROM profiles WHERE key = $1",
            &[&key],
            "read a login profile",
            |r| Ok(r.try_get(0)?),
        )
    }

    pub(super) fn meta(&mut self, key: &str) -> Result<Option<String>> {
        self.row(
            "SELECT value FROM meta WHERE key = $1",
            &[&key],
            "read meta",
            |r| Ok(r.try_get(0)?),
        )
    }

    pub(super) fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
            "write meta",
        )?;
        Ok(())
    }

    pub(super) fn init_meta(&mut self, key: &str, value: &str) -> Result<String> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &value],
            "write meta",
        )?;
        self.row(
            "SELECT value FROM meta WHERE key = $1",
            &[&key],
            "read meta",
            |r| Ok(r.try_get(0)?),
        )?
        .ok_or_else(|| StoreError::invalid("meta", format!("{key}: gone after its insert")))
    }

    pub(super) fn report_entries(
        &mut self,
        from: UnixTime,
        to: UnixTime,
    ) -> Result<Vec<StoredReportEntry>> {
        self.rows(
            "SELECT id, time, section, text FROM report_entries \
             WHERE time >= $1 AND time < $2 ORDER BY time, id",
            &[&from, &to],
            "read report entries",
            |r| {
                let section: String = r.try_get(2)?;
                Ok(StoredReportEntry {
                    id: r.try_get(0)?,
                    entry: ReportEntry {
                        time: r.try_get(1)?,
                        section: ReportSection::parse(&section)
                            .ok_or(RowError::Invalid("report section", section))?,
                        text: r.try_get(3)?,
                    },
                })
            },
        )
    }

    pub(super) fn delete_report_entries(&mut self, until: UnixTime) -> Result<u64> {
        self.exec(
            "DELETE FROM report_entries WHERE time < $1",
            &[&until],
            "delete report entries",
        )
    }

    /// Retention, in one transaction: what SQLite's `purge` removes (see the module doc).
    /// Purges of several collectors are serialised by an advisory lock; a partition is
    /// dropped under an exclusive lock on `alerts` taken before anything else in the
    /// transaction reads it (a lock taken up front cannot deadlock on an upgrade).
    pub(super) fn purge(&mut self, now: UnixTime, keep_days: u32) -> Result<PurgeStats> {
        let cutoff = retention_cutoff(now, keep_days);
        let shown = &self.shown;
        let err = |context| move |e| pg_error(shown, context, e);
        let mut tx = self.client.transaction().map_err(err("begin retention"))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('logward.purge'))",
            &[],
        )
        .map_err(err("begin retention"))?;
        let outbox = tx
            .execute(
                "DELETE FROM outbox WHERE state = 'sent' AND updated_at < $1",
                &[&cutoff],
            )
            .map_err(err("purge sent deliveries"))?;
        // Days wholly before the cutoff, oldest first (the catalogue, not the table: no lock
        // on `alerts` yet).
        let old =
            partitions::before(&mut tx, "alerts", cutoff).map_err(err("list alert partitions"))?;
        let mut alerts = 0;
        let mut dropped = false;
        if !old.is_empty() {
            tx.batch_execute("LOCK TABLE alerts IN ACCESS EXCLUSIVE MODE")
                .map_err(err("lock alerts for retention"))?;
        }
        for part in &old {
            let part = format!("\"{}\"", part.name.replace('"', "\"\""));
            // Dropped only when every row would go: none as recent as the cutoff (an alert
            // time after its storage day), none with an unsent delivery.
            let keep: bool = tx
                .query_one(
                    &format!(
                        "SELECT EXISTS (SELECT 1 FROM {part} WHERE time >= $1) \
                         OR EXISTS (SELECT 1 FROM outbox o JOIN {part} a ON a.id = o.alert_id \
                         WHERE o.state <> 'sent')"
                    ),
                    &[&cutoff],
                )
                .and_then(|r| r.try_get(0))
                .map_err(err("check an alert partition"))?;
            if keep {
                continue;
            }
            let n: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {part}"), &[])
                .and_then(|r| r.try_get(0))
                .map_err(err("count an alert partition"))?;
            tx.batch_execute(&format!(
                "DELETE FROM outbox WHERE alert_id IN (SELECT id FROM {part}); \
                 DELETE FROM alert_analysis WHERE alert_id IN (SELECT id FROM {part}); \
                 DROP TABLE {part}"
            ))
            .map_err(err("drop an alert partition"))?;
            alerts += count(n);
            dropped = true;
        }
        // The rest row by row (in days kept, or not yet wholly old), with the rows that
        // point at them: SQLite's foreign keys cascade, here the store deletes them.
        let ids: Vec<i64> = tx
            .query(
                "DELETE FROM alerts WHERE time < $1 AND NOT EXISTS \
                 (SELECT 1 FROM outbox o WHERE o.alert_id = alerts.id AND o.state <> 'sent') \
                 RETURNING id",
                &[&cutoff],
            )
            .and_then(|rows| rows.iter().map(|r| r.try_get(0)).collect())
            .map_err(err("purge alerts"))?;
        if !ids.is_empty() {
            tx.execute("DELETE FROM outbox WHERE alert_id = ANY($1)", &[&ids])
                .map_err(err("purge alerts"))?;
            tx.execute(
                "DELETE FROM alert_analysis WHERE alert_id = ANY($1)",
                &[&ids],
            )
            .map_err(err("purge alerts"))?;
            alerts += ids.len() as u64;
        }
        let report = tx
            .execute("DELETE FROM report_entries WHERE time < $1", &[&cutoff])
            .map_err(err("purge report entries"))?;
        // Whole days: the day holding the cutoff is kept until it is entirely older.
        let dns_hits = tx
            .execute(
                "DELETE FROM dns_hits WHERE day < $1",
                &[&(cutoff / partitions::DAY)],
            )
            .map_err(err("purge DNS hits"))?;
        let committed = tx.commit().map_err(err("commit retention"));
        if dropped || committed.is_err() {
            self.days.clear();
        }
        committed?;
        Ok(PurgeStats {
            alerts,
            outbox,
            bans: 0,
            report,
            dns_hits,
        })
    }
}

impl Store for PgStore {
    // Each on a live connection (PgStore::ready), looked at again after an error.
    by_inherent! { PgStore [ready]
        fn alert(id: i64) -> Result<Option<StoredAlert>>;
        fn alerts_between(from: UnixTime, to: UnixTime, limit: usize) -> Result<Vec<StoredAlert>>;
        fn due_outbox_for(sink: Option<&str>, now: UnixTime, limit: usize)
            -> Result<Vec<OutboxItem>>;
        fn outbox_list(state: Option<OutboxState>, limit: usize) -> Result<Vec<OutboxItem>>;
        fn next_due(sink: &str) -> Result<Option<UnixTime>>;
        fn postpone(ids: &[i64], until: UnixTime, at: UnixTime) -> Result<()>;
        fn mark_sent_many(ids: &[i64], at: UnixTime) -> Result<()>;
        fn purge_outbox(state: OutboxState) -> Result<u64>;
        fn mark_sent(id: i64, at: UnixTime) -> Result<()>;
        fn mark_failed(id: i64, at: UnixTime, error: &str, retry_at: Option<UnixTime>)
            -> Result<()>;
        fn retry_failed(sink: Option<&str>, now: UnixTime) -> Result<u64>;
        fn retry_pending_now(sink: &str, now: UnixTime) -> Result<u64>;
        fn outbox_counts() -> Result<OutboxCounts>;
        fn load_counters(name: &str) -> Result<Option<CounterSnapshot>>;
        fn profile(key: &str) -> Result<Option<Vec<u8>>>;
        fn meta(key: &str) -> Result<Option<String>>;
        fn set_meta(key: &str, value: &str) -> Result<()>;
        fn init_meta(key: &str, value: &str) -> Result<String>;
        fn report_entries(from: UnixTime, to: UnixTime) -> Result<Vec<StoredReportEntry>>;
        fn delete_report_entries(until: UnixTime) -> Result<u64>;
        fn purge(now: UnixTime, keep_days: u32) -> Result<PurgeStats>;
    }

    fn due_outbox(&mut self, now: UnixTime, limit: usize) -> Result<Vec<OutboxItem>> {
        self.ready()?;
        self.due_outbox_for(None, now, limit)
    }

    fn schema_version(&mut self) -> Result<u32> {
        self.ready()?;
        super::migrations::version(&mut self.client, &self.shown)
    }
}
