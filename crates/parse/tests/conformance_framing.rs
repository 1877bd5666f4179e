//! Framing against what other projects expect of the same lines:
//!
//! - fail2ban's `zzz-generic-example` (corpus `fail2ban/logs/`): every framing variant fail2ban's
//!   common prefix accepts (`[prog]`, `[prog][pid]`, `prog(pam_unix)` without a colon,
//!   `<auth.info>`, the kernel prefix with `@vserver_…` and Solaris `[ID n x]`, `[date]`,
//!   `… UTC`, `0000-12-30`) frames to program `test-demo` (or `test-demo(pam_unix)`) with the
//!   message `F2B: …`, at fail2ban's time. `F2B` is fail2ban's test-only service: the frame is
//!   checked, not an event. The other daemon's line frames to its own program.
//! - fail2ban's BSD syslogd samples (`bsd/syslog-{plain,v,vv}.txt`): host, program and the
//!   `<fac.pri>` marker's codes.
//! - OSSEC's `syslog.ini` and `systemd.ini` rule tests: every line has a time, a host and a
//!   program (the rule's decoder, when one is named).
//! - One sshd failure framed in every shape frame.rs knows decodes to the same event.
//!
//! CrowdSec's `syslog-logs` framing (`program`, `pid`, `message`) is checked in
//! conformance_crowdsec.rs.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use logward_core::Timestamp;
use logward_parse::frame::{frame, Frame};
use logward_parse::{YearResolver, YearRule, Zone};

/// fail2ban's test clock: "now" is 2005-08-14T10:00:00Z and the zone Europe/Zurich, which is
/// CEST (+02:00) on every date these samples name.
fn fail2ban_years() -> YearResolver {
    let now = Timestamp {
        unix: 1_124_013_600,
        nanos: 0,
        offset: 0,
    };
    YearResolver::new(YearRule::Reference(now), Zone::Fixed(7200))
}

/// The program with PAM's `(module)` suffix removed.
fn base(program: &str) -> &str {
    program.split('(').next().unwrap_or(program)
}

fn local_time(ts: &Timestamp) -> String {
    let (y, mo, d, h, mi, s) = ts.with_offset(7200).local_fields();
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
}

#[test]
fn fail2ban_generic_example_frames() {
    let Some(dir) = logward_test_support::corpus("fail2ban/logs") else {
        return;
    };
    let text = common::read_lossy(&dir.join("zzz-generic-example"));
    let lines: Vec<&str> = text.lines().collect();
    let mut years = fail2ban_years();
    let (mut checked, mut problems) = (0, Vec::new());
    for ann in common::fail2ban::annotations(&text) {
        let line = lines[ann.line_no];
        let f: Frame<'_> = frame(line, &mut years);
        let mut bad = |what: String| problems.push(format!("{what}: {line}"));
        let json = lines[ann.line_no - 1];
        if ann.matched {
            checked += 1;
            let host = ann.host.as_deref().unwrap();
            let program = f.program.as_deref().unwrap_or("");
            if base(program) != "test-demo" && program != "kernel" {
                bad(format!("program {program:?}"));
            }
            let want_failure = format!("F2B: failure from {host}");
            let want_error = format!("F2B: error from {host}");
            if f.message != want_failure.as_str() && f.message != want_error.as_str() {
                bad(format!("message {:?}", f.message));
            }
            let want_time = json
                .split("\"time\": ")
                .nth(1)
                .map(|t| t.split([',', ' ']).next().unwrap_or("").trim_matches('"'));
            match (want_time, &f.timestamp) {
                (Some("null"), None) | (None, _) => {}
                (Some(t), Some(ts)) if local_time(ts) == t => {}
                (want, got) => bad(format!(
                    "time {want:?}, framed {:?}",
                    got.as_ref().map(local_time)
                )),
            }
        } else if line.contains("captain-nemo") {
            checked += 1;
            if f.program.as_deref().map(base) != Some("captain-nemo") {
                bad(format!("program {:?}", f.program));
            }
        } else if line.contains("test-demo") {
            // fail2ban's ignoreregex lines and the plist's first line: framed like the others.
            checked += 1;
            if f.program.as_deref().map(base) != Some("test-demo") {
                bad(format!("program {:?}", f.program));
            }
        }
    }
    eprintln!(
        "zzz-generic-example: {checked} lines framed, {} problems",
        problems.len()
    );
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(checked >= 20, "only {checked} lines checked");
    assert!(problems.is_empty(), "{} problems", problems.len());
}

#[test]
fn fail2ban_bsd_syslogd_variants() {
    let Some(dir) = logward_test_support::corpus("fail2ban/logs/bsd") else {
        return;
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for (file, codes) in [
        ("syslog-plain.txt", None),
        ("syslog-v.txt", Some(4)),
        ("syslog-vv.txt", Some(4)),
    ] {
        let text = common::read_lossy(&dir.join(file));
        let mut years = YearResolver::fixed(2026, 0);
        for line in text.lines().filter(|l| !l.is_empty()) {
            checked += 1;
            let f = frame(line, &mut years);
            let ok = f.timestamp.is_some()
                && f.host.as_deref() == Some("pancake")
                && f.program.as_deref() == Some("sshd")
                && f.pid.is_some()
                && f.facility == codes
                && (codes.is_none() || f.severity.is_some())
                && !f.message.starts_with('<');
            if !ok {
                problems.push(format!("{file}: {f:?}"));
            }
        }
    }
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(checked > 10, "only {checked} lines");
    assert!(problems.is_empty(), "{} problems", problems.len());
}

#[test]
fn ossec_syslog_and_systemd_frames() {
    let Some(dir) = logward_test_support::corpus("ossec-rules-tests") else {
        return;
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in ["syslog.ini", "systemd.ini"] {
        let text = common::read_lossy(&dir.join(file));
        let mut decoder_name = None;
        let mut pending: Vec<&str> = Vec::new();
        let mut years = YearResolver::fixed(2026, 0);
        // A test is its `log … = LINE` lines, then `decoder = NAME` (maybe empty).
        for l in text.lines().map(|l| l.trim_end_matches('\r')) {
            if l.starts_with("log ") {
                if let Some((_, v)) = l.split_once(" = ") {
                    pending.push(v);
                }
            } else if let Some(d) = l.strip_prefix("decoder =") {
                decoder_name = Some(d.trim());
            }
            if decoder_name.is_none() {
                continue;
            }
            let want = decoder_name.take().filter(|d| !d.is_empty());
            for line in pending.drain(..) {
                checked += 1;
                let f = frame(line, &mut years);
                let ok = f.timestamp.is_some()
                    && f.host.is_some()
                    && f.program.is_some()
                    && want.is_none_or(|d| f.program.as_deref() == Some(d))
                    && !f.message.is_empty()
                    && line.ends_with(f.message.as_ref());
                if !ok {
                    problems.push(format!("{file}: want {want:?}, framed {f:?}"));
                }
            }
        }
    }
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(checked >= 7, "only {checked} lines");
    assert!(problems.is_empty(), "{} problems", problems.len());
}

/// Every shape hands its message to the program's decoder: the same sshd failure, framed as
/// each writer frames it, is the same event.
#[test]
fn every_shape_decodes_the_same_failure() {
    use logward_core::{Action, Outcome};
    const MSG: &str = "Failed password for root from 192.0.2.7 port 4242 ssh2";
    let shapes = [
        format!("Dec  6 10:00:01 host sshd[123]: {MSG}"),
        format!("Dec  6 10:00:01 host auth.info sshd[123]: {MSG}"),
        format!("Sun Dec  6 10:00:01 2026 auth.info sshd[123]: {MSG}"),
        format!("Sun Dec  6 10:00:01 2026 gw authpriv.info sshd[123]: {MSG}"),
        format!("2026-12-06T10:00:01.123456 host sshd[123]: {MSG}"),
        format!("2026-12-06T10:00:01.123456+0100 host sshd[123]: {MSG}"),
        format!("2026-12-06 10:00:01,123 host sshd[123]: {MSG}"),
        format!("Sun 2026-12-06 10:00:01 CET host sshd[123]: {MSG}"),
        format!("Dec 06 10:00:01.123456 host sshd[123]: {MSG}"),
        format!("1796551201.123456 host sshd[123]: {MSG}"),
        format!("[  970.699396] host sshd[123]: {MSG}"),
        format!("Dec  6 10:00:01 host sshd[123] {MSG}"),
        format!("@400000006b15322b075bca00 auth.info: Dec  6 10:00:01 sshd[123]: {MSG}"),
        format!("2026-12-06_10:00:01.12345 auth.info: Dec  6 10:00:01 sshd[123]: {MSG}"),
        format!("auth.info: Dec  6 10:00:01 sshd[123]: {MSG}"),
        format!("2015 Dec  6 10:00:01 host sshd[123]: {MSG}"),
        format!("[Dec  6 10:00:01] host sshd[123]: {MSG}"),
        format!("Dec  6 10:00:01 host kernel: [ 5.123] @vserver_a sshd[123] {MSG}"),
    ];
    let mut problems = Vec::new();
    for line in &shapes {
        let e = common::decoder().decode(line);
        let ok = e.action() == Action::UserLogin
            && e.outcome == Outcome::Failure
            && e.source_ip.map(|ip| ip.to_string()).as_deref() == Some("192.0.2.7")
            && e.user_name.as_deref() == Some("root")
            && e.process_pid == Some(123);
        if !ok {
            problems.push(format!("{line}: {e:?}"));
        }
    }
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(problems.is_empty(), "{} problems", problems.len());
}
