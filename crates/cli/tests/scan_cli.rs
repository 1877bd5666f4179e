//! End-to-end tests of `logward scan`: the real binary on real files.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test, touch and setpriv

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn logward() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_logward"));
    c.env("TZ", "UTC");
    c
}

fn run(args: &[&str]) -> Output {
    logward().args(args).output().expect("run logward")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn events(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l}: {e}")))
        .collect()
}

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/auth.log")
}

fn gz(path: &Path, text: &str) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    w.write_all(text.as_bytes()).unwrap();
    w.finish().unwrap();
}

fn timestamps(o: &Output) -> Vec<String> {
    events(o)
        .iter()
        .map(|e| e["@timestamp"].as_str().unwrap().to_owned())
        .collect()
}

const SSH: &str = "web01 sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\n";

#[test]
fn ndjson_events_carry_where_they_came_from() {
    let ex = example();
    let ex = ex.to_str().unwrap();
    let o = run(&["scan", "--year", "2026", "--format", "ndjson", ex]);
    assert!(o.status.success(), "{o:?}");
    let evs = events(&o);
    let text = std::fs::read_to_string(example()).unwrap();
    assert_eq!(
        evs.len(),
        text.lines().count(),
        "one event per line, unknown ones included"
    );
    let mut offset = 0u64;
    for (i, (e, line)) in evs.iter().zip(text.lines()).enumerate() {
        assert_eq!(e["log"]["file"]["line"], (i + 1) as u64);
        assert_eq!(e["log"]["offset"], offset);
        assert!(e["log"]["file"]["path"]
            .as_str()
            .unwrap()
            .ends_with("auth.log"));
        assert!(e["@timestamp"].as_str().unwrap().starts_with("2026-11-22T"));
        offset += line.len() as u64 + 1;
    }
    assert!(evs[0]["event"].get("original").is_none());
    let raw = events(&run(&[
        "scan", "--raw", "--year", "2026", "--format", "ndjson", ex,
    ]));
    assert_eq!(
        raw[2]["event"]["original"].as_str().unwrap(),
        text.lines().nth(2).unwrap()
    );
}

#[test]
fn rotations_are_read_oldest_first_and_gzip_is_transparent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gz(&d.join("auth.log.3.gz"), &format!("Nov 20 10:00:00 {SSH}"));
    gz(&d.join("auth.log.2.gz"), &format!("Nov 21 10:00:00 {SSH}"));
    std::fs::write(d.join("auth.log.1"), format!("Nov 22 10:00:00 {SSH}")).unwrap();
    std::fs::write(d.join("auth.log"), format!("Nov 23 10:00:00 {SSH}")).unwrap();
    // A gzip file without the suffix is recognised by its magic bytes.
    gz(
        &d.join("secure-20261101"),
        &format!("Nov  1 10:00:00 {SSH}"),
    );
    std::fs::write(d.join("secure-20261108"), format!("Nov  8 10:00:00 {SSH}")).unwrap();
    std::fs::write(d.join("secure"), format!("Nov 15 10:00:00 {SSH}")).unwrap();
    let as_dir = d.to_str().unwrap().to_owned();
    let as_glob = format!("{}/*", d.display());
    for how in [as_dir, as_glob] {
        let o = run(&["scan", "--year", "2026", "--format", "ndjson", &how]);
        assert!(o.status.success(), "{o:?}");
        let names: Vec<String> = events(&o)
            .iter()
            .map(|e| {
                let p = e["log"]["file"]["path"].as_str().unwrap();
                Path::new(p)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "auth.log.3.gz",
                "auth.log.2.gz",
                "auth.log.1",
                "auth.log",
                "secure-20261101",
                "secure-20261108",
                "secure"
            ]
        );
    }
}

#[test]
fn stdin_is_read_with_dash() {
    let mut child = logward()
        .args(["scan", "--year", "2026", "--format", "ndjson", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = format!("Nov 22 10:00:00 {SSH}");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let evs = events(&o);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["log"]["file"]["path"], "-");
    assert_eq!(evs[0]["host"]["name"], "web01");
}

#[test]
fn year_from_reference_time_fixed_year_and_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("auth.log");
    std::fs::write(&f, format!("Dec 31 23:59:59 {SSH}Jan  1 00:00:01 {SSH}")).unwrap();
    let p = f.to_str().unwrap();
    let o = run(&[
        "scan",
        "--reference-time",
        "2026-01-05T00:00:00Z",
        "--format",
        "ndjson",
        p,
    ]);
    assert_eq!(
        timestamps(&o),
        ["2025-12-31T23:59:59Z", "2026-01-01T00:00:01Z"]
    );
    let o = run(&["scan", "--year", "2030", "--format", "ndjson", p]);
    assert_eq!(
        timestamps(&o),
        ["2030-12-31T23:59:59Z", "2031-01-01T00:00:01Z"]
    );
    // Without either, the file's mtime decides: mid-January 2027.
    let touched = Command::new("touch")
        .args(["-d", "2027-01-15T00:00:00Z"])
        .arg(&f)
        .status()
        .unwrap();
    assert!(touched.success());
    let o = run(&["scan", "--format", "ndjson", p]);
    assert_eq!(
        timestamps(&o),
        ["2026-12-31T23:59:59Z", "2027-01-01T00:00:01Z"]
    );
}

#[test]
fn bad_input_is_counted_and_survived() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.log");
    let mut data = Vec::new();
    data.extend_from_slice(
        b"Nov 22 10:00:00 h sshd[1]: Failed password for caf\xe9 from 192.0.2.1 port 22 ssh2\n",
    );
    data.extend_from_slice(
        b"\0\0\0Nov 22 10:00:01 h sshd[1]: Invalid user x from 192.0.2.2 port 22\r\n",
    );
    data.extend_from_slice(&vec![b'A'; 200_000]);
    data.push(b'\n');
    data.extend_from_slice(&[0xff, 0xfe, 0x00, 0x01, 0x80, b'\n']);
    data.extend_from_slice(
        b"Nov 22 10:00:02 h sshd[1]: Failed password for root from 192.0.2.3 po",
    );
    std::fs::write(&f, &data).unwrap();
    let p = f.to_str().unwrap();
    let o = run(&["scan", "--year", "2026", "--format", "summary", p]);
    assert!(o.status.success(), "{o:?}");
    let s = stdout(&o);
    assert!(s.contains(" 5 lines"), "{s}");
    assert!(
        s.contains("invalid-utf8 2, nul-bytes 2, crlf 1, cut-at-64KiB 1, unterminated-last-line 1"),
        "{s}"
    );
    let evs = events(&run(&["scan", "--year", "2026", "--format", "ndjson", p]));
    assert_eq!(evs.len(), 5);
    assert_eq!(evs[0]["user"]["name"], "caf\u{fffd}");
    assert_eq!(evs[1]["source"]["ip"], "192.0.2.2");
    assert_eq!(evs[2]["message"].as_str().unwrap().len(), 64 * 1024);
}

#[test]
fn unparsed_prints_only_unrecognised_lines() {
    // The example log, every line of which a decoder knows, and two lines none does.
    let unknown = [
        "Nov 22 10:00:01 web01 CRON[77]: (root) CMD (run-parts /etc/cron.hourly)",
        "Nov 22 10:00:02 web01 kernel: [  970.699396] eth0: link up",
    ];
    let mut all = std::fs::read_to_string(example()).unwrap();
    for l in unknown {
        all.push_str(l);
        all.push('\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.log");
    std::fs::write(&p, &all).unwrap();
    let o = run(&["scan", "--unparsed", "--year", "2026", p.to_str().unwrap()]);
    assert_eq!(stdout(&o).lines().collect::<Vec<_>>(), unknown);
}

#[test]
fn table_is_the_terminal_default_and_ndjson_the_pipe_default() {
    let ex = example();
    let o = run(&["scan", "--year", "2026", ex.to_str().unwrap()]);
    assert!(stdout(&o).starts_with('{'), "piped stdout gets NDJSON");
    let o = run(&[
        "scan",
        "--format",
        "table",
        "--year",
        "2026",
        ex.to_str().unwrap(),
    ]);
    assert!(stdout(&o).starts_with("TIME "));
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn missing_and_unreadable_paths_exit_2_and_the_rest_is_scanned() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.log");
    let readable = dir.path().join("ok.log");
    std::fs::write(&secret, format!("Nov 22 10:00:00 {SSH}")).unwrap();
    std::fs::write(&readable, format!("Nov 22 10:00:00 {SSH}")).unwrap();
    std::fs::set_permissions(&secret, PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&readable, PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let args = [
        "scan",
        "--year",
        "2026",
        "--format",
        "ndjson",
        "/nonexistent/auth.log",
        secret.to_str().unwrap(),
        readable.to_str().unwrap(),
    ];
    // Tests run as root in CI: drop privileges so the 0600 file is really unreadable.
    let o = if running_as_root() {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_logward"))
            .args(args)
            .env("TZ", "UTC")
            .output()
            .unwrap()
    } else {
        run(&args)
    };
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("/nonexistent/auth.log") && err.contains("No such file"),
        "{err}"
    );
    assert!(
        err.contains("secret.log") && err.contains("Permission denied"),
        "{err}"
    );
    let evs = events(&o);
    assert_eq!(evs.len(), 1);
    assert!(evs[0]["log"]["file"]["path"]
        .as_str()
        .unwrap()
        .ends_with("ok.log"));
}

#[test]
fn no_path_scans_the_system_logs_or_says_there_are_none() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = run(&["scan", "--system-log-dir", d]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no auth logs found"));
    std::fs::write(
        dir.path().join("auth.log"),
        format!("Nov 22 10:00:00 {SSH}"),
    )
    .unwrap();
    gz(
        &dir.path().join("auth.log.2.gz"),
        &format!("Nov 20 10:00:00 {SSH}"),
    );
    std::fs::write(dir.path().join("syslog"), "Nov 22 10:00:00 h kernel: x\n").unwrap();
    let o = run(&[
        "scan",
        "--year",
        "2026",
        "--format",
        "ndjson",
        "--system-log-dir",
        d,
    ]);
    let paths: Vec<String> = events(&o)
        .iter()
        .map(|e| e["log"]["file"]["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths.len(), 2);
    assert!(paths[0].ends_with("auth.log.2.gz") && paths[1].ends_with("auth.log"));
}

#[test]
fn a_truncated_gzip_reports_and_keeps_the_lines_before() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("auth.log.2.gz");
    let body: String = (0..5000)
        .map(|i| {
            format!("Nov 22 10:00:00 web01 sshd[{i}]: Invalid user u{i} from 192.0.2.1 port 22\n")
        })
        .collect();
    gz(&f, &body);
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    let o = run(&[
        "scan",
        "--year",
        "2026",
        "--format",
        "ndjson",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("read error"));
    assert!(!events(&o).is_empty());
}

/// A line of nothing but `<13>` prefixes (up to the 64 KiB line limit) recursed once per
/// prefix in framing and overflowed the stack: one such line in a followed log killed the
/// scan (and the agent). Also socklog priorities nested in each other.
#[test]
fn nested_pri_prefixes_overflowed_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.log");
    let deep = "<13>".repeat(16_000) + "Nov 22 10:00:00 " + SSH.trim_end();
    let socklog = "auth.info: ".repeat(5_000) + "x";
    let text = format!("{deep}\n{socklog}\nNov 22 10:00:01 {SSH}");
    std::fs::write(&path, text).unwrap();
    let o = run(&[
        "scan",
        "--year",
        "2026",
        "--format",
        "ndjson",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let evs = events(&o);
    assert_eq!(evs.len(), 3, "{}", stdout(&o));
    // The line after the attack is still decoded.
    assert_eq!(evs[2]["source"]["ip"], "192.0.2.1");
}
