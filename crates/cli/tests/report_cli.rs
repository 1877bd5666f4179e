//! `logward report`, end to end: entries committed to a state store through the Store API,
//! printed by the real binary.
#![allow(clippy::unwrap_used)]
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::path::Path;
use std::process::Output;

use logward_store::{AgentStore as _, Batch, ReportEntry, ReportSection, SqliteStore, Store};
use logward_test_support::daemon::Daemon;
use logward_test_support::{run_utc, text, wait_until};

fn logward(args: &[&str]) -> Output {
    run_utc(env!("CARGO_BIN_EXE_logward"), args)
}

fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Seeds `dir` with report entries around `now`; returns their times by name.
fn seed(dir: &Path, now: i64) -> Vec<i64> {
    let mut store = SqliteStore::open_dir(dir).unwrap();
    let t: Vec<i64> = [7200, 3700, 600, 5000, 4000, 3000, 2000, 1000, 500]
        .iter()
        .map(|s| now - s)
        .collect();
    let e = |time, section, text: &str| ReportEntry {
        time,
        section,
        text: text.to_owned(),
    };
    let mut report = vec![
        e(t[0], ReportSection::Info, "alice logged in from 192.0.2.10"),
        e(t[1], ReportSection::Info, "alice logged in from 192.0.2.10"),
        e(t[2], ReportSection::Other, "kernel: something odd"),
        // Older than the window: left out.
        e(now - 90_000, ReportSection::Warn, "yesterday's news"),
    ];
    for &x in &t[3..] {
        report.push(e(
            x,
            ReportSection::Warn,
            "root login refused from 203.0.113.5",
        ));
    }
    store
        .commit_batch(&Batch {
            report,
            ..Batch::default()
        })
        .unwrap();
    t
}

#[test]
fn report_prints_sections_counts_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp();
    let t = seed(dir.path(), now);
    let state = dir.path().to_str().unwrap();

    let o = logward(&[
        "report",
        "--since",
        "24h",
        "--state-dir",
        state,
        "--host",
        "web01",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with("logward daily report — web01 — "), "{out}");
    assert!(
        out.contains("Times in local time (+00:00). 9 entries."),
        "{out}"
    );
    let warn = out
        .find("== WARN — to look at (6 entries, 1 distinct)")
        .expect(&out);
    let info = out
        .find("== INFO — what happened (2 entries, 1 distinct)")
        .expect(&out);
    let other = out
        .find("== OTHER — lines no rule recognised (1 entry, 1 distinct)")
        .expect(&out);
    assert!(warn < info && info < other, "{out}");
    assert!(
        out.contains(&format!(
            "      6  root login refused from 203.0.113.5\n         first {}, last {} (6 times)",
            time(t[3]),
            time(t[8])
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "      2  alice logged in from 192.0.2.10\n         {}, {}",
            time(t[0]),
            time(t[1])
        )),
        "{out}"
    );
    assert!(out.contains(&format!(
        "      1  kernel: something odd\n         {}",
        time(t[2])
    )));
    assert!(!out.contains("yesterday's news"), "{out}");

    // A shorter window: only the last hour's entries (the OTHER line and four WARN ones).
    let o = logward(&[
        "report",
        "--since",
        "1h",
        "--state-dir",
        state,
        "--format",
        "json",
        "--language",
        "zh-CN",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &j["report"]["sections"];
    assert_eq!(s[0]["section"], "WARN");
    assert_eq!(s[0]["total"], 4, "{j:#}");
    assert_eq!(s[1]["total"], 0);
    assert_eq!(s[2]["messages"][0]["text"], "kernel: something odd");

    let o = logward(&[
        "report",
        "--state-dir",
        state,
        "--language",
        "zh-CN",
        "--format",
        "markdown",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let md = text(&o.stdout);
    assert!(md.contains("### 警告（共 6 条，1 种）"), "{md}");
    assert!(md.contains("（共 6 次）"), "{md}");

    let o = logward(&["report", "--state-dir", state, "--format", "html"]);
    assert!(text(&o.stdout)
        .contains("<td align=\"right\">6</td><td>root login refused from 203.0.113.5</td>"));
}

#[test]
fn report_errors_are_plain() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let o = logward(&["report", "--state-dir", state]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no state store in"),
        "{}",
        text(&o.stderr)
    );
    // Nothing was created behind the user's back.
    assert!(!dir.path().join(SqliteStore::FILE_NAME).exists());
    let o = logward(&["report", "--since", "soon", "--state-dir", state]);
    assert!(
        text(&o.stderr).contains("--since `soon` is not a duration"),
        "{}",
        text(&o.stderr)
    );
}

/// `logward run`, up.
fn run_daemon(cfg: &Path, dir: &Path, state: &Path) -> Daemon {
    Daemon::start(env!("CARGO_BIN_EXE_logward"), cfg, state, dir)
}

#[test]
fn the_agent_sends_a_missed_report_at_start_fed_by_the_default_rules() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("auth.log");
    let out = d.path().join("report.log");
    let state = d.path().join("state");
    let cfg = d.path().join("agent.yaml");
    std::fs::write(&log, "").unwrap();
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: {}, start_at: beginning}}\n\
             notify:\n  notifiers:\n    daily: {{type: file, path: {}}}\n  \
             routes:\n    - {{notifiers: [daily], min_severity: critical}}\n  \
             report: {{at: '00:00', timezone: UTC, notifiers: [daily]}}\n",
            log.display(),
            out.display()
        ),
    )
    .unwrap();
    assert!(logward(&["check", "--config", cfg.to_str().unwrap()])
        .status
        .success());

    // First run: lines the default rules put in the report (WARN, INFO, OTHER): a brute
    // force while bans are off (the default), a login, a kernel line and a line with no
    // process name (issue 13: the default template failed on it).
    let agent = run_daemon(&cfg, d.path(), &state);
    let at = chrono::Utc::now().format("%b %e %H:%M:%S");
    let failures: String = (0..5)
        .map(|i| format!("{at} web01 sshd[{i}]: Failed password for root from 203.0.113.5 port 600{i} ssh2\n"))
        .collect();
    std::fs::write(
        &log,
        format!(
            "Nov 22 10:00:00 web01 sshd[7]: Accepted publickey for alice from 192.0.2.10 port 5000 ssh2: ED25519 SHA256:abc\n\
             Nov 22 10:00:01 web01 kernel: [1.0] something odd\n\
             Nov 22 10:00:02 web01 a line without a process name\n{failures}"
        ),
    )
    .unwrap();
    assert!(wait_until(std::time::Duration::from_secs(20), || {
        let mut s = SqliteStore::open_dir(&state).unwrap();
        s.report_entries(0, i64::MAX).unwrap().len() == 4
    }));
    agent.stop();
    assert!(!out.exists(), "no report before its time");

    // Windows are half-open (`to` excluded): let the entries' last second pass.
    let last = SqliteStore::open_dir(&state)
        .unwrap()
        .report_entries(0, i64::MAX)
        .unwrap()
        .iter()
        .map(|e| e.entry.time)
        .max()
        .unwrap();
    assert!(wait_until(std::time::Duration::from_secs(5), || {
        chrono::Utc::now().timestamp() > last
    }));
    // The last report went out two days ago: the next start sends today's at once.
    let now = chrono::Utc::now().timestamp();
    SqliteStore::open_dir(&state)
        .unwrap()
        .set_meta(
            logward_notify::schedule::LAST_TO,
            &(now - 2 * 86_400).to_string(),
        )
        .unwrap();
    let agent = run_daemon(&cfg, d.path(), &state);
    assert!(wait_until(std::time::Duration::from_secs(20), || out
        .exists()
        && std::fs::read_to_string(&out).unwrap().ends_with('\n')));
    agent.stop();
    let sent: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    let sections = sent["report"]["sections"].as_array().unwrap();
    // Bans are off: the report says what happened, not "banned".
    assert_eq!(sections[0]["section"], "WARN");
    assert_eq!(
        sections[0]["messages"][0]["text"],
        "SSH brute force from 203.0.113.5: would ban — bans off"
    );
    assert_eq!(sections[1]["section"], "INFO");
    assert_eq!(
        sections[1]["messages"][0]["text"],
        "alice logged in over SSH from 192.0.2.10 (publickey)"
    );
    assert_eq!(sections[2]["section"], "OTHER");
    assert_eq!(
        sections[2]["messages"][0]["text"],
        // The kernel's uptime stamp is framing, not message.
        "kernel: something odd"
    );
    assert_eq!(
        sections[2]["messages"][1]["text"],
        "a line without a process name"
    );
    // Recorded: a third start does not send it again.
    let last: i64 = SqliteStore::open_dir(&state)
        .unwrap()
        .meta(logward_notify::schedule::LAST_TO)
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert!(last >= now);

    // In zh-CN the built-in rules' entries are in Chinese too (issue 13: they were English).
    let zh = logward(&[
        "report",
        "--since",
        "7d",
        "--state-dir",
        state.to_str().unwrap(),
        "--language",
        "zh-CN",
        "--format",
        "json",
    ]);
    assert!(zh.status.success(), "{}", text(&zh.stderr));
    let zh: serde_json::Value = serde_json::from_slice(&zh.stdout).unwrap();
    let sections = zh["report"]["sections"].as_array().unwrap();
    assert_eq!(
        sections[0]["messages"][0]["text"],
        "来自 203.0.113.5 的 SSH 暴力破解：应封禁（封禁未启用）"
    );
    assert_eq!(
        sections[1]["messages"][0]["text"],
        "alice 从 192.0.2.10 SSH 登录（publickey）"
    );
}
