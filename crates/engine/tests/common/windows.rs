//! Windows records built in code (with the field values of the corpus' real records) and
//! replayed through the Windows decoder and the default ruleset.

#![allow(dead_code)]

use std::collections::BTreeMap;

use logward_core::Timestamp;
use logward_engine::{default_program, Engine, Output};
use logward_parse::windows::{decode, WinRecord};

/// 2026-03-03 10:00:00 UTC: the time of the syslog lines the other tests replay.
pub const T0: i64 = 1_772_532_000;

/// A record of `channel` on `computer`, `secs` after [`T0`].
pub fn rec(channel: &str, id: u32, computer: &str, secs: i64, data: &[(&str, &str)]) -> WinRecord {
    let provider = match (channel, id) {
        ("Security", 1102) => "Microsoft-Windows-Eventlog",
        ("Security", _) => "Microsoft-Windows-Security-Auditing",
        ("System", 104) => "Microsoft-Windows-Eventlog",
        ("System", _) => "Service Control Manager",
        _ => "",
    };
    let mut r = WinRecord {
        provider: provider.into(),
        event_id: id,
        channel: channel.into(),
        computer: computer.into(),
        time: Some(Timestamp {
            unix: T0 + secs,
            nanos: 0,
            offset: 0,
        }),
        ..WinRecord::default()
    };
    for (k, v) in data {
        r.push_data(k, (*v).to_owned());
    }
    r
}

/// A Security record.
pub fn sec(id: u32, computer: &str, secs: i64, data: &[(&str, &str)]) -> WinRecord {
    rec("Security", id, computer, secs, data)
}

pub const RDP_RCM: &str = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational";
pub const RDP_CORE: &str = "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS/Operational";

/// A logon (4624) or failed logon (4625) of `user` of type `logon_type` from `ip`.
pub fn logon(
    id: u32,
    computer: &str,
    secs: i64,
    user: &str,
    logon_type: &str,
    ip: &str,
) -> WinRecord {
    sec(
        id,
        computer,
        secs,
        &[
            ("TargetUserName", user),
            ("TargetDomainName", "OFFSEC"),
            ("Status", if id == 4625 { "0xc000006d" } else { "0x0" }),
            ("SubStatus", if id == 4625 { "0xc000006a" } else { "0x0" }),
            ("LogonType", logon_type),
            ("LogonProcessName", "NtLmSsp "),
            ("AuthenticationPackageName", "NTLM"),
            ("WorkstationName", "-"),
            ("IpAddress", ip),
            ("IpPort", "0"),
        ],
    )
}

/// The outputs of the default ruleset over `recs`, in order.
pub fn replay(recs: &[WinRecord]) -> Vec<Output> {
    replay_with(&mut Engine::new(default_program()), recs)
}

pub fn replay_with(engine: &mut Engine, recs: &[WinRecord]) -> Vec<Output> {
    let mut out = Vec::new();
    let epoch = Timestamp {
        unix: 0,
        nanos: 0,
        offset: 0,
    };
    for r in recs {
        engine.replay(&decode(r), epoch, &mut out);
    }
    out
}

pub fn alerts_by_rule(out: &[Output]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for o in out {
        if let Output::Alert(a) = o {
            *m.entry(a.rule_id.clone()).or_default() += 1;
        }
    }
    m
}

/// The messages of `rule`'s alerts.
pub fn messages(out: &[Output], rule: &str) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Alert(a) if a.rule_id == rule => Some(a.message.clone()),
            _ => None,
        })
        .collect()
}

/// One Windows event of every kind a default rule is about, in an order that fires each.
pub fn crafted() -> Vec<WinRecord> {
    let mut v = Vec::new();
    // SMB password guessing.
    for i in 0..5 {
        v.push(logon(
            4625,
            "FS01",
            i,
            "Administrator",
            "3",
            "192.168.198.149",
        ));
    }
    // A logon after failures, over RDP, from a new address.
    for i in 0..3 {
        v.push(logon(4625, "FS01", 10 + i, "alice", "10", "203.0.113.7"));
    }
    v.push(logon(4624, "FS01", 20, "alice", "10", "203.0.113.7"));
    // … and again later from it: a known address.
    v.push(logon(4624, "FS01", 200, "alice", "10", "203.0.113.7"));
    // RDP from loopback: a tunnel.
    v.push(logon(4624, "PC02", 210, "IEUser", "10", "127.0.0.1"));
    // One address on five hosts.
    for (i, h) in ["rootdc1", "fs03", "mssql01", "dhcp01", "pki01"]
        .iter()
        .enumerate()
    {
        v.push(rec(
            RDP_RCM,
            1149,
            h,
            300 + i as i64,
            &[
                ("Param1", "admmig"),
                ("Param2", ""),
                ("Param3", "10.23.123.11"),
            ],
        ));
    }
    // Ten RDP connections in a minute.
    for i in 0..10 {
        let client = format!("10.23.123.12:{}", 36000 + i);
        v.push(rec(
            RDP_CORE,
            131,
            "FS03",
            400 + i,
            &[("ConnType", "TCP"), ("ClientIP", client.as_str())],
        ));
    }
    // Password spraying: explicit credentials for eight accounts from one address.
    for (i, u) in [
        "smisenar",
        "Administrator",
        "jwright",
        "dpendolino",
        "celgee",
        "thessman",
        "eskoudis",
        "cdavis",
    ]
    .iter()
    .enumerate()
    {
        v.push(sec(
            4648,
            "DESKTOP-JR78RLP",
            500 + i as i64,
            &[
                ("SubjectUserName", "jwrig"),
                ("TargetUserName", u),
                ("TargetServerName", "DESKTOP-JR78RLP"),
                ("IpAddress", "172.16.144.128"),
                ("IpPort", "445"),
            ],
        ));
    }
    // A local tool guessing passwords.
    for i in 0..5 {
        v.push(sec(
            4625,
            "WIN",
            600 + i,
            &[
                ("SubjectUserName", "Admin"),
                ("TargetUserName", "Administrator"),
                ("Status", "0xc000006d"),
                ("SubStatus", "0xc000006a"),
                ("LogonType", "2"),
                ("LogonProcessName", "Advapi  "),
                (
                    "ProcessName",
                    "C:\\Users\\Admin\\Desktop\\AccountRestore.exe",
                ),
                ("IpAddress", "-"),
            ],
        ));
    }
    // Pass-the-hash, and an NTLM network logon of the built-in Administrator.
    v.push(sec(
        4624,
        "FS03",
        700,
        &[
            ("TargetUserName", "admmig"),
            ("LogonType", "9"),
            ("LogonProcessName", "seclogo"),
            ("AuthenticationPackageName", "Negotiate"),
            ("IpAddress", "::1"),
        ],
    ));
    v.push(sec(
        4624,
        "FS03",
        701,
        &[
            (
                "TargetUserSid",
                "S-1-5-21-81107902-1099128984-1836738286-500",
            ),
            ("TargetUserName", "Administrator"),
            ("TargetLogonId", "0x820d61"),
            ("LogonType", "3"),
            ("LogonProcessName", "NtLmSsp "),
            ("AuthenticationPackageName", "NTLM"),
            ("IpAddress", "192.168.1.219"),
        ],
    ));
    // Accounts: created and deleted at once, a fake computer account, renames, enabling,
    // a password that never expires.
    let by = |target: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("TargetUserName", target),
            ("TargetDomainName", "OFFSEC"),
            ("SubjectUserName", "lambda-user"),
        ]
    };
    v.push(sec(4720, "DC01", 800, &by("admin-kriss")));
    v.push(sec(4726, "DC01", 878, &by("admin-kriss")));
    v.push(sec(4720, "DC01", 880, &by("$")));
    v.push(sec(4722, "DC01", 881, &by("Guest")));
    v.push(sec(4738, "DC01", 882, &by("hack1")));
    let mut never = by("hack1");
    never.push(("UserAccountControl", "\r\n\t\t%%2089"));
    v.push(sec(4738, "DC01", 883, &never));
    v.push(sec(4724, "DC01", 884, &by("hack1")));
    v.push(sec(
        4781,
        "DC01",
        885,
        &[
            ("OldTargetUserName", "hacker42"),
            ("NewTargetUserName", "adminupn42"),
            (
                "TargetSid",
                "S-1-5-21-4230534742-2542757381-3142984815-1239",
            ),
            ("SubjectUserName", "admmig"),
        ],
    ));
    v.push(sec(
        4781,
        "DC01",
        886,
        &[
            ("OldTargetUserName", "DC012$"),
            ("NewTargetUserName", "01566s-win16-ir"),
            (
                "TargetSid",
                "S-1-5-21-308926384-506822093-3341789130-107104",
            ),
            ("SubjectUserName", "lgrove"),
        ],
    ));
    // Groups: a member added to Administrators and removed again, one added to Users.
    let group = |name: &'static str, sid: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("MemberName", "-"),
            (
                "MemberSid",
                "S-1-5-21-1470532092-3758209836-3742276719-1001",
            ),
            ("TargetUserName", name),
            ("TargetDomainName", "Builtin"),
            ("TargetSid", sid),
            ("SubjectUserName", "admmig"),
        ]
    };
    v.push(sec(4732, "FS01", 900, &group("Users", "S-1-5-32-545")));
    v.push(sec(
        4732,
        "FS01",
        901,
        &group("Administrators", "S-1-5-32-544"),
    ));
    v.push(sec(
        4733,
        "FS01",
        957,
        &group("Administrators", "S-1-5-32-544"),
    ));
    // The log cleared, a service installed.
    v.push(sec(
        1102,
        "FS01",
        1000,
        &[
            ("SubjectUserName", "admmig"),
            ("SubjectDomainName", "OFFSEC"),
        ],
    ));
    v.push(rec(
        "System",
        7045,
        "FS01",
        1001,
        &[
            ("ServiceName", "PSEXESVC"),
            ("ImagePath", "%SystemRoot%\\PSEXESVC.exe"),
            ("ServiceType", "user mode service"),
            ("StartType", "demand start"),
            ("AccountName", "LocalSystem"),
        ],
    ));
    v
}
