//! deploy/agent.example.yaml stays a config `logward check` accepts, with and without its
//! `#~ ` alternatives switched on.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use logward_test_support::show;

const BIN: &str = env!("CARGO_BIN_EXE_logward");

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/agent.example.yaml")
}

fn check(path: &Path) -> Output {
    Command::new(BIN)
        .args(["check", "--config"])
        .arg(path)
        .env_remove("LOGWARD_STATE_DIR")
        .output()
        .expect("run logward check")
}

#[test]
fn example_config_checks() {
    let o = check(&example());
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("2 sources")
            && out.contains("bans disabled")
            && out.contains("login anomaly detection on (no GeoIP, 0 DNSBL zone(s))"),
        "{}",
        show(&o)
    );
}

#[test]
fn example_alternatives_check() {
    let text = std::fs::read_to_string(example()).expect("read the example");
    let alternatives = text.lines().filter(|l| l.contains("#~ ")).count();
    assert!(alternatives >= 5, "the example lost its alternatives");
    let on: String = text
        .lines()
        .map(|l| match l.find("#~ ") {
            Some(i) => format!("{}{}\n", &l[..i], &l[i + 3..]),
            None => format!("{l}\n"),
        })
        .collect();
    // The GeoIP folder is opened by `check`: MaxMind's test databases stand in for it.
    let geoip = logward_test_support::corpus_root().join("geoip");
    let on = if geoip.is_dir() {
        on.replace("/var/lib/GeoIP", &geoip.display().to_string())
    } else {
        on.replace("  geoip: /var/lib/GeoIP\n", "")
    };
    // So is the threat list: the corpus's copy of one stands in for it.
    let list = logward_test_support::corpus_root().join("dns/blocklist-badd-boyz-hosts/hosts");
    let on = if list.is_file() {
        on.replace(
            "/var/lib/logward/lists/badd-boyz.hosts",
            &list.display().to_string(),
        )
    } else {
        on.lines()
            .filter(|l| !l.contains("/var/lib/logward/lists/"))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("agent.yaml");
    std::fs::write(&p, on).expect("write");
    let o = check(&p);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("7 sources")
            && String::from_utf8_lossy(&o.stdout).contains("forwarding events and alerts")
            && String::from_utf8_lossy(&o.stdout).contains("1 DNSBL zone(s)")
            && String::from_utf8_lossy(&o.stdout)
                .contains("DNS check on (2 trusted client network(s), 3 trusted domain(s)"),
        "{}",
        show(&o)
    );
}

/// Every top-level key of the agent config type (from its JSON Schema, derived from the type)
/// is shown in the example — set, or as a `#~ ` alternative — and listed in docs/AGENT.md.
#[test]
fn example_and_agent_md_name_every_top_level_key() {
    let o = Command::new(BIN)
        .args(["schema", "agent"])
        .output()
        .expect("run logward schema");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let schema: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON schema");
    let keys: Vec<String> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect();
    assert!(
        keys.len() >= 10 && keys.iter().any(|k| k == "notify"),
        "{keys:?}"
    );
    let example = std::fs::read_to_string(example()).expect("read the example");
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/AGENT.md"))
            .expect("read AGENT.md");
    let listed = docs
        .split("Top-level keys:")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("AGENT.md lists the top-level keys");
    for k in &keys {
        let at_top = |l: &str| {
            let l = l.strip_prefix("#~ ").unwrap_or(l);
            l.starts_with(&format!("{k}:"))
        };
        assert!(
            example.lines().any(at_top),
            "`{k}:` missing from the example"
        );
        assert!(
            listed.contains(&format!("`{k}`")),
            "`{k}` missing from AGENT.md's list: {listed}"
        );
    }
}
