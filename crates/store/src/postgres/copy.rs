//! `logward collector copy-from-sqlite`: a SQLite collector store copied into an empty
//! PostgreSQL database in one transaction, every row as it is (ids, times, JSON byte for
//! byte), so a fleet moves to PostgreSQL without losing its history, its agents' secrets and
//! sequence numbers (nothing is stored twice after the move), or its decisions.
//!
//! SQLite's tables and PostgreSQL's have the same columns but two: alerts gain `stored_at`
//! (the day partition; SQLite's retention went by the alert's time, so that is its day,
//! never later than the copy) and keyed events' keys move to `fleet_event_keys`.

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::Transaction;
use rusqlite::types::Value;

use super::{partitions, PgStore};
use crate::error::{Result, StoreError};
use crate::sqlite::SqliteStore;
use crate::types::UnixTime;

/// One table: PostgreSQL's name and columns, and SQLite's `SELECT` of the same columns in the
/// same order (`?1` is the time of the copy).
struct Table {
    name: &'static str,
    columns: &'static str,
    select: &'static str,
}

/// Every collector table but `meta` (merged, below), in an order where nothing points at a
/// row not yet copied (there are no foreign keys; the order is for the reader).
const TABLES: &[Table] = &[
    Table {
        name: "agents",
        columns: "id, host, secret, created_at, revoked_at, last_seen, version, spool_items, \
                  spool_bytes, oldest_unsent, last_seq",
        select: "SELECT id, host, secret, created_at, revoked_at, last_seen, version, \
                 spool_items, spool_bytes, oldest_unsent, last_seq FROM agents",
    },
    Table {
        name: "agent_seq_ranges",
        columns: "agent_id, first_seq, last_seq, received_at",
        select: "SELECT agent_id, first_seq, last_seq, received_at FROM agent_seq_ranges",
    },
    Table {
        name: "enrol_tokens",
        columns: "sha256, created_at, expires_at, used_at, agent_id",
        select: "SELECT sha256, created_at, expires_at, used_at, agent_id FROM enrol_tokens",
    },
    Table {
        name: "alerts",
        columns: "id, time, stored_at, rule_id, severity, host, source_address, user_name, json",
        select: "SELECT id, time, min(time, ?1), rule_id, severity, host, source_address, \
                 user_name, json FROM alerts ORDER BY id",
    },
    Table {
        name: "fleet_events",
        columns: "id, agent_id, seq, time, received_at, host, action, outcome, source_ip, \
                  user_name, json",
        select: "SELECT id, agent_id, seq, time, received_at, host, action, outcome, source_ip, \
                 user_name, json FROM fleet_events ORDER BY id",
    },
    Table {
        name: "fleet_event_keys",
        columns: "dedup_key, received_at",
        select: "SELECT dedup_key, received_at FROM fleet_events WHERE dedup_key IS NOT NULL",
    },
    Table {
        name: "outbox",
        columns: "id, alert_id, sink, state, attempts, next_attempt_at, last_error, updated_at",
        select: "SELECT id, alert_id, sink, state, attempts, next_attempt_at, last_error, \
                 updated_at FROM outbox ORDER BY id",
    },
    Table {
        name: "alert_analysis",
        columns: "alert_id, state, model, text, error, cache_key, requested_at, finished_at, \
                  latency_ms",
        select: "SELECT alert_id, state, model, text, error, cache_key, requested_at, \
                 finished_at, latency_ms FROM alert_analysis",
    },
    Table {
        name: "dns_hits",
        columns: "alert_id, day, time, host, client, domain, qtype, finding, list, verdict, \
                  severity, answer, owner",
        select: "SELECT alert_id, day, time, host, client, domain, qtype, finding, list, \
                 verdict, severity, answer, owner FROM dns_hits",
    },
    Table {
        name: "decisions",
        columns: "id, target, duration_secs, reason, rule_id, created_at, expires_at, alert_id, \
                  removed_at",
        select: "SELECT id, target, duration_secs, reason, rule_id, created_at, expires_at, \
                 alert_id, removed_at FROM decisions ORDER BY id",
    },
    Table {
        name: "decision_changes",
        columns: "seq, decision_id, op, target, duration_secs, expires_at, reason, rule_id, at",
        select: "SELECT seq, decision_id, op, target, duration_secs, expires_at, reason, \
                 rule_id, at FROM decision_changes ORDER BY seq",
    },
    Table {
        name: "counters",
        columns: "name, data, saved_at",
        select: "SELECT name, data, saved_at FROM counters",
    },
    Table {
        name: "profiles",
        columns: "key, data, updated_at",
        select: "SELECT key, data, updated_at FROM profiles",
    },
    Table {
        name: "report_entries",
        columns: "id, time, section, text",
        select: "SELECT id, time, section, text FROM report_entries ORDER BY id",
    },
    Table {
        name: "operators",
        columns: "name, password, created_at",
        select: "SELECT name, password, created_at FROM operators",
    },
    Table {
        name: "api_tokens",
        columns: "id, name, sha256, created_at, last_used, revoked_at",
        select: "SELECT id, name, sha256, created_at, last_used, revoked_at FROM api_tokens \
                 ORDER BY id",
    },
];

/// The generated ids whose sequences must continue after the copied rows.
const SEQUENCES: &[(&str, &str)] = &[
    ("alerts", "id"),
    ("fleet_events", "id"),
    ("outbox", "id"),
    ("decisions", "id"),
    ("decision_changes", "seq"),
    ("report_entries", "id"),
    ("api_tokens", "id"),
];

/// Tables that must be empty before a copy: what a collector that ran would have written.
const MUST_BE_EMPTY: &[&str] = &[
    "agents",
    "alerts",
    "fleet_events",
    "decisions",
    "operators",
    "api_tokens",
    "enrol_tokens",
];

impl PgStore {
    /// Copies the collector store `from` (opened, so migrated to the newest SQLite schema)
    /// into this database, which must hold no collector's data yet; all or nothing. `now`
    /// caps the day partitions of alerts. Returns the rows copied per table.
    pub fn copy_from_sqlite(
        &mut self,
        from: &SqliteStore,
        now: UnixTime,
    ) -> Result<Vec<(&'static str, u64)>> {
        self.ready()?;
        let shown = self.shown.clone();
        let src = from.connection();
        let src_path = from.path().to_path_buf();
        let sq = |context: &'static str| {
            let p = src_path.clone();
            move |e: rusqlite::Error| StoreError::Database {
                path: p,
                context,
                source: Box::new(e),
            }
        };
        // One snapshot of the SQLite file, whatever writes to it meanwhile.
        src.execute_batch("BEGIN")
            .map_err(sq("start reading the SQLite store"))?;
        let result = (|| {
            let mut tx = self
                .client
                .transaction()
                .map_err(|e| super::pg_error(&shown, "start the copy", e))?;
            for t in MUST_BE_EMPTY {
                let n: i64 = tx
                    .query_one(&format!("SELECT count(*) FROM {t}"), &[])
                    .and_then(|r| r.try_get(0))
                    .map_err(|e| super::pg_error(&shown, "check the database is empty", e))?;
                if n > 0 {
                    return Err(StoreError::Invalid {
                        what: "PostgreSQL database",
                        detail: format!(
                            "{} already holds a collector's data ({n} rows in {t}): copy into \
                             a new, empty database",
                            shown.display()
                        ),
                    });
                }
            }
            // The day partitions the copied rows fall in (the start of each UTC day).
            for (table, days) in [
                (
                    "alerts",
                    "SELECT DISTINCT t - ((t % 86400) + 86400) % 86400 \
                     FROM (SELECT min(time, ?1) AS t FROM alerts)",
                ),
                (
                    "fleet_events",
                    "SELECT DISTINCT t - ((t % 86400) + 86400) % 86400 \
                     FROM (SELECT received_at AS t FROM fleet_events WHERE ?1 IS NOT NULL)",
                ),
            ] {
                let days: Vec<i64> = src
                    .prepare(days)
                    .and_then(|mut s| s.query_map([now], |r| r.get(0))?.collect())
                    .map_err(sq("read the days to copy"))?;
                for d in days {
                    partitions::ensure(&mut tx, &mut self.days, table, d)
                        .map_err(|e| super::pg_error(&shown, "create a day partition", e))?;
                }
            }
            let mut copied = Vec::new();
            for t in TABLES {
                let n = copy_table(&mut tx, src, t, now).map_err(|e| match e {
                    CopyError::Pg(e) => super::pg_error(&shown, "copy rows into PostgreSQL", e),
                    CopyError::Sqlite(e) => sq("read rows to copy")(e),
                    CopyError::Value(detail) => StoreError::Invalid {
                        what: "row of the SQLite store",
                        detail: format!("{}: {detail}", t.name),
                    },
                })?;
                copied.push((t.name, n));
            }
            let meta: Vec<(String, String)> = src
                .prepare("SELECT key, value FROM meta WHERE key <> 'instance'")
                .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
                .map_err(sq("read meta"))?;
            for (k, v) in &meta {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[k, v],
                )
                .map_err(|e| super::pg_error(&shown, "copy meta", e))?;
            }
            copied.push(("meta", meta.len() as u64));
            for (table, col) in SEQUENCES {
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{col}'), \
                         coalesce((SELECT max({col}) FROM {table}), 0) + 1, false)"
                    ),
                    &[],
                )
                .map_err(|e| super::pg_error(&shown, "continue the ids after the copy", e))?;
            }
            tx.commit()
                .map_err(|e| super::pg_error(&shown, "commit the copy", e))?;
            Ok(copied)
        })();
        let _ = src.execute_batch("COMMIT");
        if result.is_err() {
            // Partitions made in the rolled-back transaction are gone again.
            self.days.clear();
        }
        result
    }
}

enum CopyError {
    Pg(postgres::Error),
    Sqlite(rusqlite::Error),
    Value(String),
}

impl From<postgres::Error> for CopyError {
    fn from(e: postgres::Error) -> CopyError {
        CopyError::Pg(e)
    }
}

impl From<rusqlite::Error> for CopyError {
    fn from(e: rusqlite::Error) -> CopyError {
        CopyError::Sqlite(e)
    }
}

/// Copies one table with binary `COPY`, each SQLite value converted to its PostgreSQL
/// column's type; returns the rows copied.
fn copy_table(
    tx: &mut Transaction<'_>,
    src: &rusqlite::Connection,
    t: &Table,
    now: UnixTime,
) -> Result<u64, CopyError> {
    let types: Vec<Type> = tx
        .prepare(&format!("SELECT {} FROM {} LIMIT 0", t.columns, t.name))?
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    let mut stmt = src.prepare(t.select)?;
    let mut rows = if stmt.parameter_count() > 0 {
        stmt.query([now])?
    } else {
        stmt.query([])?
    };
    let sink = tx.copy_in(&format!(
        "COPY {} ({}) FROM STDIN BINARY",
        t.name, t.columns
    ))?;
    let mut w = BinaryCopyInWriter::new(sink, &types);
    let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(types.len());
    while let Some(row) = rows.next()? {
        values.clear();
        for (i, ty) in types.iter().enumerate() {
            let v: Value = row.get(i)?;
            values.push(convert(v, ty).map_err(|e| CopyError::Value(format!("column {i}: {e}")))?);
        }
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|b| b.as_ref()).collect();
        super::nul::nul_free(&refs, |p| w.write(p))?;
    }
    Ok(w.finish()?)
}

/// A SQLite value as the PostgreSQL column type wants it.
fn convert(v: Value, ty: &Type) -> Result<Box<dyn ToSql + Sync>, String> {
    Ok(
        match (
            *ty == Type::INT8,
            *ty == Type::INT4,
            *ty == Type::TEXT,
            *ty == Type::BYTEA,
        ) {
            (true, ..) => Box::new(match v {
                Value::Null => None,
                Value::Integer(i) => Some(i),
                other => return Err(format!("{other:?} is not an integer")),
            }),
            (_, true, ..) => Box::new(match v {
                Value::Null => None,
                Value::Integer(i) => {
                    Some(i32::try_from(i).map_err(|_| format!("{i} is out of range"))?)
                }
                other => return Err(format!("{other:?} is not an integer")),
            }),
            (_, _, true, _) => Box::new(match v {
                Value::Null => None,
                Value::Text(s) => Some(s),
                Value::Integer(i) => Some(i.to_string()),
                Value::Blob(b) => Some(
                    String::from_utf8(b).map_err(|_| "a BLOB that is not UTF-8 text".to_owned())?,
                ),
                Value::Real(r) => Some(r.to_string()),
            }),
            (_, _, _, true) => Box::new(match v {
                Value::Null => None,
                Value::Blob(b) => Some(b),
                Value::Text(s) => Some(s.into_bytes()),
                other => return Err(format!("{other:?} is not bytes")),
            }),
            _ => return Err(format!("no conversion to {ty}")),
        },
    )
}
