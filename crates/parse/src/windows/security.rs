//! The Security channel (provider Microsoft-Windows-Security-Auditing, and 1102 from
//! Microsoft-Windows-Eventlog): logons, logoffs, privileges, Kerberos and NTLM, processes,
//! services, the log cleared. Account and group management is `accounts.rs`.
//!
//! Who is who (docs/EVENTS.md): in a logon, the account logging on (TargetUserName) is
//! `user.name`; where an account acts on another (4648's explicit credentials, 4688's new
//! process under another account), the one acting (SubjectUserName) is `user.name` and the
//! other `user.target.name`.

use std::borrow::Cow;

use logward_core::{Action, Event, Outcome};

use super::{account, accounts, set, source, status, text, WinRecord};

/// Sets the action and the ECS fields of a Security event `e` already carrying its
/// `winlog.*` fields.
pub(super) fn decode<'r>(rec: &'r WinRecord, e: &mut Event<'r>) {
    match rec.event_id {
        4624 => logon(rec, e, Outcome::Success),
        4625 => {
            logon(rec, e, Outcome::Failure);
            e.reason = Some(status::logon_failure(
                rec.data("Status"),
                rec.data("SubStatus"),
            ));
        }
        4634 | 4647 => {
            set(e, Action::UserLogout, Outcome::Success);
            e.user_name = text(rec, "TargetUserName");
            logon_type(rec, e);
        }
        // A logon with explicit credentials (runas, a mapped drive, a spray): the caller
        // acts with another account's password.
        4648 => {
            set(e, Action::PrivilegeEscalation, Outcome::Success);
            e.user_name = text(rec, "SubjectUserName");
            e.user_target_name = text(rec, "TargetUserName");
            source(e, rec.data("IpAddress"), rec.data("IpPort"));
        }
        // Special privileges assigned to a new logon (an administrator's logon).
        4672 => {
            set(e, Action::PrivilegeEscalation, Outcome::Success);
            e.user_name = text(rec, "SubjectUserName");
        }
        4768 | 4769 | 4771 => kerberos(rec, e),
        4776 => {
            let (outcome, reason) = status::ntlm(rec.data("Status"));
            set(e, Action::UserLogin, outcome);
            e.reason = reason;
            e.user_name = text(rec, "TargetUserName");
        }
        4688 => process(rec, e),
        4697 => {
            set(e, Action::ServiceInstalled, Outcome::Success);
            e.user_name = text(rec, "SubjectUserName");
            e.command_line = text(rec, "ServiceFileName");
        }
        1102 => {
            set(e, Action::LogCleared, Outcome::Success);
            e.user_name = text(rec, "SubjectUserName");
        }
        id => accounts::decode(id, rec, e),
    }
    // The record says the attempt failed (4723 and 4724 are written either way): whatever
    // the id's usual outcome, it is a failure, so a rule counting changes done skips it.
    if rec.audit_failure() && e.outcome == Outcome::Success {
        e.outcome = Outcome::Failure;
    }
}

fn logon_type(rec: &WinRecord, e: &mut Event<'_>) {
    if let (Some(w), Some(t)) = (e.winlog.as_mut(), rec.data("LogonType")) {
        w.logon_type = logward_core::winlog::logon_type_word(t);
    }
}

/// 4624/4625: the account logging on is TargetUserName; the peer is IpAddress, an address
/// only. WorkstationName (the client's own name for itself, random in a brute force),
/// LogonProcessName and AuthenticationPackageName stay in `winlog.event_data`.
fn logon<'r>(rec: &'r WinRecord, e: &mut Event<'r>, outcome: Outcome) {
    set(e, Action::UserLogin, outcome);
    e.user_name = text(rec, "TargetUserName");
    logon_type(rec, e);
    source(e, rec.data("IpAddress"), rec.data("IpPort"));
}

/// 4768 (a TGT: the account's own authentication), 4769 (a service ticket), 4771
/// (pre-authentication failed): a login by TargetUserName from IpAddress, its outcome and
/// reason from the KDC's Status. 4771 is a failure whatever its Status says.
fn kerberos<'r>(rec: &'r WinRecord, e: &mut Event<'r>) {
    let (mut outcome, mut reason) = status::kerberos(rec.data("Status"));
    if rec.event_id == 4771 && outcome != Outcome::Failure {
        outcome = Outcome::Failure;
        reason = Some("auth-failed");
    }
    set(e, Action::UserLogin, outcome);
    e.reason = reason;
    // 4769 names the account `user@REALM`; the realm is TargetDomainName.
    e.user_name = rec.data("TargetUserName").map(|u| {
        let user = match (u.rsplit_once('@'), rec.data("TargetDomainName")) {
            (Some((user, realm)), Some(domain)) if realm.eq_ignore_ascii_case(domain) => user,
            _ => u,
        };
        Cow::Borrowed(user)
    });
    source(e, rec.data("IpAddress"), rec.data("IpPort"));
}

/// 4688: `process.command_line` is CommandLine when the policy records it, else the
/// executable (NewProcessName), as for an audit exec without its arguments; `process.name`
/// the executable's file name, `process.pid` NewProcessId. The creator (SubjectUserName) is
/// `user.name`, the account the process runs as when it is another (TargetUserName, Windows
/// 10 and later) `user.target.name`.
fn process<'r>(rec: &'r WinRecord, e: &mut Event<'r>) {
    set(e, Action::ProcessStarted, Outcome::Success);
    let exe = rec.data("NewProcessName");
    e.command_line = rec.data("CommandLine").or(exe).map(Cow::Borrowed);
    e.process_name = exe.map(|x| Cow::Borrowed(x.rsplit(['\\', '/']).next().unwrap_or(x)));
    e.process_pid = rec.data("NewProcessId").and_then(pid);
    e.user_name = text(rec, "SubjectUserName");
    e.user_target_name = rec
        .data("TargetUserName")
        .map(|u| Cow::Borrowed(account(u)));
}

/// A process id as the Security channel writes it (`0x440`), or in decimal.
fn pid(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, WinRecord};
    use logward_core::{Action, Outcome};

    fn record(id: u32, data: &[(&str, &str)]) -> WinRecord {
        WinRecord::sample(
            "Microsoft-Windows-Security-Auditing",
            "Security",
            "DC01",
            id,
            data,
        )
    }

    #[test]
    fn a_failed_network_logon() {
        let r = record(
            4625,
            &[
                ("TargetUserName", "Administrator"),
                ("LogonType", "3"),
                ("IpAddress", "192.168.198.149"),
                ("IpPort", "0"),
            ],
        );
        let e = decode(&r);
        assert_eq!(e.action, Some(Action::UserLogin));
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.user_name.as_deref(), Some("Administrator"));
        assert_eq!(
            e.source_ip.map(|i| i.to_string()).as_deref(),
            Some("192.168.198.149")
        );
        assert_eq!(e.source_port, None);
        assert_eq!(e.host_name.as_deref(), Some("DC01"));
        assert_eq!(
            e.winlog.as_ref().and_then(|w| w.logon_type),
            Some("network")
        );
    }

    #[test]
    fn placeholders_are_no_peer() {
        let r = record(4624, &[("TargetUserName", "SYSTEM"), ("IpAddress", "-")]);
        let e = decode(&r);
        assert_eq!(e.source_address, None);
        let r = record(4625, &[("IpAddress", "not an address")]);
        assert_eq!(decode(&r).source_address, None);
    }

    fn ip(e: &logward_core::Event<'_>) -> Option<String> {
        e.source_ip.map(|i| i.to_string())
    }

    #[test]
    fn failure_reasons_and_loopback_peers() {
        // smb-password-guessing-security.evtx
        let r = record(
            4625,
            &[
                ("TargetUserName", "JcDfcZTc"),
                ("Status", "0xc000006d"),
                ("SubStatus", "0xc0000064"),
                ("LogonType", "3"),
                ("WorkstationName", "6hgtmVlrrFuWtO65"),
                ("IpAddress", "192.168.198.149"),
                ("IpPort", "50249"),
            ],
        );
        let e = decode(&r);
        assert_eq!(e.reason, Some("invalid-user"));
        assert_eq!(e.source_port, Some(50249));
        // The workstation is the client's own word, never a peer.
        assert_eq!(ip(&e).as_deref(), Some("192.168.198.149"));
        // ID4624-Mimikatz Pass the hash.evtx: type 9 from ::1; JuicyPotato: 127.0.0.1.
        let r = record(
            4624,
            &[
                ("TargetUserName", "admmig"),
                ("LogonType", "9"),
                ("IpAddress", "::1"),
                ("IpPort", "0"),
            ],
        );
        let e = decode(&r);
        assert_eq!(
            (e.action(), e.outcome),
            (Action::UserLogin, Outcome::Success)
        );
        assert_eq!(ip(&e).as_deref(), Some("::1"));
        assert_eq!(
            e.winlog.as_ref().and_then(|w| w.logon_type),
            Some("new-credentials")
        );
        let r = record(4624, &[("IpAddress", "127.0.0.1"), ("IpPort", "59336")]);
        assert_eq!(ip(&decode(&r)).as_deref(), Some("127.0.0.1"));
        let r = record(
            4634,
            &[("TargetUserName", "ANONYMOUS LOGON"), ("LogonType", "3")],
        );
        let e = decode(&r);
        assert_eq!(e.action(), Action::UserLogout);
        assert_eq!(e.user_name.as_deref(), Some("ANONYMOUS LOGON"));
    }

    #[test]
    fn explicit_credentials_and_privileges() {
        // password-spray.evtx
        let r = record(
            4648,
            &[
                ("SubjectUserName", "jwrig"),
                ("TargetUserName", "smisenar"),
                ("TargetServerName", "DESKTOP-JR78RLP"),
                ("IpAddress", "172.16.144.128"),
                ("IpPort", "445"),
            ],
        );
        let e = decode(&r);
        assert_eq!(
            (e.action(), e.outcome),
            (Action::PrivilegeEscalation, Outcome::Success)
        );
        assert_eq!(e.user_name.as_deref(), Some("jwrig"));
        assert_eq!(e.user_target_name.as_deref(), Some("smisenar"));
        assert_eq!(ip(&e).as_deref(), Some("172.16.144.128"));
        let r = record(
            4672,
            &[
                ("SubjectUserName", "user01"),
                ("PrivilegeList", "SeDebugPrivilege"),
            ],
        );
        let e = decode(&r);
        assert_eq!(e.action(), Action::PrivilegeEscalation);
        assert_eq!(e.user_name.as_deref(), Some("user01"));
    }

    #[test]
    fn kerberos_and_ntlm() {
        // kerberos_pwd_spray_4771.evtx
        let r = record(
            4771,
            &[
                ("TargetUserName", "backdoor"),
                ("Status", "0x18"),
                ("IpAddress", "::ffff:172.16.66.1"),
                ("IpPort", "55968"),
            ],
        );
        let e = decode(&r);
        assert_eq!(
            (e.action(), e.outcome),
            (Action::UserLogin, Outcome::Failure)
        );
        assert_eq!(e.reason, Some("bad-password"));
        assert_eq!(e.user_name.as_deref(), Some("backdoor"));
        assert_eq!(e.source_address.as_deref(), Some("172.16.66.1"));
        assert_eq!(e.source_port, Some(55968));
        let r = record(
            4768,
            &[
                ("TargetUserName", "HD01"),
                ("Status", "0x6"),
                ("IpAddress", "172.16.66.1"),
            ],
        );
        let e = decode(&r);
        assert_eq!(
            (e.outcome, e.reason),
            (Outcome::Failure, Some("invalid-user"))
        );
        // samaccount_spoofing…: a service ticket for `user@REALM`.
        let r = record(
            4769,
            &[
                ("TargetUserName", "lgrove@THREEBEESCO.COM"),
                ("TargetDomainName", "THREEBEESCO.COM"),
                ("Status", "0x0"),
                ("IpAddress", "::ffff:172.16.66.19"),
            ],
        );
        let e = decode(&r);
        assert_eq!((e.outcome, e.reason), (Outcome::Success, None));
        assert_eq!(e.user_name.as_deref(), Some("lgrove"));
        assert_eq!(ip(&e).as_deref(), Some("172.16.66.19"));
        // Security_short_selected.evtx
        let r = record(
            4776,
            &[
                ("PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"),
                ("TargetUserName", "Administrator"),
                ("Workstation", "TEMPORAL"),
                ("Status", "0xc000006a"),
            ],
        );
        let e = decode(&r);
        assert_eq!(
            (e.outcome, e.reason),
            (Outcome::Failure, Some("bad-password"))
        );
        assert_eq!(e.user_name.as_deref(), Some("Administrator"));
        assert_eq!(e.source_address, None);
        let r = record(4771, &[("TargetUserName", "x")]);
        assert_eq!(decode(&r).outcome, Outcome::Failure);
    }

    #[test]
    fn processes_services_and_cleared_logs() {
        // ID4624-Mimikatz Pass the hash.evtx
        let r = record(
            4688,
            &[
                ("SubjectUserName", "FS03$"),
                ("NewProcessId", "0xe74"),
                ("NewProcessName", "C:\\Windows\\System32\\cmd.exe"),
                ("CommandLine", "cmd.exe /c whoami"),
                ("TargetUserName", "admmig"),
            ],
        );
        let e = decode(&r);
        assert_eq!(e.action(), Action::ProcessStarted);
        assert_eq!(e.command_line.as_deref(), Some("cmd.exe /c whoami"));
        assert_eq!(e.process_name.as_deref(), Some("cmd.exe"));
        assert_eq!(e.process_pid, Some(0xe74));
        assert_eq!(e.user_name.as_deref(), Some("FS03$"));
        assert_eq!(e.user_target_name.as_deref(), Some("admmig"));
        // LM_4624_mimikatz…: no command line recorded.
        let r = record(
            4688,
            &[
                ("NewProcessName", "C:\\Windows\\System32\\conhost.exe"),
                ("CommandLine", ""),
            ],
        );
        let e = decode(&r);
        assert_eq!(
            e.command_line.as_deref(),
            Some("C:\\Windows\\System32\\conhost.exe")
        );
        let r = record(
            4697,
            &[
                ("SubjectUserName", "admmig"),
                ("ServiceName", "evil"),
                ("ServiceFileName", "C:\\evil.exe -k"),
            ],
        );
        let e = decode(&r);
        assert_eq!(e.action(), Action::ServiceInstalled);
        assert_eq!(e.command_line.as_deref(), Some("C:\\evil.exe -k"));
        assert_eq!(e.user_name.as_deref(), Some("admmig"));
        let r = record(1102, &[("SubjectUserName", "jwrig")]);
        let e = decode(&r);
        assert_eq!(e.action(), Action::LogCleared);
        assert_eq!(e.user_name.as_deref(), Some("jwrig"));
    }

    #[test]
    fn unknown_ids_keep_their_fields() {
        let r = record(5152, &[("Application", "x")]);
        let e = decode(&r);
        assert_eq!(e.action, None);
        assert_eq!(e.winlog.as_ref().map(|w| w.event_id), Some(5152));
    }
}
