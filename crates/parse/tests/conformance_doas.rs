//! OSSEC's doas rule tests (`ossec-rules-tests/doas.ini`, PROVENANCE.md §7): each line OSSEC
//! alerts on is a `privilege-escalation` with the outcome its rule says, the caller and, where
//! the line names one, the target and command.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use logward_core::{Action, Dataset, Outcome};

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
