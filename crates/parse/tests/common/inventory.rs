//! The corpus's `windows-evtx/INVENTORY.md` (DERIVED, PROVENANCE.md §4) as data: per file its
//! record count, time range, count per (channel, event id) and the field summary lines, so
//! tests compare logward's reading of each `.evtx` file with it.

use std::collections::BTreeMap;
use std::path::Path;

/// One `### file` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileInventory {
    /// The path under `windows-evtx/` (`deepbluecli/password-spray.evtx`).
    pub path: String,
    pub records: usize,
    /// `System/TimeCreated/@SystemTime` of the first and last record, as written.
    pub first: String,
    pub last: String,
    /// Records per (channel, event id).
    pub counts: BTreeMap<(String, u32), usize>,
    /// The summary lines, most frequent first (the inventory lists at most eight).
    pub summaries: Vec<Summary>,
    /// The `... N more distinct` summaries the inventory left out.
    pub more_distinct: usize,
}

/// One summary line: `4625 LT=3 user=Administrator ip=192.168.198.149 (x3560)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub event_id: u32,
    /// The fields in the order written: `LT` (LogonType), `user` (TargetUserName), `ip`
    /// (IpAddress), `target` (TargetUserName), `by` (SubjectUserName). `None` is written
    /// `None` (the record has no such value); `-` is kept as it is.
    pub fields: Vec<(String, Option<String>)>,
    pub count: usize,
}

impl Summary {
    pub fn field(&self, key: &str) -> Option<Option<&str>> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref())
    }
}

const KEYS: [&str; 5] = ["LT", "user", "ip", "target", "by"];

/// Reads INVENTORY.md in `dir` (the corpus's `windows-evtx`).
pub fn load(dir: &Path) -> Vec<FileInventory> {
    let p = dir.join("INVENTORY.md");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    parse(&text)
}

pub fn parse(text: &str) -> Vec<FileInventory> {
    let mut files: Vec<FileInventory> = Vec::new();
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("### ") {
            files.push(FileInventory {
                path: path.trim().to_owned(),
                ..Default::default()
            });
            continue;
        }
        let Some(f) = files.last_mut() else { continue };
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("records=") {
            let mut it = rest.split(' ');
            f.records = it.next().and_then(|n| n.parse().ok()).expect("records=N");
            for kv in it {
                if let Some(v) = kv.strip_prefix("first=") {
                    f.first = v.to_owned();
                } else if let Some(v) = kv.strip_prefix("last=") {
                    f.last = v.to_owned();
                }
            }
        } else if let Some(ids) = t.strip_prefix("event ids: ") {
            for item in ids.split(", ") {
                let (key, n) = item.rsplit_once(" x").expect("Channel/ID xN");
                let (channel, id) = key.rsplit_once('/').expect("Channel/ID");
                let id = id.parse().expect("an event id");
                f.counts
                    .insert((channel.to_owned(), id), n.parse().expect("a count"));
            }
        } else if let Some(more) = t.strip_prefix("- ... ") {
            f.more_distinct = more
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("N more");
        } else if let Some(s) = t.strip_prefix("- ") {
            f.summaries.push(summary(s));
        }
    }
    files
}

fn summary(s: &str) -> Summary {
    let (body, count) = s.rsplit_once(" (x").expect("a summary ends in (xN)");
    let count = count.trim_end_matches(')').parse().expect("a count");
    let (id, mut rest) = body.split_once(' ').expect("an event id and fields");
    let mut fields = Vec::new();
    // Values may hold spaces (`ANONYMOUS LOGON`): a value runs to the next ` key=`.
    while let Some((key, after)) = rest.split_once('=') {
        assert!(KEYS.contains(&key), "unknown summary key {key:?} in {s:?}");
        let end = KEYS
            .iter()
            .filter_map(|k| after.find(&format!(" {k}=")))
            .min()
            .unwrap_or(after.len());
        let v = &after[..end];
        fields.push((key.to_owned(), (v != "None").then(|| v.to_owned())));
        rest = after[end..].trim_start();
    }
    Summary {
        event_id: id.parse().expect("an event id"),
        fields,
        count,
    }
}
