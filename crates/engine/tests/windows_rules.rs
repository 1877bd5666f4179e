//! The default ruleset on Windows events: records built in code with the field values of
//! the corpus' real records (../shared/corpus/windows-evtx), through the Windows decoder.
//! Each rule fires once on what it is about, and machine logons raise nothing.

mod common;

use common::windows::*;
use logward_core::{Severity, Timestamp};
use logward_engine::{default_program, Engine, Output};
use logward_parse::windows::{AUDIT_FAILURE, AUDIT_SUCCESS};
use logward_parse::{LineDecoder, YearResolver};

fn bans(out: &[Output]) -> Vec<(String, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Ban { ip, rule_id, .. } => {
                Some((ip.to_string(), rule_id.clone().unwrap_or_default()))
            }
            _ => None,
        })
        .collect()
}

fn severities(out: &[Output], rule: &str) -> Vec<Severity> {
    out.iter()
        .filter_map(|o| match o {
            Output::Alert(a) if a.rule_id == rule => Some(a.severity),
            _ => None,
        })
        .collect()
}

#[test]
fn smb_password_guessing_is_one_windows_brute_force_and_a_ban() {
    // smb-password-guessing-security.evtx: 4625 type 3 for Administrator, every second.
    let recs: Vec<_> = (0..8)
        .map(|i| logon(4625, "FS01", i, "Administrator", "3", "192.168.198.149"))
        .collect();
    let out = replay(&recs);
    let by_rule = alerts_by_rule(&out);
    assert_eq!(by_rule.get("windows-bruteforce"), Some(&1), "{by_rule:?}");
    // Windows failures alone are not a second, cross-service alert.
    assert_eq!(by_rule.get("auth-bruteforce"), None, "{by_rule:?}");
    assert_eq!(
        messages(&out, "windows-bruteforce"),
        ["5 failed Windows logons from 192.168.198.149 in 10 minutes (last: Administrator on FS01, network logon)"]
    );
    assert_eq!(
        bans(&out),
        [(
            "192.168.198.149".to_owned(),
            "windows-bruteforce".to_owned()
        )]
    );
}

#[test]
fn kerberos_and_rdp_failures_from_an_address_count_as_windows_failures() {
    // kerberos_pwd_spray_4771.evtx writes the address IPv4-mapped.
    let mut recs: Vec<_> = (0..3)
        .map(|i| {
            sec(
                4771,
                "DC01",
                i,
                &[
                    ("TargetUserName", "Administrator"),
                    ("Status", "0x18"),
                    ("IpAddress", "::ffff:172.16.66.1"),
                    ("IpPort", "55967"),
                ],
            )
        })
        .collect();
    // RdpCoreTS 140: a wrong password over RDP.
    for i in 0..2 {
        recs.push(rec(
            RDP_CORE,
            140,
            "DC01",
            10 + i,
            &[("IPString", "172.16.66.1")],
        ));
    }
    let out = replay(&recs);
    assert_eq!(
        messages(&out, "windows-bruteforce"),
        ["5 failed Windows logons from 172.16.66.1 in 10 minutes (last: DC01, event 140)"]
    );
    // NTLM validations (4776) name a workstation, not an address: not counted per address.
    let ntlm: Vec<_> = (0..10)
        .map(|i| {
            sec(
                4776,
                "FS01",
                i,
                &[
                    ("PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"),
                    ("TargetUserName", "NOUSER"),
                    ("Workstation", "FS01"),
                    ("Status", "0xc0000064"),
                ],
            )
        })
        .collect();
    assert_eq!(alerts_by_rule(&replay(&ntlm)), Default::default());
}

#[test]
fn windows_and_ssh_failures_from_one_address_are_one_cross_service_brute_force() {
    let mut engine = Engine::new(default_program());
    let recs: Vec<_> = (0..3)
        .map(|i| logon(4625, "FS01", i, "Administrator", "3", "198.18.0.7"))
        .collect();
    let mut out = replay_with(&mut engine, &recs);
    let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
    let epoch = Timestamp {
        unix: 0,
        nanos: 0,
        offset: 0,
    };
    for i in 0..2 {
        let line = format!(
            "Mar  3 10:00:1{i} srv sshd[9]: Failed password for root from 198.18.0.7 port 4000{i} ssh2"
        );
        engine.replay(&d.decode(&line), epoch, &mut out);
    }
    let by_rule = alerts_by_rule(&out);
    assert_eq!(by_rule.get("auth-bruteforce"), Some(&1), "{by_rule:?}");
    assert_eq!(by_rule.get("windows-bruteforce"), None, "{by_rule:?}");
    assert_eq!(by_rule.get("ssh-bruteforce"), None, "{by_rule:?}");
}

#[test]
fn machine_service_anonymous_and_loopback_logons_raise_nothing() {
    let mut recs = vec![
        logon(4624, "PC02", 0, "SYSTEM", "5", "-"),
        logon(4624, "PC02", 1, "SYSTEM", "0", "-"),
        logon(4624, "PC02", 2, "NETWORK SERVICE", "5", "-"),
        logon(4624, "PC02", 3, "sshd_server", "5", "-"),
        logon(4624, "PC02", 4, "backup", "4", "10.0.2.9"),
        logon(4624, "PC02", 5, "ANONYMOUS LOGON", "3", "10.0.2.17"),
        logon(4624, "PC02", 6, "PC01$", "3", "10.0.2.18"),
        logon(4624, "PC02", 7, "DWM-1", "2", "-"),
        logon(4624, "PC02", 8, "fsir", "7", "127.0.0.1"),
        sec(
            4768,
            "DC01",
            9,
            &[
                ("TargetUserName", "PC01$"),
                ("Status", "0x0"),
                ("IpAddress", "::ffff:10.0.2.18"),
            ],
        ),
    ];
    for i in 0..10 {
        // A machine account failing, and failures from loopback.
        recs.push(logon(4625, "PC02", 20 + i, "WS01$", "3", "10.0.2.19"));
        recs.push(logon(
            4625,
            "PC02",
            20 + i,
            "Administrator",
            "3",
            "127.0.0.1",
        ));
        // Explicit credentials for many accounts, from loopback.
        let user = format!("user{i}");
        recs.push(sec(
            4648,
            "PC02",
            40 + i,
            &[
                ("SubjectUserName", "fsir"),
                ("TargetUserName", user.as_str()),
                ("IpAddress", "127.0.0.1"),
            ],
        ));
    }
    // Windows writes 4781 for its built-in groups, old name and new the same, at setup.
    recs.push(sec(
        4781,
        "PC02",
        60,
        &[
            ("OldTargetUserName", "Administrators"),
            ("NewTargetUserName", "Administrators"),
            ("TargetSid", "S-1-5-32-544"),
            ("SubjectUserName", "PC02$"),
        ],
    ));
    // A computer account's password rotation.
    recs.push(sec(
        4742,
        "DC01",
        61,
        &[
            ("TargetUserName", "PC01$"),
            ("SubjectUserName", "ANONYMOUS LOGON"),
        ],
    ));
    let out = replay(&recs);
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn a_logon_after_failures_is_critical_once_and_an_rdp_logon_one_alert() {
    let mut recs: Vec<_> = (0..3)
        .map(|i| logon(4625, "FS01", i, "alice", "10", "203.0.113.7"))
        .collect();
    recs.push(logon(4624, "FS01", 10, "alice", "10", "203.0.113.7"));
    // The same logon's RDP authentication, and its Kerberos service ticket.
    recs.push(rec(
        RDP_RCM,
        1149,
        "FS01",
        10,
        &[
            ("Param1", "alice"),
            ("Param2", "OFFSEC"),
            ("Param3", "203.0.113.7"),
        ],
    ));
    recs.push(sec(
        4769,
        "FS01",
        11,
        &[
            ("TargetUserName", "alice@OFFSEC.LAN"),
            ("TargetDomainName", "OFFSEC.LAN"),
            ("Status", "0x0"),
            ("IpAddress", "::ffff:203.0.113.7"),
        ],
    ));
    let out = replay(&recs);
    let by_rule = alerts_by_rule(&out);
    assert_eq!(
        by_rule,
        [
            ("windows-login-after-failures".to_owned(), 1),
            ("windows-rdp-new-source".to_owned(), 1)
        ]
        .into(),
        "{out:#?}"
    );
    assert_eq!(
        messages(&out, "windows-login-after-failures"),
        ["alice logged on to FS01 from 203.0.113.7 (remote-interactive) after 3 failed logons from that address in the last hour"]
    );
    assert_eq!(
        severities(&out, "windows-login-after-failures"),
        [Severity::Critical]
    );
}

#[test]
fn rdp_from_a_new_address_from_a_known_one_to_many_hosts_and_through_a_tunnel() {
    // ID1149-RDP success logins to multiple hosts.evtx: admmig from 10.23.123.11 to 11
    // hosts in two seconds.
    let hosts = [
        "rootdc1",
        "fs03vuln",
        "FS03",
        "mssql01",
        "dhcp01",
        "webiis01",
        "prtg-mon",
        "exchange01",
        "pki01",
        "wsus01",
        "adfs01",
    ];
    let mut recs: Vec<_> = hosts
        .iter()
        .map(|h| {
            rec(
                RDP_RCM,
                1149,
                h,
                0,
                &[
                    ("Param1", "admmig"),
                    ("Param2", ""),
                    ("Param3", "10.23.123.11"),
                ],
            )
        })
        .collect();
    // Later, from the same address to FS03 again: known.
    recs.push(logon(4624, "FS03", 3600, "admmig", "10", "10.23.123.11"));
    // DE_RDP_Tunneling_4624.evtx: type 10 from loopback.
    recs.push(logon(4624, "PC02", 3700, "IEUser", "10", "127.0.0.1"));
    let out = replay(&recs);
    let by_rule = alerts_by_rule(&out);
    assert_eq!(
        by_rule.get("windows-rdp-new-source"),
        Some(&11),
        "{by_rule:?}"
    );
    assert_eq!(
        by_rule.get("windows-rdp-many-hosts"),
        Some(&1),
        "{by_rule:?}"
    );
    assert_eq!(by_rule.get("windows-rdp-login"), Some(&1), "{by_rule:?}");
    assert_eq!(by_rule.get("windows-rdp-tunnel"), Some(&1), "{by_rule:?}");
    assert_eq!(
        messages(&out, "windows-rdp-many-hosts"),
        ["10.23.123.11 logged in over RDP to 5 hosts in 10 minutes (last: admmig on dhcp01)"]
    );
    assert_eq!(
        messages(&out, "windows-rdp-tunnel"),
        ["IEUser logged in over RDP to PC02 from 127.0.0.1: RDP tunnelled through a local port"]
    );
}

#[test]
fn an_rdp_connection_flood_is_a_brute_force() {
    // ID131-RDP brutforce (no user info).evtx: 14 connections a host in three seconds.
    let mut recs: Vec<_> = (0..14)
        .map(|i| {
            let client = format!("10.23.123.11:{}", 36100 + i);
            rec(
                RDP_CORE,
                131,
                "FS03",
                i / 4,
                &[("ConnType", "TCP"), ("ClientIP", client.as_str())],
            )
        })
        .collect();
    // A client's few connections are no flood.
    for i in 0..3 {
        recs.push(rec(
            RDP_CORE,
            131,
            "FS03",
            5,
            &[("ClientIP", &format!("192.0.2.4:{}", 5000 + i))],
        ));
    }
    let out = replay(&recs);
    assert_eq!(
        alerts_by_rule(&out),
        [("windows-rdp-bruteforce".to_owned(), 1)].into()
    );
    assert_eq!(
        bans(&out),
        [(
            "10.23.123.11".to_owned(),
            "windows-rdp-bruteforce".to_owned()
        )]
    );
}

#[test]
fn password_spraying_names_the_source() {
    // password-spray.evtx: 4648 for ~40 accounts from 172.16.144.128, each a few times.
    let users = [
        "smisenar",
        "Administrator",
        "jwright",
        "dpendolino",
        "celgee",
        "thessman",
        "eskoudis",
        "cdavis",
        "ssims",
    ];
    let mut recs = Vec::new();
    for round in 0..2 {
        for (i, u) in users.iter().enumerate() {
            recs.push(sec(
                4648,
                "DESKTOP-JR78RLP",
                round * 60 + i as i64,
                &[
                    ("SubjectUserName", "jwrig"),
                    ("TargetUserName", u),
                    ("TargetServerName", "DESKTOP-JR78RLP"),
                    ("IpAddress", "172.16.144.128"),
                    ("IpPort", "445"),
                ],
            ));
        }
    }
    let out = replay(&recs);
    assert_eq!(
        alerts_by_rule(&out),
        [("windows-password-spray".to_owned(), 1)].into()
    );
    assert_eq!(
        messages(&out, "windows-password-spray"),
        ["8 accounts tried from 172.16.144.128 in an hour (last: cdavis, event 4648 on DESKTOP-JR78RLP)"]
    );
    // Kerberos: refused TGT requests for unknown accounts and failed pre-authentications
    // (kerberos_pwd_spray_4771.evtx); a granted TGT is no attempt.
    let mut recs = Vec::new();
    for (i, u) in [
        "HD01", "admin", "svc-02", "HD02", "svc-01", "bob", "admin02",
    ]
    .iter()
    .enumerate()
    {
        recs.push(sec(
            4768,
            "DC01",
            i as i64,
            &[
                ("TargetUserName", u),
                ("Status", "0x6"),
                ("IpAddress", "172.16.66.1"),
            ],
        ));
    }
    recs.push(sec(
        4768,
        "DC01",
        8,
        &[
            ("TargetUserName", "normal"),
            ("Status", "0x0"),
            ("IpAddress", "172.16.66.1"),
        ],
    ));
    recs.push(sec(
        4771,
        "DC01",
        9,
        &[
            ("TargetUserName", "backdoor"),
            ("Status", "0x18"),
            ("IpAddress", "172.16.66.1"),
        ],
    ));
    let out = replay(&recs);
    assert_eq!(
        messages(&out, "windows-password-spray"),
        ["8 accounts tried from 172.16.66.1 in an hour (last: backdoor, event 4771 on DC01)"]
    );
}

#[test]
fn a_local_program_guessing_passwords_is_a_local_brute_force() {
    // ID 4776,4625-AccountRestore local bruteforce.evtx.
    let fail = |secs: i64, process: &str| {
        sec(
            4625,
            "WIN",
            secs,
            &[
                ("SubjectUserName", "Admin"),
                ("TargetUserName", "Administrator"),
                ("Status", "0xc000006d"),
                ("SubStatus", "0xc000006a"),
                ("LogonType", "2"),
                ("ProcessName", process),
                ("IpAddress", "-"),
            ],
        )
    };
    let tool = "C:\\Users\\Admin\\Desktop\\AccountRestore.bin\\AccountRestore.exe";
    let mut recs: Vec<_> = (0..6).map(|i| fail(i, tool)).collect();
    // Network failures without an address or a program are no one's to count.
    recs.extend((0..6).map(|i| fail(10 + i, "-")));
    let out = replay(&recs);
    assert_eq!(
        messages(&out, "windows-local-bruteforce"),
        [format!("5 failed logons on WIN in 10 minutes through {tool} (last: Administrator, interactive logon)")]
    );
    assert_eq!(alerts_by_rule(&out).len(), 1, "{out:#?}");
    assert!(bans(&out).is_empty());
}

#[test]
fn pass_the_hash_and_privileged_ntlm_network_logons() {
    let ntlm = |secs: i64, user: &str, sid: &str, logon_id: &str, package: &str| {
        sec(
            4624,
            "FS03",
            secs,
            &[
                ("TargetUserSid", sid),
                ("TargetUserName", user),
                ("TargetLogonId", logon_id),
                ("LogonType", "3"),
                ("AuthenticationPackageName", package),
                ("IpAddress", "192.168.1.219"),
            ],
        )
    };
    let privileges = |secs: i64, user: &str, logon_id: &str| {
        sec(
            4672,
            "FS03",
            secs,
            &[
                ("SubjectUserName", user),
                ("SubjectLogonId", logon_id),
                ("PrivilegeList", "SeDebugPrivilege"),
            ],
        )
    };
    let user_sid = "S-1-5-21-81107902-1099128984-1836738286-1105";
    let recs = vec![
        // ID4624-Mimikatz Pass the hash.evtx.
        sec(
            4624,
            "FS03",
            0,
            &[
                ("SubjectUserName", "admmig"),
                ("TargetUserName", "admmig"),
                ("LogonType", "9"),
                ("LogonProcessName", "seclogo"),
                ("AuthenticationPackageName", "Negotiate"),
                ("IpAddress", "::1"),
            ],
        ),
        // The built-in Administrator over NTLM; over Kerberos it is not the indicator.
        ntlm(
            1,
            "Administrator",
            "S-1-5-21-81107902-1099128984-1836738286-500",
            "0x1",
            "NTLM",
        ),
        ntlm(
            2,
            "Administrator",
            "S-1-5-21-81107902-1099128984-1836738286-500",
            "0x2",
            "Kerberos",
        ),
        // Special privileges before the logon (as Windows writes them), and after.
        privileges(3, "bob", "0x3"),
        ntlm(3, "bob", user_sid, "0x3", "NTLM"),
        ntlm(4, "carol", user_sid, "0x4", "NTLM"),
        privileges(4, "carol", "0x4"),
        // An NTLM logon without privileges, and privileges without NTLM.
        ntlm(5, "dave", user_sid, "0x5", "NTLM"),
        privileges(6, "erin", "0x6"),
    ];
    let out = replay(&recs);
    assert_eq!(
        messages(&out, "windows-pass-the-hash"),
        ["admmig started a new-credentials logon (type 9, seclogo) on FS03: pass-the-hash (mimikatz sekurlsa::pth) or runas /netonly"]
    );
    assert_eq!(
        messages(&out, "windows-ntlm-admin-logon"),
        [
            "Administrator (privileged) logged on to FS03 over the network with NTLM from 192.168.1.219: pass-the-hash or relay, unless this account still needs NTLM",
            "bob (privileged) logged on to FS03 over the network with NTLM from 192.168.1.219: pass-the-hash or relay, unless this account still needs NTLM",
            "carol (privileged) logged on to FS03 over the network with NTLM: pass-the-hash or relay, unless this account still needs NTLM",
        ]
    );
}

#[test]
fn account_changes_give_one_alert_each() {
    let out = replay(&crafted());
    let by_rule = alerts_by_rule(&out);
    // admin-kriss created then deleted; `$` created.
    assert_eq!(
        messages(&out, "account-created"),
        ["account admin-kriss created on DC01 by lambda-user"]
    );
    assert_eq!(
        messages(&out, "account-short-lived"),
        ["account admin-kriss deleted on DC01 less than a day after it was created (by lambda-user)"]
    );
    assert_eq!(by_rule.get("account-deleted"), None, "{by_rule:?}");
    assert_eq!(
        messages(&out, "windows-fake-computer-account"),
        ["user account $ (a name ending in $, like a computer's) created by lambda-user on DC01"]
    );
    assert_eq!(
        messages(&out, "account-enabled"),
        ["account Guest enabled on DC01 by lambda-user"]
    );
    // hack1: modified, then set never to expire (that alert only), then its password reset.
    assert_eq!(
        messages(&out, "account-modified"),
        ["account hack1 modified on DC01"]
    );
    assert_eq!(
        messages(&out, "windows-password-never-expires"),
        ["the password of hack1 was set never to expire by lambda-user on DC01"]
    );
    assert_eq!(by_rule.get("password-changed"), Some(&1), "{by_rule:?}");
    assert_eq!(
        messages(&out, "windows-account-renamed-admin"),
        ["account hacker42 renamed to adminupn42 by admmig on DC01"]
    );
    assert_eq!(
        messages(&out, "windows-samaccountname-spoofing"),
        ["computer account DC012$ renamed to 01566s-win16-ir by lgrove on DC01: sAMAccountName spoofing (CVE-2021-42278, noPac)"]
    );
    // Users: medium; Administrators: critical, then undone within the minute.
    assert_eq!(
        severities(&out, "group-membership-changed"),
        [Severity::Medium, Severity::Critical]
    );
    assert_eq!(
        messages(&out, "group-membership-short-lived"),
        ["S-1-5-21-1470532092-3758209836-3742276719-1001 removed from Administrators on FS01 less than a day after being added (by admmig)"]
    );
}

/// A 4723 or 4724 written as an audit failure is an attempt that failed: `password-changed`
/// counts changes done, so it stays quiet for those, and fires for the successes.
#[test]
fn failed_password_changes_and_resets_are_not_password_changes() {
    let data = [
        ("TargetUserName", "hack1"),
        ("SubjectUserName", "lambda-user"),
    ];
    let mut recs = Vec::new();
    for (i, id) in [4723, 4724].into_iter().enumerate() {
        let mut failed = sec(id, "DC01", i as i64, &data);
        failed.keywords = 0x8000_0000_0000_0000 | AUDIT_FAILURE;
        recs.push(failed);
    }
    assert!(alerts_by_rule(&replay(&recs)).is_empty());
    for (i, id) in [4723, 4724].into_iter().enumerate() {
        let mut done = sec(id, "DC01", 10 + i as i64, &data);
        done.keywords = 0x8000_0000_0000_0000 | AUDIT_SUCCESS;
        recs.push(done);
    }
    assert_eq!(
        messages(&replay(&recs), "password-changed"),
        [
            "password of hack1 changed on DC01",
            "password of hack1 changed on DC01"
        ]
    );
}

#[test]
fn privileged_groups_are_known_by_name_and_by_sid_in_any_language() {
    let add = |secs: i64, group: &str, sid: &str| {
        sec(
            4732,
            "FS01",
            secs,
            &[
                ("MemberName", "CN=John Smith,CN=Users,DC=corp,DC=example"),
                ("MemberSid", "S-1-5-21-1-2-3-1001"),
                ("TargetUserName", group),
                ("TargetSid", sid),
                ("SubjectUserName", "admmig"),
            ],
        )
    };
    let recs = vec![
        add(0, "Administratoren", "S-1-5-32-544"),
        add(1, "Remote Desktop Users", "S-1-5-32-555"),
        add(
            2,
            "Domänen-Admins",
            "S-1-5-21-4230534742-2542757381-3142984815-512",
        ),
        add(
            3,
            "DnsAdmins",
            "S-1-5-21-4230534742-2542757381-3142984815-1101",
        ),
        add(4, "Benutzer", "S-1-5-32-545"),
    ];
    let out = replay(&recs);
    assert_eq!(
        severities(&out, "group-membership-changed"),
        [
            Severity::Critical,
            Severity::Critical,
            Severity::Critical,
            Severity::Critical,
            Severity::Medium
        ]
    );
    assert_eq!(
        messages(&out, "group-membership-changed")[0],
        "John Smith: group-member-added Administratoren on FS01 by admmig"
    );
}

#[test]
fn a_cleared_log_is_critical_and_one_service_installation_one_alert() {
    let recs = vec![
        sec(
            1102,
            "FS01",
            0,
            &[
                ("SubjectUserName", "admmig"),
                ("SubjectDomainName", "OFFSEC"),
            ],
        ),
        rec(
            "System",
            104,
            "FS01",
            1,
            &[
                ("SubjectUserName", "admmig"),
                ("Channel", "System"),
                ("BackupPath", ""),
            ],
        ),
        // PsExec's service, in System (7045) and Security (4697).
        rec(
            "System",
            7045,
            "FS01",
            2,
            &[
                ("ServiceName", "PSEXESVC"),
                ("ImagePath", "%SystemRoot%\\PSEXESVC.exe"),
            ],
        ),
        sec(
            4697,
            "FS01",
            2,
            &[
                ("SubjectUserName", "admmig"),
                ("ServiceName", "PSEXESVC"),
                ("ServiceFileName", "%SystemRoot%\\PSEXESVC.exe"),
            ],
        ),
        // Metasploit's psexec: a random name running a shell.
        rec(
            "System",
            7045,
            "FS01",
            3,
            &[
                ("ServiceName", "qWeRtY"),
                (
                    "ImagePath",
                    "%COMSPEC% /b /c start /b /min powershell.exe -nop -w hidden -e aQBlAHgA",
                ),
            ],
        ),
    ];
    let out = replay(&recs);
    assert_eq!(
        messages(&out, "log-cleared"),
        [
            "the Security log of FS01 was cleared by admmig",
            "the System log of FS01 was cleared by admmig"
        ]
    );
    assert_eq!(
        severities(&out, "log-cleared"),
        [Severity::Critical, Severity::Critical]
    );
    assert_eq!(
        messages(&out, "service-installed"),
        [
            "service PSEXESVC installed on FS01: %SystemRoot%\\PSEXESVC.exe",
            "service qWeRtY installed on FS01: %COMSPEC% /b /c start /b /min powershell.exe -nop -w hidden -e aQBlAHgA",
        ]
    );
    assert_eq!(
        severities(&out, "service-installed"),
        [Severity::Medium, Severity::High]
    );
}
