//! The agent's and the collector's `GET /metrics`, from the real binary, pass Prometheus'
//! own linter: `promtool check metrics` (Debian's `prometheus` package, installed by
//! scripts/test.sh). Without promtool the test is skipped, except under CI=true.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test and promtool

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

fn promtool() -> bool {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        logward_test_support::skipped("promtool is not installed (Debian package prometheus)");
    }
    found
}

/// Starts `logward ARGS`, reads its stderr until a line has `marker`, and returns the child
/// and the `host:port` after `http://` on that line.
fn start(args: &[&str], marker: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .env("LOGWARD_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start logward");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = String::new();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("logward stopped before `{marker}`:\n{seen}");
        };
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(marker) {
            if let Some(rest) = line.split("http://").nth(1) {
                break rest.split(['/', ' ']).next().unwrap_or_default().to_owned();
            }
        }
    };
    // Keep draining stderr so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn get_metrics(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    body.to_owned()
}

/// Runs promtool on the exposition: no parse error and no lint problem.
fn assert_promtool_clean(body: &str) {
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    p.stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let o = p.wait_with_output().expect("promtool");
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "promtool check metrics: {:?}\n{}{}\n--- exposition ---\n{body}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            body.contains(&format!("\n# TYPE {name} ")),
            "{name} missing:\n{body}"
        );
    }
}

fn stop(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

#[test]
fn agent_metrics_pass_promtool() {
    if !promtool() {
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let log = d.path().join("auth.log");
    std::fs::write(&log, "").expect("log");
    let cfg = d.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: {}}}\nmetrics: {{listen: \"127.0.0.1:0\"}}\n",
            log.display()
        ),
    )
    .expect("config");
    let state = d.path().join("state");
    let (child, addr) = start(
        &[
            "run",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--state-dir",
            state.to_str().expect("utf-8"),
        ],
        "serving metrics",
    );
    let body = get_metrics(&addr);
    stop(child);
    assert!(body.contains("\nlogward_rule_keys "), "{body}");
    assert_promtool_clean(&body);
}

#[test]
fn collector_metrics_pass_promtool() {
    if !promtool() {
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let cfg = d.path().join("c.yaml");
    std::fs::write(&cfg, "listen: 127.0.0.1:0\nstate_dir: st\n").expect("config");
    let (child, addr) = start(
        &["collector", "--config", cfg.to_str().expect("utf-8")],
        "listening on",
    );
    let body = get_metrics(&addr);
    stop(child);
    assert!(Path::new(&d.path().join("st")).is_dir());
    // The store's figures (issue 18): both pools' waits (the first look-ups at start waited
    // in the store thread's queue), the queue depth and the backend.
    for name in [
        "logward_collector_store_wait_seconds_bucket{pool=\"ingest\",le=\"+Inf\"} ",
        "logward_collector_store_wait_seconds_count{pool=\"background\"} ",
        "logward_collector_store_queue_depth ",
        "logward_collector_store_info{backend=\"sqlite\"} 1",
    ] {
        assert!(body.contains(name), "no `{name}` in:\n{body}");
    }
    let ingest_waits = body
        .lines()
        .find_map(|l| {
            l.strip_prefix("logward_collector_store_wait_seconds_count{pool=\"ingest\"} ")
        })
        .and_then(|n| n.parse::<u64>().ok());
    assert!(ingest_waits.is_some_and(|n| n > 0), "{body}");
    assert_promtool_clean(&body);
}
