//! The Security channel (provider Microsoft-Windows-Security-Auditing, and 1102 from
//! Microsoft-Windows-Eventlog).

use std::borrow::Cow;

use logward_core::{Action, Event, Outcome};

use super::WinRecord;

/// Sets the action and the ECS fields of a Security event `e` already carrying its
/// `winlog.*` fields.
pub(super) fn decode<'r>(rec: &'r WinRecord, e: &mut Event<'r>) {
    match rec.event_id {
        4624 => logon(rec, e, Outcome::Success),
        4625 => logon(rec, e, Outcome::Failure),
        4634 | 4647 => {
            set(e, Action::UserLogout, Outcome::Success);
            e.user_name = rec.data("TargetUserName").map(Cow::Borrowed);
            logon_type(rec, e);
        }
        1102 => {
            set(e, Action::LogCleared, Outcome::Success);
            e.user_name = rec.data("SubjectUserName").map(Cow::Borrowed);
        }
        _ => {}
    }
}

fn set(e: &mut Event<'_>, action: Action, outcome: Outcome) {
    e.action = Some(action);
    e.category = action.category();
    e.outcome = outcome;
}

fn logon_type(rec: &WinRecord, e: &mut Event<'_>) {
    if let (Some(w), Some(t)) = (e.winlog.as_mut(), rec.data("LogonType")) {
        w.logon_type = logward_core::winlog::logon_type_word(t);
    }
}

/// 4624/4625: the account logging on is TargetUserName; the peer is IpAddress (a validated
/// address only: `-`, `::1` placeholders aside, Windows writes what the network stack saw).
fn logon<'r>(rec: &'r WinRecord, e: &mut Event<'r>, outcome: Outcome) {
    set(e, Action::UserLogin, outcome);
    e.user_name = rec.data("TargetUserName").map(Cow::Borrowed);
    logon_type(rec, e);
    if let Some(ip) = rec.data("IpAddress") {
        if logward_core::parse_ip(ip).is_some() {
            let port = rec
                .data("IpPort")
                .and_then(|p| p.parse().ok())
                .filter(|p| *p != 0);
            e.set_source(Cow::Borrowed(ip), port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, WinRecord};
    use logward_core::{Action, Outcome};

    fn record(id: u32, data: &[(&str, &str)]) -> WinRecord {
        let mut r = WinRecord {
            provider: "Microsoft-Windows-Security-Auditing".into(),
            event_id: id,
            channel: "Security".into(),
            computer: "DC01".into(),
            ..WinRecord::default()
        };
        for (k, v) in data {
            r.push_data(k, (*v).to_owned());
        }
        r
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

    #[test]
    fn unknown_ids_keep_their_fields() {
        let r = record(5152, &[("Application", "x")]);
        let e = decode(&r);
        assert_eq!(e.action, None);
        assert_eq!(e.winlog.as_ref().map(|w| w.event_id), Some(5152));
    }
}
