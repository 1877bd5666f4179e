//! The evtx source following `.evtx` logs that the tests write in place the way Windows
//! does (`logward_test_support::evtx`: a preallocated file filled chunk by chunk, a chunk's
//! header behind its records, a record cut off, a full log wrapping around), from the chunks
//! of `../shared/corpus/windows-evtx` (PROVENANCE.md §4). Every record must come once, in
//! order, and equal what the reader makes of the whole corpus file. Where the corpus is
//! absent the tests say so and return; under `CI=true` that is a failure.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::time::Duration;

use logward_agent::sources::evtx::{EvtxConfig, EvtxSource, EvtxStats};
use logward_agent::sources::{Payload, SourceItem, StartAt};
use logward_core::{Event, Timestamp};
use logward_parse::windows::evtx::EvtxReader;
use logward_store::Checkpoint;
use logward_test_support::evtx::{LiveLog, Sample, CHUNK, FILE_HEADER};
use tokio::sync::mpsc;

/// What tells records apart here: id, event id, time.
type Key = (u64, u32, Option<Timestamp>);

fn corpus(name: &str) -> Option<PathBuf> {
    logward_test_support::corpus("windows-evtx").map(|d| d.join(name))
}

/// Every record of the whole file, as the reader reads it.
fn expected(path: &Path) -> Vec<Key> {
    EvtxReader::open(path)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.record_id.unwrap(), r.event_id, r.time)
        })
        .collect()
}

fn key(e: &Event<'_>) -> Key {
    let w = e.winlog.as_ref().expect("a Windows event");
    (w.record_id.unwrap(), w.event_id, e.timestamp)
}

fn config(path: &Path, start_at: StartAt) -> EvtxConfig {
    let mut c = EvtxConfig::new(path);
    c.start_at = start_at;
    c.poll_interval = Duration::from_millis(20);
    c.check_interval = Duration::from_millis(100);
    c
}

struct Running {
    rx: mpsc::Receiver<SourceItem>,
    stats: std::sync::Arc<EvtxStats>,
    task: tokio::task::JoinHandle<()>,
}

fn start(path: &Path, start_at: StartAt, checkpoint: Option<Checkpoint>) -> Running {
    let src = EvtxSource::new(config(path, start_at), checkpoint);
    let stats = src.stats();
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(src.run(tx));
    Running { rx, stats, task }
}

fn split(item: SourceItem, path: &Path) -> (Event<'static>, Checkpoint) {
    let Payload::Event(event) = item.payload else {
        panic!("evtx items are events")
    };
    let checkpoint = item.checkpoint.expect("evtx items carry a checkpoint");
    assert_eq!(checkpoint.source, &*item.source);
    assert_eq!(
        event.file_path.as_deref(),
        Some(path.to_string_lossy().as_ref())
    );
    assert!(event.original.is_some(), "the record's XML is kept");
    (*event, checkpoint)
}

impl Running {
    /// The next `n` records.
    async fn take(&mut self, path: &Path, n: usize) -> Vec<(Event<'static>, Checkpoint)> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match tokio::time::timeout(Duration::from_secs(20), self.rx.recv()).await {
                Ok(Some(item)) => out.push(split(item, path)),
                Ok(None) => panic!("the source ended after {} of {n} records", out.len()),
                Err(_) => panic!(
                    "timed out after {} of {n} records (last {:?})",
                    out.len(),
                    out.last().map(|(e, _)| key(e))
                ),
            }
        }
        out
    }

    /// Nothing more comes over a few looks at the file.
    async fn quiet(&mut self) {
        let reads = self.stats.looks();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.stats.looks() < reads + 3 && tokio::time::Instant::now() < deadline {
            if let Ok(Some(item)) =
                tokio::time::timeout(Duration::from_millis(50), self.rx.recv()).await
            {
                let Payload::Event(e) = item.payload else {
                    panic!("evtx items are events")
                };
                panic!("unexpected record {:?}", key(&e));
            }
        }
        assert!(
            self.stats.looks() >= reads + 3,
            "the source stopped looking"
        );
    }
}

fn keys(got: &[(Event<'static>, Checkpoint)]) -> Vec<Key> {
    got.iter().map(|(e, _)| key(e)).collect()
}

#[tokio::test]
async fn a_log_filled_in_place_comes_record_by_record_exactly_once() {
    let Some(file) = corpus("deepbluecli/smb-password-guessing-security.evtx") else {
        return;
    };
    let sample = Sample::read(&file);
    let all = expected(&file);
    // The corpus file is an export: its records' XML keeps the EventRecordIDs of the log it
    // came from (2455 on), their headers count from 1 — the position the source keeps.
    let chunks = 5;
    let (_, last) = sample.ids(chunks - 1);
    assert_eq!(last, 535);
    let want = &all[..535];

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Security.evtx");
    let mut log = LiveLog::create(&path, &sample, 8);
    let mut src = start(&path, StartAt::Beginning, None);
    src.quiet().await;

    let mut got = Vec::new();
    for n in 0..chunks {
        let records = sample.records(n);
        // Filled: its header names a third of the records written so far.
        log.write(n, &sample.header_behind(n, records.len() / 3), 0, n + 1);
        got.extend(src.take(&path, records.len() / 3).await);
        // The next record cut off in the middle (the header already names it): read up to
        // it, not past it, not again.
        let (at, size, cut_id) = records[records.len() / 2];
        log.write(n, &sample.torn(n, at + size / 2), 0, n + 1);
        let before = (cut_id - 1) as usize - got.len();
        got.extend(src.take(&path, before).await);
        src.quiet().await;
        // Complete.
        log.write(n, sample.chunk(n), 0, n + 1);
        let have = got.len();
        let (_, chunk_last) = sample.ids(n);
        got.extend(src.take(&path, (chunk_last as usize) - have).await);
    }
    src.quiet().await;
    assert_eq!(keys(&got), want);
    // Each checkpoint names the record it follows, by its header's id.
    for (i, (_, c)) in got.iter().enumerate() {
        let id = i as u64 + 1;
        assert_eq!(c.cursor.as_deref(), Some(format!("evtx:{id}").as_str()));
        assert_eq!((c.offset, c.line), (id, id));
    }
    assert_eq!(
        (
            src.stats.records(),
            src.stats.replaced(),
            src.stats.skipped()
        ),
        (535, 0, 0)
    );
    src.task.abort();
}

#[tokio::test]
async fn resumes_after_its_checkpoint_and_reads_a_replaced_log_from_its_start() {
    let (Some(smb), Some(new_user)) = (
        corpus("deepbluecli/smb-password-guessing-security.evtx"),
        corpus("deepbluecli/new-user-security.evtx"),
    ) else {
        return;
    };
    let sample = Sample::read(&smb);
    let all = expected(&smb);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Security.evtx");
    let mut log = LiveLog::create(&path, &sample, 4);
    for n in 0..3 {
        log.write(n, sample.chunk(n), 0, n + 1);
    }

    // Stopped after 150 records: the next run starts after the 150th's checkpoint.
    let mut src = start(&path, StartAt::Beginning, None);
    let got = src.take(&path, 150).await;
    src.task.abort();
    let checkpoint = got[149].1.clone();
    let early = got[49].1.clone();
    let mut src = start(&path, StartAt::End, Some(checkpoint.clone()));
    let got = src.take(&path, 321 - 150).await;
    assert_eq!(keys(&got), all[150..321]);
    src.quiet().await;

    // The same log, grown, copied over under a new inode: read on, nothing again.
    let copy = tmp.path().join("copy.evtx");
    let mut grown = LiveLog::create(&copy, &sample, 5);
    for n in 0..4 {
        grown.write(n, sample.chunk(n), 0, n + 1);
    }
    std::fs::rename(&copy, &path).unwrap();
    let got = src.take(&path, 428 - 321).await;
    assert_eq!(keys(&got), all[321..428]);
    src.quiet().await;
    assert_eq!(src.stats.replaced(), 0);

    // Copied over in place, and seen half-written: its header names records it does not
    // hold yet, so it is waited for, then read on.
    let next = tmp.path().join("next.evtx");
    let mut more = LiveLog::create(&next, &sample, 5);
    for n in 0..5 {
        more.write(n, sample.chunk(n), 0, n + 1);
    }
    let whole = std::fs::read(&next).unwrap();
    std::fs::write(&path, &whole[..FILE_HEADER + 2 * CHUNK]).unwrap();
    src.quiet().await;
    std::fs::write(&path, &whole).unwrap();
    let got = src.take(&path, 535 - 428).await;
    assert_eq!(keys(&got), all[428..535]);
    src.quiet().await;
    assert_eq!(src.stats.replaced(), 0);

    // Cleared and restarted at 1 (another, shorter log): from its first record, once.
    std::fs::copy(&new_user, &copy).unwrap();
    std::fs::rename(&copy, &path).unwrap();
    let got = src.take(&path, 4).await;
    assert_eq!(keys(&got), expected(&new_user));
    src.quiet().await;
    assert_eq!(src.stats.replaced(), 1);
    src.task.abort();

    // Another log with the checkpoint's id in it, copied over while stopped: the record at
    // that id is another one, so it is read from its start.
    let mut other = LiveLog::create(&copy, &sample, 4);
    other.write(0, sample.chunk(0), 0, 1);
    std::fs::rename(&copy, &path).unwrap();
    let mut forged = early;
    forged.fingerprint = Some(logward_store::Fingerprint::of(b"another record"));
    let mut src = start(&path, StartAt::End, Some(forged));
    let got = src.take(&path, 107).await;
    assert_eq!(keys(&got), all[..107]);
    src.quiet().await;
    assert_eq!(src.stats.replaced(), 1);
    src.task.abort();
}

#[tokio::test]
async fn a_log_that_wrapped_around_is_read_on_by_record_id() {
    let Some(smb) = corpus("deepbluecli/smb-password-guessing-security.evtx") else {
        return;
    };
    let sample = Sample::read(&smb);
    let all = expected(&smb);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Security.evtx");
    let mut log = LiveLog::create(&path, &sample, 4);
    for n in 0..4 {
        log.write(n, sample.chunk(n), 0, n + 1);
    }
    let mut src = start(&path, StartAt::Beginning, None);
    let first = src.take(&path, 428).await;
    assert_eq!(keys(&first), all[..428]);
    // Full: the fifth chunk overwrites the oldest, the first slot.
    log.write(0, sample.chunk(4), 1, 4);
    let got = src.take(&path, 535 - 428).await;
    assert_eq!(keys(&got), all[428..535]);
    src.quiet().await;
    src.task.abort();

    // Stopped at record 100, whose chunk was overwritten since: on from the oldest there
    // (108), the overwritten ones are gone (a warning names them).
    let mut src = start(&path, StartAt::End, Some(first[99].1.clone()));
    let got = src.take(&path, 535 - 107).await;
    assert_eq!(keys(&got), all[107..535]);
    src.quiet().await;
    assert_eq!(src.stats.replaced(), 0);
    src.task.abort();
}

#[tokio::test]
async fn start_at_end_skips_what_is_there_and_a_late_file_is_read_whole() {
    let Some(smb) = corpus("deepbluecli/smb-password-guessing-security.evtx") else {
        return;
    };
    let sample = Sample::read(&smb);
    let all = expected(&smb);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Security.evtx");
    let mut log = LiveLog::create(&path, &sample, 4);
    for n in 0..2 {
        log.write(n, sample.chunk(n), 0, n + 1);
    }
    let mut src = start(&path, StartAt::End, None);
    src.quiet().await;
    log.write(2, sample.chunk(2), 0, 3);
    let got = src.take(&path, 107).await;
    assert_eq!(keys(&got), all[214..321]);
    src.task.abort();

    // A file that appears after start-up holds only new records, whatever `start_at` says.
    let late = tmp.path().join("Late.evtx");
    let mut src = start(&late, StartAt::End, None);
    src.quiet().await;
    let mut log = LiveLog::create(&late, &sample, 4);
    log.write(0, sample.chunk(0), 0, 1);
    let got = src.take(&late, 107).await;
    assert_eq!(keys(&got), all[..107]);
    src.quiet().await;
    src.task.abort();
}

#[tokio::test]
async fn an_archived_log_is_read_to_its_end_and_its_successor_read_on() {
    let Some(smb) = corpus("deepbluecli/smb-password-guessing-security.evtx") else {
        return;
    };
    let sample = Sample::read(&smb);
    let all = expected(&smb);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Security.evtx");
    let mut log = LiveLog::create(&path, &sample, 4);
    for n in 0..2 {
        log.write(n, sample.chunk(n), 0, n + 1);
    }
    let mut src = start(&path, StartAt::Beginning, None);
    let got = src.take(&path, 214).await;
    assert_eq!(keys(&got), all[..214]);
    // Windows archives a full log (AutoBackupLogFiles): renamed away, a last chunk still
    // written to it, then a new log at the path whose ids go on from the old one's.
    std::fs::rename(&path, tmp.path().join("Archive-Security-2026-12-06.evtx")).unwrap();
    log.write(2, sample.chunk(2), 0, 3);
    let mut next = LiveLog::create(&tmp.path().join("new.evtx"), &sample, 4);
    next.write(0, sample.chunk(3), 0, 1);
    std::fs::rename(tmp.path().join("new.evtx"), &path).unwrap();
    let got = src.take(&path, 428 - 214).await;
    assert_eq!(keys(&got), all[214..428]);
    src.quiet().await;
    assert_eq!((src.stats.replaced(), src.stats.skipped()), (0, 0));
    src.task.abort();
}
