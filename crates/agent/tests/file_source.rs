//! The file source against real files in a temp dir: real renames, truncations, deletions,
//! symlinks, restarts from checkpoints, unreadable paths, and the append → receive latency.
// The unreadable-file test re-runs this binary as `nobody` through setpriv.
#![allow(clippy::disallowed_methods)]

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use logward_agent::sources::file::{FileConfig, FileSource, FileStats, StartAt};
use logward_agent::sources::{Payload, SourceItem};
use logward_store::Checkpoint;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

// ----- helpers -------------------------------------------------------------------------------

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "logward-file-source-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Short intervals so the tests run in seconds.
fn config(path: &Path, start_at: StartAt) -> FileConfig {
    FileConfig {
        start_at,
        poll_interval: Duration::from_millis(50),
        check_interval: Duration::from_millis(200),
        retry_min: Duration::from_millis(50),
        retry_max: Duration::from_millis(400),
        deleted_grace: Duration::from_millis(300),
        ..FileConfig::new(path)
    }
}

struct Running {
    rx: mpsc::Receiver<SourceItem>,
    stats: Arc<FileStats>,
    task: JoinHandle<()>,
}

const WAIT: Duration = Duration::from_secs(10);

async fn start(cfg: FileConfig, checkpoint: Option<Checkpoint>) -> Running {
    let (tx, rx) = mpsc::channel(logward_agent::sources::CHANNEL_CAPACITY);
    let source = FileSource::new(cfg, checkpoint);
    let stats = source.stats();
    let task = tokio::spawn(source.run(tx));
    let t0 = Instant::now();
    while !stats.snapshot().ready {
        assert!(t0.elapsed() < WAIT, "source never got ready");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Running { rx, stats, task }
}

#[derive(Debug, Clone)]
struct Got {
    text: String,
    cp: Checkpoint,
}

impl Running {
    async fn recv(&mut self, n: usize) -> Vec<Got> {
        let mut out = Vec::with_capacity(n);
        let deadline = tokio::time::Instant::now() + WAIT;
        while out.len() < n {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(item)) => out.push(got(item)),
                Ok(None) => panic!("source ended after {} of {n} lines", out.len()),
                Err(_) => panic!(
                    "timed out after {} of {n} lines; last: {:?}; stats {:?}",
                    out.len(),
                    out.last(),
                    self.stats.snapshot()
                ),
            }
        }
        out
    }

    /// Asserts nothing more arrives within `d`.
    async fn quiet(&mut self, d: Duration) {
        if let Ok(Some(item)) = tokio::time::timeout(d, self.rx.recv()).await {
            panic!("unexpected line {:?}", got(item));
        }
    }

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

fn got(item: SourceItem) -> Got {
    let Payload::Line(text) = item.payload else {
        panic!("file sources send lines");
    };
    Got {
        text,
        cp: item.checkpoint.expect("file items carry a checkpoint"),
    }
}

fn texts(v: &[Got]) -> Vec<String> {
    v.iter().map(|g| g.text.clone()).collect()
}

fn numbered(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|i| format!("line {i}")).collect()
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

fn append_lines(path: &Path, range: std::ops::Range<u64>) {
    let mut s = String::new();
    for i in range {
        s.push_str(&format!("line {i}\n"));
    }
    append(path, &s);
}

/// Checks that each file's items have increasing offsets and consecutive line numbers.
fn check_checkpoints(v: &[Got]) {
    let mut last: std::collections::HashMap<(u64, u64), (u64, u64)> = Default::default();
    for g in v {
        let key = (g.cp.device.expect("device"), g.cp.inode.expect("inode"));
        // Line 1 starts a file (an inode freed by a deleted file can be given to a new one).
        if let Some(&(off, line)) = last.get(&key).filter(|_| g.cp.line != 1) {
            assert!(g.cp.offset > off, "offsets increase within a file: {g:?}");
            assert_eq!(g.cp.line, line + 1, "line numbers are consecutive: {g:?}");
        }
        last.insert(key, (g.cp.offset, g.cp.line));
    }
}

// ----- lines ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_partial_long_crlf_and_checkpoint_fields() {
    let dir = TempDir::new("lines");
    let p = dir.join("auth.log");
    fs::write(&p, "old 1\nold 2\n").expect("write");
    let mut r = start(config(&p, StartAt::Beginning), None).await;
    let v = r.recv(2).await;
    assert_eq!(texts(&v), ["old 1", "old 2"]);
    assert_eq!((v[0].cp.offset, v[0].cp.line), (6, 1));
    assert_eq!((v[1].cp.offset, v[1].cp.line), (12, 2));
    assert_eq!(v[1].cp.source, p.to_string_lossy());
    let meta = fs::metadata(&p).expect("stat");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(v[1].cp.inode, Some(meta.ino()));
    assert_eq!(v[1].cp.device, Some(meta.dev()));
    assert!(v[1].cp.fingerprint.is_some());

    // A partial line waits for its newline.
    append(&p, "half");
    r.quiet(Duration::from_millis(300)).await;
    append(&p, " and half\r\n");
    assert_eq!(texts(&r.recv(1).await), ["half and half"]);

    // An over-long line is cut at MAX_LINE and counted; the next line is intact.
    let long = "x".repeat(logward_parse::MAX_LINE + 5000);
    append(&p, &format!("{long}\nafter\n"));
    let v = r.recv(2).await;
    assert_eq!(v[0].text.len(), logward_parse::MAX_LINE);
    assert_eq!(v[1].text, "after");
    assert_eq!(
        v[1].cp.offset,
        fs::metadata(&p).expect("stat").len(),
        "checkpoint after the last line"
    );
    // Invalid UTF-8 is decoded lossily.
    append(&p, "bad \u{e9}\n");
    append(&p, "raw \u{0}\n");
    let mut f = OpenOptions::new().append(true).open(&p).expect("open");
    f.write_all(b"bytes \xff\xfe\n").expect("write");
    let v = r.recv(3).await;
    assert_eq!(v[2].text, "bytes \u{fffd}\u{fffd}");
    let s = r.stats.snapshot();
    assert_eq!((s.long_lines, s.invalid_utf8, s.lines), (1, 1, 8));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_at_end_skips_existing_lines() {
    let dir = TempDir::new("end");
    let p = dir.join("auth.log");
    fs::write(&p, "before 1\nbefore 2\n").expect("write");
    let mut r = start(config(&p, StartAt::End), None).await;
    r.quiet(Duration::from_millis(200)).await;
    append(&p, "after\n");
    let v = r.recv(1).await;
    assert_eq!(texts(&v), ["after"]);
    assert_eq!(v[0].cp.offset, fs::metadata(&p).expect("stat").len());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_byte_file() {
    let dir = TempDir::new("empty");
    let p = dir.join("auth.log");
    File::create(&p).expect("create");
    for start_at in [StartAt::Beginning, StartAt::End] {
        let mut r = start(config(&p, start_at), None).await;
        r.quiet(Duration::from_millis(300)).await;
        append_lines(&p, 0..3);
        assert_eq!(texts(&r.recv(3).await), numbered(0..3));
        r.stop().await;
        fs::write(&p, "").expect("empty it again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_fallback_without_inotify() {
    let dir = TempDir::new("poll");
    let p = dir.join("auth.log");
    let cfg = FileConfig {
        inotify: false,
        ..config(&p, StartAt::Beginning)
    };
    let mut r = start(cfg, None).await;
    assert!(r.stats.snapshot().polling);
    append_lines(&p, 0..5);
    assert_eq!(texts(&r.recv(5).await), numbered(0..5));
    fs::rename(&p, dir.join("auth.log.1")).expect("rename");
    append_lines(&p, 5..10);
    assert_eq!(texts(&r.recv(5).await), numbered(5..10));
    assert_eq!(r.stats.snapshot().rotations, 1);
    r.stop().await;
}

// ----- rotations -----------------------------------------------------------------------------

/// rename + create in a loop, logrotate style (`.1` … `.4` shifted, the oldest deleted), while
/// a writer appends numbered lines and, like rsyslog before its HUP, writes a few more to the
/// old file after the new one exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_torture_rename_and_create() {
    const TOTAL: u64 = 30_000;
    const PER_FILE: u64 = 500;
    const LATE: u64 = 3;
    let dir = TempDir::new("torture");
    let p = dir.join("auth.log");
    File::create(&p).expect("create");
    let mut r = start(config(&p, StartAt::Beginning), None).await;

    let received = Arc::new(AtomicU64::new(0));
    let writer = {
        let (p, dir, received) = (p.clone(), dir.0.clone(), Arc::clone(&received));
        std::thread::spawn(move || {
            let mut f = OpenOptions::new().append(true).open(&p).expect("open");
            let mut first_of_file = 0;
            let mut rotations = 0;
            let mut i = 0;
            while i < TOTAL {
                f.write_all(format!("line {i}\n").as_bytes())
                    .expect("write");
                i += 1;
                if i % PER_FILE == 0 && i < TOTAL - PER_FILE {
                    // The source must have seen this file at the path before it moves on
                    // (a file rotated away twice unseen cannot be found: see the module doc).
                    let t0 = Instant::now();
                    while received.load(Ordering::Acquire) <= first_of_file {
                        assert!(t0.elapsed() < WAIT, "source stalled");
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    let _ = fs::remove_file(dir.join("auth.log.4"));
                    for k in (1..4).rev() {
                        let _ = fs::rename(
                            dir.join(format!("auth.log.{k}")),
                            dir.join(format!("auth.log.{}", k + 1)),
                        );
                    }
                    fs::rename(&p, dir.join("auth.log.1")).expect("rotate");
                    let new = File::create(&p).expect("create new");
                    drop(new);
                    // Late writes to the old file (the writer has not reopened yet).
                    for _ in 0..LATE {
                        f.write_all(format!("line {i}\n").as_bytes())
                            .expect("write");
                        i += 1;
                    }
                    f = OpenOptions::new().append(true).open(&p).expect("reopen");
                    first_of_file = i;
                    rotations += 1;
                }
            }
            rotations
        })
    };
    let mut all = Vec::with_capacity(TOTAL as usize);
    while (all.len() as u64) < TOTAL {
        let v = r.recv(1).await;
        received.store(all.len() as u64 + 1, Ordering::Release);
        all.extend(v);
    }
    let rotations = writer.join().expect("writer");
    r.quiet(Duration::from_millis(300)).await;
    assert_eq!(texts(&all), numbered(0..TOTAL), "every line once, in order");
    check_checkpoints(&all);
    let s = r.stats.snapshot();
    assert_eq!(s.rotations, rotations);
    println!("torture: {TOTAL} lines, {rotations} rename rotations, stats {s:?}");
    r.stop().await;
}

/// copytruncate with the writer paused across copy + truncate, with inotify (the source
/// usually has read everything) and polling (it has not: the rest comes from the copy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copytruncate_loses_and_repeats_nothing() {
    for inotify in [true, false] {
        let dir = TempDir::new("copytruncate");
        let p = dir.join("auth.log");
        File::create(&p).expect("create");
        let cfg = FileConfig {
            inotify,
            poll_interval: Duration::from_millis(400),
            ..config(&p, StartAt::Beginning)
        };
        let mut r = start(cfg, None).await;
        let mut writer = OpenOptions::new().append(true).open(&p).expect("open");
        writer.write_all(b"line 0\n").expect("write");
        let mut all = r.recv(1).await;
        let mut n = 1;
        for cycle in 0..5 {
            for _ in 0..1000 {
                writer
                    .write_all(format!("line {n}\n").as_bytes())
                    .expect("write");
                n += 1;
            }
            // Writer paused: copy, then truncate.
            fs::copy(&p, dir.join("auth.log.1")).expect("copy");
            OpenOptions::new()
                .write(true)
                .open(&p)
                .expect("open")
                .set_len(0)
                .expect("truncate");
            for _ in 0..(10 + cycle) {
                writer
                    .write_all(format!("line {n}\n").as_bytes())
                    .expect("write");
                n += 1;
            }
            let want = usize::try_from(n).expect("small") - all.len();
            all.extend(r.recv(want).await);
        }
        r.quiet(Duration::from_millis(500)).await;
        assert_eq!(texts(&all), numbered(0..n), "inotify {inotify}");
        let s = r.stats.snapshot();
        assert_eq!(s.truncations, 5, "inotify {inotify}: {s:?}");
        if !inotify {
            assert!(
                s.recovered_lines > 0,
                "the copy supplied the unread lines: {s:?}"
            );
        }
        println!("copytruncate (inotify {inotify}): {n} lines, stats {s:?}");
        r.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_and_recreate() {
    let dir = TempDir::new("recreate");
    let p = dir.join("auth.log");
    append_lines(&p, 0..10);
    let mut r = start(config(&p, StartAt::Beginning), None).await;
    assert_eq!(texts(&r.recv(10).await), numbered(0..10));
    for round in 1..4 {
        fs::remove_file(&p).expect("delete");
        append_lines(&p, round * 10..round * 10 + 10);
        assert_eq!(
            texts(&r.recv(10).await),
            numbered(round * 10..round * 10 + 10)
        );
    }
    r.quiet(Duration::from_millis(300)).await;
    assert_eq!(r.stats.snapshot().rotations, 3);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_deleted_while_followed() {
    let dir = TempDir::new("deleted");
    let p = dir.join("auth.log");
    let mut writer = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .expect("create");
    writer.write_all(b"line 0\nline 1\n").expect("write");
    let mut r = start(config(&p, StartAt::Beginning), None).await;
    assert_eq!(texts(&r.recv(2).await), numbered(0..2));
    fs::remove_file(&p).expect("delete");
    // The writer still has it open: its lines are read, and a partial last line is flushed
    // when the file is closed after the grace period.
    writer.write_all(b"line 2\nline 3").expect("write");
    drop(writer);
    assert_eq!(texts(&r.recv(2).await), numbered(2..4));
    r.quiet(Duration::from_millis(600)).await;
    // A new file at the path is read from its start.
    append_lines(&p, 4..6);
    assert_eq!(texts(&r.recv(2).await), numbered(4..6));
    assert!(!r.task.is_finished());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_that_appears_later() {
    let dir = TempDir::new("later");
    // In an existing directory (inotify sees the create) and in one that does not exist yet
    // (polling until it does), with the default start_at: end.
    for rel in ["auth.log", "sub/dir/auth.log"] {
        let p = dir.join(rel);
        let mut r = start(config(&p, StartAt::End), None).await;
        r.quiet(Duration::from_millis(200)).await;
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        append_lines(&p, 0..3);
        assert_eq!(texts(&r.recv(3).await), numbered(0..3), "{rel}");
        append_lines(&p, 3..4);
        assert_eq!(texts(&r.recv(1).await), numbered(3..4), "{rel}");
        r.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlink_repointed_is_a_rotation() {
    let dir = TempDir::new("symlink");
    fs::create_dir(dir.join("real")).expect("mkdir");
    let (a, b) = (dir.join("real/a.log"), dir.join("real/b.log"));
    let link = dir.join("current.log");
    append_lines(&a, 0..3);
    std::os::unix::fs::symlink(&a, &link).expect("symlink");
    let mut r = start(config(&link, StartAt::Beginning), None).await;
    assert_eq!(texts(&r.recv(3).await), numbered(0..3));
    // Writes to the target (in another directory) wake the source.
    append_lines(&a, 3..5);
    assert_eq!(texts(&r.recv(2).await), numbered(3..5));
    // Re-point atomically: a new link renamed over the old one.
    append_lines(&b, 5..7);
    let tmp = dir.join("current.log.tmp");
    std::os::unix::fs::symlink(&b, &tmp).expect("symlink");
    fs::rename(&tmp, &link).expect("re-point");
    assert_eq!(texts(&r.recv(2).await), numbered(5..7));
    append_lines(&b, 7..9);
    assert_eq!(texts(&r.recv(2).await), numbered(7..9));
    append_lines(&a, 100..101);
    r.quiet(Duration::from_millis(300)).await;
    assert_eq!(r.stats.snapshot().rotations, 1);
    r.stop().await;
}

// ----- restarts ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_from_checkpoint() {
    let dir = TempDir::new("restart");
    let p = dir.join("auth.log");
    append_lines(&p, 0..100);
    let mut r = start(config(&p, StartAt::Beginning), None).await;
    let first = r.recv(60).await;
    r.stop().await;
    let cp = first.last().expect("items").cp.clone();
    // The checkpoint wins over start_at.
    let mut r = start(config(&p, StartAt::End), Some(cp)).await;
    let rest = r.recv(40).await;
    append_lines(&p, 100..150);
    let more = r.recv(50).await;
    r.quiet(Duration::from_millis(300)).await;
    let all: Vec<Got> = first.into_iter().chain(rest).chain(more).collect();
    assert_eq!(texts(&all), numbered(0..150));
    check_checkpoints(&all);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_rename_rotation_while_stopped() {
    let dir = TempDir::new("restart-rotated");
    let p = dir.join("auth.log");
    append_lines(&p, 0..100);
    let mut r = start(config(&p, StartAt::Beginning), None).await;
    let first = r.recv(40).await;
    r.stop().await;
    let cp = first.last().expect("items").cp.clone();
    // While stopped: more lines, a partial last line, rename, a new file with lines.
    append_lines(&p, 100..120);
    append(&p, "line 120");
    fs::rename(&p, dir.join("auth.log.1")).expect("rotate");
    append_lines(&p, 121..150);
    let mut r = start(config(&p, StartAt::End), Some(cp)).await;
    let rest = r.recv(110).await;
    r.quiet(Duration::from_millis(300)).await;
    let all: Vec<Got> = first.into_iter().chain(rest).collect();
    assert_eq!(texts(&all), numbered(0..150));
    check_checkpoints(&all);
    assert_eq!(r.stats.snapshot().rotations, 1);
    // A restart from the last checkpoint (in the new file) repeats nothing.
    let cp = all.last().expect("items").cp.clone();
    r.stop().await;
    let mut r = start(config(&p, StartAt::Beginning), Some(cp)).await;
    r.quiet(Duration::from_millis(300)).await;
    append_lines(&p, 150..151);
    assert_eq!(texts(&r.recv(1).await), numbered(150..151));
    r.stop().await;
}

/// Two `create` rotations while stopped (logrotate without compression): the checkpoint's
/// file is now `auth.log.2`, the file after it `auth.log.1`; an older `auth.log.3` is left
/// alone. Every line exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_two_rotations_while_stopped() {
    let dir = TempDir::new("restart-rotated-twice");
    let p = dir.join("auth.log");
    append(&dir.join("auth.log.1"), "old 1\nold 2\n");
    append_lines(&p, 0..100);
    let mut r = start(config(&p, StartAt::Beginning), None).await;
    let first = r.recv(40).await;
    r.stop().await;
    let cp = first.last().expect("items").cp.clone();
    // While stopped: the tail of the checkpoint's file (ending in a partial line), two
    // rotations shifting the older files up, lines in each new file.
    append_lines(&p, 100..120);
    append(&p, "line 120");
    fs::rename(dir.join("auth.log.1"), dir.join("auth.log.2")).expect("rotate .1");
    fs::rename(&p, dir.join("auth.log.1")).expect("rotate");
    append_lines(&p, 121..150);
    fs::rename(dir.join("auth.log.2"), dir.join("auth.log.3")).expect("rotate .2");
    fs::rename(dir.join("auth.log.1"), dir.join("auth.log.2")).expect("rotate .1");
    fs::rename(&p, dir.join("auth.log.1")).expect("rotate");
    append_lines(&p, 150..170);
    let mut r = start(config(&p, StartAt::End), Some(cp)).await;
    let rest = r.recv(130).await;
    r.quiet(Duration::from_millis(300)).await;
    let all: Vec<Got> = first.into_iter().chain(rest).collect();
    assert_eq!(texts(&all), numbered(0..170));
    check_checkpoints(&all);
    assert_eq!(r.stats.snapshot().rotations, 2);
    // Lines appended to the current file afterwards follow.
    append_lines(&p, 170..171);
    assert_eq!(texts(&r.recv(1).await), numbered(170..171));
    r.stop().await;
}

/// Two `dateext` rotations with `delaycompress` while stopped: the checkpoint's file is now
/// compressed (its tail cannot be read: lost, with a warning), the file after it is plain
/// and read in full, then the current file; an older plain rotation written before the
/// checkpoint is left alone. (The new file at the path may get the compressed file's freed
/// inode, which looks like a truncation: both cases must end the same.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_two_rotations_one_compressed() {
    let dir = TempDir::new("restart-rotated-compressed");
    let p = dir.join("auth.log");
    let older = dir.join("auth.log-20261120");
    append(&older, "old 1\nold 2\n");
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    File::options()
        .write(true)
        .open(&older)
        .expect("open the older rotation")
        .set_modified(hour_ago)
        .expect("date the older rotation");
    append_lines(&p, 0..100);
    let mut r = start(config(&p, StartAt::Beginning), None).await;
    let first = r.recv(40).await;
    r.stop().await;
    let cp = first.last().expect("items").cp.clone();
    append_lines(&p, 100..120);
    let day1 = dir.join("auth.log-20261121");
    fs::rename(&p, &day1).expect("rotate");
    append_lines(&p, 120..150);
    fs::rename(&p, dir.join("auth.log-20261122")).expect("rotate");
    // delaycompress: the previous rotation is compressed at the second one.
    let gz = std::process::Command::new("gzip")
        .arg(&day1)
        .status()
        .expect("run gzip");
    assert!(gz.success(), "gzip failed");
    assert!(dir.join("auth.log-20261121.gz").exists());
    append_lines(&p, 150..170);
    let mut r = start(config(&p, StartAt::End), Some(cp)).await;
    let rest = r.recv(50).await;
    r.quiet(Duration::from_millis(300)).await;
    assert_eq!(texts(&rest), numbered(120..170));
    check_checkpoints(&rest);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_copytruncate_or_rewrite_while_stopped() {
    let dir = TempDir::new("restart-truncated");
    let p = dir.join("auth.log");
    append_lines(&p, 0..100);
    let mut r = start(config(&p, StartAt::Beginning), None).await;
    let first = r.recv(40).await;
    r.stop().await;
    let cp = first.last().expect("items").cp.clone();
    // copytruncate while stopped: the unread lines come from the copy.
    fs::copy(&p, dir.join("auth.log.1")).expect("copy");
    fs::write(&p, "").expect("truncate");
    append_lines(&p, 100..110);
    let mut r = start(config(&p, StartAt::End), Some(cp)).await;
    let rest = r.recv(70).await;
    r.quiet(Duration::from_millis(300)).await;
    let all: Vec<Got> = first.into_iter().chain(rest).collect();
    assert_eq!(texts(&all), numbered(0..110));
    assert_eq!(r.stats.snapshot().truncations, 1);
    let cp = all.last().expect("items").cp.clone();
    r.stop().await;

    // Same inode, content rewritten in place past the old offset (the fingerprint differs,
    // no copy): read from the start.
    fs::remove_file(dir.join("auth.log.1")).expect("rm copy");
    let mut f = OpenOptions::new().write(true).open(&p).expect("open");
    f.set_len(0).expect("truncate");
    let mut s = String::new();
    for i in 200..300 {
        s.push_str(&format!("line {i} rewritten\n"));
    }
    f.write_all(s.as_bytes()).expect("rewrite");
    let mut r = start(config(&p, StartAt::End), Some(cp)).await;
    let v = r.recv(100).await;
    assert_eq!(v[0].text, "line 200 rewritten");
    assert_eq!(v[99].text, "line 299 rewritten");
    r.stop().await;
}

// ----- errors --------------------------------------------------------------------------------

/// A path under a regular file (ENOTDIR): the error surfaces, is retried, another source is
/// unaffected, and the source reads once the path becomes valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_errors_are_reported_and_retried() {
    let dir = TempDir::new("enotdir");
    let blocker = dir.join("sub");
    fs::write(&blocker, "a regular file\n").expect("write");
    let bad = blocker.join("auth.log");
    let good = dir.join("good.log");
    let mut rb = start(config(&bad, StartAt::Beginning), None).await;
    let mut rg = start(config(&good, StartAt::Beginning), None).await;
    append_lines(&good, 0..3);
    assert_eq!(texts(&rg.recv(3).await), numbered(0..3));
    let t0 = Instant::now();
    loop {
        let s = rb.stats.snapshot();
        if s.errors >= 3 {
            let e = s.last_error.expect("error reported");
            assert!(e.contains("Not a directory"), "{e}");
            break;
        }
        assert!(t0.elapsed() < WAIT, "no retries: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!rb.task.is_finished());
    fs::remove_file(&blocker).expect("rm");
    fs::create_dir(&blocker).expect("mkdir");
    append_lines(&bad, 10..12);
    assert_eq!(texts(&rb.recv(2).await), numbered(10..12));
    assert_eq!(rb.stats.snapshot().last_error, None);
    append_lines(&good, 3..4);
    assert_eq!(texts(&rg.recv(1).await), numbered(3..4));
    rb.stop().await;
    rg.stop().await;
}

const CHILD_DIR: &str = "LOGWARD_FILE_SOURCE_CHILD_DIR";

fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// A file the agent may not read (mode 000, as `nobody`): a clear error, retried, the other
/// source goes on, and the file is read once it is made readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_file_as_nobody() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        return unreadable_child(Path::new(&dir)).await;
    }
    if !running_as_root() {
        println!("skipped: needs root to drop to nobody (CI runs as root)");
        return;
    }
    let dir = TempDir::new("eacces");
    let (bad, good) = (dir.join("secure"), dir.join("good.log"));
    append_lines(&bad, 0..3);
    File::create(&good).expect("create");
    for p in [&dir.0, &bad, &good] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).expect("chown");
    }
    fs::set_permissions(&bad, fs::Permissions::from_mode(0o000)).expect("chmod");
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(exe)
        .args(["--exact", "unreadable_file_as_nobody", "--nocapture"])
        .env(CHILD_DIR, &dir.0)
        .output()
        .expect("run setpriv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "child failed");
    assert!(stdout.contains("1 passed"), "the child ran the test");
}

async fn unreadable_child(dir: &Path) {
    let (bad, good) = (dir.join("secure"), dir.join("good.log"));
    assert!(File::open(&bad).is_err(), "the child may not read the file");
    let mut rb = start(config(&bad, StartAt::Beginning), None).await;
    let mut rg = start(config(&good, StartAt::Beginning), None).await;
    let t0 = Instant::now();
    let err = loop {
        let s = rb.stats.snapshot();
        if s.errors >= 2 {
            break s.last_error.expect("error reported");
        }
        assert!(t0.elapsed() < WAIT, "no error: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(err.contains("Permission denied"), "{err}");
    println!("reported: {err}");
    append_lines(&good, 0..2);
    assert_eq!(texts(&rg.recv(2).await), numbered(0..2));
    // Made readable (the owner may chmod): the retry reads it.
    fs::set_permissions(&bad, fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_eq!(texts(&rb.recv(3).await), numbered(0..3));
    rb.stop().await;
    rg.stop().await;
}

// ----- latency -------------------------------------------------------------------------------

/// Append → receive latency over 10 000 lines, one write per line, as a syslog daemon does.
/// Printed, not asserted tightly (the target is p99 ≤ 10 ms end to end).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_to_receive_latency() {
    const N: usize = 10_000;
    let dir = TempDir::new("latency");
    let p = dir.join("auth.log");
    File::create(&p).expect("create");
    let mut r = start(config(&p, StartAt::Beginning), None).await;
    let base = Instant::now();
    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            let mut f = OpenOptions::new().append(true).open(&p).expect("open");
            for i in 0..N {
                let t = base.elapsed().as_nanos();
                f.write_all(format!("line {i} {t}\n").as_bytes())
                    .expect("write");
                std::thread::sleep(Duration::from_micros(100));
            }
        })
    };
    let mut lat = Vec::with_capacity(N);
    for i in 0..N {
        let g = r.recv(1).await.remove(0);
        let now = base.elapsed().as_nanos();
        let mut parts = g.text.split(' ');
        assert_eq!(parts.next(), Some("line"));
        assert_eq!(parts.next(), Some(i.to_string().as_str()), "in order");
        let sent: u128 = parts.next().and_then(|t| t.parse().ok()).expect("time");
        lat.push(now - sent);
    }
    writer.join().expect("writer");
    lat.sort_unstable();
    let pct = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize] as f64 / 1e6;
    println!(
        "latency append → receive over {N} lines: p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
        pct(0.50),
        pct(0.99),
        pct(0.999),
        pct(1.0)
    );
    assert!(!r.stats.snapshot().polling, "inotify was used");
    r.stop().await;
}
