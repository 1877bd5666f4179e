//! The journal source against real journal files: each test writes a journal export stream,
//! turns it into a journal file with `systemd-journal-remote` (Debian package
//! `systemd-journal-remote`; the binary lives in /lib/systemd, not on PATH) and follows it
//! through `journalctl --file` (polled) or `--directory` (`--follow`).
//!
//! Without the binary or journalctl the tests say why and return, except under `CI=true`,
//! where that is a failure.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::time::Duration;

use logward_agent::sources::command::Backoff;
use logward_agent::sources::journal::{cursor_of, JournalConfig, JournalSource, StartAt};
use logward_agent::sources::{Payload, SourceItem};
use logward_core::Action;
use logward_parse::{LineDecoder, YearResolver};
use logward_test_support::eventually;
use tokio::sync::mpsc;

const REMOTE: &[&str] = &[
    "/lib/systemd/systemd-journal-remote",
    "/usr/lib/systemd/systemd-journal-remote",
];

/// The systemd-journal-remote binary, or `None` (with the reason printed) when this host
/// cannot run the tests.
fn journal_remote() -> Option<PathBuf> {
    let remote = REMOTE.iter().map(PathBuf::from).find(|p| p.is_file());
    let journalctl = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("journalctl").is_file()));
    let why = match (&remote, journalctl) {
        (Some(_), true) => return remote,
        (None, _) => {
            "systemd-journal-remote is not installed (apt-get install systemd-journal-remote)"
        }
        (_, false) => "journalctl is not on PATH",
    };
    logward_test_support::skip!("{why}")
}

/// One journal entry to write.
struct Entry<'a> {
    ident: &'a str,
    message: String,
}

fn entry(ident: &str, message: impl Into<String>) -> Entry<'_> {
    Entry {
        ident,
        message: message.into(),
    }
}

/// Appends `entries` (numbered from `first`, for distinct timestamps) to the journal file
/// `out` through systemd-journal-remote reading an export-format stream.
fn write_journal(remote: &Path, out: &Path, entries: &[Entry<'_>], first: usize) {
    let mut export = String::new();
    for (i, e) in entries.iter().enumerate() {
        let n = first + i;
        let unit = if e.ident.starts_with("sshd") {
            "ssh.service"
        } else {
            "session-1.scope"
        };
        // The kernel's messages come through the journal's own transport, as in a real journal
        // (an entry claiming `kernel` over syslog is a forgery: parse's journal.rs).
        let transport = if e.ident == "kernel" {
            "kernel"
        } else {
            "syslog"
        };
        export.push_str(&format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n\
             _BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web01\n\
             SYSLOG_IDENTIFIER={}\n_PID={}\nPRIORITY=6\nSYSLOG_FACILITY=10\n\
             _SYSTEMD_UNIT={unit}\n_TRANSPORT={transport}\nMESSAGE={}\n\n",
            1_700_000_000_000_000u64 + n as u64 * 1000,
            1_000_000 + n,
            e.ident,
            1000 + n,
            e.message,
        ));
    }
    let stream = out.with_extension(format!("export{first}"));
    std::fs::write(&stream, export).unwrap();
    #[allow(clippy::disallowed_methods)] // tests spawn what they need
    let status = std::process::Command::new(remote)
        .arg(format!("--output={}", out.display()))
        .arg(&stream)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "systemd-journal-remote: {status}");
}

fn fast_backoff() -> Backoff {
    Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        reset_after: Duration::from_secs(10),
    }
}

/// Reads a journal file (polled, `--file`) from the beginning.
fn file_config(file: &Path) -> JournalConfig {
    JournalConfig {
        files: vec![file.to_path_buf()],
        start_at: StartAt::Beginning,
        backoff: fast_backoff(),
        poll_interval: Duration::from_millis(100),
        ..JournalConfig::default()
    }
}

/// Follows the journal files of a directory (`--directory`, `--follow`).
fn dir_config(dir: &Path, start_at: StartAt) -> JournalConfig {
    JournalConfig {
        directory: Some(dir.to_path_buf()),
        start_at,
        backoff: fast_backoff(),
        ..JournalConfig::default()
    }
}

/// A received entry: its MESSAGE, its identifier and the checkpoint's cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    message: String,
    ident: String,
    cursor: String,
}

fn got(item: SourceItem) -> Got {
    let Payload::Line(line) = item.payload else {
        panic!("journal items are lines")
    };
    assert_eq!(&*item.source, "journal");
    let checkpoint = item.checkpoint.expect("journal items carry a checkpoint");
    assert_eq!(checkpoint.source, "journal");
    let cursor = checkpoint.cursor.expect("a cursor");
    assert_eq!(cursor_of(&line), Some(cursor.as_str()));
    let frame = logward_parse::journal::frame(&line).expect("a journal JSON entry");
    Got {
        message: frame.message.into_owned(),
        ident: frame.program.map(|p| p.into_owned()).unwrap_or_default(),
        cursor,
    }
}

async fn take(rx: &mut mpsc::Receiver<SourceItem>, n: usize) -> Vec<Got> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(item)) => out.push(got(item)),
            Ok(None) => panic!("the source ended after {} of {n} entries", out.len()),
            Err(_) => panic!("timed out after {} of {n} entries", out.len()),
        }
    }
    out
}

/// Nothing more arrives within `wait`.
async fn quiet(rx: &mut mpsc::Receiver<SourceItem>, wait: Duration) {
    if let Ok(Some(item)) = tokio::time::timeout(wait, rx.recv()).await {
        panic!("unexpected entry {:?}", got(item));
    }
}

fn messages(got: &[Got]) -> Vec<&str> {
    got.iter().map(|g| g.message.as_str()).collect()
}

fn mixed_entries() -> Vec<Entry<'static>> {
    vec![
        entry("sshd", "Failed password for root from 203.0.113.5 port 40022 ssh2"),
        entry("CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"),
        entry("sshd-session", "Accepted publickey for alice from 198.51.100.7 port 51234 ssh2: ED25519 SHA256:abc"),
        entry("kernel", "eth0: link up"),
        entry("sudo", "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id"),
        entry("systemd", "Started ssh.service"),
        entry("useradd", "new user: name=mallory, UID=1001, GID=1001, home=/home/mallory, shell=/bin/bash, from=/dev/pts/0"),
        entry("sshd-sessionX", "not a matched identifier"),
        entry("systemd-logind", "New session 7 of user alice."),
        entry("su", "(to root) alice on pts/0"),
    ]
}

const MATCHING: [&str; 6] = [
    "sshd",
    "sshd-session",
    "sudo",
    "useradd",
    "systemd-logind",
    "su",
];

#[tokio::test]
async fn reads_all_matching_entries_and_skips_other_identifiers() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.journal");
    write_journal(&remote, &file, &mixed_entries(), 0);

    let source = JournalSource::new("journal", file_config(&file)).unwrap();
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(source.run(None, tx));
    let got = take(&mut rx, MATCHING.len()).await;
    let idents: Vec<&str> = got.iter().map(|g| g.ident.as_str()).collect();
    assert_eq!(idents, MATCHING);
    // Polling the file again finds nothing new: no repeats.
    quiet(&mut rx, Duration::from_millis(600)).await;
    assert!(
        stats.starts() >= 2,
        "the file is polled by restarting journalctl"
    );
    assert_eq!(stats.lines(), MATCHING.len() as u64);

    // The lines decode into the events they stand for, fields and all.
    let mut decoder = LineDecoder::new(YearResolver::fixed(2026, 0));
    let first = &got[0];
    assert!(first.message.starts_with("Failed password for root"));
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the source ends when its receiver is dropped")
        .unwrap();

    // Decode one full line end to end.
    let source = JournalSource::new("journal", file_config(&file)).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(source.run(None, tx));
    let item = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let Payload::Line(line) = &item.payload else {
        panic!("a line")
    };
    let event = decoder.decode(line);
    assert_eq!(event.action(), Action::UserLogin);
    assert_eq!(event.source_address.as_deref(), Some("203.0.113.5"));
    assert_eq!(event.systemd_unit.as_deref(), Some("ssh.service"));
    assert_eq!(event.host_name.as_deref(), Some("web01"));
    assert_eq!(event.syslog_severity, Some(6));
    drop(rx);
    task.await.unwrap();
}

#[tokio::test]
async fn a_configured_identifier_list_replaces_the_default() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.journal");
    write_journal(&remote, &file, &mixed_entries(), 0);
    let config = JournalConfig {
        identifiers: vec!["kernel".into(), "CRON".into()],
        ..file_config(&file)
    };
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(JournalSource::new("journal", config).unwrap().run(None, tx));
    let got = take(&mut rx, 2).await;
    let idents: Vec<&str> = got.iter().map(|g| g.ident.as_str()).collect();
    assert_eq!(idents, ["CRON", "kernel"]);
    quiet(&mut rx, Duration::from_millis(400)).await;
    drop(rx);
    task.await.unwrap();
}

#[tokio::test]
async fn resumes_after_a_cursor_without_repeats() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.journal");
    let entries: Vec<Entry<'_>> = (0..20)
        .map(|i| {
            entry(
                if i % 2 == 0 { "sshd" } else { "sudo" },
                format!("entry {i}"),
            )
        })
        .collect();
    write_journal(&remote, &file, &entries, 0);

    let (tx, mut rx) = mpsc::channel(1);
    let task = tokio::spawn(
        JournalSource::new("journal", file_config(&file))
            .unwrap()
            .run(None, tx),
    );
    let first = take(&mut rx, 7).await;
    drop(rx);
    task.await.unwrap();
    assert_eq!(
        messages(&first),
        (0..7).map(|i| format!("entry {i}")).collect::<Vec<_>>()
    );

    // A new source from the 7th entry's checkpoint gets exactly the rest.
    let checkpoint = logward_store::Checkpoint {
        cursor: Some(first[6].cursor.clone()),
        ..logward_store::Checkpoint::new("journal", 0)
    };
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(
        JournalSource::new("journal", file_config(&file))
            .unwrap()
            .run(Some(checkpoint), tx),
    );
    let rest = take(&mut rx, 13).await;
    assert_eq!(
        messages(&rest),
        (7..20).map(|i| format!("entry {i}")).collect::<Vec<_>>()
    );
    quiet(&mut rx, Duration::from_millis(500)).await;
    drop(rx);
    task.await.unwrap();
}

#[tokio::test]
async fn start_at_end_follows_only_new_entries() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.journal");
    let old: Vec<Entry<'_>> = (0..30).map(|i| entry("sshd", format!("old {i}"))).collect();
    write_journal(&remote, &file, &old, 0);

    let source = JournalSource::new("journal", dir_config(dir.path(), StartAt::End)).unwrap();
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(source.run(None, tx));
    // The follower runs once the end has been found.
    while stats.pid().is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    quiet(&mut rx, Duration::from_millis(500)).await;
    let new: Vec<Entry<'_>> = (0..12)
        .map(|i| entry(if i % 3 == 0 { "cron" } else { "sudo" }, format!("new {i}")))
        .collect();
    write_journal(&remote, &file, &new, 100);
    let got = take(&mut rx, 8).await;
    let want: Vec<String> = (0..12)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("new {i}"))
        .collect();
    assert_eq!(messages(&got), want);
    assert_eq!(stats.starts(), 1, "journalctl --follow kept running");
    quiet(&mut rx, Duration::from_millis(300)).await;
    drop(rx);
    task.await.unwrap();
}

/// journalctl is killed (SIGKILL) while blocked writing to a full pipe: the source drops the
/// cut line, restarts it after the last cursor it sent, and every entry arrives exactly once;
/// then the restarted follower still follows new entries.
#[tokio::test]
async fn journalctl_killed_mid_stream_is_restarted_from_the_cursor() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.journal");
    // Long messages, so the output is far larger than the pipe and reader buffers.
    let n = 3000;
    let filler = "x".repeat(300);
    let entries: Vec<Entry<'_>> = (0..n)
        .map(|i| entry("sshd", format!("entry {i} {filler}")))
        .collect();
    write_journal(&remote, &file, &entries, 0);

    let source = JournalSource::new("journal", dir_config(dir.path(), StartAt::Beginning)).unwrap();
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(1);
    let task = tokio::spawn(source.run(None, tx));
    let mut all = take(&mut rx, 200).await;
    let pid = stats.pid().expect("journalctl is running");
    #[allow(clippy::disallowed_methods)] // tests spawn what they need
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    all.extend(take(&mut rx, n - 200).await);
    let want: Vec<String> = (0..n).map(|i| format!("entry {i} {filler}")).collect();
    assert_eq!(messages(&all), want, "every entry once, in order");
    assert!(stats.starts() >= 2, "journalctl was restarted");
    assert!(stats.exits() >= 1);

    let more: Vec<Entry<'_>> = (0..5).map(|i| entry("su", format!("after {i}"))).collect();
    write_journal(&remote, &file, &more, n);
    let after = take(&mut rx, 5).await;
    assert_eq!(
        messages(&after),
        (0..5).map(|i| format!("after {i}")).collect::<Vec<_>>()
    );
    quiet(&mut rx, Duration::from_millis(300)).await;
    drop(rx);
    task.await.unwrap();
}

/// A journalctl that keeps exiting (here a wrapper argv stops it every 300 ms) is restarted
/// each time from the last cursor while entries are being written: none lost, none repeated.
#[tokio::test]
async fn journalctl_exiting_repeatedly_loses_and_repeats_nothing() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.journal");
    write_journal(&remote, &file, &[entry("sudo", "batch 0 entry 0")], 0);
    let config = JournalConfig {
        journalctl: ["timeout", "0.3", "journalctl"].map(String::from).to_vec(),
        ..dir_config(dir.path(), StartAt::Beginning)
    };
    let source = JournalSource::new("journal", config).unwrap();
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(8);
    let task = tokio::spawn(source.run(None, tx));
    let mut all = take(&mut rx, 1).await;
    let mut want = vec!["batch 0 entry 0".to_owned()];
    for batch in 1..6 {
        let entries: Vec<Entry<'_>> = (0..10)
            .map(|i| entry("sshd-auth", format!("batch {batch} entry {i}")))
            .collect();
        want.extend(entries.iter().map(|e| e.message.clone()));
        write_journal(&remote, &file, &entries, batch * 10);
        all.extend(take(&mut rx, 10).await);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(messages(&all), want);
    quiet(&mut rx, Duration::from_millis(500)).await;
    assert!(stats.starts() >= 3, "restarted: {}", stats.starts());
    drop(rx);
    task.await.unwrap();
}

#[tokio::test]
async fn a_missing_journalctl_is_retried_not_fatal() {
    let config = JournalConfig {
        journalctl: vec!["logward-no-such-journalctl".into()],
        start_at: StartAt::Beginning,
        backoff: fast_backoff(),
        ..JournalConfig::default()
    };
    let source = JournalSource::new("journal", config).unwrap();
    let stats = source.stats();
    let (tx, rx) = mpsc::channel(1);
    let task = tokio::spawn(source.run(None, tx));
    eventually(Duration::from_secs(5), || {
        (stats.spawn_failures() >= 2).then_some(())
    })
    .await;
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("ends once the receiver is gone")
        .unwrap();
}
