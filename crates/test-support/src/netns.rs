//! What the network-namespace ban tests share: running a tool by argv, and whether the
//! machine can run them at all (root, nft, ip …), which under `CI=true` must be so.

use std::process::{Command, Output};

/// Runs `argv`; a tool that cannot start is a test failure.
pub fn cmd(argv: &[&str]) -> Output {
    Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"))
}

/// Runs `argv` and fails the test unless it succeeds.
pub fn ok(argv: &[&str]) {
    let out = cmd(argv);
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `test` can run here: root and every `(program, version flag)` of `tools`. Prints
/// why not and returns false; under `CI=true` that is a failure instead. `packages` names
/// the Debian packages that bring the tools.
pub fn prerequisites(test: &str, tools: &[(&str, &str)], packages: &str) -> bool {
    let mut missing = Vec::new();
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        missing.push("root (effective uid 0)".to_owned());
    }
    for (prog, arg) in tools {
        if !Command::new(prog)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            missing.push(format!("`{prog}` on PATH"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "the {test} needs {} (packages {packages})",
        missing.join(", ")
    );
    crate::skip!("{why}")
}
