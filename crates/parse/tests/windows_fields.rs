//! The Windows mapping against `../shared/corpus/windows-evtx/INVENTORY.md`: for every corpus
//! `.evtx` file, each summary line (logon type, user, address for logons; target and actor
//! for account management) counts as many of logward's events as the inventory says, read
//! from logward's own fields — `logward.windows.logon_type`, `user.name`,
//! `user.target.name`, `group.name`, `source.ip` — not from the raw EventData.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;

use common::inventory::{self, Summary};
use logward_core::{Action, Event};
use logward_parse::windows::{decode, EvtxReader};

/// Windows' "no value" placeholders, as logward reads them: none.
fn no_placeholder(v: Option<&str>) -> Option<String> {
    v.filter(|v| !v.is_empty() && *v != "-").map(str::to_owned)
}

/// What the inventory's `key` is in logward's fields, for an event of this id. The
/// inventory's `user` is TargetUserName and `ip` IpAddress for logons; `target` is
/// TargetUserName and `by` SubjectUserName for the others.
fn logward_value(e: &Event<'_>, key: &str) -> Option<String> {
    let w = e.winlog.as_ref().unwrap();
    let id = w.event_id;
    let s = |c: &Option<std::borrow::Cow<'_, str>>| c.as_deref().map(str::to_owned);
    // The group of new-user-security.evtx's 4728 is named `None`, which the inventory
    // cannot tell from no value.
    let not_none = |v: Option<String>| v.filter(|v| v != "None");
    match key {
        "LT" => w.logon_type.map(str::to_owned),
        // 4648: the account whose credentials were used is the target; the caller acts.
        "user" if id == 4648 => s(&e.user_target_name),
        "user" => s(&e.user_name),
        "ip" => e.source_ip.map(|i| i.to_string()),
        // A logoff, a Kerberos or NTLM check: the account is the one logging on or off.
        "target" if matches!(id, 4647 | 4771 | 4776) => s(&e.user_name),
        "target" if e.group_name.is_some() => not_none(s(&e.group_name)),
        // 4781 has no TargetUserName (its names are Old/NewTargetUserName: checked below).
        "target" if id == 4781 => no_placeholder(w.data("TargetUserName")),
        "target" => s(&e.user_target_name),
        "by" if matches!(id, 4647 | 4771 | 4776) => None,
        "by" => s(&e.user_name),
        _ => panic!("unknown inventory key {key}"),
    }
}

/// The keys the inventory summarises an event id by; `None` for the ids it does not
/// summarise. Read off INVENTORY.md itself: its `N more distinct` add up with these ids and
/// no others (4672, 4723, 4731, 4735, 4768, 4769 are in the corpus and not summarised).
fn summary_keys(id: u32) -> Option<&'static [&'static str]> {
    match id {
        4624 | 4625 | 4634 | 4648 => Some(&["LT", "user", "ip"]),
        4647 | 4720 | 4722 | 4724 | 4726 | 4728 | 4732 | 4733 | 4738 | 4741 | 4742 | 4771
        | 4776 | 4781 => Some(&["target", "by"]),
        _ => None,
    }
}

/// The inventory's value for `key`, as logward would write it.
fn expected(key: &str, v: Option<&str>) -> Option<String> {
    let v = no_placeholder(v)?;
    match key {
        "LT" => logward_core::winlog::logon_type_word(&v).map(str::to_owned),
        "ip" => logward_core::parse_ip(&v).map(|i| i.to_string()),
        _ => Some(v),
    }
}

fn key_of(s: &Summary) -> (u32, Vec<Option<String>>) {
    (
        s.event_id,
        s.fields
            .iter()
            .map(|(k, v)| expected(k, v.as_deref()))
            .collect(),
    )
}

#[test]
fn every_corpus_file_summarises_as_inventory() {
    let Some(dir) = logward_test_support::corpus("windows-evtx") else {
        return;
    };
    let inv = inventory::load(&dir);
    assert_eq!(inv.len(), 27);
    let mut checked = 0;
    for f in &inv {
        let records: Vec<_> = EvtxReader::open(dir.join(&f.path))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let events: Vec<Event<'_>> = records.iter().map(decode).collect();
        let mut ours: BTreeMap<(u32, Vec<Option<String>>), usize> = BTreeMap::new();
        for e in &events {
            let id = e.winlog.as_ref().unwrap().event_id;
            if let Some(ks) = summary_keys(id) {
                let values = ks.iter().map(|k| logward_value(e, k)).collect();
                *ours.entry((id, values)).or_default() += 1;
            }
        }
        for s in &f.summaries {
            let keys: Vec<&str> = s.fields.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(
                Some(keys.as_slice()),
                summary_keys(s.event_id),
                "{}",
                f.path
            );
            let key = key_of(s);
            assert_eq!(
                ours.get(&key).copied().unwrap_or(0),
                s.count,
                "{}: {s:?} → {key:?}; logward's summaries: {ours:?}",
                f.path
            );
            checked += 1;
        }
        assert_eq!(
            ours.len(),
            f.summaries.len() + f.more_distinct,
            "{}: distinct summaries {ours:?}",
            f.path
        );
        // 4781: the renamed account is the target under its new name.
        for (r, e) in records
            .iter()
            .zip(&events)
            .filter(|(r, _)| r.event_id == 4781)
        {
            if let Some(new) = r.data("NewTargetUserName") {
                assert_eq!(e.action(), Action::UserModified);
                assert_eq!(e.user_target_name.as_deref(), Some(new), "{}", f.path);
            }
        }
    }
    assert!(checked >= 80, "{checked} summary lines checked");
}

/// Every corpus record maps to an action when logward knows its id, and what the Windows
/// attack samples are about maps to what a rule needs: the spray's 4648s name the source,
/// the RDP brute force's 131s their client, the OpenSSH file's sshd lines are sshd failures.
#[test]
fn corpus_samples_map_to_their_actions() {
    let Some(dir) = logward_test_support::corpus("windows-evtx") else {
        return;
    };
    let read = |p: &str| -> Vec<_> {
        EvtxReader::open(dir.join(p))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    let summary = |recs: &[logward_parse::windows::WinRecord]| {
        let mut m: BTreeMap<(String, Option<String>, Option<&'static str>), usize> =
            BTreeMap::new();
        for r in recs {
            let e = decode(r);
            *m.entry((
                format!("{}/{}", e.action(), e.outcome.as_str()),
                e.source_ip.map(|i| i.to_string()),
                e.reason,
            ))
            .or_default() += 1;
        }
        m
    };
    let k = |a: &str, ip: Option<&str>, r: Option<&'static str>| {
        (a.to_owned(), ip.map(str::to_owned), r)
    };

    let m = summary(&read(
        "evtx-to-mitre-attack/ID131-RDP brutforce (no user info).evtx",
    ));
    assert_eq!(
        m,
        BTreeMap::from([(
            k("connection-opened/unknown", Some("10.23.123.11"), None),
            154
        )])
    );
    let m = summary(&read(
        "evtx-to-mitre-attack/ID1149-RDP success logins to multiple hosts.evtx",
    ));
    assert_eq!(m.values().sum::<usize>(), 11);
    assert!(
        m.keys()
            .all(|(a, ip, _)| a == "user-login/success" && ip.is_some()),
        "{m:?}"
    );

    let recs =
        read("evtx-to-mitre-attack/ID4-OpenSSH brutforce with non existing users (sshd logs).evtx");
    let events: Vec<_> = recs.iter().map(decode).collect();
    let failures = events
        .iter()
        .filter(|e| {
            e.dataset == Some(logward_core::Dataset::Sshd)
                && e.action() == Action::UserLogin
                && e.outcome == logward_core::Outcome::Failure
                && e.source_ip.map(|i| i.to_string()).as_deref() == Some("10.23.23.9")
        })
        .count();
    assert!(failures >= 3, "{events:#?}");

    let m = summary(&read("deepbluecli/smb-password-guessing-security.evtx"));
    assert_eq!(
        m,
        BTreeMap::from([
            (
                k(
                    "user-login/failure",
                    Some("192.168.198.149"),
                    Some("bad-password")
                ),
                3558
            ),
            // The built-in Administrator was disabled for two of them (SubStatus 0xC0000072).
            (
                k(
                    "user-login/failure",
                    Some("192.168.198.149"),
                    Some("disabled")
                ),
                2
            ),
            (
                k(
                    "user-login/failure",
                    Some("192.168.198.149"),
                    Some("invalid-user")
                ),
                1
            ),
        ])
    );
    let m = summary(&read("deepbluecli/password-spray.evtx"));
    assert_eq!(
        m[&k("privilege-escalation/success", Some("172.16.144.128"), None)],
        294
    );
    assert_eq!(m[&k("log-cleared/success", None, None)], 1);

    let m = summary(&read("evtx-attack-samples/kerberos_pwd_spray_4771.evtx"));
    // Seven accounts that do not exist (4768 0x6), two wrong passwords (4771 0x18), and the
    // one valid account's tickets (one from an IPv4-mapped address).
    assert_eq!(
        m,
        BTreeMap::from([
            (k("log-cleared/success", None, None), 1),
            (
                k(
                    "user-login/failure",
                    Some("172.16.66.1"),
                    Some("invalid-user")
                ),
                7
            ),
            (
                k(
                    "user-login/failure",
                    Some("172.16.66.1"),
                    Some("bad-password")
                ),
                2
            ),
            (k("user-login/success", Some("172.16.66.1"), None), 2),
        ])
    );

    // new-user-security.evtx: the user created, then added to Administrators (by SID).
    let recs = read("deepbluecli/new-user-security.evtx");
    let events: Vec<_> = recs.iter().map(decode).collect();
    let created = events
        .iter()
        .find(|e| e.action() == Action::UserCreated)
        .unwrap();
    assert_eq!(created.user_target_name.as_deref(), Some("IEUser"));
    let added = events
        .iter()
        .find(|e| e.group_name.as_deref() == Some("Administrators"))
        .unwrap();
    assert_eq!(added.action(), Action::GroupMemberAdded);
    assert_eq!(
        added.user_target_name.as_deref(),
        Some("S-1-5-21-3463664321-2923530833-3546627382-1000")
    );
}
