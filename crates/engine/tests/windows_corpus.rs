//! The default ruleset on the Windows attack samples and benign logs of
//! `../shared/corpus/windows-evtx`: each file read with the `.evtx` reader, in file order, as
//! `logward scan --rules default` reads it. docs/WINDOWS.md's "Default rules" table (sample
//! → alerts) is checked against what the rules raise on every file it names, and the
//! alerts a Windows analyst expects carry the right names and addresses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use logward_core::{Alert, Severity, Timestamp};
use logward_engine::{default_program, Engine, Output};
use logward_parse::windows::{decode, EvtxReader};

fn dir() -> Option<PathBuf> {
    logward_test_support::corpus("windows-evtx")
}

/// Per corpus file (its path under windows-evtx): how many cleared-log records (1102, 104)
/// it has, and the alerts of the default ruleset over it, read once for every test.
struct Sample {
    cleared: usize,
    alerts: Vec<Alert>,
}

fn samples() -> Option<&'static BTreeMap<String, Sample>> {
    static ALL: OnceLock<Option<BTreeMap<String, Sample>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let dir = dir()?;
        let mut all = BTreeMap::new();
        for sub in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")) {
            let sub = sub.unwrap_or_else(|e| panic!("{e}")).path();
            for f in std::fs::read_dir(&sub).into_iter().flatten().flatten() {
                let f = f.path();
                if f.extension().is_some_and(|x| x == "evtx") {
                    let rel = f
                        .strip_prefix(&dir)
                        .unwrap_or(&f)
                        .to_string_lossy()
                        .into_owned();
                    all.insert(rel, read(&f));
                }
            }
        }
        Some(all)
    })
    .as_ref()
}

fn read(path: &Path) -> Sample {
    let mut engine = Engine::new(default_program());
    let mut out = Vec::new();
    let epoch = Timestamp {
        unix: 0,
        nanos: 0,
        offset: 0,
    };
    let mut cleared = 0;
    for r in EvtxReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        let r = r.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        cleared += usize::from(matches!(
            (r.channel.as_str(), r.event_id),
            ("Security", 1102) | ("System", 104)
        ));
        engine.replay(&decode(&r), epoch, &mut out);
    }
    let alerts = out
        .into_iter()
        .filter_map(|o| match o {
            Output::Alert(a) => Some(*a),
            _ => None,
        })
        .collect();
    Sample { cleared, alerts }
}

/// The alerts of one sample.
fn alerts(sample: &str) -> Option<&'static [Alert]> {
    let s = samples()?;
    Some(
        &s.get(sample)
            .unwrap_or_else(|| panic!("no {sample} in the corpus"))
            .alerts,
    )
}

fn of<'a>(alerts: &'a [Alert], rule: &str) -> Vec<&'a Alert> {
    alerts.iter().filter(|a| a.rule_id == rule).collect()
}

fn ip(a: &Alert) -> Option<String> {
    a.event.source_ip.map(|i| i.to_string())
}

/// docs/WINDOWS.md's table: sample path → the rule ids it raises.
fn doc_table() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/WINDOWS.md"),
    )
    .unwrap_or_else(|e| panic!("docs/WINDOWS.md: {e}"));
    let section = doc
        .split_once("\n## Default rules\n")
        .expect("docs/WINDOWS.md has a `## Default rules` section")
        .1;
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut table = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let sample = cells[1].trim_matches('`').to_owned();
        if !sample.ends_with(".evtx") {
            continue;
        }
        let ids: BTreeSet<String> = cells[2]
            .split(',')
            .map(|c| c.trim().trim_matches('`').to_owned())
            .filter(|c| !c.is_empty() && c != "—")
            .collect();
        assert!(
            table.insert(sample.clone(), ids).is_none(),
            "{sample} twice in the table"
        );
    }
    table
}

#[test]
fn the_table_in_docs_windows_md_is_what_the_rules_raise() {
    let table = doc_table();
    assert!(table.len() >= 25, "{} rows", table.len());
    let Some(samples) = samples() else {
        return;
    };
    let mut wrong = Vec::new();
    for (sample, want) in &table {
        let Some(s) = samples.get(sample) else {
            wrong.push(format!("{sample}: not in the corpus"));
            continue;
        };
        let got: BTreeSet<String> = s.alerts.iter().map(|a| a.rule_id.clone()).collect();
        if &got != want {
            wrong.push(format!(
                "{sample}: the table says {want:?}, the rules raise {got:?}"
            ));
        }
    }
    // Every .evtx file of the corpus has its row.
    for sample in samples.keys() {
        if !table.contains_key(sample) {
            wrong.push(format!("{sample} has no row in docs/WINDOWS.md"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn password_spraying_names_its_source() {
    let Some(a) = alerts("deepbluecli/password-spray.evtx") else {
        return;
    };
    let spray = of(a, "windows-password-spray");
    assert_eq!(spray.len(), 1, "{a:#?}");
    assert_eq!(ip(spray[0]).as_deref(), Some("172.16.144.128"));
    assert!(
        spray[0].message.contains("from 172.16.144.128"),
        "{}",
        spray[0].message
    );
    // The Kerberos spray: refused TGTs and failed pre-authentications, then one granted.
    let Some(a) = alerts("evtx-attack-samples/kerberos_pwd_spray_4771.evtx") else {
        return;
    };
    let spray = of(a, "windows-password-spray");
    assert_eq!(spray.len(), 1, "{a:#?}");
    assert_eq!(ip(spray[0]).as_deref(), Some("172.16.66.1"));
    let after = of(a, "windows-login-after-failures");
    assert_eq!(after.len(), 1, "{a:#?}");
    assert_eq!(after[0].event.user_name.as_deref(), Some("normal"));
}

#[test]
fn smb_password_guessing_is_a_brute_force_from_its_address() {
    let Some(a) = alerts("deepbluecli/smb-password-guessing-security.evtx") else {
        return;
    };
    // 3 561 failures in under three minutes: one alert (and one ban) per 10-minute window.
    let brute = of(a, "windows-bruteforce");
    assert_eq!(brute.len(), 1, "{a:#?}");
    assert_eq!(ip(brute[0]).as_deref(), Some("192.168.198.149"));
    assert_eq!(brute[0].severity, Severity::High);
    assert_eq!(a.len(), 1, "{a:#?}");
}

#[test]
fn a_new_user_created_and_made_administrator() {
    let Some(a) = alerts("deepbluecli/new-user-security.evtx") else {
        return;
    };
    let created = of(a, "account-created");
    assert_eq!(created.len(), 1, "{a:#?}");
    assert_eq!(created[0].event.user_target_name.as_deref(), Some("IEUser"));
    let groups: Vec<(Option<&str>, Severity)> = of(a, "group-membership-changed")
        .iter()
        .map(|g| (g.event.group_name.as_deref(), g.severity))
        .collect();
    assert!(
        groups.contains(&(Some("Administrators"), Severity::Critical)),
        "{groups:?}"
    );
    assert!(
        groups.contains(&(Some("Users"), Severity::Medium)),
        "{groups:?}"
    );
}

#[test]
fn every_cleared_log_is_a_critical_alert() {
    let Some(samples) = samples() else {
        return;
    };
    for (sample, s) in samples {
        let log_cleared = of(&s.alerts, "log-cleared");
        assert_eq!(log_cleared.len(), s.cleared, "{sample}");
        assert!(log_cleared.iter().all(|a| a.severity == Severity::Critical));
    }
    let files = samples.values().filter(|s| s.cleared > 0).count();
    assert!(files >= 8, "{files} files with a cleared log");
}

#[test]
fn benign_logs_raise_no_brute_force_nor_spraying() {
    for sample in [
        "evtx-crate/security.evtx",
        "evtx-crate/Security_with_size_t.evtx",
        "evtx-crate/post-Security.evtx",
        "evtx-crate/Security_short_selected.evtx",
    ] {
        let Some(a) = alerts(sample) else {
            return;
        };
        let noisy: Vec<&str> = a
            .iter()
            .map(|a| a.rule_id.as_str())
            .filter(|r| {
                r.contains("bruteforce") || r.contains("spray") || r.contains("after-failures")
            })
            .collect();
        assert!(noisy.is_empty(), "{sample}: {noisy:?}");
    }
}
