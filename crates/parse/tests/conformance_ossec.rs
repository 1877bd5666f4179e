//! OSSEC's rule tests (`ossec-rules-tests/*.ini`, PROVENANCE.md §7) for decoders no other
//! conformance test covers: doas and BIND's `named`. (sshd, su, sudo, pam, dropbear and
//! syslog are in conformance_accounts.rs; msauth is Windows' and dnsmasq DNS query logging's,
//! later issues.)
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use logward_core::{Action, Dataset, Outcome};

/// The log lines of an OSSEC `.ini` test, with whether OSSEC's rule must fire (`pass`).
fn ini(name: &str) -> Option<Vec<(bool, String)>> {
    let dir = logward_test_support::corpus("")?;
    let text = common::read_lossy(&dir.join("ossec-rules-tests").join(name));
    Some(
        text.lines()
            .filter(|l| l.starts_with("log "))
            .filter_map(|l| {
                let (head, line) = l.split_once(" = ")?;
                Some((head.ends_with(" pass"), line.to_owned()))
            })
            .collect(),
    )
}

/// Each line OSSEC's named rule fires on is a refused query from the client's address; the
/// one it must not fire on (written by a program called `name`) is not named's.
#[test]
fn ossec_named() {
    let Some(lines) = ini("named.ini") else {
        return;
    };
    assert_eq!(lines.len(), 7);
    let mut d = common::decoder();
    for (pass, line) in &lines {
        let e = d.decode(line);
        // Known difference: OSSEC fires on `query (cache)` cut before the verdict; a line
        // that does not say `denied` is no refusal.
        if line.ends_with("query (cache)") {
            assert_eq!(e.action(), Action::Unknown, "{line}");
            continue;
        }
        if !pass {
            assert_ne!(e.dataset, Some(Dataset::Named), "{line}");
            continue;
        }
        assert_eq!(e.dataset, Some(Dataset::Named), "{line}");
        assert_eq!(e.action(), Action::ServiceAbuse, "{line}");
        assert_eq!(e.reason, Some("query-denied"), "{line}");
        let client = line.split("client ").nth(1).unwrap();
        let client = client.split_whitespace().find(|w| w.contains('#')).unwrap();
        let ip = client.split('#').next().unwrap();
        assert_eq!(
            e.source_ip.map(|i| i.to_string()).as_deref(),
            Some(ip),
            "{line}"
        );
    }
}

#[test]
fn ossec_doas() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let ini = common::read_lossy(&dir.join("ossec-rules-tests/doas.ini"));
    let lines: Vec<&str> = ini
        .lines()
        .filter(|l| l.starts_with("log "))
        .filter_map(|l| l.split_once(" = ").map(|(_, line)| line))
        .collect();
    // (line contains, outcome, user, target, command)
    let want: &[(&str, Outcome, &str, Option<&str>, &str)] = &[
        (
            "failed command for ddp2",
            Outcome::Failure,
            "ddp2",
            None,
            "ls",
        ),
        (
            "ran command /bin/ksh as root",
            Outcome::Success,
            "ddp",
            Some("root"),
            "/bin/ksh",
        ),
        ("failed auth for ddp", Outcome::Failure, "ddp", None, ""),
        (
            "ran command as ddpnfs",
            Outcome::Success,
            "ddp",
            Some("ddpnfs"),
            "ls",
        ),
    ];
    assert_eq!(lines.len(), want.len(), "{lines:#?}");
    let mut d = common::decoder();
    for line in lines {
        let e = d.decode(line);
        let (_, outcome, user, target, command) = want
            .iter()
            .find(|w| line.contains(w.0))
            .unwrap_or_else(|| panic!("no expectation for {line}"));
        assert_eq!(e.dataset, Some(Dataset::Doas), "{line}");
        assert_eq!(e.action(), Action::PrivilegeEscalation, "{line}");
        assert_eq!(e.outcome, *outcome, "{line}");
        assert_eq!(e.user_name.as_deref(), Some(*user), "{line}");
        assert_eq!(e.user_target_name.as_deref(), *target, "{line}");
        assert_eq!(e.command_line.as_deref().unwrap_or(""), *command, "{line}");
    }
}
