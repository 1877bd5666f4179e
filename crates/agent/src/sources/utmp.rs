//! The *utmp* source: follows `/var/log/wtmp` (logins, logouts) and `/var/log/btmp` (failed
//! logins) with the streaming [`logward_parse::utmp::Reader`], emitting decoded events.
//!
//! - **Polling.** These files are written a few times per login, so their size is polled
//!   (every second by default) instead of watched; a poll that finds nothing new costs two
//!   `stat` calls.
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
//!   offset is within it) resumes there; otherwise the file changed while logward was down
//!   and is read from its start. With no checkpoint, `start_at: end` (the default) starts
//!   after the last whole record. Before resuming mid-file, up to [`PRIME_BYTES`] of the
//!   records before the offset are decoded and their events discarded, only to learn the
//!   open sessions, so logouts of sessions opened before the restart still name their user.
//! - **Not covered:** a file rotated *while logward was stopped* is not looked for under its
//!   rotated name (`wtmp.1`); its unread tail is skipped (logged at INFO).

use std::borrow::Cow;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use logward_core::clock::unix_now;
use logward_core::Event;
use logward_parse::utmp::{detect_layout, Kind, Layout, Reader, DETECT_RECORDS};
use logward_store::{Checkpoint, Fingerprint};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc::Sender;

use super::command::{pause, Gone};
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
    file: tokio::fs::File,
    device: u64,
    inode: u64,
    /// Bytes read from this file so far (the read position).
    pos: u64,
    /// The file's first bytes (up to the fingerprint's size), as far as they were read.
    head: Vec<u8>,
}

/// Whether the open file no longer starts with the bytes read from it earlier (it was
/// truncated and written again, possibly past the old read position). Reads at most
/// [`logward_store::FINGERPRINT_BYTES`], then returns to the read position.
async fn head_changed(open: &mut OpenFile) -> io::Result<bool> {
    if open.head.is_empty() {
        return Ok(false);
    }
    open.file.seek(io::SeekFrom::Start(0)).await?;
    let mut now = Vec::with_capacity(open.head.len());
    (&mut open.file)
        .take(open.head.len() as u64)
        .read_to_end(&mut now)
        .await?;
    open.file.seek(io::SeekFrom::Start(open.pos)).await?;
    Ok(now != open.head)
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
        let at_path = match tokio::fs::metadata(&self.path).await {
            Ok(m) => Some((m.dev(), m.ino())),
            Err(e) => {
                if self.open.is_none() {
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
            if at_path.is_none() {
                return Ok(());
            }
            if let Err(e) = self.open_file().await {
                self.error("cannot open", &e);
                return Ok(());
            }
        }
        self.drain(tx).await?;
        let replaced = match (&self.open, at_path) {
            (Some(open), Some(id)) => (open.device, open.inode) != id,
            _ => false,
        };
        if replaced {
            // The old file was read to its end above; on to the new one.
            self.stats.rotations.fetch_add(1, Ordering::Relaxed);
            tracing::info!(source = %self.id, "file replaced (rotation): following the new one from its start");
            self.open = None;
            if let Err(e) = self.open_file().await {
                self.error("cannot open", &e);
                return Ok(());
            }
            self.drain(tx).await?;
        }
        Ok(())
    }

    /// Opens the file at its path and decides where to read from.
    async fn open_file(&mut self) -> io::Result<()> {
        let mut file = tokio::fs::File::open(&self.path).await?;
        let meta = file.metadata().await?;
        let (device, inode, len) = (meta.dev(), meta.ino(), meta.len());
        // Enough of the start to fingerprint the file and detect its layout.
        let probe_len = (DETECT_RECORDS * Layout::Time64.record_size()) as u64;
        let mut probe = Vec::new();
        (&mut file).take(probe_len).read_to_end(&mut probe).await?;
        let head_len = probe.len().min(logward_store::FINGERPRINT_BYTES);
        let head = probe[..head_len].to_vec();

        let first = !self.opened_before;
        self.opened_before = true;
        self.last_error = None;
        let offset = if first {
            match self.checkpoint.take() {
                Some(c)
                    if c.device == Some(device)
                        && c.inode == Some(inode)
                        && c.offset <= len
                        && c.fingerprint.is_none_or(|f| f.matches(&head)) =>
                {
                    tracing::info!(source = %self.id, offset = c.offset, "resuming from the checkpoint");
                    c.offset
                }
                Some(c) => {
                    self.stats
                        .checkpoint_mismatches
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::info!(source = %self.id, checkpoint_offset = c.offset,
                        "the file is not the checkpointed one (rotated or replaced while stopped): reading it from its start");
                    0
                }
                None if self.start_at == StartAt::Beginning => 0,
                None => match detect_layout(&probe, Some(len)) {
                    Some(l) => len - len % l.record_size() as u64,
                    None => 0,
                },
            }
        } else {
            0
        };

        if offset == 0 {
            self.reader.start_file(0, None);
        } else {
            self.reader = self.primed_reader(&mut file, &probe, len, offset).await?;
        }
        file.seek(io::SeekFrom::Start(offset)).await?;
        self.open = Some(OpenFile {
            file,
            device,
            inode,
            pos: offset,
            head,
        });
        Ok(())
    }

    /// A reader positioned at `offset` that has decoded (and dropped the events of) up to
    /// [`PRIME_BYTES`] before it, to know the sessions open there.
    async fn primed_reader(
        &self,
        file: &mut tokio::fs::File,
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
        file.seek(io::SeekFrom::Start(start)).await?;
        let mut bytes = Vec::new();
        (&mut *file)
            .take(offset - start)
            .read_to_end(&mut bytes)
            .await?;
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
            let len = match open.file.metadata().await {
                Ok(m) => m.len(),
                Err(e) => {
                    self.error("cannot stat the open file", &e);
                    return Ok(());
                }
            };
            let rewritten = match head_changed(open).await {
                Ok(changed) => changed,
                Err(e) => {
                    self.error("cannot read the file's start", &e);
                    return Ok(());
                }
            };
            if len < open.pos || rewritten {
                self.stats.truncations.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(source = %self.id, size = len, read = open.pos,
                    "file truncated (smaller than what was read, or its first bytes changed): reading it again from its start");
                if let Err(e) = open.file.seek(io::SeekFrom::Start(0)).await {
                    self.error("cannot seek", &e);
                    return Ok(());
                }
                open.pos = 0;
                open.head.clear();
                self.reader.start_file(0, None);
            }
            let n = match open.file.read(&mut chunk).await {
                Ok(0) => return Ok(()),
                Ok(n) => n,
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
