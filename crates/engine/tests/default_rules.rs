//! The built-in ruleset: every rule fires on a crafted log and none on a benign one.

use std::collections::BTreeMap;

use logward_core::Timestamp;
use logward_engine::{default_program, Engine, Output, Program, DEFAULT_RULES};
use logward_parse::{LineDecoder, YearResolver};

mod common;
use common::windows;

/// Replays lines (BSD syslog, year 2026, UTC) through the default ruleset.
fn replay(lines: &[String]) -> Vec<Output> {
    replay_with(Engine::new(default_program()), lines)
}

/// Each ban's (rule, duration, offence), in order.
fn bans(out: &[Output]) -> Vec<(Option<String>, i64, u32)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Ban {
                duration,
                offence,
                rule_id,
                ..
            } => Some((rule_id.clone(), *duration, *offence)),
            _ => None,
        })
        .collect()
}

/// Replays lines (BSD syslog, year 2026, UTC) through `engine` and returns the outputs.
fn replay_with(mut engine: Engine, lines: &[String]) -> Vec<Output> {
    let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
    let mut out = Vec::new();
    let epoch = Timestamp {
        unix: 0,
        nanos: 0,
        offset: 0,
    };
    for l in lines {
        engine.replay(&d.decode(l), epoch, &mut out);
    }
    out
}

fn alerts_by_rule(out: &[Output]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for o in out {
        if let Output::Alert(a) = o {
            *m.entry(a.rule_id.clone()).or_default() += 1;
        }
    }
    m
}

fn t(min: u32, sec: u32) -> String {
    format!("Mar  3 {:02}:{:02}:{:02}", 10 + min / 60, min % 60, sec)
}

fn crafted() -> Vec<String> {
    let mut l = Vec::new();
    // Brute force: 6 failures from one address in a minute.
    for i in 0..6 {
        l.push(format!(
            "{} srv sshd[100]: Failed password for root from 203.0.113.5 port {} ssh2",
            t(0, i),
            40000 + i
        ));
    }
    // Enumeration: 5 invalid users (probe-style: no password tried).
    for (i, u) in ["admin", "test", "oracle", "guest", "ubuntu"]
        .iter()
        .enumerate()
    {
        l.push(format!(
            "{} srv sshd[200]: Invalid user {u} from 198.51.100.9 port {}",
            t(1, i as u32),
            50000 + i
        ));
    }
    // Slow brute force: 10 failures over 50 minutes, 5 minutes apart.
    for i in 0..10u32 {
        l.push(format!(
            "{} srv sshd[300]: Failed password for bob from 192.0.2.44 port {} ssh2",
            t(2 + i * 5, 30),
            41000 + i
        ));
    }
    // Distributed: 20 failures against alice from 10 addresses in 2 minutes.
    for i in 0..20u32 {
        l.push(format!(
            "{} srv sshd[400]: Failed password for alice from 100.64.0.{} port {} ssh2",
            t(60 + i / 10, i % 60),
            1 + i % 10,
            42000 + i
        ));
    }
    // Login after failures: 3 failures then a success from the same address.
    for i in 0..3u32 {
        l.push(format!(
            "{} srv sshd[500]: Failed password for carol from 192.0.2.200 port {} ssh2",
            t(70, i),
            43000 + i
        ));
    }
    l.push(format!(
        "{} srv sshd[501]: Accepted password for carol from 192.0.2.200 port 43100 ssh2",
        t(70, 10)
    ));
    // Login burst: 4 logins from one address.
    for i in 0..4u32 {
        l.push(format!(
            "{} srv sshd[{}]: Accepted publickey for deploy from 192.0.2.77 port {} ssh2: ED25519 SHA256:abc",
            t(80, i * 5),
            600 + i,
            44000 + i
        ));
    }
    l.push(format!(
        "{} srv sshd[700]: Accepted password for root from 192.0.2.78 port 45000 ssh2",
        t(81, 0)
    ));
    l.push(format!("{} srv useradd[701]: new user: name=mallory, UID=1001, GID=1001, home=/home/mallory, shell=/bin/bash, from=/dev/pts/0", t(82, 0)));
    l.push(format!(
        "{} srv userdel[702]: delete user 'olduser'",
        t(82, 1)
    ));
    l.push(format!(
        "{} srv usermod[703]: change user 'mallory' shell from '/bin/bash' to '/bin/sh'",
        t(82, 2)
    ));
    l.push(format!(
        "{} srv usermod[704]: add 'mallory' to group 'sudo'",
        t(82, 3)
    ));
    l.push(format!(
        "{} srv gpasswd[705]: user mallory added by root to group users",
        t(82, 4)
    ));
    l.push(format!(
        "{} srv passwd[706]: password for 'mallory' changed by 'root'",
        t(82, 5)
    ));
    l.push(format!("{} srv sudo: mallory : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/mallory ; USER=root ; COMMAND=/bin/bash", t(83, 0)));
    l.push(format!("{} srv sudo: eve : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/eve ; USER=root ; COMMAND=/bin/cat /etc/shadow", t(83, 1)));
    l.push(format!(
        "{} srv su[707]: (to root) mallory on pts/0",
        t(83, 2)
    ));
    // One logout, as sshd (LogLevel VERBOSE) and PAM both write it: one alert.
    l.push(format!(
        "{} srv sshd[501]: Close session: user carol from 192.0.2.200 port 43100 id 0",
        t(84, 0)
    ));
    l.push(format!(
        "{} srv sshd[501]: pam_unix(sshd:session): session closed for user carol",
        t(84, 0)
    ));
    // Brute force spread over services: 3 telnet logins and 2 SSH passwords from one address.
    l.extend(across_services("198.18.0.7", 85));
    // Abuse: GitLab throttling one address's sign-in attempts five times.
    for i in 0..5u32 {
        l.push(format!(
            r#"{{"severity":"ERROR","time":"2026-03-03T11:26:{:02}.000Z","message":"Rack_Attack","env":"throttle","remote_ip":"198.18.0.9","request_method":"POST","path":"/users/sign_in"}}"#,
            i
        ));
    }
    l
}

/// Five failed logins from `ip` in one minute from `min`: three at login(1) over telnet,
/// then two over SSH.
fn across_services(ip: &str, min: u32) -> Vec<String> {
    let mut l = Vec::new();
    for i in 0..3u32 {
        l.push(format!(
            "{} srv login[{}]: FAILED LOGIN 1 FROM {ip} FOR root, Authentication failure",
            t(min, i),
            900 + i
        ));
    }
    for i in 0..2u32 {
        l.push(format!(
            "{} srv sshd[910]: Failed password for root from {ip} port {} ssh2",
            t(min, 10 + i),
            46000 + i
        ));
    }
    l
}

#[test]
fn the_builtin_ruleset_loads() {
    let p = Program::load("default.yaml", DEFAULT_RULES).unwrap_or_else(|e| panic!("{e}"));
    let ids = p.rule_ids();
    for id in [
        "ssh-bruteforce",
        "ssh-slow-bruteforce",
        "ssh-user-enumeration",
        "ssh-distributed-bruteforce",
        "ssh-login-after-failures",
        "ssh-login",
        "ssh-login-burst",
        "root-login",
        "account-created",
        "account-deleted",
        "account-modified",
        "group-membership-changed",
        "password-changed",
        "sudo-failure",
        "sudo-not-in-sudoers",
        "su-root",
        "user-logout",
        "auth-bruteforce",
        "service-abuse",
        "account-short-lived",
        "account-enabled",
        "group-membership-short-lived",
        "log-cleared",
        "service-installed",
        "windows-bruteforce",
        "windows-local-bruteforce",
        "windows-password-spray",
        "windows-login-after-failures",
        "windows-rdp-login",
        "windows-rdp-new-source",
        "windows-rdp-many-hosts",
        "windows-rdp-tunnel",
        "windows-rdp-bruteforce",
        "windows-pass-the-hash",
        "windows-ntlm-admin-logon",
        "windows-samaccountname-spoofing",
        "windows-account-renamed-admin",
        "windows-fake-computer-account",
        "windows-password-never-expires",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
}

#[test]
fn every_default_rule_fires_on_the_crafted_log() {
    let out = replay(&crafted());
    let by_rule = alerts_by_rule(&out);
    // The Windows rules fire on Windows events (crates/engine/tests/windows_rules.rs).
    let mut fired = by_rule.clone();
    fired.extend(windows::alerts_by_rule(&windows::replay(
        &windows::crafted(),
    )));
    // The DNS rules fire on the queries the agent's DNS check marked
    // (crates/engine/tests/dns_rules.rs).
    fired.extend(dns_findings());
    let p = default_program();
    for id in p.rule_ids() {
        assert!(fired.contains_key(id), "{id} did not fire: {fired:?}");
    }
    // 203.0.113.5, and the enumerating 198.51.100.9 (5 failures too): rules count apart.
    assert_eq!(by_rule["ssh-bruteforce"], 2, "{by_rule:?}");
    assert_eq!(by_rule["ssh-slow-bruteforce"], 1, "{by_rule:?}");
    assert_eq!(by_rule["ssh-login-after-failures"], 1, "{by_rule:?}");
    // carol, 4 × deploy, root.
    assert_eq!(by_rule["ssh-login"], 6, "{by_rule:?}");
    assert_eq!(by_rule["user-logout"], 1, "{by_rule:?}");
    // usermod -aG sudo is critical, gpasswd … users is not.
    let groups: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Alert(a) if a.rule_id == "group-membership-changed" => Some(a.severity),
            _ => None,
        })
        .collect();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert!(groups.contains(&logward_core::Severity::Critical));
    // Bans: brute force, enumeration, slow brute force.
    let bans: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Ban { ip, rule_id, .. } => Some((ip.to_string(), rule_id.clone())),
            _ => None,
        })
        .collect();
    assert!(
        bans.contains(&("203.0.113.5".into(), Some("ssh-bruteforce".into()))),
        "{bans:?}"
    );
    assert!(
        bans.contains(&("198.51.100.9".into(), Some("ssh-user-enumeration".into()))),
        "{bans:?}"
    );
    let msg = out
        .iter()
        .find_map(|o| match o {
            Output::Alert(a) if a.rule_id == "ssh-bruteforce" => Some(a.message.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        msg,
        "5 failed SSH logins from 203.0.113.5 in 10 minutes (last user: root)"
    );
}

#[test]
fn brute_force_across_services_is_one_rule_and_ssh_alone_stays_the_ssh_rules() {
    let out = replay(&across_services("198.18.0.7", 0));
    let by_rule = alerts_by_rule(&out);
    assert_eq!(by_rule.get("auth-bruteforce"), Some(&1), "{by_rule:?}");
    assert_eq!(by_rule.get("ssh-bruteforce"), None, "{by_rule:?}");
    let msg = out
        .iter()
        .find_map(|o| match o {
            Output::Alert(a) if a.rule_id == "auth-bruteforce" => Some(a.message.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        msg,
        "5 failed logins from 198.18.0.7 in 10 minutes on 2 service(s) (last: sshd, user root)"
    );
    assert_eq!(
        bans(&out),
        [(Some("auth-bruteforce".to_owned()), 3600, 1)],
        "{out:#?}"
    );
    // Five SSH failures alone: the SSH rule, not a second alert from the generic one.
    let ssh: Vec<String> = (0..5u32)
        .map(|i| {
            format!(
                "{} srv sshd[1]: Failed password for root from 198.18.0.8 port {} ssh2",
                t(0, i),
                1000 + i
            )
        })
        .collect();
    let by_rule = alerts_by_rule(&replay(&ssh));
    assert_eq!(by_rule.get("ssh-bruteforce"), Some(&1), "{by_rule:?}");
    assert_eq!(by_rule.get("auth-bruteforce"), None, "{by_rule:?}");
}

#[test]
fn declined_public_keys_are_not_failures_to_count() {
    // A client offering the eight keys of its agent before the right one: no brute force.
    let mut lines: Vec<String> = (0..8u32)
        .map(|i| {
            format!(
                "{} srv sshd[1]: Failed publickey for deploy from 192.0.2.60 port 5000 ssh2: ED25519 SHA256:key{i}",
                t(0, i)
            )
        })
        .collect();
    lines.push(format!(
        "{} srv sshd[1]: Accepted publickey for deploy from 192.0.2.60 port 5000 ssh2: ED25519 SHA256:key8",
        t(0, 9)
    ));
    let out = replay(&lines);
    assert!(
        !out.iter().any(|o| matches!(o, Output::Ban { .. })),
        "{out:#?}"
    );
    let by_rule = alerts_by_rule(&out);
    assert_eq!(by_rule.get("ssh-bruteforce"), None, "{by_rule:?}");
    assert_eq!(by_rule.get("ssh-login-after-failures"), None, "{by_rule:?}");
}

/// fail2ban's `recidive` jail bans an address for a week after repeated bans. logward's
/// escalation does it without a second jail: an address's bans are counted across every rule
/// and service within `bans.remember` (7 days), each twice the last, up to a week.
#[test]
fn a_repeat_offender_gets_longer_bans_whichever_service_it_attacks() {
    let mut lines = Vec::new();
    for burst in 0..9u32 {
        if burst % 2 == 0 {
            // SSH alone.
            for i in 0..5u32 {
                lines.push(format!(
                    "{} srv sshd[1]: Failed password for root from 203.0.113.9 port {} ssh2",
                    t(burst * 20, i),
                    1000 + i
                ));
            }
        } else {
            lines.extend(across_services("203.0.113.9", burst * 20));
        }
    }
    let got: Vec<(String, i64)> = bans(&replay(&lines))
        .into_iter()
        .map(|(rule, duration, _)| (rule.unwrap_or_default(), duration))
        .collect();
    let hour = 3600;
    let want: Vec<(String, i64)> = (0..9u32)
        .map(|n| {
            let rule = if n % 2 == 0 {
                "ssh-bruteforce"
            } else {
                "auth-bruteforce"
            };
            (rule.to_owned(), (hour << n).min(7 * 24 * hour))
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn nothing_fires_on_a_benign_log() {
    let lines: Vec<String> = vec![
        format!("{} srv sshd[1]: Connection closed by 192.0.2.1 port 5000 [preauth]", t(0, 0)),
        format!("{} srv sshd[2]: Did not receive identification string from 192.0.2.2 port 5001", t(0, 1)),
        format!("{} srv sshd[3]: Failed password for bob from 192.0.2.3 port 5002 ssh2", t(0, 2)),
        format!("{} srv sshd[3]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.3  user=bob", t(0, 2)),
        format!("{} srv sudo:      bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/apt update", t(0, 3)),
        format!("{} srv sudo: pam_unix(sudo:session): session closed for user root", t(0, 4)),
        format!("{} srv CRON[9]: pam_unix(cron:session): session closed for user root", t(0, 5)),
        format!("{} srv kernel: something unrelated", t(0, 6)),
    ];
    let out = replay(&lines);
    // No alert, no ban: only the daily report's entries (the sudo command, the unknown line).
    let reports: Vec<(String, String)> = out
        .iter()
        .map(|o| match o {
            Output::Report { section, message } => (section.clone(), message.clone()),
            other => panic!("not a report entry: {other:#?}"),
        })
        .collect();
    assert_eq!(
        reports,
        [
            (
                "INFO".to_string(),
                "bob ran sudo as root: /usr/bin/apt update".to_string()
            ),
            (
                "OTHER".to_string(),
                "kernel: something unrelated".to_string()
            ),
        ]
    );
}

#[test]
fn loopback_is_never_counted_and_a_login_grants_grace() {
    let mut lines = Vec::new();
    for i in 0..10u32 {
        lines.push(format!(
            "{} srv sshd[1]: Failed password for root from 127.0.0.1 port {} ssh2",
            t(0, i),
            1000 + i
        ));
    }
    // A success from 192.0.2.9, then 10 failures from it: no ban (grace), no brute force.
    lines.push(format!(
        "{} srv sshd[2]: Accepted password for me from 192.0.2.9 port 2000 ssh2",
        t(1, 0)
    ));
    for i in 0..10u32 {
        lines.push(format!(
            "{} srv sshd[3]: Failed password for me from 192.0.2.9 port {} ssh2",
            t(2, i),
            3000 + i
        ));
    }
    // … and after another success, ssh-login-after-failures still fires.
    lines.push(format!(
        "{} srv sshd[4]: Accepted password for me from 192.0.2.9 port 4000 ssh2",
        t(3, 0)
    ));
    let out = replay(&lines);
    let by_rule = alerts_by_rule(&out);
    assert_eq!(by_rule.get("ssh-bruteforce"), None, "{by_rule:?}");
    assert!(
        !out.iter().any(|o| matches!(o, Output::Ban { .. })),
        "{out:#?}"
    );
    assert_eq!(
        by_rule.get("ssh-login-after-failures"),
        Some(&1),
        "{by_rule:?}"
    );
}

#[test]
fn repeat_offenders_get_longer_bans() {
    let mut lines = Vec::new();
    // Three bursts of 5 failures, each after the previous 10-minute blackhole.
    for burst in 0..3u32 {
        for i in 0..5u32 {
            lines.push(format!(
                "{} srv sshd[1]: Failed password for root from 203.0.113.8 port {} ssh2",
                t(burst * 20, i),
                1000 + i
            ));
        }
    }
    let durations: Vec<(i64, u32)> = bans(&replay(&lines))
        .into_iter()
        .filter(|(rule, ..)| rule.as_deref() == Some("ssh-bruteforce"))
        .map(|(_, duration, offence)| (duration, offence))
        .collect();
    assert_eq!(durations, [(3600, 1), (7200, 2), (14400, 3)]);
}

/// The reported bug: counters keyed per /128 while bans cover the /64, so failures from one
/// /64, each from a new address, never added up.
#[test]
fn ipv6_failures_from_one_64_one_address_each_are_counted_together() {
    let lines: Vec<String> = (0..5u32)
        .map(|i| {
            format!(
                "{} srv sshd[{}]: Failed password for root from 2001:db8:7:1::{:x} port {} ssh2",
                t(0, i),
                500 + i,
                0x100 + i,
                43000 + i
            )
        })
        .collect();
    // The default counts on the default ban prefix, /64.
    let out = replay(&lines);
    assert_eq!(
        alerts_by_rule(&out).get("ssh-bruteforce"),
        Some(&1),
        "{out:?}"
    );
    let bans: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Ban { ip, offence, .. } => Some((ip.to_string(), *offence)),
            _ => None,
        })
        .collect();
    assert_eq!(bans, [("2001:db8:7:1::104".to_owned(), 1)]);
    // Another /64 is another key.
    let mut other = lines.clone();
    other[4] = other[4].replace("2001:db8:7:1::", "2001:db8:7:2::");
    let out = replay(&other);
    assert_eq!(alerts_by_rule(&out).get("ssh-bruteforce"), None, "{out:?}");
    // With `bans.ipv6_prefix: 128` each address is its own key again.
    let out = replay_with(Engine::new(default_program()).with_v6_prefix(128), &lines);
    assert_eq!(alerts_by_rule(&out).get("ssh-bruteforce"), None, "{out:?}");
}

/// The reported bug: one burst that trips both user enumeration and brute force (five
/// invalid users are five failures too) counted as two offences, so the address's next ban
/// escalated twice.
#[test]
fn one_burst_tripping_two_rules_is_one_offence() {
    let mut lines = Vec::new();
    for burst in 0..2u32 {
        for (i, u) in ["admin", "test", "oracle", "guest", "ubuntu"]
            .iter()
            .enumerate()
        {
            lines.push(format!(
                "{} srv sshd[{}]: Invalid user {u} from 198.51.100.77 port {}",
                t(burst * 20, i as u32),
                700 + i,
                50000 + i
            ));
        }
    }
    let bans = bans(&replay(&lines));
    let rules: Vec<_> = bans.iter().map(|b| b.0.as_deref().unwrap_or("")).collect();
    assert!(
        rules.contains(&"ssh-user-enumeration") && rules.contains(&"ssh-bruteforce"),
        "{bans:?}"
    );
    // Both rules' bans of each burst are the same offence: 1 h, then 2 h for the second.
    let offences: Vec<(i64, u32)> = bans.iter().map(|b| (b.1, b.2)).collect();
    assert_eq!(
        offences,
        [(3600, 1), (3600, 1), (7200, 2), (7200, 2)],
        "{bans:?}"
    );
}

/// docs/REPORT.md promises password changes under WARN: PAM's `password changed for U` (what
/// passwd and chpasswd log on a PAM system) as much as shadow's own text. A refused change is
/// no change.
#[test]
fn a_password_change_lands_under_warn() {
    let lines = vec![
        format!(
            "{} srv passwd[10]: pam_unix(passwd:chauthtok): password changed for bob",
            t(0, 0)
        ),
        format!(
            "{} srv chpasswd[11]: pam_unix(chpasswd:chauthtok): password changed for carol",
            t(0, 1)
        ),
        format!(
            "{} srv passwd[12]: pam_unix(passwd:chauthtok): new password not acceptable",
            t(0, 2)
        ),
        format!(
            "{} srv passwd[13]: password for 'dave' changed by 'root'",
            t(0, 3)
        ),
    ];
    let out = replay(&lines);
    let warn: Vec<&str> = out
        .iter()
        .filter_map(|o| match o {
            Output::Report { section, message } if section == "WARN" => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        warn,
        [
            "password of bob changed on srv",
            "password of carol changed on srv",
            "password of dave changed on srv",
        ],
        "{out:#?}"
    );
    assert_eq!(alerts_by_rule(&out).get("password-changed"), Some(&3));
}

/// An account deleted within a day of its creation is one alert, `account-short-lived`, on
/// Linux as on Windows; one deleted later, or never created here, is `account-deleted`.
#[test]
fn an_account_deleted_soon_after_its_creation_is_short_lived() {
    let lines = vec![
        format!("{} srv useradd[1]: new user: name=tmpadm, UID=1002, GID=1002, home=/home/tmpadm, shell=/bin/bash, from=/dev/pts/0", t(0, 0)),
        format!("{} srv userdel[2]: delete user 'tmpadm'", t(5, 0)),
        format!("{} srv userdel[3]: delete user 'olduser'", t(6, 0)),
    ];
    let by_rule = alerts_by_rule(&replay(&lines));
    assert_eq!(by_rule.get("account-created"), Some(&1), "{by_rule:?}");
    assert_eq!(by_rule.get("account-short-lived"), Some(&1), "{by_rule:?}");
    assert_eq!(by_rule.get("account-deleted"), Some(&1), "{by_rule:?}");
}

/// One `dns-query` event per finding the agent's DNS check writes, through the default rules.
fn dns_findings() -> BTreeMap<String, usize> {
    let mut engine = Engine::new(default_program());
    let mut out = Vec::new();
    for reason in ["listed", "api-malicious", "tunnel", "dga"] {
        let mut e = logward_core::Event {
            action: Some(logward_core::Action::DnsQuery),
            source_ip: "10.0.0.1".parse().ok(),
            reason: Some(reason),
            ..Default::default()
        };
        e.dns = Some(Box::new(logward_core::Dns {
            question_name: "x.evil.test".into(),
            intel: Some(Box::default()),
            ..Default::default()
        }));
        engine.replay(
            &e,
            Timestamp {
                unix: 0,
                nanos: 0,
                offset: 0,
            },
            &mut out,
        );
    }
    alerts_by_rule(&out)
}
