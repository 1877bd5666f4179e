//! A `logward run` under test: its stdout lines (the alerts) on a channel, its stderr in a
//! file, ready once its control socket exists. Shared by the tests that run the agent.
#![allow(dead_code)] // each test uses part of it

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

pub struct Daemon {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    stderr: PathBuf,
}

impl Daemon {
    pub fn start(config: &Path, state: &Path, dir: &Path) -> Daemon {
        let stderr = dir.join(format!("stderr-{}", std::process::id()));
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr)
            .expect("stderr file");
        let mut child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(config)
            .arg("--state-dir")
            .arg(state)
            .env("TZ", "UTC")
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("spawn logward run");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        // Up once its control socket answers.
        let sock = state.join("control.sock");
        let t = Instant::now();
        while !sock.exists() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        Daemon {
            child,
            lines,
            stderr,
        }
    }

    pub fn alert(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    pub fn wait(&mut self, within: Duration) -> Option<i32> {
        let t = Instant::now();
        while t.elapsed() < within {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Waits until the daemon has read `lines` lines (its status says so): then whatever
    /// they raise has been printed.
    pub fn wait_lines(&self, state: &Path, lines: u64) {
        let want = format!("running: {lines} lines,");
        let t = Instant::now();
        let mut last = String::new();
        while t.elapsed() < Duration::from_secs(10) {
            let o = Command::new(BIN)
                .args(["status", "--state-dir"])
                .arg(state)
                .output()
                .expect("logward status");
            last = String::from_utf8_lossy(&o.stdout).into_owned();
            if last.contains(&want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the daemon did not read {lines} lines: {last}");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
