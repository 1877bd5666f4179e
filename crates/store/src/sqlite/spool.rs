//! The forward spool: events and alerts waiting for the collector (migration 0002).
//!
//! Items are added by [`AgentStore::commit_batch`](crate::AgentStore::commit_batch) in the
//! batch's transaction — with the checkpoint of the lines that produced them, so each is
//! spooled exactly once — and get the next `seq` (increasing by one, never reused). The
//! sender reads them in `seq` order and deletes them once the collector answered 200.
//!
//! **Size bound**: after each append, while the JSON of the items waiting is over
//! `max_bytes`, the oldest plain events are deleted (and counted in `dropped`); alerts are
//! never dropped, so a spool of nothing but alerts may exceed the bound.

use std::path::Path;

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::{count_from_sql, count_to_sql, limit_to_sql, SqliteStore};
use crate::error::{sql, Result, StoreError};
use crate::types::{SpoolItem, SpoolKind, SpoolStats, SpooledItem, UnixTime};

fn kind_code(k: SpoolKind) -> i64 {
    match k {
        SpoolKind::Event => 0,
        SpoolKind::Alert => 1,
    }
}

fn kind_from_code(c: i64) -> Result<SpoolKind> {
    match c {
        0 => Ok(SpoolKind::Event),
        1 => Ok(SpoolKind::Alert),
        _ => Err(StoreError::invalid("spool kind", c.to_string())),
    }
}

/// `spool_meta`'s row: next seq, items, bytes, max bytes, dropped.
fn meta(tx: &Transaction<'_>, path: &Path) -> Result<(i64, i64, i64, i64, i64)> {
    tx.prepare_cached(
        "SELECT next_seq, items, bytes, max_bytes, dropped FROM spool_meta WHERE id = 1",
    )
    .and_then(|mut s| {
        s.query_row([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
    })
    .map_err(sql(path, "read the spool totals"))
}

/// Appends `items` in the open batch transaction and enforces the size bound. Returns how
/// many plain events were dropped to make room.
pub(super) fn append(tx: &Transaction<'_>, path: &Path, items: &[SpoolItem]) -> Result<u64> {
    let (mut next, mut count, mut bytes, max, mut dropped) = meta(tx, path)?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO spool (seq, kind, time, size, json) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sql(path, "spool items"))?;
        for it in items {
            let size = count_to_sql("spool item size", it.json.len() as u64)?;
            stmt.execute(params![next, kind_code(it.kind), it.time, size, it.json])
                .map_err(sql(path, "spool items"))?;
            next += 1;
            count += 1;
            bytes += size;
        }
    }
    let mut freed_items = 0i64;
    if bytes > max {
        // The oldest events, until enough is freed.
        let mut last = None;
        let mut freed = 0i64;
        {
            let mut stmt = tx
                .prepare_cached("SELECT seq, size FROM spool WHERE kind = 0 ORDER BY seq")
                .map_err(sql(path, "make room in the spool"))?;
            let mut rows = stmt
                .query([])
                .map_err(sql(path, "make room in the spool"))?;
            while let Some(r) = rows.next().map_err(sql(path, "make room in the spool"))? {
                let seq: i64 = r.get(0).map_err(sql(path, "make room in the spool"))?;
                let size: i64 = r.get(1).map_err(sql(path, "make room in the spool"))?;
                freed += size;
                freed_items += 1;
                last = Some(seq);
                if bytes - freed <= max {
                    break;
                }
            }
        }
        if let Some(last) = last {
            tx.prepare_cached("DELETE FROM spool WHERE kind = 0 AND seq <= ?1")
                .and_then(|mut s| s.execute([last]))
                .map_err(sql(path, "make room in the spool"))?;
            count -= freed_items;
            bytes -= freed;
            dropped += freed_items;
        }
    }
    tx.prepare_cached(
        "UPDATE spool_meta SET next_seq = ?1, items = ?2, bytes = ?3, dropped = ?4 WHERE id = 1",
    )
    .and_then(|mut s| s.execute(params![next, count, bytes, dropped]))
    .map_err(sql(path, "update the spool totals"))?;
    count_from_sql("spool dropped", freed_items)
}

impl SqliteStore {
    /// Sets the spool's size bound (bytes of JSON waiting). Takes effect at the next append.
    pub(crate) fn spool_set_max(&mut self, max_bytes: u64) -> Result<()> {
        let path = &self.path;
        let max = count_to_sql("spool max bytes", max_bytes)?;
        self.conn
            .execute("UPDATE spool_meta SET max_bytes = ?1 WHERE id = 1", [max])
            .map_err(sql(path, "set the spool bound"))?;
        Ok(())
    }

    /// The oldest items waiting, in seq order: at most `max_items`, and no more than
    /// `max_bytes` of JSON (but always at least one item when any waits).
    pub(crate) fn spool_read(
        &mut self,
        max_items: usize,
        max_bytes: u64,
    ) -> Result<Vec<SpooledItem>> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, kind, time, size, json FROM spool ORDER BY seq LIMIT ?1")
            .map_err(sql(path, "read the spool"))?;
        let mut rows = stmt
            .query([limit_to_sql(max_items)])
            .map_err(sql(path, "read the spool"))?;
        let mut out = Vec::new();
        let mut total = 0u64;
        while let Some(r) = rows.next().map_err(sql(path, "read the spool"))? {
            let size: i64 = r.get(3).map_err(sql(path, "read the spool"))?;
            let size = count_from_sql("spool item size", size)?;
            if !out.is_empty() && total + size > max_bytes {
                break;
            }
            total += size;
            let seq: i64 = r.get(0).map_err(sql(path, "read the spool"))?;
            let kind: i64 = r.get(1).map_err(sql(path, "read the spool"))?;
            out.push(SpooledItem {
                seq: count_from_sql("spool seq", seq)?,
                kind: kind_from_code(kind)?,
                time: r.get(2).map_err(sql(path, "read the spool"))?,
                json: r.get(4).map_err(sql(path, "read the spool"))?,
            });
        }
        Ok(out)
    }

    /// Deletes the items with `seq <= through` (the collector has them). How many.
    pub(crate) fn spool_ack(&mut self, through: u64) -> Result<u64> {
        let path = &self.path;
        let through = count_to_sql("spool seq", through)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "acknowledge spool items"))?;
        let (n, size): (i64, i64) = tx
            .prepare_cached("SELECT count(*), coalesce(sum(size), 0) FROM spool WHERE seq <= ?1")
            .and_then(|mut s| s.query_row([through], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(sql(path, "acknowledge spool items"))?;
        if n > 0 {
            tx.prepare_cached("DELETE FROM spool WHERE seq <= ?1")
                .and_then(|mut s| s.execute([through]))
                .map_err(sql(path, "acknowledge spool items"))?;
            tx.prepare_cached(
                "UPDATE spool_meta SET items = items - ?1, bytes = bytes - ?2 WHERE id = 1",
            )
            .and_then(|mut s| s.execute([n, size]))
            .map_err(sql(path, "acknowledge spool items"))?;
        }
        tx.commit().map_err(sql(path, "acknowledge spool items"))?;
        count_from_sql("spool items", n)
    }

    /// The spool's totals and the time of its oldest item.
    pub(crate) fn spool_stats(&mut self) -> Result<SpoolStats> {
        let path = &self.path;
        let (next, items, bytes, max, dropped): (i64, i64, i64, i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT next_seq, items, bytes, max_bytes, dropped FROM spool_meta WHERE id = 1",
            )
            .and_then(|mut s| {
                s.query_row([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
            })
            .map_err(sql(path, "read the spool totals"))?;
        let oldest: Option<UnixTime> = self
            .conn
            .prepare_cached("SELECT time FROM spool ORDER BY seq LIMIT 1")
            .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
            .map_err(sql(path, "read the spool totals"))?;
        Ok(SpoolStats {
            items: count_from_sql("spool items", items)?,
            bytes: count_from_sql("spool bytes", bytes)?,
            max_bytes: count_from_sql("spool max bytes", max)?,
            dropped: count_from_sql("spool dropped", dropped)?,
            next_seq: count_from_sql("spool seq", next)?,
            oldest,
        })
    }

    /// A named value of the forward sink (`decisions_since`).
    pub(crate) fn forward_state(&mut self, key: &str) -> Result<Option<String>> {
        let path = &self.path;
        self.conn
            .prepare_cached("SELECT value FROM forward_state WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(sql(path, "read the forward state"))
    }

    /// Sets a named value of the forward sink.
    pub(crate) fn set_forward_state(&mut self, key: &str, value: &str) -> Result<()> {
        let path = &self.path;
        self.conn
            .prepare_cached(
                "INSERT INTO forward_state (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute([key, value]))
            .map_err(sql(path, "write the forward state"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::types::Batch;
    use crate::{AgentStore as _, Checkpoint, SqliteStore};

    use super::*;

    fn item(kind: SpoolKind, n: usize) -> SpoolItem {
        SpoolItem {
            kind,
            time: 1_750_000_000 + n as i64,
            json: format!(r#"{{"n":{n:05}}}"#), // 11 bytes
        }
    }

    fn commit(s: &mut SqliteStore, items: Vec<SpoolItem>, offset: u64) -> u64 {
        let mut b = Batch::default();
        b.checkpoints.push(Checkpoint {
            offset,
            ..Checkpoint::new("f", 1)
        });
        b.spool = items;
        s.commit_batch(&b).unwrap().spool_dropped
    }

    #[test]
    fn items_get_increasing_seqs_with_their_checkpoint_and_seqs_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        commit(
            &mut s,
            vec![item(SpoolKind::Event, 0), item(SpoolKind::Alert, 1)],
            10,
        );
        assert_eq!(s.checkpoint("f").unwrap().unwrap().offset, 10);
        let got = s.spool_read(100, 1 << 20).unwrap();
        assert_eq!(got.iter().map(|i| i.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(got[1].kind, SpoolKind::Alert);
        assert_eq!(got[0].json, r#"{"n":00000}"#);
        assert_eq!(s.spool_ack(2).unwrap(), 2);
        let st = s.spool_stats().unwrap();
        assert_eq!(
            (st.items, st.bytes, st.next_seq, st.oldest),
            (0, 0, 3, None)
        );
        // Empty again, reopened: the next item still gets 3.
        drop(s);
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        commit(&mut s, vec![item(SpoolKind::Event, 2)], 20);
        assert_eq!(s.spool_read(100, 1 << 20).unwrap()[0].seq, 3);
    }

    #[test]
    fn reads_respect_item_and_byte_bounds_and_acks_count_what_they_delete() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        commit(
            &mut s,
            (0..10).map(|n| item(SpoolKind::Event, n)).collect(),
            1,
        );
        assert_eq!(s.spool_read(4, 1 << 20).unwrap().len(), 4);
        assert_eq!(s.spool_read(100, 33).unwrap().len(), 3);
        // Always one, even over the byte bound.
        assert_eq!(s.spool_read(100, 1).unwrap().len(), 1);
        assert_eq!(s.spool_ack(4).unwrap(), 4);
        let st = s.spool_stats().unwrap();
        assert_eq!((st.items, st.bytes), (6, 66));
        assert_eq!(st.oldest, Some(1_750_000_004));
    }

    #[test]
    fn a_full_spool_drops_the_oldest_events_and_keeps_every_alert() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        s.spool_set_max(110).unwrap(); // ten items
        let mut items = Vec::new();
        for n in 0..8 {
            items.push(item(
                if n % 4 == 0 {
                    SpoolKind::Alert
                } else {
                    SpoolKind::Event
                },
                n,
            ));
        }
        assert_eq!(commit(&mut s, items, 1), 0);
        // Six more: 14 items, 4 over the bound -> the 4 oldest events (seqs 2, 3, 4, 6) go.
        let more = (8..14).map(|n| item(SpoolKind::Event, n)).collect();
        assert_eq!(commit(&mut s, more, 2), 4);
        let seqs: Vec<u64> = s
            .spool_read(100, 1 << 20)
            .unwrap()
            .iter()
            .map(|i| i.seq)
            .collect();
        assert_eq!(seqs, [1, 5, 7, 8, 9, 10, 11, 12, 13, 14]);
        let st = s.spool_stats().unwrap();
        assert_eq!((st.items, st.bytes, st.dropped), (10, 110, 4));
        // Only alerts left to drop: they stay, over the bound.
        s.spool_set_max(11).unwrap();
        let dropped = commit(&mut s, vec![item(SpoolKind::Alert, 14)], 3);
        assert_eq!(dropped, 8);
        let kinds: Vec<SpoolKind> = s
            .spool_read(100, 1 << 20)
            .unwrap()
            .iter()
            .map(|i| i.kind)
            .collect();
        assert_eq!(kinds, [SpoolKind::Alert; 3]);
        assert_eq!(s.spool_stats().unwrap().dropped, 12);
    }

    #[test]
    fn forward_state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        assert_eq!(s.forward_state("decisions_since").unwrap(), None);
        s.set_forward_state("decisions_since", "7").unwrap();
        s.set_forward_state("decisions_since", "9").unwrap();
        assert_eq!(
            s.forward_state("decisions_since").unwrap().as_deref(),
            Some("9")
        );
    }
}
