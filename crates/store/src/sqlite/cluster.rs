//! The collectors table and the stored figures of `logward collector status`
//! (collector/cluster.rs; 0014_collectors.sql). On SQLite one collector owns the file, so
//! the table holds that one (and its dead predecessors until they are forgotten).

use rusqlite::{params, Row};

use super::SqliteStore;
use crate::collector::{CollectorRow, StoreSummary, COLLECTOR_FORGET_SECS};
use crate::error::{sql, Result};
use crate::types::UnixTime;

fn collector(r: &Row<'_>) -> rusqlite::Result<CollectorRow> {
    Ok(CollectorRow {
        id: r.get(0)?,
        host: r.get(1)?,
        pid: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        version: r.get(3)?,
        listen: r.get(4)?,
        backend: r.get(5)?,
        nats: r.get(6)?,
        role: r.get(7)?,
        started_at: r.get(8)?,
        last_seen: r.get(9)?,
    })
}

impl SqliteStore {
    pub(crate) fn collector_seen(&mut self, c: &CollectorRow) -> Result<()> {
        let tx = self
            .conn
            .transaction()
            .map_err(sql(&self.path, "begin a collector heartbeat"))?;
        tx.execute(
            "INSERT INTO collectors (id, host, pid, version, listen, backend, nats, role, \
             started_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (id) DO UPDATE SET listen = excluded.listen, role = excluded.role, \
             nats = excluded.nats, last_seen = excluded.last_seen",
            params![
                c.id,
                c.host,
                i64::from(c.pid),
                c.version,
                c.listen,
                c.backend,
                c.nats,
                c.role,
                c.started_at,
                c.last_seen
            ],
        )
        .map_err(sql(&self.path, "store a collector heartbeat"))?;
        tx.execute(
            "DELETE FROM collectors WHERE last_seen < ?1",
            [c.last_seen.saturating_sub(COLLECTOR_FORGET_SECS)],
        )
        .map_err(sql(&self.path, "forget gone collectors"))?;
        tx.commit()
            .map_err(sql(&self.path, "commit a collector heartbeat"))?;
        self.committed();
        Ok(())
    }

    pub(crate) fn collectors(&mut self) -> Result<Vec<CollectorRow>> {
        self.conn
            .prepare_cached(
                "SELECT id, host, pid, version, listen, backend, nats, role, started_at, \
                 last_seen FROM collectors ORDER BY host, started_at, id",
            )
            .and_then(|mut s| s.query_map([], collector)?.collect())
            .map_err(sql(&self.path, "read collectors"))
    }

    pub(crate) fn collector_gone(&mut self, id: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM collectors WHERE id = ?1", [id])
            .map_err(sql(&self.path, "remove a collector"))?;
        Ok(n > 0)
    }

    pub(crate) fn store_summary(&mut self, since: UnixTime) -> Result<StoreSummary> {
        let count = |q: &str| -> rusqlite::Result<u64> {
            let n: i64 = self.conn.query_row(q, [since], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let events = count("SELECT count(*) FROM fleet_events WHERE time >= ?1")
            .map_err(sql(&self.path, "count today's events"))?;
        let alerts = count("SELECT count(*) FROM alerts WHERE time >= ?1")
            .map_err(sql(&self.path, "count today's alerts"))?;
        Ok(StoreSummary {
            events,
            alerts,
            partitions: Vec::new(),
        })
    }
}
