//! `--format summary`: what a scan found, counted — by action/outcome/dataset/reason, the
//! busiest source addresses and users, the lines no decoder recognised, and every kind of
//! bad input met on the way.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::BuildHasherDefault;

use logward_core::{Action, Dataset, Event, Outcome};
use rustc_hash::FxHasher;

use super::reader::InputIssues;

type Fx = BuildHasherDefault<FxHasher>;

/// A summary row's key once reasons are merged by text.
type Row<'r> = (Action, Outcome, Option<Dataset>, Option<&'r str>);

const DATASETS: usize = Dataset::ALL.len() + 1;
const OUTCOMES: usize = Outcome::ALL.len();

/// Counts by (action, outcome, dataset) in a table indexed by the enums, each cell a short
/// list by reason compared by address (reasons are static literals): no hashing per event.
/// Equal reason texts at different addresses are merged when rendering.
#[derive(Debug)]
struct Kinds(Vec<Vec<(Option<&'static str>, u64)>>);

impl Default for Kinds {
    fn default() -> Self {
        Kinds(vec![Vec::new(); Action::ALL.len() * OUTCOMES * DATASETS])
    }
}

impl Kinds {
    fn index(a: Action, o: Outcome, d: Option<Dataset>) -> usize {
        (a as usize * OUTCOMES + o as usize) * DATASETS + d.map_or(0, |d| d as usize + 1)
    }

    fn bump(&mut self, a: Action, o: Outcome, d: Option<Dataset>, reason: Option<&'static str>) {
        let Some(cell) = self.0.get_mut(Self::index(a, o, d)) else {
            return;
        };
        let same = |r: &Option<&'static str>| match (r, reason) {
            (Some(x), Some(y)) => std::ptr::eq(*x, y),
            (None, None) => true,
            _ => false,
        };
        match cell.iter_mut().find(|(r, _)| same(r)) {
            Some((_, n)) => *n += 1,
            None => cell.push((reason, 1)),
        }
    }

    fn rows(&self) -> HashMap<Row<'static>, u64> {
        let mut rows = HashMap::new();
        for a in Action::ALL {
            for o in Outcome::ALL {
                for d in std::iter::once(None).chain(Dataset::ALL.iter().copied().map(Some)) {
                    for (r, n) in &self.0[Self::index(*a, o, d)] {
                        *rows.entry((*a, o, d, *r)).or_default() += n;
                    }
                }
            }
        }
        rows
    }
}

#[derive(Debug, Default)]
pub struct Summary {
    pub lines: u64,
    pub bytes: u64,
    pub files: u64,
    pub unreadable: u64,
    pub unknown: u64,
    /// Lines a decoder recognised that are no event (an access log's ordinary requests).
    pub ordinary: u64,
    pub issues: InputIssues,
    /// `.evtx` files read, and their damaged pieces (chunks, records, a cut) reported.
    pub evtx_files: u64,
    pub evtx_damage: u64,
    kinds: Kinds,
    /// address → [events, failures]
    sources: Tally,
    users: Tally,
}

/// Events and failures per name. Log lines come in runs from one address or user (a brute
/// force, cron's `root`), so the last name's slot is remembered and a repeat costs one
/// compare instead of a hash and a probe.
#[derive(Debug, Default)]
struct Tally {
    index: HashMap<Box<str>, usize, Fx>,
    /// name, [events, failures]
    slots: Vec<(Box<str>, [u64; 2])>,
    last: Option<usize>,
}

impl Tally {
    fn bump(&mut self, key: &str, failure: bool) {
        let slot = match self.last {
            Some(i) if *self.slots[i].0 == *key => i,
            _ => {
                let i = match self.index.get(key) {
                    Some(&i) => i,
                    None => {
                        self.slots.push((Box::from(key), [0, 0]));
                        self.index.insert(Box::from(key), self.slots.len() - 1);
                        self.slots.len() - 1
                    }
                };
                self.last = Some(i);
                i
            }
        };
        let counts = &mut self.slots[slot].1;
        counts[0] += 1;
        counts[1] += failure as u64;
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn iter(&self) -> impl Iterator<Item = (&Box<str>, &[u64; 2])> {
        self.slots.iter().map(|(k, c)| (k, c))
    }
}

impl Summary {
    pub fn count(&mut self, e: &Event<'_>) {
        let action = e.action();
        if action == Action::Unknown {
            match e.dataset {
                Some(_) => self.ordinary += 1,
                None => self.unknown += 1,
            }
            return;
        }
        self.kinds.bump(action, e.outcome, e.dataset, e.reason);
        let failure = e.outcome == Outcome::Failure || action == Action::ConnectionProbe;
        if let Some(a) = e.source_address.as_deref() {
            self.sources.bump(a, failure);
        }
        if let Some(u) = e.user_name.as_deref() {
            self.users.bump(u, failure);
        }
    }

    /// The number of events of one action and outcome (all datasets and reasons).
    #[cfg(test)]
    pub fn events(&self, action: Action, outcome: Outcome) -> u64 {
        self.kinds
            .rows()
            .iter()
            .filter(|((a, o, _, _), _)| *a == action && *o == outcome)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn render(&self, top: usize, elapsed: std::time::Duration) -> String {
        let mut s = String::new();
        let rows = self.kinds.rows();
        let recognised: u64 = rows.values().sum();
        let secs = elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(s, "logward scan summary");
        let _ = writeln!(
            s,
            "  input        {} file(s), {} lines, {} bytes in {:.2} s ({:.0} lines/s)",
            self.files,
            self.lines,
            self.bytes,
            secs,
            self.lines as f64 / secs
        );
        if self.evtx_files > 0 {
            let _ = writeln!(
                s,
                "  evtx         {} file(s), {} damaged piece(s) (records are counted as lines)",
                self.evtx_files, self.evtx_damage
            );
        }
        if self.unreadable > 0 {
            let _ = writeln!(s, "  unreadable   {} path(s)", self.unreadable);
        }
        let _ = writeln!(s, "  events       {recognised}");
        if self.ordinary > 0 {
            let _ = writeln!(
                s,
                "  not events   {} lines (recognised, no security meaning: ordinary web requests, \
                 Windows events logward does not map)",
                self.ordinary
            );
        }
        let _ = writeln!(
            s,
            "  unrecognised {} lines (no decoder recognised them)",
            self.unknown
        );
        let i = &self.issues;
        let _ = writeln!(
            s,
            "  bad input    invalid-utf8 {}, nul-bytes {}, crlf {}, cut-at-64KiB {}, unterminated-last-line {}, malformed-records {}",
            i.invalid_utf8, i.nul_bytes, i.crlf, i.truncated_long, i.unterminated, i.malformed_records
        );

        let _ = writeln!(s, "\nevents by action / outcome / dataset / reason");
        let mut kinds: Vec<_> = rows.into_iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for ((action, outcome, dataset, reason), n) in kinds {
            let _ = writeln!(
                s,
                "  {:<22} {:<8} {:<8} {:<20} {n:>10}",
                action.as_str(),
                outcome.as_str(),
                dataset.map_or("-", |d| d.as_str()),
                reason.unwrap_or("-"),
            );
        }
        for (title, map) in [("source addresses", &self.sources), ("users", &self.users)] {
            let _ = writeln!(
                s,
                "\ntop {title} (failures / events; {} distinct)",
                map.len()
            );
            let mut v: Vec<_> = map.iter().collect();
            v.sort_by(|a, b| {
                b.1[1]
                    .cmp(&a.1[1])
                    .then(b.1[0].cmp(&a.1[0]))
                    .then(a.0.cmp(b.0))
            });
            for (k, [events, failures]) in v.into_iter().take(top) {
                let _ = writeln!(s, "  {k:<40} {failures:>10} {events:>10}");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn counts_and_tops() {
        let mut sum = Summary::default();
        for (user, outcome) in [
            ("root", Outcome::Failure),
            ("root", Outcome::Failure),
            ("bob", Outcome::Success),
        ] {
            let mut e = Event::new(Dataset::Sshd, Action::UserLogin, outcome);
            e.user_name = Some(Cow::Borrowed(user));
            e.set_source(Cow::Borrowed("192.0.2.1"), None);
            sum.count(&e);
        }
        sum.count(&Event::default());
        let mut ordinary = Event::new(Dataset::HttpAccess, Action::Unknown, Outcome::Unknown);
        ordinary.category = Default::default();
        sum.count(&ordinary);
        assert_eq!(sum.events(Action::UserLogin, Outcome::Failure), 2);
        assert_eq!((sum.unknown, sum.ordinary), (1, 1));
        let text = sum.render(5, std::time::Duration::from_secs(1));
        assert!(
            text.contains(
                "user-login             failure  sshd     -                             2"
            ),
            "{text}"
        );
        assert!(
            text.contains("root                                              2          2"),
            "{text}"
        );
        assert!(text.contains("unrecognised 1 lines"));
        assert!(text.contains("not events   1 lines"), "{text}");
    }
}
