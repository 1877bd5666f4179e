//! A child process the test owns (a collector, an agent, chromedriver): killed on drop.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// A child killed with SIGKILL (a crash, not a clean stop: the outage tests rely on it) and
/// reaped when dropped.
#[derive(Debug)]
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program args` with `TZ=UTC`, stdout discarded, stderr appended to `log`.
pub fn spawn(program: impl AsRef<OsStr>, args: &[&str], log: &Path) -> Proc {
    let program = program.as_ref();
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    Proc(
        Command::new(program)
            .args(args)
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program:?}: {e}")),
    )
}

/// A finished command's exit status, stdout and stderr, for an assertion's message.
pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
