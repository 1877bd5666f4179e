//! deploy/logward.service and deploy/logward-collector.service are valid, hardened units:
//! `systemd-analyze verify` accepts them; the agent's grants exactly the two capabilities it
//! needs, the collector's none (it runs as the logward-collector user the .deb creates); the
//! live DNS capture's drop-in (deploy/logward-dns-capture.conf) adds CAP_NET_RAW alone.
#![allow(clippy::disallowed_methods)] // the test runs systemd-analyze
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::PathBuf;
use std::process::Command;

fn unit_text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name);
    std::fs::read_to_string(&path).unwrap()
}

fn has_lines(unit: &str, lines: &[&str]) {
    for line in lines {
        assert!(unit.lines().any(|l| l == *line), "missing `{line}`");
    }
}

#[test]
fn unit_is_hardened_and_least_privilege() {
    has_lines(
        &unit_text("logward.service"),
        &[
            "CapabilityBoundingSet=CAP_NET_ADMIN CAP_DAC_READ_SEARCH",
            "AmbientCapabilities=CAP_NET_ADMIN CAP_DAC_READ_SEARCH",
            "ProtectSystem=strict",
            "StateDirectory=logward",
            "NoNewPrivileges=yes",
            "ExecReload=/bin/kill -HUP $MAINPID",
        ],
    );
}

#[test]
fn collector_unit_runs_unprivileged() {
    let unit = unit_text("logward-collector.service");
    has_lines(
        &unit,
        &[
            "User=logward-collector",
            "CapabilityBoundingSet=",
            "AmbientCapabilities=",
            "ProtectSystem=strict",
            "PrivateUsers=yes",
            "StateDirectory=logward-collector",
            "NoNewPrivileges=yes",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
            "LoadCredential=key.pem:/etc/logward/collector/key.pem",
        ],
    );
    assert!(!unit.lines().any(|l| l.starts_with("DynamicUser=")));
}

#[test]
fn systemd_analyze_verifies_the_units() {
    verify("logward.service");
    verify("logward-collector.service");
}

/// The live DNS capture's drop-in adds CAP_NET_RAW and AF_PACKET to the agent's unit and
/// nothing else; the unit with it (its `[Service]` appended, as systemd merges a drop-in)
/// still verifies.
#[test]
fn dns_capture_drop_in_adds_cap_net_raw_only() {
    let drop_in = unit_text("logward-dns-capture.conf");
    let settings: Vec<&str> = drop_in
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(
        settings,
        [
            "[Service]",
            "CapabilityBoundingSet=CAP_NET_RAW",
            "AmbientCapabilities=CAP_NET_RAW",
            "RestrictAddressFamilies=AF_PACKET",
        ]
    );
    let unit = unit_text("logward.service") + &drop_in;
    verify_text("logward.service", &unit);
}

fn verify(name: &str) {
    verify_text(name, &unit_text(name));
}

fn verify_text(name: &str, text: &str) {
    let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(analyze) = analyze else {
        logward_test_support::skip!("systemd-analyze is not installed (package systemd)");
    };
    // verify checks that ExecStart's binary exists: point it at one that does.
    let dir = tempfile::tempdir().unwrap();
    let unit = text.replace("/usr/bin/logward", "/bin/true");
    let path = dir.path().join(name);
    std::fs::write(&path, unit).unwrap();
    // Documentation=man:… pages exist once the .deb is installed (scripts/deb_test.sh runs
    // verify with them); here they are not installed.
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed: {stderr}"
    );
    assert!(
        !stderr.contains(&format!("{name}:")),
        "warnings about the unit: {stderr}"
    );
}
