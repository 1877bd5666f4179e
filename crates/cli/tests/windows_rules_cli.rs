//! `logward scan --rules default` on the Windows attack samples of
//! `../shared/corpus/windows-evtx`, with the real binary: the alerts a Windows analyst
//! expects, as NDJSON. (crates/engine/tests/windows_corpus.rs checks every sample against
//! docs/WINDOWS.md's table through the crate API.)
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::path::Path;

use logward_test_support::{run_utc, text};
use serde_json::Value;

/// The alerts of `scan --rules default` over one file.
fn alerts(file: &Path) -> Vec<Value> {
    let o = run_utc(
        env!("CARGO_BIN_EXE_logward"),
        &[
            "scan",
            "--rules",
            "default",
            "--format",
            "ndjson",
            file.to_str().expect("utf-8 path"),
        ],
    );
    assert!(
        o.status.success(),
        "{}: {}",
        file.display(),
        text(&o.stderr)
    );
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn of<'a>(alerts: &'a [Value], rule: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["rule"]["id"] == rule).collect()
}

#[test]
fn the_attack_samples_raise_what_an_analyst_expects() {
    let Some(dir) = logward_test_support::corpus("windows-evtx") else {
        return;
    };
    // DeepBlueCLI's password spray: 4648s for 41 accounts from one address, and the log
    // cleared first.
    let a = alerts(&dir.join("deepbluecli/password-spray.evtx"));
    let spray = of(&a, "windows-password-spray");
    assert_eq!(spray.len(), 1, "{a:#?}");
    assert_eq!(spray[0]["source"]["ip"], "172.16.144.128");
    assert_eq!(spray[0]["logward"]["severity"], "high");
    assert_eq!(spray[0]["winlog"]["event_id"], "4648");
    let cleared = of(&a, "log-cleared");
    assert_eq!(cleared.len(), 1, "{a:#?}");
    assert_eq!(cleared[0]["logward"]["severity"], "critical");
    assert_eq!(cleared[0]["winlog"]["event_id"], "1102");

    // SMB password guessing: a brute force from its address, banned.
    let a = alerts(&dir.join("deepbluecli/smb-password-guessing-security.evtx"));
    let brute = of(&a, "windows-bruteforce");
    assert_eq!(brute.len(), 1, "{a:#?}");
    assert_eq!(brute[0]["source"]["ip"], "192.168.198.149");
    assert_eq!(brute[0]["logward"]["windows"]["logon_type"], "network");

    // A new user created and added to Administrators.
    let a = alerts(&dir.join("deepbluecli/new-user-security.evtx"));
    let created = of(&a, "account-created");
    assert_eq!(created.len(), 1, "{a:#?}");
    assert_eq!(created[0]["user"]["target"]["name"], "IEUser");
    let admins: Vec<_> = of(&a, "group-membership-changed")
        .into_iter()
        .filter(|g| g["group"]["name"] == "Administrators")
        .collect();
    assert_eq!(admins.len(), 1, "{a:#?}");
    assert_eq!(admins[0]["logward"]["severity"], "critical");
}
