//! Conformance of the account decoders (sudo, su, shadow-utils, login) and, in separately named
//! tests, of the sshd and PAM decoders, against real lines from `../shared/corpus`:
//!
//! - OSSEC rule tests (`ossec-rules-tests/{pam,sshd,dropbear,su,sudo,syslog}.ini`, PROVENANCE.md §7),
//! - Filebeat's system/auth test input (`beats-system-auth/test.log`, §8),
//! - loghub's `Linux/Linux_2k.log` with its structured CSV (§2).
//!
//! The expected action and outcome of each line are written here from what the line means;
//! the corpus only says which lines to read.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use logward_core::{Action, Event, Outcome};

use Action::*;
use Outcome::{Failure as F, Success as S, Unknown as U};

/// (a substring that picks the line, expected action, expected outcome). The first row whose
/// substring the line contains applies.
type Table = &'static [(&'static str, Action, Outcome)];

/// The `log N pass|fail = <line>` values of an OSSEC rule-test file (pass and fail lines are
/// both real log lines; "fail" only means they must not raise that OSSEC rule).
fn ini_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("log "))
        .filter_map(|l| l.split_once(" = ").map(|(_, v)| v.trim_end_matches('\r')))
        .collect()
}

/// Checks every line against the table: each line has a row, decodes to that row's action and
/// outcome, and every row is used (so the table cannot go stale). All mismatches are reported
/// at once.
fn check(what: &str, lines: &[&str], table: Table) -> Vec<Event<'static>> {
    let mut decoder = common::decoder();
    let mut used = vec![false; table.len()];
    let mut wrong = Vec::new();
    let mut events = Vec::new();
    for line in lines {
        let e = decoder.decode(line).into_owned();
        match table
            .iter()
            .position(|(needle, _, _)| line.contains(needle))
        {
            None => wrong.push(format!("no expectation for: {line}")),
            Some(i) => {
                used[i] = true;
                let (_, action, outcome) = table[i];
                if (e.action(), e.outcome) != (action, outcome) {
                    wrong.push(format!(
                        "want {action}/{} got {}/{} (reason {:?}): {line}",
                        outcome.as_str(),
                        e.action(),
                        e.outcome.as_str(),
                        e.reason,
                    ));
                }
            }
        }
        events.push(e);
    }
    for (i, (needle, _, _)) in table.iter().enumerate() {
        if !used[i] {
            wrong.push(format!("table row matched no line: {needle:?}"));
        }
    }
    println!("{what}: {} lines, {} mismatches", lines.len(), wrong.len());
    assert!(wrong.is_empty(), "{what}:\n{}", wrong.join("\n"));
    events
}

fn read(dir: &Path, rel: &str) -> String {
    common::read_lossy(&dir.join(rel))
}

// ---------------------------------------------------------------------------------------------
// sudo, su, shadow-utils (this crate's account decoders)

const SU: Table = &[
    (
        "failed: ttyq4 changing from ldap to root",
        PrivilegeEscalation,
        F,
    ),
    (
        "FAILED SU (to root) mmoorcro on pts/0",
        PrivilegeEscalation,
        F,
    ),
    (
        "BAD SU ger to fwmaster on /dev/ttyp0",
        PrivilegeEscalation,
        F,
    ),
    ("su: dcid to root on /dev/ttyp1", PrivilegeEscalation, S),
];

const SUDO: Table = &[
    ("incorrect password attempt", PrivilegeEscalation, F),
    ("user NOT in sudoers", PrivilegeEscalation, F),
    ("TTY=", PrivilegeEscalation, S),
];

const BEATS_ACCOUNTS: Table = &[
    ("user NOT in sudoers", PrivilegeEscalation, F),
    ("sudo: vagrant : TTY=", PrivilegeEscalation, S),
    ("groupadd[6991]: new group: name=apache", GroupCreated, S),
    ("useradd[6995]: new user: name=apache", UserCreated, S),
];

const USERADD: Table = &[("failed adding user 'ansible'", UserCreated, F)];

#[test]
fn ossec_and_beats_account_lines() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let su = read(&dir, "ossec-rules-tests/su.ini");
    // The `su(pam_unix)` lines are PAM's: see `ossec_su_pam_lines_need_pam_decoder`.
    let su_lines: Vec<&str> = ini_lines(&su)
        .into_iter()
        .filter(|l| !l.contains("(pam_unix)"))
        .collect();
    let events = check("ossec su.ini", &su_lines, SU);
    let e = &events[1];
    assert_eq!(e.user_name.as_deref(), Some("mmoorcro"));
    assert_eq!(e.user_target_name.as_deref(), Some("root"));

    let sudo = read(&dir, "ossec-rules-tests/sudo.ini");
    let events = check("ossec sudo.ini", &ini_lines(&sudo), SUDO);
    let e = &events[1];
    assert_eq!(e.user_name.as_deref(), Some("dcid"));
    assert_eq!(e.user_target_name.as_deref(), Some("root"));
    assert!(e.command_line.as_deref().is_some_and(|c| c
        .starts_with("/bin/cp -pr ../../bin/addagent")
        && c.ends_with("/var/ossec/bin")));
    assert!(events
        .iter()
        .all(|e| e.user_target_name.as_deref() == Some("root")));

    let syslog = read(&dir, "ossec-rules-tests/syslog.ini");
    let useradd: Vec<&str> = ini_lines(&syslog)
        .into_iter()
        .filter(|l| l.contains(" useradd["))
        .collect();
    let events = check("ossec syslog.ini useradd", &useradd, USERADD);
    assert_eq!(events[0].user_target_name.as_deref(), Some("ansible"));

    let beats = read(&dir, "beats-system-auth/test.log");
    // The sshd lines are checked in `sshd_lines_need_sshd_decoder`.
    let accounts: Vec<&str> = beats.lines().filter(|l| !l.contains(" sshd[")).collect();
    let events = check("beats test.log accounts", &accounts, BEATS_ACCOUNTS);
    let created = events
        .iter()
        .find(|e| e.action() == UserCreated)
        .expect("a user-created event");
    assert_eq!(created.user_target_name.as_deref(), Some("apache"));
    let group = events
        .iter()
        .find(|e| e.action() == GroupCreated)
        .expect("a group-created event");
    assert_eq!(group.group_name.as_deref(), Some("apache"));
    let refused = events
        .iter()
        .find(|e| e.reason == Some("not-in-sudoers"))
        .expect("a not-in-sudoers refusal");
    assert_eq!(refused.user_name.as_deref(), Some("tsg"));
    assert_eq!(refused.command_line.as_deref(), Some("/bin/ls"));
}

// ---------------------------------------------------------------------------------------------
// Lines that depend on pam.rs

/// `su(pam_unix)` authentication failures: a failed attempt to become another user.
const SU_PAM: Table = &[("authentication failure;", PrivilegeEscalation, F)];

#[test]
fn ossec_su_pam_lines_need_pam_decoder() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let su = read(&dir, "ossec-rules-tests/su.ini");
    let lines: Vec<&str> = ini_lines(&su)
        .into_iter()
        .filter(|l| l.contains("(pam_unix)"))
        .collect();
    check("ossec su.ini PAM lines", &lines, SU_PAM);
}

/// OSSEC's pam.ini: its rules' meaning. Rule 5503 "User login failed" also covers su's PAM
/// failure, which logward calls what it is, a failed privilege escalation (a failure too).
const PAM: Table = &[
    (
        "su(pam_unix)[23164]: authentication failure",
        PrivilegeEscalation,
        F,
    ),
    (
        "pam_unix(dovecot:auth): authentication failure",
        UserLogin,
        F,
    ),
    ("check pass; user unknown", UserLogin, F),
    ("session opened for user news", SessionStart, S),
    ("session closed for user news", UserLogout, S),
    ("2 more authentication failures", UserLogin, F),
];

/// (reason, user.name, user.target.name, source.address).
type Names = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

#[test]
fn ossec_pam_lines() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let pam = read(&dir, "ossec-rules-tests/pam.ini");
    let events = check("ossec pam.ini", &ini_lines(&pam), PAM);
    let want: [Names; 6] = [
        // (reason, user.name, user.target.name, source): su's caller acts on osaudit.
        (Some("pam-failure"), Some("dcid"), Some("osaudit"), None),
        // No user=: ruser is the login name the IMAP client gave.
        (
            Some("pam-failure"),
            Some("lipjigaglgihgoeadcdaa.p.salmon@xxx.xxx.xxx.xxx"),
            None,
            Some("91.195.103.44"),
        ),
        (Some("invalid-user"), None, None, None),
        (None, None, Some("news"), None),
        (None, None, Some("news"), None),
        (Some("pam-summary"), Some("root"), None, Some("10.0.3.1")),
    ];
    assert_eq!(events.len(), want.len());
    for (e, (reason, user, target, source)) in events.iter().zip(want) {
        let got = (
            e.reason,
            e.user_name.as_deref(),
            e.user_target_name.as_deref(),
            e.source_address.as_deref(),
        );
        assert_eq!(got, (reason, user, target, source), "{:?}", e.message);
    }
}

/// sudo's own refusals and its PAM line name the same two accounts the same way: the caller
/// acts (`user.name`), the account it authenticates as or runs as is the target.
#[test]
fn ossec_sudo_and_su_pam_actor_and_target() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let su = read(&dir, "ossec-rules-tests/su.ini");
    let mut decoder = common::decoder();
    let pam: Vec<_> = ini_lines(&su)
        .into_iter()
        .filter(|l| l.contains("(pam_unix)"))
        .map(|l| decoder.decode(l).into_owned())
        .collect();
    assert!(!pam.is_empty());
    for e in &pam {
        assert_eq!(e.user_name.as_deref(), Some("dcid"), "{:?}", e.message);
        assert!(e.user_target_name.is_some(), "{:?}", e.message);
    }
    let sudo = read(&dir, "ossec-rules-tests/sudo.ini");
    let failures: Vec<_> = ini_lines(&sudo)
        .into_iter()
        .map(|l| decoder.decode(l).into_owned())
        .filter(|e| e.outcome == F)
        .collect();
    assert!(!failures.is_empty());
    for e in &failures {
        assert!(e.user_name.is_some(), "{:?}", e.message);
        assert_eq!(
            e.user_target_name.as_deref(),
            Some("root"),
            "{:?}",
            e.message
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Lines that depend on sshd.rs

/// What each sshd line means. Lines about the server's own configuration, port-forwarding
/// channels or a subsystem name no action of the vocabulary, and must stay `unknown`.
const SSHD: Table = &[
    // sshd.ini
    ("Could not stat AuthorizedKeysCommand", Unknown, U),
    (
        "Read error from remote host 192.168.1.1: Connection reset by peer",
        ConnectionClosed,
        F,
    ),
    ("debug1: channel ", Unknown, U),
    (
        "server_input_channel_open: failure direct-tcpip",
        Unknown,
        U,
    ),
    (
        "getpeername failed: Transport endpoint is not connected",
        Unknown,
        U,
    ),
    ("get_remote_port failed", Unknown, U),
    (
        "Disconnecting: bad client public DH value",
        ConnectionProbe,
        F,
    ),
    ("Corrupted MAC on input.", ConnectionProbe, F),
    ("Bad packet length 4081586742.", ConnectionProbe, F),
    ("Unable to negotiate", ConnectionProbe, F),
    // Postponed: the attempt is not decided yet.
    (
        "Postponed keyboard-interactive for invalid user warez",
        UserLogin,
        U,
    ),
    (
        "Failed keyboard-interactive/pam for invalid user warez",
        UserLogin,
        F,
    ),
    (
        "PAM: User not known to the underlying authentication module for illegal user warez",
        UserLogin,
        F,
    ),
    ("Invalid user opcione from 192.241.237.101", UserLogin, F),
    ("input_userauth_request: invalid user opcione", UserLogin, F),
    (
        "pam_systemd(sshd:session): Failed to create session: Access denied",
        SessionStart,
        F,
    ),
    (
        "Authentication refused: bad ownership or modes",
        UserLogin,
        F,
    ),
    (
        "subsystem request for netconf by user checker failed",
        Unknown,
        U,
    ),
    (
        "Failed none for root from 192.168.1.1 port 36942",
        UserLogin,
        F,
    ),
    // A reverse-DNS mismatch: a warning about the peer, not a refusal.
    ("POSSIBLE BREAK-IN ATTEMPT", ConnectionProbe, U),
    ("maximum authentication attempts exceeded for", UserLogin, F),
    (
        "Bad protocol version identification '' from 188.18.81.21",
        ConnectionProbe,
        F,
    ),
    ("refused connect from 103.79.143.159", ConnectionProbe, F),
    // beats test.log
    ("Accepted publickey for vagrant from 10.0.2.2", UserLogin, S),
    (
        "Accepted password for vagrant from 192.168.33.1",
        UserLogin,
        S,
    ),
    ("Invalid user test from 10.0.2.2", UserLogin, F),
    ("Failed password for root from 216.160.83.57", UserLogin, F),
    (
        "Did not receive identification string from 2.125.160.217",
        ConnectionProbe,
        F,
    ),
];

#[test]
fn sshd_lines_need_sshd_decoder() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let sshd = read(&dir, "ossec-rules-tests/sshd.ini");
    let beats = read(&dir, "beats-system-auth/test.log");
    let mut lines: Vec<&str> = ini_lines(&sshd)
        .into_iter()
        .filter(|l| l.contains(" sshd["))
        .collect();
    lines.extend(beats.lines().filter(|l| l.contains(" sshd[")));
    let events = check("ossec sshd.ini + beats sshd", &lines, SSHD);
    let accepted = events
        .iter()
        .find(|e| e.auth_method == Some("publickey"))
        .expect("a publickey login");
    assert_eq!(accepted.user_name.as_deref(), Some("vagrant"));
    assert_eq!(accepted.source_address.as_deref(), Some("10.0.2.2"));
}

/// dropbear.ini: its one line is the server failing to listen, no security event.
const DROPBEAR: Table = &[("Failed listening on '7001'", Unknown, U)];

#[test]
fn dropbear_lines_need_dropbear_decoder() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let text = read(&dir, "ossec-rules-tests/dropbear.ini");
    let events = check("ossec dropbear.ini", &ini_lines(&text), DROPBEAR);
    assert!(events
        .iter()
        .all(|e| e.process_name.as_deref() == Some("dropbear")));
}

// ---------------------------------------------------------------------------------------------
// loghub Linux_2k.log

/// Templates whose lines the sshd/PAM decoders must all decode, with the action and outcome
/// each means.
const LINUX_PAM_TEMPLATES: &[(&str, Action, Outcome)] = &[
    ("E15", UserLogin, F),     // gdm: authentication failure; … tty=:0
    ("E16", UserLogin, F),     // sshd: authentication failure; … rhost=<*>
    ("E17", UserLogin, F),     // … user=guest
    ("E18", UserLogin, F),     // … user=root
    ("E19", UserLogin, F),     // … user=test
    ("E27", UserLogin, F),     // check pass; user unknown
    ("E101", UserLogout, S),   // session closed for user <*> (sshd, su, login)
    ("E102", SessionStart, S), // session opened for user <*> by (uid=<*>)
    ("E103", SessionStart, S), // session opened for user <*> by LOGIN(uid=<*>)
];

/// login(1)'s `ROOT LOGIN ON tty2`, tagged `-- root[2421]:`.
const LINUX_LOGIN_TEMPLATES: &[(&str, Action, Outcome)] = &[("E91", UserLogin, S)];

/// Authentication lines of programs logward has no decoder for (ftpd, klogind, gdm-binary):
/// listed in the table, asserted neither way.
const LINUX_NO_DECODER: &[&str] = &["E9", "E13", "E14", "E31", "E61", "E112"];

/// One parsed row of `Linux_2k.log_structured.csv`: (EventId, EventTemplate).
fn linux_rows(csv: &str) -> Vec<(String, String)> {
    let mut rows = parse_csv(csv);
    let header = rows.remove(0);
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column"))
    };
    let (id, template) = (col("EventId"), col("EventTemplate"));
    rows.into_iter()
        .map(|r| (r[id].clone(), r[template].clone()))
        .collect()
}

/// RFC 4180 CSV (quoted fields with `""` escapes, CRLF rows).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The decoded lines of the Linux log, and each line's (EventId, EventTemplate).
type Linux = (Vec<Event<'static>>, Vec<(String, String)>);

/// The decoded Linux log and its template per line, or `None` without the corpus.
fn linux() -> Option<Linux> {
    let dir = logward_test_support::corpus("")?;
    let log = read(&dir, "loghub/Linux/Linux_2k.log");
    let csv = read(&dir, "loghub/Linux/Linux_2k.log_structured.csv");
    let events = common::decode_all(&log);
    let rows = linux_rows(&csv);
    assert_eq!(events.len(), rows.len(), "one CSV row per log line");
    Some((events, rows))
}

/// Asserts that every line of the listed templates decodes to the listed action and outcome.
fn check_templates(
    events: &[Event<'static>],
    rows: &[(String, String)],
    want: &[(&str, Action, Outcome)],
) {
    let mut wrong = Vec::new();
    for (want_id, action, outcome) in want {
        let mut n = 0;
        for (i, (id, _)) in rows.iter().enumerate() {
            if id != want_id {
                continue;
            }
            n += 1;
            let e = &events[i];
            if (e.action(), e.outcome) != (*action, *outcome) {
                wrong.push(format!(
                    "line {} ({id}): want {action}/{} got {}/{}: {}",
                    i + 1,
                    outcome.as_str(),
                    e.action(),
                    e.outcome.as_str(),
                    e.message.as_deref().unwrap_or("")
                ));
            }
        }
        assert!(n > 0, "template {want_id} has no line");
    }
    assert!(
        wrong.is_empty(),
        "{} lines:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Per template: its text, its lines, how many decoded, and how many as each
/// dataset/action/outcome.
type Stats = (String, usize, usize, BTreeMap<String, usize>);

/// Prints, per template, how many lines decoded and as what; asserts that templates naming no
/// authentication, session or account action decode to `unknown` (no false events).
#[test]
fn loghub_linux_table() {
    let Some((events, rows)) = linux() else {
        return;
    };
    let mut per: BTreeMap<(usize, &str), Stats> = BTreeMap::new();
    for (e, (id, template)) in events.iter().zip(&rows) {
        let num = id.trim_start_matches('E').parse().unwrap_or(usize::MAX);
        let entry = per
            .entry((num, id.as_str()))
            .or_insert_with(|| (template.clone(), 0, 0, BTreeMap::new()));
        entry.1 += 1;
        if e.action() != Unknown {
            entry.2 += 1;
            let dataset = e.dataset.map_or("-", |d| d.as_str());
            *entry
                .3
                .entry(format!("{dataset}/{}/{}", e.action(), e.outcome.as_str()))
                .or_default() += 1;
        }
    }
    let listed = |id: &str| {
        LINUX_PAM_TEMPLATES
            .iter()
            .chain(LINUX_LOGIN_TEMPLATES)
            .any(|(t, _, _)| *t == id)
            || LINUX_NO_DECODER.contains(&id)
    };
    println!(
        "{:<5} {:>5} {:>7}  {:<40} template",
        "id", "lines", "decoded", "as"
    );
    let mut false_events = Vec::new();
    let (mut total, mut decoded) = (0, 0);
    for ((_, id), (template, n, ok, kinds)) in &per {
        total += n;
        decoded += ok;
        let kinds = kinds
            .iter()
            .map(|(k, c)| format!("{k}×{c}"))
            .collect::<Vec<_>>()
            .join(" ");
        let kinds = if kinds.is_empty() { "-".into() } else { kinds };
        let template: String = template.chars().take(60).collect();
        println!("{id:<5} {n:>5} {ok:>7}  {kinds:<40} {template}");
        if !listed(id) && *ok > 0 {
            false_events.push(format!("{id}: {kinds}"));
        }
    }
    println!("total {total} lines, {decoded} decoded to an action");
    assert!(
        false_events.is_empty(),
        "templates with no security action produced events:\n{}",
        false_events.join("\n")
    );
}

#[test]
fn loghub_linux_pam_templates_need_pam_decoder() {
    let Some((events, rows)) = linux() else {
        return;
    };
    check_templates(&events, &rows, LINUX_PAM_TEMPLATES);
}

/// login(1) logs under its process title there (`combo  -- root[2421]: ROOT LOGIN ON tty2`).
#[test]
fn loghub_linux_root_login_under_process_title() {
    let Some((events, rows)) = linux() else {
        return;
    };
    check_templates(&events, &rows, LINUX_LOGIN_TEMPLATES);
}
