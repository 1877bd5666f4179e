//! The *utmp* source: follows `/var/log/wtmp` (logins, logouts) and `/var/log/btmp` (failed
//! logins) with the streaming [`logward_parse::utmp::Reader`], emitting decoded events.
//!
//! Built on [`super::follow`] (fingerprint, checkpoint, rotation discovery), as the text
//! file source is; what differs is the record reader (fixed-size utmp records, decoded at
//! the source) and the waking:
//!
//! - **Polling.** These files are written a few times per login, so their size is polled
//!   (every second by default) instead of watched; a poll that finds nothing new costs two
//!   `stat` calls. Reads are `pread`s on the task, as the file source's.
//! - **Items** are [`Payload::Event`]s (dataset `wtmp`/`btmp`, `log.file.path` set) whose
//!   checkpoint names the file (device, inode, fingerprint of its first KiB) and the offset
//!   after the event's record; the last event of a read carries [`Reader::consumed`], so
//!   records that give no event (boot, run level) are not read again. An incomplete record
//!   at the end of the file is held until the rest is written.
//! - **Rotation** (the path names another inode): the old file, still open, is read to its
//!   end first, then the new one from offset 0 ([`Reader::start_file`], which keeps open
//!   sessions so a logout after the rotation still names its user). **Truncation** (the
//!   size fell below what was read — `> /var/log/wtmp`, a way to hide logins) is logged at
//!   WARN and the file read again from 0. A missing file is waited for.
//! - **Resuming.** A checkpoint whose device, inode and fingerprint match the file (and whose
//!   offset is within it) resumes there. When the path holds another file, the checkpoint's
//!   file is looked for by device + inode (and fingerprint) among the path's rotations
//!   (`wtmp.1`, `wtmp-20261201`): it is read from the offset, then the rotations newer
//!   than it from their start, oldest first, then the file at the path — nothing lost or
//!   repeated across a rotation while logward was stopped. If it is gone (deleted, or
//!   compressed: WARN), the uncompressed rotations written since the checkpoint and then
//!   the file at the path are read from their start. With no checkpoint, `start_at: end` (the default) starts
//!   after the last whole record. Before resuming mid-file, up to [`PRIME_BYTES`] of the
//!   records before the offset are decoded and their events discarded, only to learn the
//!   open sessions, so logouts of sessions opened before the restart still name their user.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use logward_core::clock::unix_now;
use logward_core::Event;
use logward_parse::utmp::{detect_layout, Kind, Layout, Reader, DETECT_RECORDS};
use logward_store::{Checkpoint, Fingerprint};
use serde::Deserialize;
use tokio::sync::mpsc::Sender;

use super::command::{pause, Gone};
use super::follow::checkpoint::{self, Position};
use super::follow::fingerprint::{read_at_most, read_exact_at};
use super::follow::rotation::identity;
use super::journal::StartAt;
use super::{Payload, SourceItem};

/// How much of the file before a resume offset is decoded to learn the open sessions.
pub const PRIME_BYTES: u64 = 1 << 20;

/// Bytes read per call.
const CHUNK: usize = 64 * 1024;

/// The utmp source as configured.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UtmpConfig {
    /// The wtmp file (`null` to not follow one).
    #[serde(default = "default_wtmp")]
    pub wtmp: Option<PathBuf>,
    /// The btmp file (`null` to not follow one).
    #[serde(default = "default_btmp")]
    pub btmp: Option<PathBuf>,
    #[serde(default)]
    pub start_at: StartAt,
    /// How often the files' sizes are looked at.
    #[serde(skip, default = "default_poll")]
    pub poll_interval: Duration,
}

fn default_wtmp() -> Option<PathBuf> {
    Some(PathBuf::from("/var/log/wtmp"))
}

fn default_btmp() -> Option<PathBuf> {
    Some(PathBuf::from("/var/log/btmp"))
}

fn default_poll() -> Duration {
    Duration::from_secs(1)
}

impl Default for UtmpConfig {
    fn default() -> UtmpConfig {
        UtmpConfig {
            wtmp: default_wtmp(),
            btmp: default_btmp(),
            start_at: StartAt::End,
            poll_interval: default_poll(),
        }
    }
}

/// What the utmp source did, for metrics and tests.
#[derive(Debug, Default)]
pub struct UtmpStats {
    events: AtomicU64,
    bytes: AtomicU64,
    rotations: AtomicU64,
    truncations: AtomicU64,
    checkpoint_mismatches: AtomicU64,
    read_errors: AtomicU64,
}

impl UtmpStats {
    /// Events sent into the pipeline.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
    /// Bytes read, over every file followed.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
    /// Files replaced under their path (rename or delete + create).
    pub fn rotations(&self) -> u64 {
        self.rotations.load(Ordering::Relaxed)
    }
    /// Files found shorter than what had been read.
    pub fn truncations(&self) -> u64 {
        self.truncations.load(Ordering::Relaxed)
    }
    /// Checkpoints that no longer matched their file (read from the start instead).
    pub fn checkpoint_mismatches(&self) -> u64 {
        self.checkpoint_mismatches.load(Ordering::Relaxed)
    }
    /// Opens, stats and reads that failed (each logged when the error changes).
    pub fn read_errors(&self) -> u64 {
        self.read_errors.load(Ordering::Relaxed)
    }
}

/// Follows wtmp and btmp.
#[derive(Debug)]
pub struct UtmpSource {
    config: UtmpConfig,
    stats: Arc<UtmpStats>,
}

impl UtmpSource {
    pub fn new(config: UtmpConfig) -> UtmpSource {
        UtmpSource {
            config,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> Arc<UtmpStats> {
        Arc::clone(&self.stats)
    }

    /// The source ids of the followed files (their paths), as their checkpoints name them.
    pub fn ids(&self) -> Vec<String> {
        self.files().map(|(_, p)| source_id(p)).collect()
    }

    fn files(&self) -> impl Iterator<Item = (Kind, &PathBuf)> {
        let wtmp = self.config.wtmp.iter().map(|p| (Kind::Wtmp, p));
        let btmp = self.config.btmp.iter().map(|p| (Kind::Btmp, p));
        wtmp.chain(btmp)
    }

    /// Runs until the receiving end of `tx` is dropped. `checkpoints` may hold any source's
    /// checkpoints: each file takes the one named by its id.
    pub async fn run(self, checkpoints: Vec<Checkpoint>, tx: Sender<SourceItem>) {
        let mut followers: Vec<Follower> = self
            .files()
            .map(|(kind, path)| {
                let id = source_id(path);
                let checkpoint = checkpoints.iter().find(|c| c.source == id).cloned();
                Follower {
                    id: Arc::from(id),
                    path: path.clone(),
                    kind,
                    start_at: self.config.start_at,
                    checkpoint,
                    opened_before: false,
                    open: None,
                    queue: VecDeque::new(),
                    reader: Reader::new(kind),
                    stats: Arc::clone(&self.stats),
                    last_error: None,
                }
            })
            .collect();
        if followers.is_empty() {
            tracing::warn!("utmp source with neither a wtmp nor a btmp file: nothing to follow");
            return;
        }
        loop {
            for f in &mut followers {
                if let Err(Gone) = f.poll(&tx).await {
                    return;
                }
            }
            if !pause(&tx, self.config.poll_interval).await {
                return;
            }
        }
    }
}

fn source_id(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The open file being followed.
#[derive(Debug)]
struct OpenFile {
    file: File,
    /// Where it was opened (for logs).
    path: PathBuf,
    device: u64,
    inode: u64,
    /// Bytes read from this file so far (the read position).
    pos: u64,
    /// The file's first bytes (up to the fingerprint's size), as far as they were read.
    head: Vec<u8>,
}

impl OpenFile {
    /// Whether the file no longer starts with the bytes read from it earlier (it was
    /// truncated and written again, possibly past the old read position).
    fn head_changed(&self) -> bool {
        !self.head.is_empty()
            && read_exact_at(&self.file, self.head.len(), 0).as_deref() != Some(&self.head[..])
    }
}

/// Where the first open of a followed file starts.
enum Start {
    /// In the file at the path, at this offset.
    Here(u64),
    /// In another file (the checkpoint's, rotated; or a rotation to read first), at this
    /// offset.
    Other(PathBuf, File, u64),
    /// The checkpoint names no file that is still there: the path's file from its start.
    Mismatch,
}

/// One followed file.
#[derive(Debug)]
struct Follower {
    id: Arc<str>,
    path: PathBuf,
    kind: Kind,
    start_at: StartAt,
    /// The checkpoint to resume from at the first open.
    checkpoint: Option<Checkpoint>,
    opened_before: bool,
    open: Option<OpenFile>,
    /// Rotated files to read from their start after the open one, before the file at the
    /// path (after a restart that found the checkpoint's file rotated), oldest first.
    queue: VecDeque<PathBuf>,
    reader: Reader,
    stats: Arc<UtmpStats>,
    /// The last error logged, so a persisting one is logged once.
    last_error: Option<String>,
}

impl Follower {
    fn error(&mut self, what: &str, e: &io::Error) {
        self.stats.read_errors.fetch_add(1, Ordering::Relaxed);
        let text = format!("{what}: {e}");
        if self.last_error.as_deref() != Some(&text) {
            if e.kind() == io::ErrorKind::NotFound {
                tracing::info!(source = %self.id, "{text}; waiting for it");
            } else {
                tracing::warn!(source = %self.id, "{text}");
            }
            self.last_error = Some(text);
        }
    }

    /// One look at the file: read what was added, follow a rotation or a truncation.
    async fn poll(&mut self, tx: &Sender<SourceItem>) -> Result<(), Gone> {
        let at_path = match fs::metadata(&self.path) {
            Ok(m) => Some(identity(&m)),
            Err(e) => {
                if self.open.is_none() && self.queue.is_empty() {
                    if !self.opened_before
                        && self.checkpoint.is_none()
                        && e.kind() == io::ErrorKind::NotFound
                    {
                        // A file created after the start holds only new records.
                        self.start_at = StartAt::Beginning;
                    }
                    self.error("cannot stat", &e);
                }
                None
            }
        };
        if self.open.is_none() {
            if at_path.is_none() && self.queue.is_empty() {
                return Ok(());
            }
            if let Err(e) = self.open_next() {
                self.error("cannot open", &e);
                return Ok(());
            }
        }
        self.drain(tx).await?;
        loop {
            let replaced = match (&self.open, at_path) {
                (Some(open), Some(id)) => (open.device, open.inode) != id,
                (Some(_), None) => !self.queue.is_empty(),
                (None, _) => false,
            };
            if !replaced {
                return Ok(());
            }
            // The old file was read to its end above; on to the next one.
            if self.queue.is_empty() {
                self.stats.rotations.fetch_add(1, Ordering::Relaxed);
                tracing::info!(source = %self.id, "file replaced (rotation): following the new one from its start");
            }
            self.open = None;
            if let Err(e) = self.open_next() {
                self.error("cannot open", &e);
                return Ok(());
            }
            self.drain(tx).await?;
        }
    }

    /// Opens the next file: the first queued rotation, else the file at the path.
    fn open_next(&mut self) -> io::Result<()> {
        while let Some(p) = self.queue.pop_front() {
            match self.open_file(&p) {
                Ok(()) => {
                    tracing::info!(source = %self.id, path = %p.display(),
                        "rotated while stopped: reading it from its start");
                    return Ok(());
                }
                Err(e) => tracing::warn!(source = %self.id, path = %p.display(), error = %e,
                    "a rotation newer than the checkpoint cannot be opened: its records are lost"),
            }
        }
        let path = self.path.clone();
        self.open_file(&path)
    }

    /// Opens `path` and decides where to read from: the checkpoint's file (at the path or
    /// rotated beside it) at its offset on the first open, else per `start_at`, else 0.
    fn open_file(&mut self, path: &Path) -> io::Result<()> {
        let mut file = File::open(path)?;
        let mut meta = file.metadata()?;
        let mut opened = path.to_path_buf();
        let first = !self.opened_before;
        self.opened_before = true;
        self.last_error = None;
        let mut resume = None;
        if first {
            if let Some(c) = self.checkpoint.take() {
                match self.locate(&c, &file, &meta) {
                    Start::Here(offset) => resume = Some(offset),
                    Start::Other(p, f, offset) => {
                        meta = f.metadata()?;
                        file = f;
                        opened = p;
                        resume = Some(offset);
                    }
                    Start::Mismatch => {
                        self.stats
                            .checkpoint_mismatches
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::info!(source = %self.id, checkpoint_offset = c.offset,
                            "the file is not the checkpointed one (rotated or replaced while stopped): reading it from its start");
                        resume = Some(0);
                    }
                }
            }
        }
        let (device, inode, len) = (meta.dev(), meta.ino(), meta.len());
        // Enough of the start to fingerprint the file and detect its layout.
        let probe_len = DETECT_RECORDS * Layout::Time64.record_size();
        let probe = read_at_most(&file, probe_len, 0)?;
        let head_len = probe.len().min(logward_store::FINGERPRINT_BYTES);
        let head = probe[..head_len].to_vec();

        let offset = match resume {
            Some(offset) => offset,
            None if !first || self.start_at == StartAt::Beginning => 0,
            None => match detect_layout(&probe, Some(len)) {
                Some(l) => len - len % l.record_size() as u64,
                None => 0,
            },
        };
        if resume.is_some_and(|o| o > 0) {
            tracing::info!(source = %self.id, path = %opened.display(), offset, "resuming from the checkpoint");
        }
        if offset == 0 {
            self.reader.start_file(0, None);
        } else {
            self.reader = self.primed_reader(&file, &probe, len, offset)?;
        }
        self.open = Some(OpenFile {
            file,
            path: opened,
            device,
            inode,
            pos: offset,
            head,
        });
        Ok(())
    }

    /// Where the first open starts, from checkpoint `c`; `file` is the path's. The
    /// checkpoint's file may be the path's, or be found by inode among the path's
    /// rotations: it is read from the offset, and the rotations newer than it are queued.
    /// When it is gone, the uncompressed rotations written since the checkpoint are read
    /// from their start first (the path's file follows them).
    fn locate(&mut self, c: &Checkpoint, file: &File, meta: &fs::Metadata) -> Start {
        let Some(pos) = Position::of(c) else {
            return Start::Mismatch;
        };
        if pos.id() == identity(meta) {
            return if pos.matches(file, meta.len()) {
                Start::Here(pos.offset)
            } else {
                Start::Mismatch
            };
        }
        let located = checkpoint::locate(&self.path, &pos);
        let found = located
            .found
            .and_then(|p| File::open(&p).ok().map(|f| (p, f)));
        match &found {
            Some((p, _)) => {
                tracing::info!(source = %self.id, path = %p.display(), offset = pos.offset,
                "the checkpoint's file was rotated: reading it first")
            }
            None => checkpoint::warn_gone(&self.id, &self.path, &pos, &located.compressed),
        }
        for s in located.newer {
            if s.id == identity(meta) || s.id == pos.id() {
                continue;
            }
            if s.compressed {
                tracing::warn!(source = %self.id, path = %s.path.display(),
                    "a rotation written to after the checkpoint is compressed: its records \
                     cannot be read and are lost");
                continue;
            }
            self.queue.push_back(s.path);
        }
        if let Some((p, f)) = found {
            return Start::Other(p, f, pos.offset);
        }
        while let Some(p) = self.queue.pop_front() {
            if let Ok(f) = File::open(&p) {
                self.stats
                    .checkpoint_mismatches
                    .fetch_add(1, Ordering::Relaxed);
                return Start::Other(p, f, 0);
            }
        }
        Start::Mismatch
    }

    /// A reader positioned at `offset` that has decoded (and dropped the events of) up to
    /// [`PRIME_BYTES`] before it, to know the sessions open there.
    fn primed_reader(
        &self,
        file: &File,
        probe: &[u8],
        len: u64,
        offset: u64,
    ) -> io::Result<Reader> {
        let Some(layout) = detect_layout(probe, Some(len)) else {
            return Ok(Reader::resume(self.kind, offset, None));
        };
        let size = layout.record_size() as u64;
        if offset % size != 0 {
            tracing::warn!(source = %self.id, offset, record_size = size,
                "checkpoint offset is not on a record boundary; resuming there without a known layout");
            return Ok(Reader::resume(self.kind, offset, None));
        }
        let start = offset.saturating_sub(PRIME_BYTES) / size * size;
        let mut reader = Reader::resume(self.kind, start, Some(layout));
        // At most PRIME_BYTES (a record more when the offset is not aligned to it).
        let want = usize::try_from(offset - start).unwrap_or(usize::MAX);
        let bytes = read_at_most(file, want, start)?;
        let mut discarded = Vec::new();
        reader.feed(&bytes, &mut discarded);
        if reader.consumed() != offset {
            // The file shrank meanwhile; the next read sees the truncation.
            return Ok(Reader::resume(self.kind, offset, Some(layout)));
        }
        Ok(reader)
    }

    /// Reads the open file to its end, sending the events of its complete records. A file
    /// truncated and written again past the old read position is caught by its first bytes.
    async fn drain(&mut self, tx: &Sender<SourceItem>) -> Result<(), Gone> {
        let mut chunk = vec![0u8; CHUNK];
        let mut events = Vec::new();
        loop {
            let Some(open) = self.open.as_mut() else {
                return Ok(());
            };
            let len = match open.file.metadata() {
                Ok(m) => m.len(),
                Err(e) => {
                    self.error("cannot stat the open file", &e);
                    return Ok(());
                }
            };
            let rewritten = open.head_changed();
            if len < open.pos || rewritten {
                self.stats.truncations.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(source = %self.id, path = %open.path.display(), size = len, read = open.pos,
                    "file truncated (smaller than what was read, or its first bytes changed): reading it again from its start");
                open.pos = 0;
                open.head.clear();
                self.reader.start_file(0, None);
            }
            let n = match open.file.read_at(&mut chunk, open.pos) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.error("cannot read", &e);
                    return Ok(());
                }
            };
            let data = &chunk[..n];
            let want = logward_store::FINGERPRINT_BYTES.saturating_sub(open.head.len());
            if want > 0 && open.head.len() as u64 == open.pos {
                open.head.extend_from_slice(&data[..want.min(n)]);
            }
            open.pos += n as u64;
            self.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
            let (device, inode) = (open.device, open.inode);
            let fingerprint = Fingerprint::of(&open.head);
            self.reader.feed(data, &mut events);
            self.send_events(&mut events, device, inode, fingerprint, tx)
                .await?;
        }
    }

    async fn send_events(
        &mut self,
        events: &mut Vec<Event<'static>>,
        device: u64,
        inode: u64,
        fingerprint: Fingerprint,
        tx: &Sender<SourceItem>,
    ) -> Result<(), Gone> {
        let size = self.reader.layout().map_or(0, |l| l.record_size() as u64);
        let consumed = self.reader.consumed();
        let count = events.len();
        for (i, mut event) in events.drain(..).enumerate() {
            let offset = if i + 1 == count {
                consumed
            } else {
                event.offset.map_or(consumed, |o| o + size)
            };
            event.file_path = Some(Cow::Owned(self.id.to_string()));
            let checkpoint = Checkpoint {
                device: Some(device),
                inode: Some(inode),
                offset,
                fingerprint: Some(fingerprint),
                ..Checkpoint::new(&*self.id, unix_now())
            };
            let item = SourceItem {
                source: Arc::clone(&self.id),
                payload: Payload::Event(Box::new(event)),
                checkpoint: Some(checkpoint),
            };
            if tx.send(item).await.is_err() {
                return Err(Gone);
            }
            self.stats.events.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}
