//! OpenSSH for Windows (OpenSSH/Operational): sshd's own log text in EventData `payload`
//! (and its program in `process`). The text is what sshd writes to syslog on Linux, so it
//! goes through the same decoders: a Windows OpenSSH brute force is an `sshd` brute force,
//! counted by the same rules. The event keeps its `winlog.*` fields.

use std::borrow::Cow;

use logward_core::Event;

use crate::decoders;

use super::WinRecord;

pub(super) fn decode<'r>(rec: &'r WinRecord, e: &mut Event<'r>) {
    let Some(payload) = rec.data("payload") else {
        return;
    };
    let program = rec.data("process").unwrap_or("sshd");
    e.process_name = Some(Cow::Borrowed(program));
    let mut d = Event::default();
    let Some(found) = decoders::decode(program, payload, &mut d) else {
        return;
    };
    e.dataset = d.dataset;
    e.action = d.action;
    e.category = d.category;
    e.outcome = d.outcome;
    e.reason = d.reason;
    e.user_name = d.user_name;
    e.user_target_name = d.user_target_name;
    e.group_name = d.group_name;
    e.command_line = d.command_line;
    e.auth_method = d.auth_method;
    e.auth_key_type = d.auth_key_type;
    e.auth_key_fingerprint = d.auth_key_fingerprint;
    e.repeat = d.repeat;
    // There is no session correlator across Windows events to settle an ambiguous peer,
    // so such a line names none; nor does a peer that is a host name.
    if found.ambiguous_peers.is_empty() && d.source_ip.is_some() {
        e.source_address = d.source_address;
        e.source_ip = d.source_ip;
        e.source_port = d.source_port;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, WinRecord};
    use logward_core::{Action, Dataset, Outcome};

    fn record(id: u32, payload: &str) -> WinRecord {
        let mut r = WinRecord {
            provider: "OpenSSH".into(),
            event_id: id,
            channel: "OpenSSH/Operational".into(),
            computer: "FS01.offsec.lan".into(),
            ..WinRecord::default()
        };
        r.push_data("process", "sshd".into());
        r.push_data("payload", payload.into());
        r
    }

    #[test]
    fn sshd_text_is_decoded_as_sshd() {
        // ID4-OpenSSH brutforce with non existing users (sshd logs).evtx
        let r = record(
            4,
            "Failed password for invalid user hacker from 10.23.23.9 port 60096 ssh2",
        );
        let e = decode(&r);
        assert_eq!(e.dataset, Some(Dataset::Sshd));
        assert_eq!(
            (e.action(), e.outcome),
            (Action::UserLogin, Outcome::Failure)
        );
        assert_eq!(e.reason, Some("invalid-user"));
        assert_eq!(e.user_name.as_deref(), Some("hacker"));
        assert_eq!(
            e.source_ip.map(|i| i.to_string()).as_deref(),
            Some("10.23.23.9")
        );
        assert_eq!(e.source_port, Some(60096));
        assert_eq!(e.process_name.as_deref(), Some("sshd"));
        assert_eq!(e.winlog.as_ref().map(|w| w.event_id), Some(4));

        let r = record(4, "Invalid user hacker from 10.23.23.9 port 60096");
        assert_eq!(decode(&r).reason, Some("invalid-user"));
    }

    #[test]
    fn other_text_stays_windows_openssh() {
        let r = record(4, "Server listening on :: port 22.");
        let e = decode(&r);
        assert_eq!(e.dataset, Some(Dataset::WindowsOpenssh));
        assert_eq!(e.action, None);
        // A peer that is a name is none.
        let r = record(4, "Failed password for root from evil.example port 22 ssh2");
        let e = decode(&r);
        assert_eq!(e.action(), Action::UserLogin);
        assert_eq!(e.source_address, None);
    }
}
