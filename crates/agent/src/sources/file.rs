//! The file source: follows one path as it is written, across rotations and restarts, and
//! sends each line with the [`Checkpoint`] to resume after it.
//!
//! # Waking
//!
//! An inotify watch (the `notify` crate) on the path's *directory* — and on the target's
//! directory when the path is a symlink — wakes the task as soon as the file is written,
//! created, renamed or removed: no sleep sits between an append and its read. Events for
//! other names in the directory are ignored, except while a rotated file is still being
//! drained (its new name is unknown). A stat check runs every `check_interval` anyway, as a
//! safety net (events dropped on queue overflow, file systems that do not report changes).
//! When inotify is unavailable (no instance left, `fs.inotify.max_user_watches` reached,
//! directory missing, or `inotify: false`) the task polls every `poll_interval` instead.
//!
//! # Reading
//!
//! The task reads with `pread` from its own position through one reused 64 KiB buffer and
//! splits on `\n`. A trailing partial line stays buffered until its newline arrives; it is
//! sent as a line when its file is finished (rotated away, deleted). Lines are decoded as
//! UTF-8 lossily, a trailing `\r` is dropped, and lines longer than
//! [`MAX_LINE`](logward_parse::MAX_LINE) are cut and counted, as every reader does
//! ([`logward_parse::lines`]). Reads are plain blocking calls
//! on the task: they copy data just written from the page cache (microseconds, at most one
//! buffer per call); a hop through `spawn_blocking` for each would cost more than the read.
//!
//! # Rotation
//!
//! The task holds the file open, so it keeps reading the same inode whatever happens to its
//! name. After every read it stats the path:
//!
//! - **rename / delete + re-create / symlink re-pointed**: the path names another file. The
//!   new file is opened at once (pinned: a second rotation cannot take it away) and read from
//!   offset 0, but only once it has data — a writer that has not reopened yet (rsyslog before
//!   its HUP) still appends to the old one, and a single writer writes to the new file only
//!   after its last write to the old one. Then the old file is drained to EOF one last time,
//!   its partial last line flushed, and closed.
//! - **delete** (nothing at the path): the old file is drained; once it has no link left and
//!   has not grown for `deleted_grace`, it is closed. A file created at the path later is
//!   read from offset 0.
//! - **copytruncate** (the file shrank below the read position, or its first bytes changed):
//!   counted, logged, and read again from offset 0. Lines not read yet when the truncation
//!   happened are recovered from the copy when it sits beside the file, uncompressed: a file
//!   whose first bytes match the fingerprint and whose bytes before the read position match
//!   the last ones read — it is read from the position to its end first.
//!
//!   **The copytruncate window cannot be closed**: lines the writer appends *between* the
//!   copy and the truncation are in neither file, and nothing can recover them. Prefer
//!   rename rotation (`create` in logrotate) for logs that matter; with copytruncate the loss
//!   is bounded by the copy's duration.
//!
//! # Checkpoints
//!
//! Every item carries (device, inode, offset after the line, fingerprint of the file's first
//! bytes, lines read from that file). On start with a stored checkpoint:
//!
//! - the path still holds that file (device + inode and fingerprint agree): resume at the
//!   offset (from 0, after recovering from a copy, if the file shrank while stopped);
//! - the path holds another file: the checkpoint's file is looked for by device + inode (and
//!   fingerprint) in the path's directory (`auth.log.1`, or `auth.log.2` after two
//!   rotations): drained from the offset; then the rotated siblings newer than it
//!   (`auth.log.1`), oldest first, from 0; then the new file from 0. If it is gone, the
//!   lines between the checkpoint and its rotation are lost (logged at WARN), and the
//!   uncompressed siblings last written after the checkpoint was taken are read in full
//!   before the new file;
//! - no checkpoint: an existing file starts at its end (`start_at: end`, the default) or its
//!   beginning; a file that appears after start-up is read from its beginning.
//!
//! Rotated siblings are `NAME.N` (older as N grows) and `NAME-DATE` (logrotate `dateext`:
//! `-` then digits, older as the text sorts lower), each optionally compressed. A compressed
//! one cannot be followed from an offset (gzip writes a new file, with a new inode): a
//! checkpoint's file that was compressed, or a newer sibling already compressed, is logged
//! at WARN as lines that cannot be read. While running, a file must be seen at the path at
//! least once to be read: if it is rotated twice between two looks (a pipeline stalled
//! across two rotations), the file in the middle is not found. `line` counts lines from the
//! position the source started at (after `start_at: end`, from the end).
//!
//! # Errors
//!
//! A path that cannot be stat'ed or opened (permissions, a component that is not a
//! directory) is logged at ERROR once — again only when the error changes — counted in
//! [`FileStats`], and retried with exponential backoff (`retry_min` … `retry_max`, and at
//! once on an inotify event for the name, such as a `chmod`). The task never panics and
//! other sources do not wait for it. It ends when the receiving side of its channel is
//! dropped.

use std::collections::VecDeque;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logward_core::backoff::Backoff;
use logward_core::clock::unix_now;
use logward_parse::lines::{self, LineCutter};
use logward_parse::rotation::COMPRESSED;
#[cfg(test)]
use logward_parse::MAX_LINE;
use logward_store::{Checkpoint, Fingerprint, FINGERPRINT_BYTES};
use tokio::sync::mpsc;

use super::follow::checkpoint::{self, Position};
use super::follow::fingerprint::{head_matches, read_exact_at, read_head};
use super::follow::rotation::{self, identity, Sibling};
use super::follow::watch::Watch;
use super::{Payload, SourceItem};

/// Size of the one read buffer each file source keeps.
const READ_BUF: usize = 64 * 1024;
/// How many bytes before the read position are kept to recognise a copytruncate copy.
const TAIL: usize = 64;

pub use super::StartAt;

/// How one file source follows its path.
#[derive(Debug, Clone)]
pub struct FileConfig {
    /// The source id carried by every item and checkpoint (the path by default).
    pub id: Arc<str>,
    /// The path followed (a symlink is followed to its target).
    pub path: PathBuf,
    /// Start position of a file found at start-up without a checkpoint.
    pub start_at: StartAt,
    /// Use inotify (`false`: poll only, for file systems that do not report changes).
    pub inotify: bool,
    /// Poll interval when inotify is off or unavailable.
    pub poll_interval: Duration,
    /// Safety-net stat interval while inotify works.
    pub check_interval: Duration,
    /// First retry delay after an error; doubled up to `retry_max`.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How long a deleted file (no link left, nothing at the path) is kept open after its
    /// last growth, for a writer that still has it open.
    pub deleted_grace: Duration,
}

impl FileConfig {
    /// The defaults for `path`: id = the path, start at the end, inotify with a 250 ms poll
    /// fallback, a 1 s safety check, retries from 250 ms to 30 s, 5 s grace for deleted
    /// files.
    pub fn new(path: impl Into<PathBuf>) -> FileConfig {
        let path = path.into();
        FileConfig {
            id: Arc::from(path.to_string_lossy().as_ref()),
            path,
            start_at: StartAt::End,
            inotify: true,
            poll_interval: Duration::from_millis(250),
            check_interval: Duration::from_secs(1),
            retry_min: Duration::from_millis(250),
            retry_max: Duration::from_secs(30),
            deleted_grace: Duration::from_secs(5),
        }
    }
}

/// Counters of one file source, shared with whoever exports metrics.
#[derive(Debug, Default)]
pub struct FileStats {
    ready: AtomicBool,
    polling: Arc<AtomicBool>,
    lines: AtomicU64,
    bytes: AtomicU64,
    rotations: AtomicU64,
    truncations: AtomicU64,
    recovered_lines: AtomicU64,
    long_lines: AtomicU64,
    invalid_utf8: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A copy of [`FileStats`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStatsSnapshot {
    /// The source has looked at its path once (and decided where to start, unless that
    /// look failed and is being retried).
    pub ready: bool,
    /// Waiting by polling because inotify is off or unavailable.
    pub polling: bool,
    /// Lines sent.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Files finished because another took their place (rename, re-create, symlink).
    pub rotations: u64,
    /// Truncations seen (copytruncate).
    pub truncations: u64,
    /// Lines read from a copytruncate copy after the truncation.
    pub recovered_lines: u64,
    /// Lines cut at `MAX_LINE`.
    pub long_lines: u64,
    /// Lines with invalid UTF-8 (decoded lossily).
    pub invalid_utf8: u64,
    /// Failed stat/open/read attempts.
    pub errors: u64,
    /// The current error, `None` once the source works again.
    pub last_error: Option<String>,
}

impl FileStats {
    /// The counters now.
    pub fn snapshot(&self) -> FileStatsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FileStatsSnapshot {
            ready: self.ready.load(Ordering::Acquire),
            polling: self.polling.load(Ordering::Relaxed),
            lines: get(&self.lines),
            bytes: get(&self.bytes),
            rotations: get(&self.rotations),
            truncations: get(&self.truncations),
            recovered_lines: get(&self.recovered_lines),
            long_lines: get(&self.long_lines),
            invalid_utf8: get(&self.invalid_utf8),
            errors: get(&self.errors),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    fn add(a: &AtomicU64, n: u64) {
        a.fetch_add(n, Ordering::Relaxed);
    }

    fn set_error(&self, e: Option<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = e;
    }
}

/// A file source, ready to run.
#[derive(Debug)]
pub struct FileSource {
    config: FileConfig,
    checkpoint: Option<Checkpoint>,
    stats: Arc<FileStats>,
}

impl FileSource {
    /// A source for `config`, resuming from `checkpoint` (the stored one for its id).
    pub fn new(config: FileConfig, checkpoint: Option<Checkpoint>) -> FileSource {
        FileSource {
            config,
            checkpoint,
            stats: Arc::new(FileStats::default()),
        }
    }

    /// The source's counters (keep a clone before [`run`](Self::run)).
    pub fn stats(&self) -> Arc<FileStats> {
        Arc::clone(&self.stats)
    }

    /// Follows the file until the receiver of `tx` is dropped.
    pub async fn run(self, tx: mpsc::Sender<SourceItem>) {
        let mut f = Follower::new(self.config, self.stats, tx);
        f.watch.start(f.cfg.inotify);
        let mut checkpoint = self.checkpoint;
        loop {
            if !f.positioned {
                let r = f.position(&mut checkpoint).await;
                f.stats.ready.store(true, Ordering::Release);
                if let Err(Halt::Closed) = r {
                    return;
                }
            }
            if f.positioned {
                if let Err(Halt::Closed) = f.step().await {
                    return;
                }
            }
            let retry = f.error.is_some().then_some(f.retry_in);
            if f.watch.wait(retry, &f.tx).await.is_err() {
                return;
            }
        }
    }
}

/// Why reading stopped.
enum Halt {
    /// The receiver is gone: the task ends.
    Closed,
    /// An I/O error on the path or a file.
    Io(String),
    /// The file's first bytes changed under the reader (truncated and rewritten).
    Rewritten,
}

/// A file the source has open.
#[derive(Debug)]
struct Tracked {
    file: File,
    /// Where it was opened (for logs).
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// Bytes consumed so far (the next read starts here).
    read: u64,
    /// Offset of the first byte after the last line sent: the checkpoint offset.
    line_start: u64,
    /// Lines sent from this file (plus the checkpoint's count when resumed).
    line: u64,
    /// The file's first bytes as seen at open and by the reads since (≤ `FINGERPRINT_BYTES`),
    /// so the fingerprint only ever covers bytes this source saw.
    head: Vec<u8>,
    fp: Fingerprint,
    /// The partial line after `line_start` (at most `MAX_LINE + 1` bytes kept).
    pending: LineCutter,
    /// Up to `TAIL` bytes just before `line_start` (empty when unknown).
    tail: Vec<u8>,
    last_growth: Instant,
}

impl Tracked {
    fn open(path: &Path) -> io::Result<(Tracked, Metadata)> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let head = read_head(&file)?;
        let fp = Fingerprint::of(&head);
        Ok((
            Tracked {
                file,
                path: path.to_path_buf(),
                dev: meta.dev(),
                ino: meta.ino(),
                read: 0,
                line_start: 0,
                line: 0,
                head,
                fp,
                pending: LineCutter::default(),
                tail: Vec::new(),
                last_growth: Instant::now(),
            },
            meta,
        ))
    }

    fn at(mut self, offset: u64, line: u64) -> Tracked {
        self.read = offset;
        self.line_start = offset;
        self.line = line;
        self
    }

    fn same_file(&self, id: (u64, u64)) -> bool {
        (self.dev, self.ino) == id
    }

    #[cfg(test)]
    fn push_tail(&mut self, bytes: &[u8]) {
        push_tail(&mut self.tail, bytes);
    }

    fn restart_at_zero(&mut self) -> io::Result<()> {
        self.read = 0;
        self.line_start = 0;
        self.line = 0;
        self.pending.clear();
        self.tail.clear();
        self.head = read_head(&self.file)?;
        self.fp = Fingerprint::of(&self.head);
        Ok(())
    }

    /// Checks a chunk just read at `at` against the first bytes seen before, and extends
    /// them. `false`: the file no longer holds what was seen there (rewritten in place).
    fn see_head(&mut self, at: u64, chunk: &[u8]) -> bool {
        let Ok(at) = usize::try_from(at) else {
            return true;
        };
        if at >= FINGERPRINT_BYTES || at > self.head.len() {
            return true;
        }
        let overlap = (self.head.len() - at).min(chunk.len());
        if self.head[at..at + overlap] != chunk[..overlap] {
            return false;
        }
        let more = (FINGERPRINT_BYTES - at).min(chunk.len());
        if more > overlap {
            self.head.extend_from_slice(&chunk[overlap..more]);
            self.fp = Fingerprint::of(&self.head);
        }
        true
    }
}

struct Follower {
    cfg: FileConfig,
    stats: Arc<FileStats>,
    tx: mpsc::Sender<SourceItem>,
    buf: Vec<u8>,
    /// The file being read first, then newer files seen at the path, oldest first.
    queue: VecDeque<Tracked>,
    positioned: bool,
    watch: Watch,
    error: Option<String>,
    /// Retries of an unreadable file, and the wait before the next one.
    backoff: Backoff,
    retry_in: Duration,
}

impl Follower {
    fn new(cfg: FileConfig, stats: Arc<FileStats>, tx: mpsc::Sender<SourceItem>) -> Follower {
        let backoff = Backoff::new(cfg.retry_min, cfg.retry_max);
        let retry_in = cfg.retry_min;
        let watch = Watch::new(
            &cfg.path,
            cfg.poll_interval,
            cfg.check_interval,
            Arc::clone(&stats.polling),
        );
        Follower {
            cfg,
            stats,
            tx,
            buf: vec![0; READ_BUF],
            queue: VecDeque::new(),
            positioned: false,
            watch,
            error: None,
            backoff,
            retry_in,
        }
    }

    // ----- errors -----------------------------------------------------------------------

    fn fail(&mut self, what: &str, path: &Path, e: &io::Error) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        let msg = format!("{what} {}: {e}", path.display());
        if self.error.as_deref() == Some(msg.as_str()) {
            tracing::debug!(source = %self.cfg.id, error = %msg, "still failing");
            self.retry_in = self.backoff.next_wait();
        } else {
            tracing::error!(
                source = %self.cfg.id,
                error = %msg,
                retry_ms = self.cfg.retry_min.as_millis(),
                "file source cannot read its file; retrying with backoff"
            );
            self.backoff.reset();
            self.retry_in = self.backoff.next_wait();
            self.stats.set_error(Some(msg.clone()));
            self.error = Some(msg);
        }
    }

    fn recovered(&mut self) {
        if self.error.take().is_some() {
            tracing::info!(source = %self.cfg.id, "file source reads its file again");
            self.stats.set_error(None);
            self.backoff.reset();
            self.retry_in = self.cfg.retry_min;
        }
    }

    /// The file at the path now: `Ok(None)` when nothing is there.
    fn stat_path(&self) -> io::Result<Option<Metadata>> {
        match fs::metadata(&self.cfg.path) {
            Ok(m) if m.is_file() => Ok(Some(m)),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    // ----- start-up ---------------------------------------------------------------------

    /// Decides where to start, from the checkpoint or `start_at`.
    async fn position(&mut self, checkpoint: &mut Option<Checkpoint>) -> Result<(), Halt> {
        let path = self.cfg.path.clone();
        let meta = match self.stat_path() {
            Ok(m) => m,
            Err(e) => {
                self.fail("stat", &path, &e);
                return Ok(());
            }
        };
        let cp = checkpoint.as_ref().and_then(Position::of);
        let opened = match &meta {
            Some(_) => match Tracked::open(&path) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.fail("open", &path, &e);
                    return Ok(());
                }
            },
            None => None,
        };
        self.recovered();
        *checkpoint = None;
        self.positioned = true;

        let Some(rotated) = cp else {
            if let Some((t, m)) = opened {
                let start = match self.cfg.start_at {
                    StartAt::Beginning => 0,
                    StartAt::End => m.len(),
                };
                tracing::info!(source = %self.cfg.id, path = %path.display(), offset = start, "following");
                self.queue.push_back(t.at(start, 0));
            } else {
                tracing::info!(source = %self.cfg.id, path = %path.display(), "waiting for the file to appear");
            }
            return Ok(());
        };

        // The checkpointed file, wherever rotation took it.
        let Position {
            ino,
            fp,
            offset,
            line,
            updated_at,
            ..
        } = rotated;
        if let Some((t, m)) = opened {
            if t.same_file(rotated.id()) {
                if rotated.matches(&t.file, m.len()) {
                    tracing::info!(source = %self.cfg.id, path = %path.display(), offset, "resuming from the checkpoint");
                    self.queue.push_back(t.at(offset, line));
                    return Ok(());
                }
                // Truncated (or rewritten in place) while stopped, or rotated away and then
                // deleted or compressed, its inode given to the new file at the path.
                self.stats.truncations.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(source = %self.cfg.id, path = %path.display(), offset, size = m.len(),
                    "file truncated while stopped (copytruncate?), or a new file with the same \
                     inode: reading it again from the start");
                let copied = match fp {
                    Some(fp) => self.recover_from_copy(ino, fp, offset, line, &[]).await?,
                    None => false,
                };
                if !copied {
                    let siblings = rotation::rotated_siblings(&self.cfg.path);
                    let newer: Vec<&Sibling> = siblings
                        .iter()
                        .filter(|s| s.modified >= updated_at)
                        .collect();
                    self.queue_rotations(&newer, &rotated, Some(identity(&m)));
                }
                self.queue.push_back(t);
                return Ok(());
            }
            // The path holds a new file: find the checkpoint's one by inode.
            self.resume_rotated(&rotated, Some(identity(&m)));
            self.queue.push_back(t);
            return Ok(());
        }
        self.resume_rotated(&rotated, None);
        Ok(())
    }

    /// Queues the checkpoint's file (rotated away while the source was stopped) from its
    /// offset, then the rotated siblings newer than it from 0, oldest first. `current` is
    /// the file at the path now (queued by the caller, after these).
    fn resume_rotated(&mut self, r: &Position, current: Option<(u64, u64)>) {
        let located = checkpoint::locate(&self.cfg.path, r);
        let found = located.found.and_then(|p| Tracked::open(&p).ok());
        match found {
            Some((t, _)) => {
                tracing::info!(source = %self.cfg.id, path = %t.path.display(), offset = r.offset,
                    "the checkpoint's file was rotated: draining it first");
                self.queue.push_back(t.at(r.offset, r.line));
            }
            None => checkpoint::warn_gone(&self.cfg.id, &self.cfg.path, r, &located.compressed),
        }
        let newer: Vec<&Sibling> = located.newer.iter().collect();
        self.queue_rotations(&newer, r, current);
    }

    /// Queues rotated files to read from their start (after a checkpoint's file), except the
    /// checkpoint's own and `current`; a compressed one is a WARN: its lines are lost.
    fn queue_rotations(&mut self, newer: &[&Sibling], r: &Position, current: Option<(u64, u64)>) {
        for s in newer {
            if Some(s.id) == current || s.id == r.id() {
                continue;
            }
            if s.compressed {
                tracing::warn!(source = %self.cfg.id, path = %s.path.display(),
                    "a rotation written to after the checkpoint is compressed: its lines \
                     cannot be read and are lost");
                continue;
            }
            match Tracked::open(&s.path) {
                Ok((t, _)) => {
                    tracing::info!(source = %self.cfg.id, path = %t.path.display(),
                        "rotated while stopped: reading it from its start");
                    self.queue.push_back(t);
                }
                Err(e) => tracing::warn!(source = %self.cfg.id, path = %s.path.display(),
                    error = %e, "a rotation newer than the checkpoint cannot be opened: its lines are lost"),
            }
        }
    }

    // ----- following ----------------------------------------------------------------------

    /// Reads what is new, and handles whatever happened to the path.
    async fn step(&mut self) -> Result<(), Halt> {
        loop {
            // What the path holds now.
            let at_path = match self.stat_path() {
                Ok(m) => m,
                Err(e) => {
                    let path = self.cfg.path.clone();
                    self.fail("stat", &path, &e);
                    None
                }
            };
            if let Some(m) = &at_path {
                let id = identity(m);
                if !self.queue.iter().any(|t| t.same_file(id)) {
                    let path = self.cfg.path.clone();
                    match Tracked::open(&path) {
                        Ok((t, _)) => {
                            self.recovered();
                            if !self.queue.is_empty() {
                                tracing::debug!(source = %self.cfg.id, inode = t.ino, "a new file at the path");
                                // Symlink targets may have moved to another directory.
                                self.watch.update(true);
                            } else {
                                tracing::info!(source = %self.cfg.id, path = %path.display(), "file appeared: reading from its start");
                            }
                            self.queue.push_back(t);
                        }
                        Err(e) => self.fail("open", &path, &e),
                    }
                } else if self.error.is_some() && self.queue.len() == 1 {
                    self.recovered();
                }
            }
            let Some(mut head) = self.queue.pop_front() else {
                self.watch.set_wake_all(false);
                return Ok(());
            };
            let r = self.follow_head(&mut head, at_path.as_ref()).await;
            match r {
                Ok(Next::Stay) => {
                    self.queue.push_front(head);
                    let rotated = self.queue.len() > 1
                        || at_path
                            .as_ref()
                            .is_none_or(|m| !self.queue[0].same_file(identity(m)));
                    self.watch.set_wake_all(rotated);
                    return Ok(());
                }
                Ok(Next::Done) => {
                    // The head is finished; look at the next one at once.
                    continue;
                }
                Err(Halt::Closed) => return Err(Halt::Closed),
                Err(Halt::Rewritten) => {
                    // Seen again at the next wake.
                    self.queue.push_front(head);
                    return Ok(());
                }
                Err(Halt::Io(msg)) => {
                    self.fail("read", &head.path, &io::Error::other(msg));
                    self.queue.push_front(head);
                    return Ok(());
                }
            }
        }
    }

    async fn follow_head(
        &mut self,
        head: &mut Tracked,
        at_path: Option<&Metadata>,
    ) -> Result<Next, Halt> {
        let mut rewritten = false;
        let mut attempts = 0;
        let meta = loop {
            let meta = head.file.metadata().map_err(|e| Halt::Io(e.to_string()))?;
            // Shrunk below what was read, or rewritten in place past it (its first bytes
            // changed): checked before reading, so no byte of the new content is read at the
            // old offset.
            let truncated = rewritten
                || meta.len() < head.read
                || !head_matches(&head.file, head.fp).map_err(|e| Halt::Io(e.to_string()))?;
            if truncated {
                self.truncated(head, meta.len()).await?;
            }
            match self.drain(head).await {
                Err(Halt::Rewritten) if attempts < 3 => {
                    attempts += 1;
                    rewritten = true;
                }
                Err(Halt::Rewritten) => return Ok(Next::Stay),
                Err(e) => return Err(e),
                Ok(()) => break head.file.metadata().map_err(|e| Halt::Io(e.to_string()))?,
            }
        };
        let newer_has_data = self
            .queue
            .iter()
            .any(|t| t.file.metadata().is_ok_and(|m| m.len() > 0));
        let deleted_and_quiet =
            meta.nlink() == 0 && head.last_growth.elapsed() >= self.cfg.deleted_grace;
        if newer_has_data || (deleted_and_quiet && !self.queue.is_empty()) {
            // A single writer writes to the new file only after its last write to this one.
            self.drain(head).await.or_else(finished)?;
            self.flush(head).await?;
            self.stats.rotations.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                source = %self.cfg.id,
                path = %head.path.display(),
                lines = head.line,
                "rotated: finished the old file, reading the new one from its start"
            );
            return Ok(Next::Done);
        }
        if self.queue.is_empty() && at_path.is_none() && deleted_and_quiet {
            self.flush(head).await?;
            tracing::info!(
                source = %self.cfg.id,
                path = %head.path.display(),
                "file deleted: closed it, waiting for a new one"
            );
            return Ok(Next::Done);
        }
        Ok(Next::Stay)
    }

    /// Handles a truncation of the head: counted, logged, the unread lines taken from a copy
    /// when there is one, and the file read again from 0.
    async fn truncated(&mut self, head: &mut Tracked, size: u64) -> Result<(), Halt> {
        self.stats.truncations.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            source = %self.cfg.id,
            path = %head.path.display(),
            offset = head.read,
            size,
            "file truncated (copytruncate?): reading it again from the start"
        );
        if head.line_start > 0 {
            let tail = std::mem::take(&mut head.tail);
            self.recover_from_copy(head.ino, head.fp, head.line_start, head.line, &tail)
                .await?;
        }
        head.restart_at_zero().map_err(|e| Halt::Io(e.to_string()))
    }

    /// After a truncation: reads the lines after `offset` from a copy of the file beside it;
    /// `false` when there is none.
    async fn recover_from_copy(
        &mut self,
        ino: u64,
        fp: Fingerprint,
        offset: u64,
        line: u64,
        tail: &[u8],
    ) -> Result<bool, Halt> {
        if fp.len == 0 {
            return Ok(false);
        }
        let mut best: Option<(SystemTime, Tracked)> = None;
        for d in rotation::dirs(&self.cfg.path) {
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                let name = e.file_name();
                let name = name.to_string_lossy();
                if COMPRESSED.iter().any(|s| name.ends_with(s)) {
                    continue;
                }
                let Ok(m) = fs::symlink_metadata(&p) else {
                    continue;
                };
                if !m.is_file() || m.ino() == ino || m.len() < offset {
                    continue;
                }
                let Ok((t, m)) = Tracked::open(&p) else {
                    continue;
                };
                if !read_head(&t.file).is_ok_and(|h| fp.matches(&h)) {
                    continue;
                }
                let tail_at = u64::try_from(tail.len())
                    .ok()
                    .and_then(|l| offset.checked_sub(l));
                let Some(tail_at) = tail_at else {
                    continue;
                };
                if !tail.is_empty()
                    && read_exact_at(&t.file, tail.len(), tail_at).as_deref() != Some(tail)
                {
                    continue;
                }
                let mtime = m.modified().unwrap_or(UNIX_EPOCH);
                if best.as_ref().is_none_or(|(b, _)| mtime > *b) {
                    best = Some((mtime, t));
                }
            }
        }
        let Some((_, copy)) = best else {
            return Ok(false);
        };
        let mut copy = copy.at(offset, line);
        let before = copy.line;
        self.drain(&mut copy).await.or_else(finished)?;
        self.flush(&mut copy).await?;
        let n = copy.line - before;
        FileStats::add(&self.stats.recovered_lines, n);
        tracing::info!(
            source = %self.cfg.id,
            copy = %copy.path.display(),
            lines = n,
            "read the lines not yet read from the copytruncate copy"
        );
        Ok(true)
    }

    // ----- lines --------------------------------------------------------------------------

    /// Reads `t` to its current end, sending every complete line.
    async fn drain(&mut self, t: &mut Tracked) -> Result<(), Halt> {
        loop {
            let n = match t.file.read_at(&mut self.buf, t.read) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Halt::Io(e.to_string())),
            };
            let chunk_start = t.read;
            // Truncated and rewritten between the last check and this read, the chunk
            // would be new content at the old offset: the file's first bytes tell (checked
            // after the read, so a rewrite before it cannot pass), and so do the bytes seen
            // before in the first KiB. The chunk is then dropped and the truncation handled.
            if !head_matches(&t.file, t.fp).map_err(|e| Halt::Io(e.to_string()))?
                || !t.see_head(chunk_start, &self.buf[..n])
            {
                return Err(Halt::Rewritten);
            }
            t.read += n as u64;
            t.last_growth = Instant::now();
            FileStats::add(&self.stats.bytes, n as u64);
            let now = unix_now();
            let mut pos = 0;
            while let Some(i) = self.buf[pos..n].iter().position(|&b| b == b'\n') {
                let end = pos + i;
                let (raw, cut) = t.pending.complete(&self.buf[pos..end]);
                let text = lines::decode(raw, cut);
                if text.cut {
                    // Bytes were dropped: the tail before the next line is unknown.
                    t.tail.clear();
                } else {
                    push_tail(&mut t.tail, raw);
                    push_tail(&mut t.tail, b"\n");
                }
                let text = self.text(text);
                pos = end + 1;
                t.line += 1;
                t.line_start = chunk_start + pos as u64;
                self.send(t, text, now).await?;
            }
            if pos < n {
                t.pending.push(&self.buf[pos..n]);
            }
            if n == self.buf.len() {
                // More is probably waiting: let other tasks run between buffers.
                tokio::task::yield_now().await;
            }
        }
    }

    /// Sends the buffered partial line of a finished file as a line.
    async fn flush(&mut self, t: &mut Tracked) -> Result<(), Halt> {
        let Some((raw, cut)) = t.pending.finish() else {
            return Ok(());
        };
        let text = self.text(lines::decode(raw, cut));
        t.tail.clear();
        t.line += 1;
        t.line_start = t.read;
        self.send(t, text, unix_now()).await
    }

    /// A line's text ([`logward_parse::lines`]: `\r` dropped, cut at `MAX_LINE` on a
    /// character boundary, lossy UTF-8), counted.
    fn text(&self, t: lines::Text<'_>) -> String {
        if t.cut {
            FileStats::add(&self.stats.long_lines, 1);
        }
        if t.invalid_utf8 {
            FileStats::add(&self.stats.invalid_utf8, 1);
        }
        t.text.into_owned()
    }

    async fn send(&self, t: &Tracked, text: String, now: i64) -> Result<(), Halt> {
        let checkpoint = Checkpoint {
            source: self.cfg.id.to_string(),
            device: Some(t.dev),
            inode: Some(t.ino),
            offset: t.line_start,
            fingerprint: Some(t.fp),
            line: t.line,
            cursor: None,
            updated_at: now,
        };
        FileStats::add(&self.stats.lines, 1);
        self.tx
            .send(SourceItem {
                source: Arc::clone(&self.cfg.id),
                payload: Payload::Line(text),
                checkpoint: Some(checkpoint),
            })
            .await
            .map_err(|_| Halt::Closed)
    }
}

/// Keeps the last `TAIL` bytes of what was read in `tail`.
fn push_tail(tail: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() >= TAIL {
        tail.clear();
        tail.extend_from_slice(&bytes[bytes.len() - TAIL..]);
    } else {
        tail.extend_from_slice(bytes);
        if tail.len() > TAIL {
            let excess = tail.len() - TAIL;
            tail.drain(..excess);
        }
    }
}

/// A file being finished that changes under the reader is finished where it is.
fn finished(h: Halt) -> Result<(), Halt> {
    match h {
        Halt::Rewritten => Ok(()),
        other => Err(other),
    }
}

/// What to do with the head file after a step.
enum Next {
    /// Keep reading it.
    Stay,
    /// It is finished (flushed, dropped).
    Done,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follower() -> (Follower, mpsc::Receiver<SourceItem>) {
        let (tx, rx) = mpsc::channel(16);
        let f = Follower::new(
            FileConfig::new("unused"),
            Arc::new(FileStats::default()),
            tx,
        );
        (f, rx)
    }

    #[test]
    fn text_drops_cr_and_cuts_on_a_character_boundary() {
        let (f, _rx) = follower();
        assert_eq!(f.text(lines::decode(b"abc\r", false)), "abc");
        let mut long = vec![b'a'; MAX_LINE - 1];
        long.extend_from_slice("é".as_bytes());
        long.extend_from_slice(b"tail");
        let s = f.text(lines::decode(&long, false));
        assert_eq!(s.len(), MAX_LINE - 1);
        assert!(s.bytes().all(|b| b == b'a'));
        assert_eq!(f.stats.snapshot().long_lines, 1);
        assert_eq!(f.text(lines::decode(b"a\xffb", false)), "a\u{fffd}b");
        assert_eq!(f.stats.snapshot().invalid_utf8, 1);
    }

    fn blank() -> Tracked {
        Tracked {
            file: File::open("/dev/null").expect("open /dev/null"),
            path: PathBuf::new(),
            dev: 0,
            ino: 0,
            read: 0,
            line_start: 0,
            line: 0,
            head: Vec::new(),
            fp: Fingerprint::of(b""),
            pending: LineCutter::default(),
            tail: Vec::new(),
            last_growth: Instant::now(),
        }
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut t = blank();
        t.push_tail(b"hello\n");
        t.push_tail(b"world\n");
        assert_eq!(t.tail, b"hello\nworld\n");
        let long: Vec<u8> = (0..200u8).collect();
        t.push_tail(&long);
        assert_eq!(t.tail.as_slice(), &long[200 - TAIL..]);
        t.push_tail(b"xy");
        assert_eq!(t.tail.len(), TAIL);
        assert_eq!(&t.tail[TAIL - 2..], b"xy");
    }

    #[test]
    fn see_head_extends_and_catches_rewrites() {
        let mut t = blank();
        t.head = b"abc".to_vec();
        assert!(t.see_head(0, b"abcdef"));
        assert_eq!(t.head, b"abcdef");
        assert_eq!(t.fp, Fingerprint::of(b"abcdef"));
        assert!(t.see_head(6, b"gh"));
        assert_eq!(t.head, b"abcdefgh");
        assert!(!t.see_head(2, b"Xdefghij"), "a rewritten head is caught");
        assert!(
            t.see_head(4096, b"far away"),
            "past the head: nothing to check"
        );
        let big = vec![b'z'; 3000];
        assert!(t.see_head(8, &big));
        assert_eq!(t.head.len(), FINGERPRINT_BYTES);
    }

    #[test]
    fn start_at_parses_lowercase() {
        use serde::de::value::{Error, MapDeserializer};
        use serde::Deserialize;
        #[derive(Deserialize)]
        struct W {
            start_at: StartAt,
        }
        let parse = |v: &'static str| {
            W::deserialize(MapDeserializer::<_, Error>::new(
                [("start_at", v)].into_iter(),
            ))
            .map(|w| w.start_at)
        };
        assert_eq!(parse("beginning").ok(), Some(StartAt::Beginning));
        assert_eq!(parse("end").ok(), Some(StartAt::End));
        assert!(parse("middle").is_err());
        assert_eq!(StartAt::default(), StartAt::End);
    }
}
