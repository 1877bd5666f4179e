//! The command source with real programs: short-lived ones restarted after they exit, a
//! long-running `tail -F`, killed and restarted, arguments passed verbatim (no shell).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use logward_agent::sources::command::{
    Backoff, CommandConfig, CommandSource, ConfigError, ProcessStats,
};
use logward_agent::sources::{Payload, SourceItem};
use logward_test_support::eventually;
use tokio::sync::mpsc;

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn config(items: &[&str], restart: bool) -> CommandConfig {
    CommandConfig {
        argv: argv(items),
        restart,
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
            reset_after: Duration::from_secs(10),
        },
    }
}

fn line(item: SourceItem) -> String {
    assert_eq!(&*item.source, "cmd");
    assert!(
        item.checkpoint.is_none(),
        "command output cannot be resumed"
    );
    match item.payload {
        Payload::Line(l) => l,
        Payload::Event(_) | Payload::Committed(_) => panic!("command sources give lines"),
    }
}

async fn take(rx: &mut mpsc::Receiver<SourceItem>, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(item)) => out.push(line(item)),
            Ok(None) => panic!("the source ended after {out:?}"),
            Err(_) => panic!("timed out after {out:?}"),
        }
    }
    out
}

/// Waits until the running program (tail) has `file` open: what is appended after that, it
/// reads.
async fn tail_has_open(stats: &ProcessStats, file: &Path) {
    eventually(Duration::from_secs(5), || {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", stats.pid()?)).ok()?;
        fds.filter_map(Result::ok)
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|p| p == file))
            .then_some(())
    })
    .await;
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[tokio::test]
async fn a_program_that_exits_is_restarted_with_backoff() {
    let source = CommandSource::new("cmd", config(&["printf", "a\nb\n"], true)).unwrap();
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(source.run(tx));
    assert_eq!(take(&mut rx, 6).await, ["a", "b", "a", "b", "a", "b"]);
    assert!(stats.starts() >= 3);
    assert!(stats.exits() >= 2);
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("ends once the receiver is gone")
        .unwrap();
}

#[tokio::test]
async fn restart_false_ends_with_the_program_and_keeps_a_last_line_without_newline() {
    let source = CommandSource::new("cmd", config(&["printf", "x\r\ny"], false)).unwrap();
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(source.run(tx));
    assert_eq!(take(&mut rx, 2).await, ["x", "y"]);
    let end = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    assert!(
        matches!(end, Ok(None)),
        "the source ended and dropped its sender"
    );
    task.await.unwrap();
}

#[tokio::test]
async fn arguments_reach_the_program_verbatim() {
    let text = "a; echo injected $(id) `id` | cat > /tmp/x";
    let source = CommandSource::new("cmd", config(&["printf", "%s\n", text], false)).unwrap();
    let (tx, mut rx) = mpsc::channel(4);
    tokio::spawn(source.run(tx));
    assert_eq!(take(&mut rx, 1).await, [text]);
    assert!(tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn stderr_is_logged_not_followed() {
    let source =
        CommandSource::new("cmd", config(&["ls", "/nonexistent-logward-path"], false)).unwrap();
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(source.run(tx));
    assert!(tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .is_none());
    task.await.unwrap();
    assert_eq!(stats.lines(), 0);
    assert_eq!(stats.stderr_lines(), 1);
}

#[tokio::test]
async fn a_long_running_tail_is_followed_and_restarted_after_it_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    std::fs::write(&file, "").unwrap();
    let path = file.to_str().unwrap();
    let source = CommandSource::new("cmd", config(&["tail", "-n", "0", "-F", path], true)).unwrap();
    let stats = source.stats();
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(source.run(tx));

    let wait_started = |n: u64| {
        let stats = stats.clone();
        async move {
            for _ in 0..500 {
                if stats.starts() >= n && stats.pid().is_some() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("not started {n} times");
        }
    };
    wait_started(1).await;
    // Lines tail must see are written once it has the file open.
    tail_has_open(&stats, &file).await;
    append(&file, "one\ntwo\n");
    assert_eq!(take(&mut rx, 2).await, ["one", "two"]);
    append(&file, "three\n");
    assert_eq!(take(&mut rx, 1).await, ["three"]);

    let pid = stats.pid().unwrap();
    #[allow(clippy::disallowed_methods)] // tests spawn what they need
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_started(2).await;
    tail_has_open(&stats, &file).await;
    append(&file, "four\n");
    assert_eq!(take(&mut rx, 1).await, ["four"]);
    assert_eq!(stats.exits(), 1);
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("ends (and kills tail) once the receiver is gone")
        .unwrap();
}

#[tokio::test]
async fn a_missing_program_is_retried_and_bad_argv_refused() {
    let source = CommandSource::new("cmd", config(&["logward-no-such-program"], true)).unwrap();
    let stats = source.stats();
    let (tx, rx) = mpsc::channel(4);
    let task = tokio::spawn(source.run(tx));
    eventually(Duration::from_secs(5), || {
        (stats.spawn_failures() >= 2).then_some(())
    })
    .await;
    drop(rx);
    task.await.unwrap();

    assert_eq!(
        CommandSource::new("cmd", config(&[], true)).unwrap_err(),
        ConfigError::EmptyArgv
    );
    assert!(matches!(
        CommandSource::new("cmd", config(&["--help"], true)),
        Err(ConfigError::BadProgram(_))
    ));
}
