//! A child process the test owns (a collector, an agent, chromedriver): killed on drop.

use std::ffi::OsStr;
use std::io::Write;
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

/// Runs `program args` with `stdin` written to its standard input (a password prompt, a
/// piped token); its output.
pub fn run_with_stdin(program: impl AsRef<OsStr>, args: &[&str], stdin: &str) -> Output {
    let mut c = Command::new(program.as_ref())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", program.as_ref()));
    let mut input = c.stdin.take().expect("piped stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    c.wait_with_output().expect("wait")
}

/// Runs `program args` to the end with `TZ=UTC`, so the times it prints are the same on
/// every host; its output.
pub fn run_utc(program: impl AsRef<OsStr>, args: &[&str]) -> Output {
    Command::new(program.as_ref())
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", program.as_ref()))
}

/// A command's stdout or stderr as text, invalid UTF-8 replaced.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
