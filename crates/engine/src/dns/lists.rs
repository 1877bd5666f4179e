//! [`ListSet`]: the threat lists an agent checks DNS queries and answers against — several
//! files, each with a name and a severity — loaded from files and reloaded when they change,
//! keeping each list's last good copy when its file is broken or missing.
//!
//! Sync and pure but for reading the files: the agent decides when to call
//! [`ListSet::reload`] (an inotify event or a periodic look at the files). A `ListSet` is
//! cheap to clone (its sets are shared), so a caller can clone the published one, reload the
//! clone off the hot path, and publish it.

use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use logward_core::Severity;

use crate::dns::domain_set::{DomainSet, Suffixes};
use crate::dns::formats::{self, Format, LoadReport};
use crate::dns::ip_set::{IpSet, Net};

/// A file larger than this is refused (a list of 10 M domains is about 250 MB).
pub const MAX_LIST_BYTES: u64 = 1 << 30;

/// One configured list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSpec {
    /// `logward.dns.list` of its hits.
    pub name: String,
    /// `logward.dns.severity` of its hits.
    pub severity: Severity,
    pub path: PathBuf,
    /// `None`: detected from the file's first lines.
    pub format: Option<Format>,
}

/// A domain a list names: the query or one of its parents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainHit<'s> {
    /// The list's name.
    pub list: &'s str,
    pub severity: Severity,
    /// The listed name that matched (`evil.com` for `a.evil.com`).
    pub entry: &'s str,
    /// Listed as `*.entry` (subdomains only).
    pub subdomains_only: bool,
}

impl DomainHit<'_> {
    /// The entry as the list wrote it (`*.evil.com` for a wildcard).
    pub fn entry_text(&self) -> String {
        if self.subdomains_only {
            format!("*.{}", self.entry)
        } else {
            self.entry.to_owned()
        }
    }
}

/// An address a list names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHit<'s> {
    pub list: &'s str,
    pub severity: Severity,
    /// The listed address or network that holds it.
    pub entry: Net,
}

/// What a load or reload did to one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Read (again): what it holds now.
    Loaded(LoadReport),
    /// The file has not changed since it was read.
    Unchanged,
    /// Not read: the list keeps what it held (`kept` entries; 0 at first load).
    Failed { error: String, kept: usize },
}

/// A list's name and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOutcome {
    pub list: String,
    pub path: PathBuf,
    pub outcome: Outcome,
}

impl ListOutcome {
    /// Whether the operator should hear about it (a failure, or lines that could not be
    /// read).
    pub fn is_problem(&self) -> bool {
        match &self.outcome {
            Outcome::Loaded(r) => r.invalid > 0,
            Outcome::Unchanged => false,
            Outcome::Failed { .. } => true,
        }
    }
}

impl fmt::Display for ListOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "list {} ({}): ", self.list, self.path.display())?;
        match &self.outcome {
            Outcome::Loaded(r) => {
                write!(f, "{r}")?;
                for e in &r.errors {
                    write!(f, "\n  {e}")?;
                }
                if r.invalid > r.errors.len() {
                    write!(f, "\n  … and {} more", r.invalid - r.errors.len())?;
                }
                Ok(())
            }
            Outcome::Unchanged => f.write_str("unchanged"),
            Outcome::Failed { error, kept } if *kept > 0 => {
                write!(f, "{error}; keeping the last good copy ({kept} entries)")
            }
            Outcome::Failed { error, .. } => write!(f, "{error}; the list is empty"),
        }
    }
}

/// A list, its last good sets and what its file looked like when they were read.
#[derive(Debug, Clone)]
struct List {
    spec: ListSpec,
    domains: Arc<DomainSet>,
    ips: Arc<IpSet>,
    stamp: Option<Stamp>,
    /// The last read failed: try again on the next reload even if the file looks the same.
    failed: bool,
}

/// What says a file changed: its size, modification time and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Ok(Stamp {
        len: m.len(),
        modified: m.modified().ok(),
        inode,
    })
}

/// The configured lists, most severe first for look-ups.
#[derive(Debug, Clone, Default)]
pub struct ListSet {
    lists: Vec<List>,
}

/// The file's text, or why not: a missing or unreadable file, a directory, one too large.
fn read(path: &Path) -> Result<(String, Stamp), String> {
    let st = stamp(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if st.len > MAX_LIST_BYTES {
        return Err(format!(
            "{} is larger than {} MiB",
            path.display(),
            MAX_LIST_BYTES >> 20
        ));
    }
    let mut bytes = Vec::with_capacity(st.len as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_LIST_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(format!(
            "{} is larger than {} MiB",
            path.display(),
            MAX_LIST_BYTES >> 20
        ));
    }
    // Invalid UTF-8 (a Latin-1 comment) only spoils the names it is in: they are counted.
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok((text, st))
}

impl ListSet {
    /// Reads every list. A list whose file cannot be read is empty until a reload reads it;
    /// the outcomes say so (the caller decides whether that stops it starting).
    pub fn load(specs: impl IntoIterator<Item = ListSpec>) -> (ListSet, Vec<ListOutcome>) {
        let mut set = ListSet {
            lists: specs
                .into_iter()
                .map(|spec| List {
                    spec,
                    domains: Arc::default(),
                    ips: Arc::default(),
                    stamp: None,
                    failed: true,
                })
                .collect(),
        };
        // Stable: lists of one severity keep their configured order.
        set.lists
            .sort_by_key(|l| std::cmp::Reverse(l.spec.severity));
        let outcomes = set.lists.iter_mut().map(|l| l.read(true)).collect();
        (set, outcomes)
    }

    /// Reads again the lists whose file changed (size, mtime or inode) or failed last
    /// time. A file that is now missing, unreadable, empty or mostly unreadable (an HTML
    /// error page where a list was) leaves the list as it was.
    pub fn reload(&mut self) -> Vec<ListOutcome> {
        self.lists.iter_mut().map(|l| l.read(false)).collect()
    }

    /// Reads every list again, changed or not.
    pub fn reload_all(&mut self) -> Vec<ListOutcome> {
        self.lists.iter_mut().map(|l| l.read(true)).collect()
    }

    /// The files the lists are read from (what a watcher watches).
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.lists.iter().map(|l| l.spec.path.as_path())
    }

    /// Each list's spec and its entries (domains, IP networks).
    pub fn lists(&self) -> impl Iterator<Item = (&ListSpec, usize, usize)> {
        self.lists
            .iter()
            .map(|l| (&l.spec, l.domains.len(), l.ips.len()))
    }

    /// The bytes the lists' sets hold.
    pub fn heap_bytes(&self) -> usize {
        self.lists
            .iter()
            .map(|l| l.domains.heap_bytes() + l.ips.heap_bytes())
            .sum()
    }

    /// The most severe list naming `name` or one of its parents, and its most specific
    /// entry. `name` as in `dns.question.name` (a trailing dot and upper case are fine).
    pub fn lookup(&self, name: &str) -> Option<DomainHit<'_>> {
        let q = Suffixes::new(name);
        self.lists.iter().find_map(|l| {
            l.domains.lookup_suffixes(&q).map(|m| DomainHit {
                list: &l.spec.name,
                severity: l.spec.severity,
                entry: m.name,
                subdomains_only: m.subdomains_only,
            })
        })
    }

    /// The most severe list holding `ip` (an answer's address), by its longest network.
    pub fn lookup_ip(&self, ip: IpAddr) -> Option<IpHit<'_>> {
        self.lists.iter().find_map(|l| {
            l.ips.lookup(ip).map(|entry| IpHit {
                list: &l.spec.name,
                severity: l.spec.severity,
                entry,
            })
        })
    }
}

impl List {
    fn entries(&self) -> usize {
        self.domains.len() + self.ips.len()
    }

    fn read(&mut self, force: bool) -> ListOutcome {
        let outcome = self.read_outcome(force);
        ListOutcome {
            list: self.spec.name.clone(),
            path: self.spec.path.clone(),
            outcome,
        }
    }

    fn read_outcome(&mut self, force: bool) -> Outcome {
        let path = &self.spec.path;
        if !force && !self.failed {
            if let (Ok(now), Some(then)) = (stamp(path), self.stamp) {
                if now == then {
                    return Outcome::Unchanged;
                }
            }
        }
        let fail = |list: &mut List, error: String| {
            list.failed = true;
            Outcome::Failed {
                error,
                kept: list.entries(),
            }
        };
        let (text, st) = match read(path) {
            Ok(r) => r,
            Err(e) => return fail(self, e),
        };
        let parsed = formats::parse(&path.display().to_string(), &text, self.spec.format);
        let r = &parsed.report;
        let entries = parsed.domains.len() + parsed.ips.len();
        if entries == 0 && self.entries() > 0 {
            // Caught mid-rewrite, or emptied by a failed download.
            let why = if r.invalid > 0 {
                format!("no entries, {} invalid lines", r.invalid)
            } else {
                "no entries".to_owned()
            };
            return fail(self, format!("{} has {why}", path.display()));
        }
        if r.invalid > entries && self.entries() > 0 {
            return fail(
                self,
                format!(
                    "{} has more invalid lines ({}) than entries ({entries}): {}",
                    path.display(),
                    r.invalid,
                    r.errors.first().map(|e| e.to_string()).unwrap_or_default()
                ),
            );
        }
        self.domains = Arc::new(parsed.domains);
        self.ips = Arc::new(parsed.ips);
        self.stamp = Some(st);
        self.failed = false;
        Outcome::Loaded(parsed.report)
    }
}
