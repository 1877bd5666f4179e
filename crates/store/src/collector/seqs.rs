//! Idempotence by (agent, seq) that needs no order: each agent's stored sequence numbers are
//! kept as ranges (`agent_seq_ranges`: `agent_id, first_seq, last_seq, received_at`), and an
//! item is a duplicate when its seq lies in a stored range of its agent. Several collectors
//! (or one with several NATS messages in flight) may then store an agent's batches in any
//! order and still never store one twice — a high-water mark would drop an earlier batch
//! stored after a later one.
//!
//! Cheap on the hot path: one indexed look-up per request reads the ranges that touch the
//! batch's seq span (and the one just below and above, to merge with); in-order batches
//! extend one range, so an agent has one range plus one per gap in flight. Retention merges
//! an agent's old ranges into one (`compact`), so the table stays bounded.

use super::{FleetItem, IngestCounts};
use crate::error::Result;

/// An agent's stored ranges within one batch's window, with what the batch adds.
#[derive(Debug, Default)]
pub(crate) struct SeqWindow {
    /// Sorted, disjoint `(first, last, received_at)`.
    ranges: Vec<(i64, i64, i64)>,
    changed: bool,
}

impl SeqWindow {
    /// The window a batch of seqs `lo..=hi` reads: ranges that contain or touch it.
    pub(crate) fn bounds(lo: i64, hi: i64) -> (i64, i64) {
        (lo.saturating_sub(1), hi.saturating_add(1))
    }

    /// The ranges read (any order; overlapping ones are merged).
    pub(crate) fn new(mut ranges: Vec<(i64, i64, i64)>) -> Self {
        ranges.sort_unstable();
        let mut out: Vec<(i64, i64, i64)> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match out.last_mut() {
                Some(l) if r.0 <= l.1.saturating_add(1) => {
                    l.1 = l.1.max(r.1);
                    l.2 = l.2.max(r.2);
                }
                _ => out.push(r),
            }
        }
        SeqWindow {
            ranges: out,
            changed: false,
        }
    }

    /// Whether `seq` is stored already (or earlier in this batch).
    pub(crate) fn contains(&self, seq: i64) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < seq);
        self.ranges.get(i).is_some_and(|r| r.0 <= seq)
    }

    /// Records `seq` as stored at `now`, merging it with the ranges it touches.
    pub(crate) fn insert(&mut self, seq: i64, now: i64) {
        if self.contains(seq) {
            return;
        }
        self.changed = true;
        // The first range ending at or after seq - 1: the only one seq can extend upwards.
        let i = self.ranges.partition_point(|r| r.1 < seq.saturating_sub(1));
        let below = seq.checked_sub(1);
        let joins_below = self.ranges.get(i).is_some_and(|r| Some(r.1) == below);
        let j = if joins_below { i + 1 } else { i };
        let above = seq.checked_add(1);
        let joins_above = self.ranges.get(j).is_some_and(|r| Some(r.0) == above);
        match (joins_below, joins_above) {
            (true, true) => {
                let above = self.ranges.remove(j);
                let r = &mut self.ranges[i];
                (r.1, r.2) = (above.1, now);
            }
            (true, false) => (self.ranges[i].1, self.ranges[i].2) = (seq, now),
            (false, true) => (self.ranges[j].0, self.ranges[j].2) = (seq, now),
            (false, false) => self.ranges.insert(j, (seq, seq, now)),
        }
    }

    /// The window's ranges to write back (all rows read are replaced), or `None` when the
    /// batch stored nothing new.
    pub(crate) fn changed(&self) -> Option<&[(i64, i64, i64)]> {
        self.changed.then_some(self.ranges.as_slice())
    }
}

/// The window (see [`SeqWindow::bounds`]) a request's seqs read; `None` when it has none.
pub(crate) fn window_of(items: &[FleetItem]) -> Option<(i64, i64)> {
    let mut seqs = items.iter().filter_map(FleetItem::seq);
    let first = seqs.next()?;
    let (lo, hi) = seqs.fold((first, first), |(lo, hi), q| (lo.min(q), hi.max(q)));
    Some(SeqWindow::bounds(lo, hi))
}

/// A request's items through `store`, in order, on either backend: an item whose seq is in
/// `window` (stored before, or earlier in this request) is a duplicate and not stored; the
/// others are, and `store` says whether it stored one (`false`: a keyed event whose key was
/// seen). Returns the counts and the indexes of the new events (what the fleet rules see).
pub(crate) fn store_new_items<'a>(
    items: &'a [FleetItem],
    mut window: Option<&mut SeqWindow>,
    now: i64,
    mut store: impl FnMut(&'a FleetItem) -> Result<bool>,
) -> Result<(IngestCounts, Vec<usize>)> {
    let mut counts = IngestCounts::default();
    let mut fresh = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let (Some(seq), Some(w)) = (item.seq(), window.as_deref_mut()) {
            if w.contains(seq) {
                counts.duplicates += 1;
                continue;
            }
            w.insert(seq, now);
        }
        if !store(item)? {
            counts.duplicates += 1;
            continue;
        }
        match item {
            FleetItem::Alert { .. } => counts.alerts += 1,
            FleetItem::Event { .. } | FleetItem::Keyed { .. } => {
                counts.events += 1;
                fresh.push(i);
            }
        }
    }
    Ok((counts, fresh))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqs_in_any_order_merge_into_one_range() {
        let mut w = SeqWindow::new(vec![]);
        for s in [5, 3, 1, 2, 4, 9] {
            assert!(!w.contains(s));
            w.insert(s, s);
            assert!(w.contains(s));
        }
        assert_eq!(w.changed().unwrap(), &[(1, 5, 4), (9, 9, 9)]);
        assert!(!w.contains(6) && !w.contains(0) && !w.contains(10));
        w.insert(8, 10);
        w.insert(7, 11);
        w.insert(6, 12);
        assert_eq!(w.changed().unwrap(), &[(1, 9, 12)]);
    }

    #[test]
    fn read_ranges_are_merged_and_nothing_new_changes_nothing() {
        let w = SeqWindow::new(vec![(4, 6, 2), (1, 3, 1), (5, 8, 3), (20, 30, 4)]);
        assert!(w.contains(1) && w.contains(8) && !w.contains(9) && w.contains(25));
        assert!(w.changed().is_none());
        let mut w = SeqWindow::new(vec![(i64::MIN, i64::MAX - 1, 0)]);
        w.insert(i64::MAX, 1);
        w.insert(i64::MIN, 1);
        assert_eq!(w.changed().unwrap(), &[(i64::MIN, i64::MAX, 1)]);
    }
}
