//! The cargo features of the binary: the default build has every command; the agent-only build
//! (`--no-default-features --features agent`, docs/PACKAGE.md) has no `collector` command and
//! refuses a collector config with a clear message. scripts/test.sh runs this file in both
//! builds (and run_cli.rs, the agent and its metrics endpoint, in the agent-only one).
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_logward");
const COLLECTOR: bool = cfg!(feature = "collector");

fn logward(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("LOGWARD_STATE_DIR")
        .output()
        .expect("run logward")
}

/// The subcommand names `--help` lists.
fn commands() -> Vec<String> {
    let o = logward(&["--help"]);
    assert!(o.status.success(), "{o:?}");
    let help = String::from_utf8(o.stdout).expect("utf-8");
    help.split("Commands:")
        .nth(1)
        .expect("a Commands: section")
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .lines()
        // A command's line is indented by two spaces, a wrapped description by more.
        .filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn help_lists_collector_only_in_builds_with_the_collector_feature() {
    let commands = commands();
    for agent in [
        "scan", "check", "run", "bans", "metrics", "notify", "enroll",
    ] {
        assert!(
            commands.iter().any(|c| c == agent),
            "`{agent}` missing: {commands:?}"
        );
    }
    assert_eq!(
        commands.iter().any(|c| c == "collector"),
        COLLECTOR,
        "collector feature {COLLECTOR}: {commands:?}"
    );
    let o = logward(&["collector", "--help"]);
    assert_eq!(o.status.success(), COLLECTOR, "{o:?}");
}

#[test]
fn a_collector_config_is_checked_only_in_builds_with_the_collector_feature() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("collector.yaml");
    std::fs::write(&p, "listen: 127.0.0.1:7650\nretention_days: 7\n").expect("write");
    let o = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&p)
        .output()
        .expect("run logward check");
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    if COLLECTOR {
        assert_eq!(o.status.code(), Some(0), "{out}{err}");
        assert!(out.contains("ok, collector config"), "{out}");
    } else {
        assert_eq!(o.status.code(), Some(1), "{out}{err}");
        assert!(err.contains("agent-only build"), "{err}");
        assert!(out.is_empty(), "{out}");
    }
    let o = logward(&["default-config", "--collector"]);
    assert_eq!(o.status.success(), COLLECTOR, "{o:?}");
    // The agent's own config checks in both builds.
    let p = d.path().join("agent.yaml");
    std::fs::write(&p, "sources: []\n").expect("write");
    let o = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&p)
        .output()
        .expect("run logward check");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
}
