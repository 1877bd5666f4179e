//! `logward run` with its state directory on a full disk: a real tmpfs the test mounts and
//! fills. While commits fail the agent stops reading (backpressure) and its memory stays
//! flat; once space is back every line is stored, once.
//!
//! Needs root (to mount the tmpfs): without it the test says why and returns, except under
//! `CI=true`, where that is a failure.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test, mount, umount
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use logward_core::{Clock, SystemClock, Timestamp};
use logward_store::{SqliteStore, Store};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

use logward_test_support::daemon::Daemon;

#[path = "support/run.rs"]
mod run;
use run::{follow, sshd_failure};

/// A tmpfs mounted for the test; unmounted on drop, on panic too.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The daemon's count of lines read, from `logward status`.
fn lines_read(state: &Path) -> u64 {
    let o = Command::new(BIN)
        .args(["status", "--state-dir"])
        .arg(state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    text.split("running: ")
        .nth(1)
        .and_then(|t| t.split(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// Fills the file system of `dir` until writes fail.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 4096, 1] {
        let buf = vec![0u8; chunk];
        while f.write_all(&buf).is_ok() {}
    }
    path
}

fn failure(t: Timestamp, ip: &str, n: usize) -> String {
    sshd_failure(t, ip, 1000 + n % 50_000, 10_000 + n % 50_000) + "\n"
}

/// The reported bug: while the disk was full a failed commit kept absorbing lines and
/// retried the whole, growing batch (34 → 225 MB in 60 s).
#[test]
fn a_full_disk_stops_reading_keeps_memory_flat_and_loses_nothing() {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    });
    if !root {
        logward_test_support::skip!("the disk-full test needs root to mount a tmpfs");
    }
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    let _fs = Tmpfs::mount(&state, "8m").expect("mount a tmpfs");
    let (log, cfg) = follow(d.path(), "");
    let dm = Daemon::start(BIN, &cfg, &state, d.path());
    let pid = dm.child.id();
    let now = SystemClock.now();
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    for i in 0..5 {
        f.write_all(failure(now, "192.0.2.1", i).as_bytes())
            .unwrap();
    }
    assert!(
        dm.alert(Duration::from_secs(5)).is_some(),
        "works before the disk fills"
    );

    let filler = fill(&state);
    let before = rss_kib(pid);
    // 2 000 attackers, five failures each: 10 000 lines, 2 000 alerts to store.
    const ADDRS: usize = 2_000;
    let mut text = String::new();
    for a in 0..ADDRS {
        let ip = format!("10.{}.{}.{}", a / 62_500, a / 250 % 250, a % 250 + 1);
        for i in 0..5 {
            text.push_str(&failure(now, &ip, a * 5 + i));
        }
    }
    f.write_all(text.as_bytes()).unwrap();
    drop(f);
    // It reads until its batch and the channel are full, then waits.
    let t = Instant::now();
    let mut last = lines_read(&state);
    let mut peak = rss_kib(pid);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let n = lines_read(&state);
        peak = peak.max(rss_kib(pid));
        if n == last || t.elapsed() > Duration::from_secs(20) {
            break;
        }
        last = n;
    }
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(250));
        peak = peak.max(rss_kib(pid));
    }
    let read = lines_read(&state);
    eprintln!("disk full: {read} lines read, RSS {before} KiB before, {peak} KiB peak");
    assert!(
        read < 5 + 4 * 4096,
        "{read} lines read while every commit failed"
    );
    assert!(
        peak < before + 20 * 1024,
        "memory grew from {before} KiB to {peak} KiB while the disk was full"
    );
    assert!(
        dm.log()
            .contains("not reading the sources until a commit succeeds"),
        "{}",
        dm.log()
    );

    // Space again: everything is stored, once.
    std::fs::remove_file(filler).unwrap();
    let t = Instant::now();
    while lines_read(&state) < (5 + ADDRS * 5) as u64 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let n = lines_read(&state);
    assert_eq!(
        n,
        (5 + ADDRS * 5) as u64,
        "not all read after the disk had space again:\n{}",
        dm.log()
    );
    let mut s = SqliteStore::open_dir(&state).unwrap();
    let alerts = s.alerts_between(0, i64::MAX, 1_000_000).unwrap();
    let brute: Vec<_> = alerts
        .iter()
        .filter(|a| a.alert.rule_id == "ssh-bruteforce")
        .collect();
    let ips: HashSet<&str> = brute
        .iter()
        .filter_map(|a| a.alert.source_address.as_deref())
        .collect();
    assert_eq!(brute.len(), ADDRS + 1, "every brute force stored once");
    assert_eq!(ips.len(), ADDRS + 1, "one per attacker");
}
