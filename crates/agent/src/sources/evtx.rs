//! The *evtx* source: follows a live or growing Windows `.evtx` file (a Samba share, a
//! forwarded log) and sends each new record as a decoded event.
//!
//! Windows rewrites an `.evtx` file in place: the file is preallocated, a 64 KiB chunk is
//! rewritten while it fills, the file header's counters change, and a full log wraps around,
//! its oldest chunks overwritten. Bytes past an offset mean nothing here, so the position is
//! a **record**: "new" is an EventRecordID (the record header's, which the chunk headers
//! index) above the last one sent, read with [`logward_parse::windows::evtx`]; chunks before
//! the checkpoint's are passed over by their header, so a look at an unchanged log renders
//! one chunk.
//!
//! - **Checkpoint**: the last record sent — its EventRecordID (in `cursor` as `evtx:ID`, and
//!   `offset`) and a fingerprint of its identity (channel, computer, ids, time) — committed
//!   with the alerts it produced, like a file source's lines. The device and inode are kept
//!   for the record but do not decide anything: a log copied over by a new name is still the
//!   same log if it holds the same record.
//! - **Same log or another?** On each read the record with the checkpoint's id is looked
//!   for. Found with the same identity: the log grew, read the records after it. Found with
//!   another identity, or the log's records all end before it (cleared and restarted at 1, a
//!   shorter file, another log copied over): **replaced** — read it from its first record,
//!   said in the log once. Not found but newer ones are (the log wrapped past it while the
//!   agent was stopped or behind): read from the oldest there, with a warning naming the
//!   overwritten ids.
//! - **Incomplete writes**: a chunk being filled is read as far as its header says; a record
//!   that cannot be read with nothing readable after it is the end of what was written (the
//!   read stops before it and is tried again at the next change); one with readable records
//!   after it is broken for good: skipped, counted, logged. A file whose header names records
//!   it does not hold yet (a log copied over in place, seen half-written) is waited for.
//! - **Waking**: inotify on the directory as the file source ([`super::follow::watch`]),
//!   and a look every `check_interval` whatever happens — a Samba or NFS mount does not
//!   report a remote writer's changes; without inotify, every `poll_interval`.
//! - **Another file at the path** (renamed over, deleted and re-created): the open one is
//!   read to its end first, then the new one is judged as above.
//! - **No checkpoint**: `start_at: end` (the default) starts after the newest record, `beginning`
//!   with the oldest; a file that appears after start-up is read from its first record.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use logward_core::clock::unix_now;
use logward_parse::windows::evtx::{EvtxReadError, EvtxReader};
use logward_parse::windows::{self, WinRecord};
use logward_store::{Checkpoint, Fingerprint};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::follow::watch::Watch;
use super::{Payload, SourceItem, StartAt};

/// `{type: evtx}` settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvtxConfig {
    /// The `.evtx` file.
    pub path: PathBuf,
    /// Where a file without a checkpoint starts: `end` (default) or `beginning`.
    #[serde(default)]
    pub start_at: StartAt,
    /// A stable id for the checkpoint (default: the path).
    #[serde(default)]
    pub id: Option<String>,
    /// How often the file is looked at without inotify.
    #[serde(skip, default = "default_poll")]
    pub poll_interval: Duration,
    /// How often it is looked at anyway (network file systems report no remote change).
    #[serde(skip, default = "default_check")]
    pub check_interval: Duration,
    /// Watch the directory with inotify (off: poll).
    #[serde(skip, default = "yes")]
    pub inotify: bool,
}

fn default_poll() -> Duration {
    Duration::from_millis(250)
}

fn default_check() -> Duration {
    Duration::from_secs(1)
}

fn yes() -> bool {
    true
}

impl EvtxConfig {
    /// Follows `path` with the defaults.
    pub fn new(path: impl Into<PathBuf>) -> EvtxConfig {
        EvtxConfig {
            path: path.into(),
            start_at: StartAt::End,
            id: None,
            poll_interval: default_poll(),
            check_interval: default_check(),
            inotify: true,
        }
    }

    /// The source id: `id`, else the path.
    pub fn source_id(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| self.path.to_string_lossy().into_owned())
    }
}

/// What the evtx source did, for metrics and tests.
#[derive(Debug, Default)]
pub struct EvtxStats {
    polling: Arc<AtomicBool>,
    records: AtomicU64,
    errors: AtomicU64,
    replaced: AtomicU64,
    skipped: AtomicU64,
    looks: AtomicU64,
}

impl EvtxStats {
    /// Records sent into the pipeline.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }
    /// Failed stats, opens and reads of the file (each logged when the error changes).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
    /// Times the path held another log than the checkpoint's (read from its first record).
    pub fn replaced(&self) -> u64 {
        self.replaced.load(Ordering::Relaxed)
    }
    /// Records that could not be read, with readable ones after them (skipped).
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
    /// Looks at the path (whether or not a file was there or held new records).
    pub fn looks(&self) -> u64 {
        self.looks.load(Ordering::Relaxed)
    }
}

/// Follows one `.evtx` file.
#[derive(Debug)]
pub struct EvtxSource {
    config: EvtxConfig,
    checkpoint: Option<Checkpoint>,
    stats: Arc<EvtxStats>,
}

impl EvtxSource {
    /// A source for `config`, resuming after `checkpoint` (the stored one for its id).
    pub fn new(config: EvtxConfig, checkpoint: Option<Checkpoint>) -> EvtxSource {
        EvtxSource {
            config,
            checkpoint,
            stats: Arc::default(),
        }
    }

    /// The source's counters (keep a clone before [`run`](Self::run)).
    pub fn stats(&self) -> Arc<EvtxStats> {
        Arc::clone(&self.stats)
    }

    /// Follows the file until the receiver of `tx` is dropped.
    pub async fn run(self, tx: mpsc::Sender<SourceItem>) {
        let id: Arc<str> = Arc::from(self.config.source_id().as_str());
        let mut watch = Watch::new(
            &self.config.path,
            self.config.poll_interval,
            self.config.check_interval,
            Arc::clone(&self.stats.polling),
        );
        watch.start(self.config.inotify);
        let mark = self.checkpoint.as_ref().and_then(Mark::of);
        if self.checkpoint.is_some() && mark.is_none() {
            tracing::warn!(source = %id, "the stored checkpoint is not an evtx one (the source's type changed?): ignored");
        }
        let mut f = Follower {
            count: if mark.is_some() {
                self.checkpoint.as_ref().map_or(0, |c| c.line)
            } else {
                0
            },
            mark,
            id,
            path: self.config.path,
            start_at: self.config.start_at,
            started: false,
            open: None,
            reading: (0, 0),
            stats: self.stats,
            error: None,
            last_skip: None,
            tx,
        };
        loop {
            if let Err(Gone) = f.step().await {
                return;
            }
            if watch.wait(None, &f.tx).await.is_err() {
                return;
            }
        }
    }
}

/// Counts a look at the path when dropped.
struct Looked(Arc<EvtxStats>);

impl Drop for Looked {
    fn drop(&mut self) {
        self.0.looks.fetch_add(1, Ordering::Relaxed);
    }
}

/// The pipeline dropped its receiver: the task ends.
struct Gone;

/// The last record sent: where to resume, and what it was (to tell its log from another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    id: u64,
    fp: Fingerprint,
}

const CURSOR_PREFIX: &str = "evtx:";

impl Mark {
    fn of(c: &Checkpoint) -> Option<Mark> {
        let id = c
            .cursor
            .as_deref()?
            .strip_prefix(CURSOR_PREFIX)?
            .parse()
            .ok()?;
        Some(Mark {
            id,
            fp: c.fingerprint?,
        })
    }

    fn of_record(id: u64, r: &WinRecord) -> Mark {
        Mark {
            id,
            fp: identity(id, r),
        }
    }
}

/// What tells one log's record from another's with the same id: its channel, computer, the
/// EventRecordID its XML names and its time (to 100 ns, as Windows stamps it).
fn identity(id: u64, r: &WinRecord) -> Fingerprint {
    let (secs, nanos) = r.time.map_or((0, 0), |t| (t.unix, t.nanos));
    let xml_id = r.record_id.unwrap_or(0);
    let s = format!(
        "{}\n{}\n{id}\n{xml_id}\n{secs}.{nanos:09}",
        r.channel, r.computer
    );
    Fingerprint::of(s.as_bytes())
}

/// The file being read.
#[derive(Debug)]
struct Held {
    file: File,
    dev: u64,
    ino: u64,
}

impl Held {
    fn open(path: &std::path::Path) -> io::Result<Held> {
        let file = File::open(path)?;
        let m = file.metadata()?;
        if !m.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        Ok(Held {
            file,
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

struct Follower {
    id: Arc<str>,
    path: PathBuf,
    start_at: StartAt,
    /// The first look decided where to start.
    started: bool,
    open: Option<Held>,
    /// The device and inode of the file being read (for the checkpoints).
    reading: (u64, u64),
    /// The last record sent (or, after `start_at: end`, the newest record skipped).
    mark: Option<Mark>,
    /// Records sent (the checkpoint's `line`).
    count: u64,
    stats: Arc<EvtxStats>,
    /// The error logged last, so a persisting one is logged once.
    error: Option<String>,
    /// The last skipped-record warning, likewise.
    last_skip: Option<String>,
    tx: mpsc::Sender<SourceItem>,
}

/// A record with its record header's id, or the reader's report of a piece it could not
/// read.
type Item = (Option<u64>, Result<WinRecord, EvtxReadError>);

/// The reader's items, numbered.
fn items(mut r: EvtxReader) -> impl Iterator<Item = Item> {
    std::iter::from_fn(move || r.next_numbered())
}

impl Follower {
    fn fail(&mut self, what: &str, e: &str) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        let msg = format!("{what} {}: {e}", self.path.display());
        if self.error.as_deref() != Some(msg.as_str()) {
            tracing::warn!(source = %self.id, error = %msg,
                "evtx source cannot read its file; trying again at the next change");
            self.error = Some(msg);
        }
    }

    fn recovered(&mut self) {
        if self.error.take().is_some() {
            tracing::info!(source = %self.id, path = %self.path.display(), "evtx source reads its file again");
        }
    }

    /// One look: the open file read to its end, then the file now at the path if it is
    /// another one.
    async fn step(&mut self) -> Result<(), Gone> {
        // Counted once the look is over (tests wait on it).
        let _looked = Looked(Arc::clone(&self.stats));
        let at_path = match fs::metadata(&self.path) {
            Ok(m) if m.is_file() => Some((m.dev(), m.ino())),
            Ok(_) => {
                self.fail("stat", "not a regular file");
                None
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !self.started {
                    if self.mark.is_none() {
                        // A file created after start-up holds only new records.
                        self.start_at = StartAt::Beginning;
                    }
                    tracing::info!(source = %self.id, path = %self.path.display(), "waiting for the file to appear");
                    self.started = true;
                }
                None
            }
            Err(e) => {
                self.fail("stat", &e.to_string());
                None
            }
        };
        let moved = matches!((&self.open, at_path), (Some(o), Some(id)) if (o.dev, o.ino) != id);
        if moved {
            if let Some(old) = self.open.take() {
                // The old file first: what was written to it before it was replaced.
                self.read(&old).await?;
                tracing::info!(source = %self.id, path = %self.path.display(),
                    "another file at the path: finished the old one");
            }
        }
        if self.open.is_none() && at_path.is_some() {
            match Held::open(&self.path) {
                Ok(o) => self.open = Some(o),
                Err(e) => {
                    self.fail("open", &e.to_string());
                    return Ok(());
                }
            }
        }
        if let Some(open) = self.open.take() {
            let r = self.read(&open).await;
            self.open = Some(open);
            r?;
        }
        Ok(())
    }

    /// Reads what is new in `open`, deciding first whether it still holds the mark's log.
    async fn read(&mut self, open: &Held) -> Result<(), Gone> {
        self.reading = (open.dev, open.ino);
        match self.read_file(open).await? {
            Ok(()) => self.recovered(),
            Err(e) => self.fail("read", &e.to_string()),
        }
        Ok(())
    }

    async fn read_file(&mut self, open: &Held) -> Result<io::Result<()>, Gone> {
        let first_look = !self.started;
        let Some(mark) = self.mark else {
            if first_look && self.start_at == StartAt::End {
                let newest = match newest(open) {
                    Ok(n) => n,
                    Err(e) => return Ok(Err(e)),
                };
                self.started = true;
                self.mark = newest;
                tracing::info!(source = %self.id, path = %self.path.display(),
                    after = newest.map(|m| m.id), "following from the newest record");
                return Ok(Ok(()));
            }
            let records = match reader(open, None) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            if first_look {
                tracing::info!(source = %self.id, path = %self.path.display(), "following from the oldest record");
            }
            self.started = true;
            self.send_all(items(records), Vec::new()).await?;
            return Ok(Ok(()));
        };
        // From the mark's own record on, to check it is still there and the same.
        let (mut records, header_next) = match reader(open, Some(mark.id.saturating_sub(1))) {
            Ok(r) => {
                let next = r.next_record_id();
                (items(r), next)
            }
            Err(e) => return Ok(Err(e)),
        };
        if first_look {
            self.started = true;
            tracing::info!(source = %self.id, path = %self.path.display(), after = mark.id,
                "resuming after the checkpoint's record");
        }
        let mut held = Vec::new();
        let first = records.by_ref().find_map(|(id, item)| match item {
            Ok(r) => Some((id, r)),
            Err(e) => {
                held.push(e);
                None
            }
        });
        let Some((first_id, first)) = first else {
            if !held.is_empty() {
                // Where the mark should be cannot be read yet (a chunk being written):
                // nothing is decided before it can.
                tracing::debug!(source = %self.id, "the checkpoint's chunk cannot be read yet");
                return Ok(Ok(()));
            }
            if header_next > mark.id + 1 {
                // The file header names records the file does not hold yet: a log being
                // copied over in place, seen half-written.
                tracing::debug!(source = %self.id, header_next, "the file is not whole yet");
                return Ok(Ok(()));
            }
            self.replaced(
                open,
                "its records end before the checkpoint's (cleared, shrunk or replaced)",
            )
            .await?;
            return Ok(Ok(()));
        };
        let id = record_id(first_id, &first);
        if id == mark.id {
            if Mark::of_record(id, &first) != mark {
                self.replaced(
                    open,
                    "the record with the checkpoint's id is another one (another log copied over?)",
                )
                .await?;
                return Ok(Ok(()));
            }
            self.send_all(records, held).await?;
        } else if id > mark.id {
            if id > mark.id + 1 {
                tracing::warn!(source = %self.id, path = %self.path.display(),
                    lost_from = mark.id + 1, lost_to = id - 1,
                    "records overwritten before they were read (the log wrapped around while \
                     the agent was stopped or behind, or another log with higher ids): reading \
                     on from the oldest one there");
            }
            self.send_all(std::iter::once((first_id, Ok(first))).chain(records), held)
                .await?;
        } else {
            // Below the mark after the reader skipped those ids: the XML and the record
            // header disagree, which no log Windows wrote does.
            self.replaced(open, "its record ids are not in order")
                .await?;
        }
        Ok(Ok(()))
    }

    /// The path holds another log than the mark's: read from its first record, said once.
    async fn replaced(&mut self, open: &Held, why: &str) -> Result<(), Gone> {
        self.stats.replaced.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(source = %self.id, path = %self.path.display(),
            checkpoint = self.mark.map(|m| m.id),
            "not the log of the checkpoint: {why}; reading it from its first record");
        self.mark = None;
        match reader(open, None) {
            Ok(records) => self.send_all(items(records), Vec::new()).await,
            Err(e) => {
                self.fail("read", &e.to_string());
                Ok(())
            }
        }
    }

    /// Sends the records in order. What the reader could not read is reported once
    /// readable records follow it (it is damaged for good); at the end, it is the part of the
    /// log not written yet, read again at the next change.
    async fn send_all(
        &mut self,
        records: impl Iterator<Item = Item>,
        mut held: Vec<EvtxReadError>,
    ) -> Result<(), Gone> {
        for (id, item) in records {
            match item {
                Err(e) => held.push(e),
                Ok(r) => {
                    self.report(&mut held);
                    let id = record_id(id, &r);
                    if self.mark.is_some_and(|m| id <= m.id) {
                        continue;
                    }
                    self.send(id, &r).await?;
                }
            }
        }
        if !held.is_empty() {
            tracing::debug!(source = %self.id, unreadable = held.len(),
                "the newest records cannot be read yet: trying again at the next change");
        }
        Ok(())
    }

    /// Logs (once per distinct report) what the reader passed over before a readable record,
    /// and counts the records in it.
    fn report(&mut self, held: &mut Vec<EvtxReadError>) {
        if held.is_empty() {
            return;
        }
        let lost: Vec<&EvtxReadError> = held.iter().filter(|e| !is_notice(e)).collect();
        if !lost.is_empty() {
            self.stats
                .skipped
                .fetch_add(lost.len() as u64, Ordering::Relaxed);
            let msg = lost
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            if self.last_skip.as_deref() != Some(msg.as_str()) {
                tracing::warn!(source = %self.id, path = %self.path.display(),
                    count = lost.len(), error = %msg,
                    "unreadable records skipped (readable ones follow them)");
                self.last_skip = Some(msg);
            }
        }
        held.clear();
    }

    async fn send(&mut self, id: u64, r: &WinRecord) -> Result<(), Gone> {
        let mark = Mark::of_record(id, r);
        let open = self.reading;
        let mut event = windows::decode(r).into_owned();
        event.file_path = Some(Cow::Owned(self.path.to_string_lossy().into_owned()));
        let checkpoint = Checkpoint {
            device: Some(open.0),
            inode: Some(open.1),
            offset: id,
            fingerprint: Some(mark.fp),
            line: self.count + 1,
            cursor: Some(format!("{CURSOR_PREFIX}{id}")),
            ..Checkpoint::new(&*self.id, unix_now())
        };
        let item = SourceItem {
            source: Arc::clone(&self.id),
            payload: Payload::Event(Box::new(event)),
            checkpoint: Some(checkpoint),
        };
        if self.tx.send(item).await.is_err() {
            return Err(Gone);
        }
        self.count += 1;
        self.mark = Some(mark);
        self.stats.records.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A report that loses nothing: a chunk whose CRC32 does not match has its records read
/// (a chunk being filled is caught so).
fn is_notice(e: &EvtxReadError) -> bool {
    e.record_id.is_none() && e.reason.contains("CRC32")
}

/// A record's position: its record header's EventRecordID (the XML's of a live log is the
/// same; an exported log's XML keeps the ids of the log it came from).
fn record_id(header: Option<u64>, r: &WinRecord) -> u64 {
    header.or(r.record_id).unwrap_or(0)
}

/// The records of `open` after `after` (all when `None`), with their XML for the alert page.
/// After an id only the chunks past it are read: a look at a large log costs what is new.
fn reader(open: &Held, after: Option<u64>) -> io::Result<EvtxReader> {
    let file = open.file.try_clone()?;
    let r = match after {
        Some(a) => EvtxReader::from_file_after(file, a)?,
        None => EvtxReader::from_file(file)?,
    };
    Ok(r.with_original(true))
}

/// The newest readable record's mark: from the header's next record id on when the header
/// is up to date, else from the whole file.
fn newest(open: &Held) -> io::Result<Option<Mark>> {
    let last = |r: EvtxReader| {
        items(r)
            .filter_map(|(id, item)| {
                item.ok()
                    .map(|rec| Mark::of_record(record_id(id, &rec), &rec))
            })
            .last()
    };
    let next = EvtxReader::from_file_after(open.file.try_clone()?, u64::MAX)?.next_record_id();
    let tail = EvtxReader::from_file_after(open.file.try_clone()?, next.saturating_sub(2))?;
    if let Some(m) = last(tail) {
        return Ok(Some(m));
    }
    Ok(last(EvtxReader::from_file(open.file.try_clone()?)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_the_checkpoint_it_takes() {
        let c: EvtxConfig = serde_saphyr::from_str("{path: /x/Security.evtx}").unwrap();
        assert_eq!(c, EvtxConfig::new("/x/Security.evtx"));
        assert_eq!(
            (c.source_id(), c.start_at),
            ("/x/Security.evtx".into(), StartAt::End)
        );
        let c: EvtxConfig =
            serde_saphyr::from_str("{path: a.evtx, start_at: beginning, id: dc1}").unwrap();
        assert_eq!(
            (c.source_id(), c.start_at),
            ("dc1".into(), StartAt::Beginning)
        );
        assert!(serde_saphyr::from_str::<EvtxConfig>("{path: a, poll_interval: 1}").is_err());

        let fp = Fingerprint::of(b"x");
        let ours = Checkpoint {
            cursor: Some("evtx:42".into()),
            fingerprint: Some(fp),
            ..Checkpoint::new("s", 0)
        };
        assert_eq!(Mark::of(&ours), Some(Mark { id: 42, fp }));
        // A text file's checkpoint under the same id (the source's type changed): ignored.
        let file = Checkpoint {
            offset: 42,
            fingerprint: Some(fp),
            ..Checkpoint::new("s", 0)
        };
        assert_eq!(Mark::of(&file), None);
    }
}
