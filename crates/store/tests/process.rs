//! Tests that need a second process, run by this binary re-executing itself
//! (`harness = false`; the role is chosen by `LOGWARD_STORE_ROLE`):
//!
//! - **kill -9 mid-stream**: a child commits batches in a loop and is SIGKILLed at varying
//!   moments, several times over the same state directory, each run resuming from the stored
//!   checkpoint (the child says `committing N` before and `committed N` after each commit,
//!   so the test knows which kills landed inside a transaction). After every kill the checkpoint and the rows it produced must agree exactly:
//!   every alert's sequence number ≤ the checkpoint, none beyond, none missing, none twice.
//! - **unwritable state**: as root, a child dropped to `nobody` with `setpriv` opens a store
//!   in a root-owned directory and must get a clear "not writable" error.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use logward_store::{
    AgentStore, BanChange, BanTarget, Batch, Checkpoint, CounterSnapshot, NewAlert, NewBan,
    NewOutbox, ReportEntry, ReportSection, SqliteStore, Store, StoreError,
};
use rusqlite::Connection;

const ROLE: &str = "LOGWARD_STORE_ROLE";
const DIR: &str = "LOGWARD_STORE_DIR";
const SOURCE: &str = "/var/log/auth.log";
/// Alerts (= lines) per batch.
const PER_BATCH: u64 = 100;
const T0: i64 = 1_750_000_000;

fn main() -> ExitCode {
    match std::env::var(ROLE).as_deref() {
        Ok("crash-writer") => crash_writer(),
        Ok("open-store") => open_store(),
        Ok("file-modes") => file_modes(),
        _ => {
            let mut failed = 0;
            for (name, test) in [
                (
                    "kill_9_mid_stream_loses_and_repeats_nothing",
                    kill_9 as fn(),
                ),
                ("unwritable_state_is_a_clear_error", unwritable),
                (
                    "store_files_are_0600_whatever_the_umask",
                    files_0600_under_umask_0,
                ),
            ] {
                print!("test {name} ... ");
                match std::panic::catch_unwind(test) {
                    Ok(()) => println!("ok"),
                    Err(_) => {
                        println!("FAILED");
                        failed += 1;
                    }
                }
            }
            if failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

fn state_dir() -> PathBuf {
    PathBuf::from(std::env::var_os(DIR).expect("LOGWARD_STORE_DIR is set for child roles"))
}

/// Child: resumes from the checkpoint and commits batches until killed. Each batch stands
/// for `PER_BATCH` lines: one alert per line (its sequence number in the JSON), an outbox row
/// per alert, one ban of a new address plus a re-ban of a fixed one (an offence per batch),
/// a counter snapshot holding the last sequence number, a report entry, and the checkpoint.
fn crash_writer() -> ExitCode {
    let mut store = match SqliteStore::open_dir(&state_dir()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("crash-writer: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut next = match store.checkpoint(SOURCE) {
        Ok(cp) => cp.map_or(0, |c| c.offset) + 1,
        Err(e) => {
            eprintln!("crash-writer: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("ready {next}");
    let started = Instant::now();
    let mut batch = Batch::default();
    // Bounded, in case the parent died without killing us.
    while started.elapsed() < Duration::from_secs(60) {
        batch.clear();
        let last = next + PER_BATCH - 1;
        let batch_no = last / PER_BATCH;
        for seq in next..=last {
            batch.alerts.push(NewAlert {
                time: T0 + seq as i64,
                rule_id: "ssh-bruteforce".into(),
                severity: 4,
                host: Some("web1".into()),
                source_address: Some("192.0.2.7".into()),
                user: Some("root".into()),
                json: format!(
                    r#"{{"seq":{seq},"rule":{{"id":"ssh-bruteforce"}},"message":"{}"}}"#,
                    "x".repeat(200)
                ),
                dns: None,
            });
            batch.outbox.push(NewOutbox {
                alert: batch.alerts.len() - 1,
                sink: "slack".into(),
                next_attempt_at: T0,
            });
        }
        let [_, _, _, _, _, b, c, d] = batch_no.to_be_bytes();
        for t in [format!("10.{b}.{c}.{d}"), "192.0.2.7".to_string()] {
            batch.bans.push(BanChange::Add(NewBan {
                target: BanTarget::parse(&t).expect("valid test address"),
                reason: "test".into(),
                rule_id: Some("ssh-bruteforce".into()),
                created_at: T0,
                expires_at: Some(T0 + 86_400),
            }));
        }
        batch.counters.push(CounterSnapshot {
            name: "engine".into(),
            data: last.to_le_bytes().to_vec(),
            saved_at: T0,
        });
        batch.report.push(ReportEntry {
            time: T0,
            section: ReportSection::Info,
            text: format!("batch {batch_no}"),
        });
        batch.checkpoints.push(Checkpoint {
            offset: last,
            line: last,
            ..Checkpoint::new(SOURCE, T0)
        });
        println!("committing {last}");
        if let Err(e) = store.commit_batch(&batch) {
            eprintln!("crash-writer: {e}");
            return ExitCode::FAILURE;
        }
        println!("committed {last}");
        next = last + 1;
    }
    ExitCode::SUCCESS
}

/// What the store holds, read with plain SQL (independent of the code under test).
#[derive(Debug, PartialEq)]
struct Snapshot {
    checkpoint: u64,
    alerts: u64,
    distinct_seq: u64,
    min_seq: Option<u64>,
    max_seq: Option<u64>,
    outbox: u64,
    bans: u64,
    offences: u64,
    counters: Option<u64>,
    report: u64,
}

fn snapshot(dir: &Path) -> Snapshot {
    let mut store = SqliteStore::open_dir(dir).expect("reopen after kill");
    assert_eq!(
        store.integrity_check().expect("integrity check"),
        Vec::<String>::new()
    );
    let checkpoint = store
        .checkpoint(SOURCE)
        .expect("read checkpoint")
        .map_or(0, |c| c.offset);
    let counters = store
        .load_counters("engine")
        .expect("load counters")
        .map(|c| u64::from_le_bytes(c.data.try_into().expect("8-byte counter blob")));
    let offences = store
        .ban(&BanTarget::parse("192.0.2.7").expect("valid"))
        .expect("read ban")
        .map_or(0, |b| u64::from(b.offences));
    drop(store);
    let conn = Connection::open(dir.join(SqliteStore::FILE_NAME)).expect("open with rusqlite");
    let one = |q: &str| -> Option<i64> { conn.query_row(q, [], |r| r.get(0)).expect(q) };
    let n = |q: &str| one(q).map_or(0, |v| v as u64);
    Snapshot {
        checkpoint,
        alerts: n("SELECT count(*) FROM alerts"),
        distinct_seq: n("SELECT count(DISTINCT json_extract(json, '$.seq')) FROM alerts"),
        min_seq: one("SELECT min(json_extract(json, '$.seq')) FROM alerts").map(|v| v as u64),
        max_seq: one("SELECT max(json_extract(json, '$.seq')) FROM alerts").map(|v| v as u64),
        outbox: n("SELECT count(*) FROM outbox"),
        bans: n("SELECT count(*) FROM bans WHERE target != '192.0.2.7'"),
        offences,
        counters,
        report: n("SELECT count(*) FROM report_entries"),
    }
}

fn expected(checkpoint: u64) -> Snapshot {
    let batches = checkpoint / PER_BATCH;
    Snapshot {
        checkpoint,
        alerts: checkpoint,
        distinct_seq: checkpoint,
        min_seq: (checkpoint > 0).then_some(1),
        max_seq: (checkpoint > 0).then_some(checkpoint),
        outbox: checkpoint,
        bans: batches,
        offences: batches,
        counters: (checkpoint > 0).then_some(checkpoint),
        report: batches,
    }
}

fn spawn_child(role: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().expect("test binary path"))
        .env(ROLE, role)
        .env(DIR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child")
}

/// The sequence number in a child's `committed N` line.
fn committed(line: &str) -> Option<u64> {
    line.strip_prefix("committed ")?.parse().ok()
}

fn kill_9() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("state");
    let mut last_checkpoint = 0;
    let mut kills_in_commit = 0;
    const RUNS: u64 = 16;
    for run in 0..RUNS {
        let mut child = spawn_child("crash-writer", &dir);
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let ready = lines.next().expect("child output").expect("utf-8");
        assert_eq!(
            ready,
            format!("ready {}", last_checkpoint + 1),
            "resumes at the checkpoint"
        );
        // Let it commit a few batches, then kill it at a moment that varies per run (often
        // inside a commit: that is where the writer spends its time).
        let mut seen = 0;
        for _ in 0..3 + run % 3 {
            seen = loop {
                let line = lines.next().expect("child output").expect("utf-8");
                if let Some(n) = committed(&line) {
                    break n;
                }
            };
        }
        std::thread::sleep(Duration::from_micros(1_500 * run + 300));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(
            !status.success(),
            "the child was killed, not finished: {status:?}"
        );
        let mut in_commit = false;
        for line in lines.map_while(Result::ok) {
            if let Some(n) = committed(&line) {
                seen = n;
                in_commit = false;
            } else if line.starts_with("committing ") {
                in_commit = true;
            }
        }
        kills_in_commit += u64::from(in_commit);

        let got = snapshot(&dir);
        println!(
            "  run {run}: killed {} with checkpoint {} (last commit reported {seen})",
            if in_commit {
                "inside commit_batch"
            } else {
                "between batches"
            },
            got.checkpoint
        );
        assert_eq!(
            got,
            expected(got.checkpoint),
            "store consistent after kill {run}"
        );
        // Every commit the child reported is there; at most the one in flight is not.
        assert!(got.checkpoint >= seen, "a reported commit was lost");
        assert!(
            got.checkpoint <= seen + PER_BATCH,
            "more than one unreported batch"
        );
        assert!(got.checkpoint > last_checkpoint, "run {run} made progress");
        last_checkpoint = got.checkpoint;
    }
    // The writer spends most of its time inside commit_batch, so with this many runs some
    // kills must have landed there; if none did, the test did not test the transaction.
    println!("  {kills_in_commit} of {RUNS} kills landed inside commit_batch");
    assert!(kills_in_commit > 0, "no kill landed inside a commit");
}

/// Child: opens the store and prints the error, if any.
fn open_store() -> ExitCode {
    match SqliteStore::open_dir(&state_dir()) {
        Ok(_) => {
            println!("opened");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let kind = match e {
                StoreError::NotWritable { .. } => "not-writable",
                StoreError::ReadOnly { .. } => "read-only",
                StoreError::StateDir { .. } => "state-dir",
                _ => "other",
            };
            println!("{kind}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn open_as_unprivileged(dir: &Path) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let out = if running_as_root() {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(exe)
            .env(ROLE, "open-store")
            .env(DIR, dir)
            .output()
            .expect("run setpriv")
    } else {
        // Not root: our own permission bits already stop us.
        Command::new(exe)
            .env(ROLE, "open-store")
            .env(DIR, dir)
            .output()
            .expect("run child")
    };
    assert!(!out.status.success(), "opening should fail: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn unwritable() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("temp dir");
    // The unprivileged child must be able to reach the directories.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");

    // A directory we may not write, with no database yet: it cannot be created.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let mode = if running_as_root() { 0o755 } else { 0o555 };
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(mode)).expect("chmod");
    let msg = open_as_unprivileged(&empty);
    println!("  empty read-only dir: {msg}");
    assert!(
        msg.starts_with("not-writable: cannot open the database"),
        "{msg}"
    );
    assert!(msg.contains("not writable by this user"), "{msg}");
    assert!(
        msg.contains(&empty.join(SqliteStore::FILE_NAME).display().to_string()),
        "{msg}"
    );

    // An existing database in a directory we may not write: SQLite would open it read-only.
    let existing = tmp.path().join("existing");
    drop(SqliteStore::open_dir(&existing).expect("create as owner"));
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(mode)).expect("chmod");
    let db = existing.join(SqliteStore::FILE_NAME);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let msg = open_as_unprivileged(&existing);
    println!("  existing database, read-only: {msg}");
    assert!(
        msg.starts_with("read-only:") || msg.starts_with("not-writable:"),
        "{msg}"
    );
    assert!(msg.contains("not writable by this user"), "{msg}");
    // Let the temp dir be removed when not root.
    for d in [&empty, &existing] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

/// Child: opens the store, commits (so the WAL and shared-memory files exist) and prints
/// the mode of each file while the connection is open (SQLite removes `-wal` at close).
fn file_modes() -> ExitCode {
    use std::os::unix::fs::PermissionsExt;
    let dir = state_dir();
    let mut store = SqliteStore::open_dir(&dir).expect("open");
    let batch = Batch {
        checkpoints: vec![Checkpoint {
            offset: 3,
            ..Checkpoint::new(SOURCE, T0)
        }],
        ..Batch::default()
    };
    store.commit_batch(&batch).expect("commit");
    for name in ["logward.db", "logward.db-wal", "logward.db-shm"] {
        let mode = std::fs::metadata(dir.join(name)).map(|m| m.permissions().mode() & 0o777);
        match mode {
            Ok(m) => println!("{name} {m:o}"),
            Err(e) => println!("{name} missing: {e}"),
        }
    }
    ExitCode::SUCCESS
}

/// Runs the `file-modes` child under `umask 0` (set by `sh`, the script fixed; the
/// child's path is its argument) and returns what it printed.
fn modes_under_umask_0(dir: &Path) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new("sh")
        .args(["-c", "umask 0 && exec \"$0\""])
        .arg(exe)
        .env(ROLE, "file-modes")
        .env(DIR, dir)
        .output()
        .expect("run sh");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn files_0600_under_umask_0() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("state");
    let want = "logward.db 600\nlogward.db-wal 600\nlogward.db-shm 600";
    let got = modes_under_umask_0(&dir);
    println!("  new store: {}", got.replace('\n', ", "));
    assert_eq!(got, want);
    // A store made 0644 by an older version is tightened when opened.
    let db = dir.join(SqliteStore::FILE_NAME);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let got = modes_under_umask_0(&dir);
    assert_eq!(got, want, "an existing 0644 store");
}
