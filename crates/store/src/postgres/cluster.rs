//! The collectors table and the stored figures of `logward collector status`, as on SQLite
//! (sqlite/cluster.rs; 0003_collectors.sql): every collector sharing the database has a row.

use postgres::Row;

use super::base::RowError;
use super::PgStore;
use crate::collector::{CollectorRow, StoreSummary, COLLECTOR_FORGET_SECS};
use crate::error::Result;
use crate::types::UnixTime;

fn collector(r: &Row) -> std::result::Result<CollectorRow, RowError> {
    Ok(CollectorRow {
        id: r.try_get(0)?,
        host: r.try_get(1)?,
        pid: u32::try_from(r.try_get::<_, i64>(2)?).unwrap_or(0),
        version: r.try_get(3)?,
        listen: r.try_get(4)?,
        backend: r.try_get(5)?,
        nats: r.try_get(6)?,
        role: r.try_get(7)?,
        started_at: r.try_get(8)?,
        last_seen: r.try_get(9)?,
    })
}

impl PgStore {
    pub(super) fn collector_seen(&mut self, c: &CollectorRow) -> Result<()> {
        self.exec(
            "INSERT INTO collectors (id, host, pid, version, listen, backend, nats, role, \
             started_at, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET listen = excluded.listen, role = excluded.role, \
             nats = excluded.nats, last_seen = excluded.last_seen",
            &[
                &c.id,
                &c.host,
                &i64::from(c.pid),
                &c.version,
                &c.listen,
                &c.backend,
                &c.nats,
                &c.role,
                &c.started_at,
                &c.last_seen,
            ],
            "store a collector heartbeat",
        )?;
        self.exec(
            "DELETE FROM collectors WHERE last_seen < $1",
            &[&c.last_seen.saturating_sub(COLLECTOR_FORGET_SECS)],
            "forget gone collectors",
        )?;
        Ok(())
    }

    /// Sorted bytewise (`COLLATE "C"`), as SQLite sorts.
    pub(super) fn collectors(&mut self) -> Result<Vec<CollectorRow>> {
        self.rows(
            "SELECT id, host, pid, version, listen, backend, nats, role, started_at, last_seen \
             FROM collectors ORDER BY host COLLATE \"C\", started_at, id COLLATE \"C\"",
            &[],
            "read collectors",
            collector,
        )
    }

    pub(super) fn collector_gone(&mut self, id: &str) -> Result<bool> {
        let n = self.exec(
            "DELETE FROM collectors WHERE id = $1",
            &[&id],
            "remove a collector",
        )?;
        Ok(n > 0)
    }

    /// Counted by the day of storage (the partition key: only today's partitions are read).
    pub(super) fn store_summary(&mut self, since: UnixTime) -> Result<StoreSummary> {
        let count = |r: &Row| Ok(u64::try_from(r.try_get::<_, i64>(0)?).unwrap_or(0));
        let events = self
            .row(
                "SELECT count(*) FROM fleet_events WHERE received_at >= $1",
                &[&since],
                "count today's events",
                count,
            )?
            .unwrap_or(0);
        let alerts = self
            .row(
                "SELECT count(*) FROM alerts WHERE stored_at >= $1",
                &[&since],
                "count today's alerts",
                count,
            )?
            .unwrap_or(0);
        let partitions = self.rows(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent IN ('fleet_events'::regclass, 'alerts'::regclass) \
             ORDER BY c.relname::text COLLATE \"C\"",
            &[],
            "list partitions",
            |r| Ok(r.try_get(0)?),
        )?;
        Ok(StoreSummary {
            events,
            alerts,
            partitions,
        })
    }
}
