//! A `logward run` under test: its stdout lines (the alerts) on a channel, its stderr in a
//! file, ready once it logs that it runs (sources started, control socket bound). Shared by
//! the tests that run the agent.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::wait_until;

/// The line `logward run` logs once its sources are started and its control socket is bound.
const RUNNING: &str = "logward agent running";

/// A running `logward run`, killed on drop.
#[derive(Debug)]
pub struct Daemon {
    pub child: Child,
    bin: PathBuf,
    lines: mpsc::Receiver<String>,
    stderr: PathBuf,
    up: bool,
}

/// The file in the test's folder that a daemon's stderr is appended to.
pub const STDERR: &str = "logward-run.stderr";

impl Daemon {
    /// Starts `bin run --config config --state-dir state` (the test's
    /// `env!("CARGO_BIN_EXE_logward")`), its stderr appended to [`STDERR`] in `dir`; returns
    /// once it runs.
    pub fn start(bin: &str, config: &Path, state: &Path, dir: &Path) -> Daemon {
        Daemon::start_with(bin, &[], config, state, dir)
    }

    /// [`Daemon::start`] with `args` after `run` (`--format none`).
    pub fn start_with(bin: &str, args: &[&str], config: &Path, state: &Path, dir: &Path) -> Daemon {
        let stderr = dir.join(STDERR);
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr)
            .expect("stderr file");
        // The file is shared by the restarts of one test: this one's log begins here.
        let from = err.metadata().map_or(0, |m| m.len()) as usize;
        // A daemon killed with SIGKILL leaves its socket behind.
        let _ = std::fs::remove_file(state.join("control.sock"));
        let mut child = Command::new(bin)
            .arg("run")
            .args(args)
            .arg("--config")
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
        let mut d = Daemon {
            child,
            bin: PathBuf::from(bin),
            lines,
            stderr,
            up: false,
        };
        // A daemon that exits at start (a bad config) is the test's to see, at once.
        let mut up = false;
        wait_until(Duration::from_secs(10), || {
            up = d.log().get(from..).is_some_and(|l| l.contains(RUNNING));
            up || !matches!(d.child.try_wait(), Ok(None))
        });
        d.up = up;
        d
    }

    /// Whether it came up (logged that it runs) when started.
    pub fn up(&self) -> bool {
        self.up
    }

    /// Where its stderr goes.
    pub fn log_path(&self) -> &Path {
        &self.stderr
    }

    /// The next line on its stdout (an alert) within `within`.
    pub fn alert(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    /// Sends it `sig` (`HUP`, `TERM`, `KILL`) with kill(1): argv, no shell.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    /// Stops it with SIGTERM; it must exit with success within ten seconds.
    pub fn stop(mut self) {
        self.terminate();
    }

    /// Stops it with SIGTERM; it must exit with success within ten seconds. Unlike
    /// [`Daemon::stop`] it stays readable: what it printed, its log.
    pub fn terminate(&mut self) {
        self.signal("TERM");
        let code = self.wait(Duration::from_secs(10));
        assert_eq!(
            code,
            Some(0),
            "the daemon did not stop cleanly:\n{}",
            self.log()
        );
    }

    /// Its exit code if it exits within `within` (`None`: still running, or killed by a
    /// signal).
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
            let o = Command::new(&self.bin)
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

    /// Its stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until its stderr has `needle` (a reload done, a source stopped); whether it came
    /// within `within`.
    pub fn wait_log(&self, needle: &str, within: Duration) -> bool {
        wait_until(within, || self.log().contains(needle))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
