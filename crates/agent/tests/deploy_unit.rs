//! deploy/logward.service is a valid, hardened unit: `systemd-analyze verify` accepts it and it
//! grants exactly the two capabilities the agent needs.
#![allow(clippy::disallowed_methods)] // the test runs systemd-analyze
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::PathBuf;
use std::process::Command;

fn unit_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/logward.service");
    std::fs::read_to_string(&path).unwrap()
}

#[test]
fn unit_is_hardened_and_least_privilege() {
    let unit = unit_text();
    for line in [
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_DAC_READ_SEARCH",
        "AmbientCapabilities=CAP_NET_ADMIN CAP_DAC_READ_SEARCH",
        "ProtectSystem=strict",
        "StateDirectory=logward",
        "NoNewPrivileges=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing `{line}`");
    }
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(analyze) = analyze else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "systemd-analyze is missing (CI=true)"
        );
        eprintln!("skipping: systemd-analyze not installed");
        return;
    };
    // verify checks that ExecStart's binary exists: point it at one that does.
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_text().replace("/usr/local/bin/logward", "/bin/true");
    let path = dir.path().join("logward.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed: {stderr}"
    );
    assert!(
        !stderr.contains("logward.service:"),
        "warnings about the unit: {stderr}"
    );
}
