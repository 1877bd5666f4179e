//! The utmp source following wtmp/btmp files that the tests write in pieces, from the
//! records of `../shared/corpus/wtmp-btmp` (PROVENANCE.md §6). Where the corpus is absent the
//! tests say so and return; under `CI=true` that is a failure.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::borrow::Cow;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use logward_agent::sources::journal::StartAt;
use logward_agent::sources::utmp::{UtmpConfig, UtmpSource, UtmpStats};
use logward_agent::sources::{Payload, SourceItem};
use logward_core::{Action, Dataset, Event, Outcome};
use logward_parse::utmp::{Kind, Reader};
use logward_store::Checkpoint;
use tokio::sync::mpsc;

/// The 384-byte-record samples, one after the other: a wtmp with logins, logouts, boots,
/// long user names, host names and IPv4/IPv6 peers.
fn glibc32_records(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for rel in [
        "utmp-rs/basic32.utmp",
        "utmp-rs/with_host_32.utmp",
        "linux-utmpx/utmpx_ipv4.dump",
        "utmp-rs/long_user_32.utmp",
        "neko-neko-utmpdump/utmp",
        "linux-utmpx/utmpx_dummy.dump",
    ] {
        let bytes = std::fs::read(dir.join(rel)).unwrap();
        assert_eq!(bytes.len() % 384, 0, "{rel}");
        all.extend(bytes);
    }
    all
}

/// What one reader fed the pieces in turn gives, with `log.file.path` set as the source does;
/// `None` between pieces starts a new file.
fn expected(kind: Kind, path: &Path, pieces: &[Option<&[u8]>]) -> Vec<Event<'static>> {
    let mut r = Reader::new(kind);
    let mut out = Vec::new();
    for piece in pieces {
        match piece {
            Some(bytes) => r.feed(bytes, &mut out),
            None => r.start_file(0, None),
        }
    }
    for e in &mut out {
        e.file_path = Some(Cow::Owned(path.to_string_lossy().into_owned()));
    }
    out
}

fn config(wtmp: Option<&Path>, btmp: Option<&Path>, start_at: StartAt) -> UtmpConfig {
    UtmpConfig {
        wtmp: wtmp.map(Path::to_path_buf),
        btmp: btmp.map(Path::to_path_buf),
        start_at,
        poll_interval: Duration::from_millis(20),
    }
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

fn split(item: SourceItem) -> (Event<'static>, Checkpoint) {
    let Payload::Event(event) = item.payload else {
        panic!("utmp items are events")
    };
    let checkpoint = item.checkpoint.expect("utmp items carry a checkpoint");
    assert_eq!(checkpoint.source, &*item.source);
    (*event, checkpoint)
}

async fn take(rx: &mut mpsc::Receiver<SourceItem>, n: usize) -> Vec<(Event<'static>, Checkpoint)> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(item)) => out.push(split(item)),
            Ok(None) => panic!("the source ended after {} of {n} events", out.len()),
            Err(_) => panic!("timed out after {} of {n} events", out.len()),
        }
    }
    out
}

async fn quiet(rx: &mut mpsc::Receiver<SourceItem>, wait: Duration) {
    if let Ok(Some(item)) = tokio::time::timeout(wait, rx.recv()).await {
        panic!("unexpected event {:?}", split(item).0);
    }
}

fn events(got: &[(Event<'static>, Checkpoint)]) -> Vec<Event<'static>> {
    got.iter().map(|(e, _)| e.clone()).collect()
}

async fn wait_for(stats: &UtmpStats, what: impl Fn(&UtmpStats) -> bool) {
    for _ in 0..500 {
        if what(stats) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached: {stats:?}");
}

#[tokio::test]
async fn follows_a_wtmp_written_in_pieces() {
    let Some(dir) = logward_test_support::corpus("wtmp-btmp") else {
        return;
    };
    let bytes = glibc32_records(&dir);
    let tmp = tempfile::tempdir().unwrap();
    let wtmp = tmp.path().join("wtmp");
    std::fs::write(&wtmp, b"").unwrap();
    let want = expected(Kind::Wtmp, &wtmp, &[Some(&bytes)]);
    assert!(want.len() >= 10, "the samples hold logins and logouts");
    assert!(want.iter().any(|e| e.action() == Action::UserLogout));
    assert!(want.iter().any(|e| e.source_ip.is_some()));

    let source = UtmpSource::new(config(Some(&wtmp), None, StartAt::End));
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(source.run(Vec::new(), tx));
    // Pieces that cut records anywhere (1 byte, a record and a bit, …), written while followed.
    let mut at = 0;
    for size in [1, 100, 283, 384, 385, 1000, 2, 4096].into_iter().cycle() {
        if at >= bytes.len() {
            break;
        }
        let end = (at + size).min(bytes.len());
        append(&wtmp, &bytes[at..end]);
        at = end;
        tokio::time::sleep(Duration::from_millis(7)).await;
    }
    let got = take(&mut rx, want.len()).await;
    assert_eq!(events(&got), want);
    quiet(&mut rx, Duration::from_millis(200)).await;

    let meta = std::fs::metadata(&wtmp).unwrap();
    let mut last = 0;
    for (e, c) in &got {
        assert_eq!(c.source, wtmp.to_string_lossy());
        assert_eq!((c.device, c.inode), (Some(meta.dev()), Some(meta.ino())));
        assert!(c.fingerprint.is_some());
        assert!(
            c.offset > e.offset.unwrap(),
            "the checkpoint is after the record"
        );
        assert!(c.offset > last && c.offset % 384 == 0);
        last = c.offset;
    }
    assert!(last <= bytes.len() as u64);
    drop(rx);
    task.await.unwrap();
}

#[tokio::test]
async fn btmp_records_are_failed_logins() {
    let Some(dir) = logward_test_support::corpus("wtmp-btmp") else {
        return;
    };
    let bytes = std::fs::read(dir.join("utmp-rs/with_host_32.utmp")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let btmp = tmp.path().join("btmp");
    std::fs::write(&btmp, &bytes).unwrap();
    let want = expected(Kind::Btmp, &btmp, &[Some(&bytes)]);
    assert!(!want.is_empty());
    let (tx, mut rx) = mpsc::channel(64);
    let task = tokio::spawn(
        UtmpSource::new(config(None, Some(&btmp), StartAt::Beginning)).run(Vec::new(), tx),
    );
    let got = take(&mut rx, want.len()).await;
    assert_eq!(events(&got), want);
    for (e, _) in &got {
        assert_eq!(
            (e.dataset, e.action(), e.outcome),
            (Some(Dataset::Btmp), Action::UserLogin, Outcome::Failure)
        );
    }
    quiet(&mut rx, Duration::from_millis(100)).await;
    drop(rx);
    task.await.unwrap();
}

#[tokio::test]
async fn a_restart_from_a_checkpoint_repeats_and_loses_nothing() {
    let Some(dir) = logward_test_support::corpus("wtmp-btmp") else {
        return;
    };
    let bytes = glibc32_records(&dir);
    let tmp = tempfile::tempdir().unwrap();
    let wtmp = tmp.path().join("wtmp");
    std::fs::write(&wtmp, &bytes).unwrap();
    let want = expected(Kind::Wtmp, &wtmp, &[Some(&bytes)]);

    // Every cut point: stop after k events, resume from the k-th checkpoint.
    for k in [1, want.len() / 2, want.len() - 1] {
        let (tx, mut rx) = mpsc::channel(1);
        let task = tokio::spawn(
            UtmpSource::new(config(Some(&wtmp), None, StartAt::Beginning)).run(Vec::new(), tx),
        );
        let first = take(&mut rx, k).await;
        drop(rx);
        task.await.unwrap();
        let checkpoint = first[k - 1].1.clone();

        let (tx, mut rx) = mpsc::channel(64);
        let source = UtmpSource::new(config(Some(&wtmp), None, StartAt::Beginning));
        let task = tokio::spawn(source.run(vec![checkpoint], tx));
        let rest = take(&mut rx, want.len() - k).await;
        quiet(&mut rx, Duration::from_millis(150)).await;
        let mut all = events(&first);
        all.extend(events(&rest));
        // Logouts after the cut still name their user (sessions primed from before it).
        assert_eq!(all, want, "cut after {k} events");
        drop(rx);
        task.await.unwrap();
    }
}

#[tokio::test]
async fn a_checkpoint_of_another_file_reads_the_new_file_from_its_start() {
    let Some(dir) = logward_test_support::corpus("wtmp-btmp") else {
        return;
    };
    let bytes = glibc32_records(&dir);
    let tmp = tempfile::tempdir().unwrap();
    let wtmp = tmp.path().join("wtmp");
    std::fs::write(&wtmp, &bytes).unwrap();
    let meta = std::fs::metadata(&wtmp).unwrap();
    let stale = Checkpoint {
        device: Some(meta.dev()),
        inode: Some(meta.ino() + 1),
        offset: 384 * 3,
        ..Checkpoint::new(wtmp.to_string_lossy(), 0)
    };
    let source = UtmpSource::new(config(Some(&wtmp), None, StartAt::End));
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(64);
    let task = tokio::spawn(source.run(vec![stale], tx));
    let want = expected(Kind::Wtmp, &wtmp, &[Some(&bytes)]);
    assert_eq!(events(&take(&mut rx, want.len()).await), want);
    assert_eq!(stats.checkpoint_mismatches(), 1);
    drop(rx);
    task.await.unwrap();
}

#[tokio::test]
async fn start_at_end_skips_history_and_a_late_file_is_read_whole() {
    let Some(dir) = logward_test_support::corpus("wtmp-btmp") else {
        return;
    };
    let old = std::fs::read(dir.join("utmp-rs/with_host_32.utmp")).unwrap();
    let new = std::fs::read(dir.join("utmp-rs/basic32.utmp")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let wtmp = tmp.path().join("wtmp");
    let btmp = tmp.path().join("btmp"); // does not exist yet
    std::fs::write(&wtmp, &old).unwrap();
    let source = UtmpSource::new(config(Some(&wtmp), Some(&btmp), StartAt::End));
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(64);
    let task = tokio::spawn(source.run(Vec::new(), tx));
    quiet(&mut rx, Duration::from_millis(200)).await;

    append(&wtmp, &new);
    let mut want = expected(Kind::Wtmp, &wtmp, &[Some(&old), Some(&new)]);
    let skipped = expected(Kind::Wtmp, &wtmp, &[Some(&old)]).len();
    want.drain(..skipped);
    // Events of the new records only (their logouts may not find sessions of the old part:
    // compare what is decodable from the new part on its own terms).
    let got = take(&mut rx, want.len()).await;
    assert_eq!(events(&got), want);

    // btmp appears after the start: all of it is new.
    std::fs::write(&btmp, &new).unwrap();
    let want_b = expected(Kind::Btmp, &btmp, &[Some(&new)]);
    assert_eq!(events(&take(&mut rx, want_b.len()).await), want_b);
    quiet(&mut rx, Duration::from_millis(150)).await;
    assert_eq!(stats.events(), (want.len() + want_b.len()) as u64);
    drop(rx);
    task.await.unwrap();
}

#[tokio::test]
async fn rotation_and_truncation_are_followed() {
    let Some(dir) = logward_test_support::corpus("wtmp-btmp") else {
        return;
    };
    let all = glibc32_records(&dir);
    let (a, rest) = all.split_at(384 * 8);
    let (c, rest) = rest.split_at(384 * 4 + 100); // ends inside a record
    let (b, d) = rest.split_at(384 * 10);
    let tmp = tempfile::tempdir().unwrap();
    let wtmp = tmp.path().join("wtmp");
    std::fs::write(&wtmp, a).unwrap();
    let source = UtmpSource::new(config(Some(&wtmp), None, StartAt::Beginning));
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(256);
    let task = tokio::spawn(source.run(Vec::new(), tx));

    let want_a = expected(Kind::Wtmp, &wtmp, &[Some(a)]);
    let mut got = events(&take(&mut rx, want_a.len()).await);

    // Rename rotation with a tail written just before it: the old file is drained first.
    append(&wtmp, c);
    std::fs::rename(&wtmp, tmp.path().join("wtmp.1")).unwrap();
    std::fs::write(&wtmp, b).unwrap();
    // The rotation is counted before the new file is opened: wait until it has been read,
    // or the truncation below could happen before the source ever saw `b`.
    let read = (a.len() + c.len() + b.len()) as u64;
    wait_for(&stats, |s| s.rotations() == 1 && s.bytes() == read).await;

    // Truncation (`> wtmp`) and new records, longer than what was read before: caught by the
    // file's first bytes changing.
    let want_b = expected(Kind::Wtmp, &wtmp, &[Some(a), Some(c), None, Some(b)]);
    got.extend(events(&take(&mut rx, want_b.len() - got.len()).await));
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&wtmp)
        .unwrap();
    append(&wtmp, d);
    wait_for(&stats, |s| {
        s.truncations() == 1 && s.bytes() == read + d.len() as u64
    })
    .await;
    let want = expected(
        Kind::Wtmp,
        &wtmp,
        &[Some(a), Some(c), None, Some(b), None, Some(d)],
    );
    got.extend(events(&take(&mut rx, want.len() - got.len()).await));
    assert_eq!(got, want);

    // Truncated to a shorter file: caught by the size.
    let short = &a[..384 * 2];
    std::fs::write(&wtmp, short).unwrap();
    wait_for(&stats, |s| s.truncations() == 2).await;
    let want = expected(
        Kind::Wtmp,
        &wtmp,
        &[
            Some(a),
            Some(c),
            None,
            Some(b),
            None,
            Some(d),
            None,
            Some(short),
        ],
    );
    got.extend(events(&take(&mut rx, want.len() - got.len()).await));
    assert_eq!(got, want);
    quiet(&mut rx, Duration::from_millis(150)).await;
    drop(rx);
    task.await.unwrap();
}

/// Issue 14: the utmp source is built on the shared follower, so a wtmp rotated while the
/// agent is stopped is found by inode under its rotated name and its unread records are
/// read before the new file's.
#[tokio::test]
async fn utmp_rotation_while_following_and_across_a_restart_loses_and_repeats_nothing() {
    let Some(dir) = logward_test_support::corpus("wtmp-btmp") else {
        return;
    };
    let all = glibc32_records(&dir);
    let (p1, rest) = all.split_at(384 * 6);
    let (p2, rest) = rest.split_at(384 * 4);
    let (p3, rest) = rest.split_at(384 * 5);
    let (p4, p5) = rest.split_at(384 * 6);
    assert!(!p5.is_empty());
    let tmp = tempfile::tempdir().unwrap();
    let wtmp = tmp.path().join("wtmp");
    std::fs::write(&wtmp, p1).unwrap();

    // Run 1: a rename rotation while the source follows.
    let source = UtmpSource::new(config(Some(&wtmp), None, StartAt::Beginning));
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(256);
    let task = tokio::spawn(source.run(Vec::new(), tx));
    let mut got = take(&mut rx, expected(Kind::Wtmp, &wtmp, &[Some(p1)]).len()).await;
    append(&wtmp, p2);
    std::fs::rename(&wtmp, tmp.path().join("wtmp.1")).unwrap();
    std::fs::write(&wtmp, p3).unwrap();
    let read = (p1.len() + p2.len() + p3.len()) as u64;
    wait_for(&stats, |s| s.rotations() == 1 && s.bytes() == read).await;
    let want1 = expected(Kind::Wtmp, &wtmp, &[Some(p1), Some(p2), None, Some(p3)]);
    got.extend(take(&mut rx, want1.len() - got.len()).await);
    quiet(&mut rx, Duration::from_millis(100)).await;
    assert_eq!(events(&got), want1);
    let new_inode = std::fs::metadata(&wtmp).unwrap().ino();
    let checkpoint = got.last().unwrap().1.clone();
    assert_eq!(checkpoint.inode, Some(new_inode));
    assert_eq!(checkpoint.offset, p3.len() as u64);
    drop(rx);
    task.await.unwrap();

    // Stopped: more records, then logrotate's shift (wtmp.1 → wtmp.2, wtmp → wtmp.1) and a
    // new wtmp with records of its own.
    append(&wtmp, p4);
    std::fs::rename(tmp.path().join("wtmp.1"), tmp.path().join("wtmp.2")).unwrap();
    std::fs::rename(&wtmp, tmp.path().join("wtmp.1")).unwrap();
    std::fs::write(&wtmp, p5).unwrap();

    // Run 2 from the checkpoint: p4 from the rotated file, then p5 — each once. Sessions
    // are primed from the checkpoint's file only, so the reference reader starts at p3 and
    // its p3 events are dropped.
    let source = UtmpSource::new(config(Some(&wtmp), None, StartAt::Beginning));
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(256);
    let task = tokio::spawn(source.run(vec![checkpoint], tx));
    let mut want2 = expected(Kind::Wtmp, &wtmp, &[Some(p3), Some(p4), None, Some(p5)]);
    want2.drain(..expected(Kind::Wtmp, &wtmp, &[Some(p3)]).len());
    let n4 = expected(Kind::Wtmp, &wtmp, &[Some(p3), Some(p4)]).len()
        - expected(Kind::Wtmp, &wtmp, &[Some(p3)]).len();
    assert!(n4 > 0 && want2.len() > n4, "both parts give events");
    let got2 = take(&mut rx, want2.len()).await;
    quiet(&mut rx, Duration::from_millis(150)).await;
    assert_eq!(events(&got2), want2);
    assert_eq!(stats.checkpoint_mismatches(), 0);
    let rotated_inode = std::fs::metadata(tmp.path().join("wtmp.1")).unwrap().ino();
    assert!(got2[..n4]
        .iter()
        .all(|(_, c)| c.inode == Some(rotated_inode)));
    let current_inode = std::fs::metadata(&wtmp).unwrap().ino();
    let last = got2.last().unwrap().1.clone();
    assert_eq!(
        (last.inode, last.offset),
        (Some(current_inode), p5.len() as u64)
    );
    drop(rx);
    task.await.unwrap();

    // Run 3 from the last checkpoint: nothing is read twice.
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(
        UtmpSource::new(config(Some(&wtmp), None, StartAt::Beginning)).run(vec![last], tx),
    );
    quiet(&mut rx, Duration::from_millis(200)).await;
    drop(rx);
    task.await.unwrap();
}
