//! The collector's log has ANSI colour codes only on a terminal, and never with NO_COLOR:
//! journald (a pipe) stores escapes verbatim. The real binary, stderr piped, then on a
//! pseudo-terminal through util-linux `script`.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

/// Reads `r` until the collector says it listens; returns everything read.
fn until_listening(r: impl Read) -> String {
    let mut seen = String::new();
    for line in BufReader::new(r).lines() {
        let line = line.expect("read the log");
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("listening on") {
            return seen;
        }
    }
    panic!("the collector stopped before listening:\n{seen}");
}

/// Stops the child's whole process group (`script` and the collector under it).
fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
}

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let cfg = dir.join("c.yaml");
    std::fs::write(&cfg, "listen: 127.0.0.1:0\nstate_dir: st\n").expect("write");
    cfg
}

#[test]
fn no_colour_codes_when_stderr_is_a_pipe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(BIN)
        .args(["collector", "--config"])
        .arg(config(dir.path()))
        .env_remove("NO_COLOR")
        .env("LOGWARD_LOG", "info")
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start the collector");
    let log = until_listening(child.stderr.take().expect("stderr"));
    stop(child);
    assert!(log.contains(" INFO "), "{log}");
    assert!(
        !log.contains('\x1b'),
        "escape codes in a piped log: {log:?}"
    );
}

/// On a terminal the log is coloured, unless NO_COLOR is set.
#[test]
fn colour_on_a_terminal_unless_no_color() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path());
    for no_color in [false, true] {
        let cmd = format!("exec {BIN} collector --config {}", cfg.display());
        let mut c = Command::new("script");
        c.args(["-qfec", &cmd, "/dev/null"])
            .env("LOGWARD_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0);
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        let mut child = c.spawn().expect("run script (util-linux)");
        let log = until_listening(child.stdout.take().expect("stdout"));
        stop(child);
        assert_eq!(
            log.contains('\x1b'),
            !no_color,
            "NO_COLOR {no_color}: {log:?}"
        );
    }
}
