//! loghub's OpenSSH_2k sample (PROVENANCE.md §2): 2000 lines of one lab sshd, with a
//! template id per line in `OpenSSH_2k.log_structured.csv`.
//!
//! Prints, per template, how its lines decoded (action/outcome), and holds every line of the
//! templates that name an authentication, a session or a probe to the action and outcome
//! logward gives that kind of line.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;

use logward_core::{Action, Outcome};

use Action::{ConnectionClosed, ConnectionProbe, SessionStart, UserLogin, UserLogout};
use Outcome::{Failure, Success, Unknown};

/// Template → what each of its lines must decode to. Not held: E18 (`PAM service(sshd)
/// ignoring max retries`, a configuration notice).
const EXPECTED: &[(&str, Action, Outcome)] = &[
    ("E1", UserLogin, Success),         // Accepted password
    ("E2", ConnectionProbe, Failure),   // Connection closed by … [preauth]
    ("E3", ConnectionProbe, Failure),   // Did not receive identification string
    ("E4", UserLogin, Failure),         // Disconnecting: Too many authentication failures
    ("E5", UserLogin, Failure),         // (same, root)
    ("E6", ConnectionProbe, Failure),   // Received disconnect … Auth fail [preauth]
    ("E7", ConnectionProbe, Failure),   // Received disconnect … No more … methods [preauth]
    ("E8", UserLogin, Failure),         // Failed none for invalid user
    ("E9", UserLogin, Failure),         // Failed password
    ("E10", UserLogin, Failure),        // Failed password for invalid user
    ("E11", ConnectionProbe, Failure),  // fatal: Write failed: Connection reset [preauth]
    ("E12", UserLogin, Failure),        // input_userauth_request: invalid user
    ("E13", UserLogin, Failure),        // Invalid user
    ("E14", UserLogin, Failure),        // message repeated: Failed password
    ("E15", UserLogin, Failure),        // PAM 1 more authentication failure
    ("E16", UserLogin, Failure),        // PAM N more authentication failures
    ("E17", UserLogin, Failure),        // (same, with user)
    ("E19", UserLogin, Failure),        // pam_unix(sshd:auth): authentication failure
    ("E20", UserLogin, Failure),        // (same, with user)
    ("E21", UserLogin, Failure),        // pam_unix(sshd:auth): check pass; user unknown
    ("E22", UserLogout, Success),       // pam_unix(sshd:session): session closed
    ("E23", SessionStart, Success),     // pam_unix(sshd:session): session opened
    ("E24", ConnectionProbe, Failure),  // Received disconnect … Bye Bye [preauth]
    ("E25", ConnectionProbe, Failure), // Received disconnect … Closed due to user request [preauth]
    ("E26", ConnectionClosed, Unknown), // Received disconnect … disconnected by user
    ("E27", ConnectionProbe, Unknown), // reverse mapping … POSSIBLE BREAK-IN ATTEMPT (a warning)
];

/// Splits one CSV record (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

#[test]
fn loghub_openssh_2k() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let dir = dir.join("loghub/OpenSSH");
    let log = common::read_lossy(&dir.join("OpenSSH_2k.log"));
    let csv = common::read_lossy(&dir.join("OpenSSH_2k.log_structured.csv"));
    let events = common::decode_all(&log);
    assert_eq!(events.len(), 2000);

    let mut template = BTreeMap::new();
    for row in csv.lines().skip(1) {
        let f = csv_fields(row.strip_suffix('\r').unwrap_or(row));
        assert_eq!(f.len(), 9, "csv row: {row}");
        let id: usize = f[0].parse().expect("LineId");
        template.insert(id, f[7].clone());
    }
    assert_eq!(template.len(), 2000);

    // Per template: total, and counts per (action, outcome).
    let mut table: BTreeMap<(usize, String), BTreeMap<(String, String), usize>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let id = &template[&(i + 1)];
        let n: usize = id.trim_start_matches('E').parse().unwrap_or(0);
        *table
            .entry((n, id.clone()))
            .or_default()
            .entry((e.action().to_string(), e.outcome.as_str().to_owned()))
            .or_default() += 1;
        if let Some((_, action, outcome)) = EXPECTED.iter().find(|(t, ..)| t == id) {
            if e.action() != *action || e.outcome != *outcome {
                problems.push(format!(
                    "line {} ({id}): want {action} {}, got {} {}",
                    i + 1,
                    outcome.as_str(),
                    e.action(),
                    e.outcome.as_str()
                ));
            }
        }
    }
    eprintln!("loghub OpenSSH_2k: template, lines, decoded as (action outcome: count)");
    for ((_, id), kinds) in &table {
        let total: usize = kinds.values().sum();
        let kinds: Vec<String> = kinds
            .iter()
            .map(|((a, o), n)| format!("{a} {o}: {n}"))
            .collect();
        eprintln!("  {id:>4} {total:>4}  {}", kinds.join(", "));
    }
    for p in problems.iter().take(20) {
        eprintln!("  {p}");
    }
    let held: usize = table
        .iter()
        .filter(|((_, id), _)| EXPECTED.iter().any(|(t, ..)| t == id))
        .map(|(_, k)| k.values().sum::<usize>())
        .sum();
    eprintln!(
        "loghub OpenSSH_2k: {held} lines in held templates, {} wrong",
        problems.len()
    );
    assert!(held > 1500, "held templates cover {held} lines");
    assert!(
        problems.is_empty(),
        "{} lines decoded wrongly",
        problems.len()
    );
}
