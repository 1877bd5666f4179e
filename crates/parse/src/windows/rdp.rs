//! Remote Desktop: the TerminalServices RemoteConnectionManager and LocalSessionManager
//! channels and RdpCoreTS. The peer is only ever the event's address field (ClientIP,
//! IPString, Param3, Address), and only when it is an IP address (`LOCAL` is not).

use std::borrow::Cow;

use logward_core::{Action, Event, Outcome};

use super::{account, set, source, WinRecord};

pub(super) fn decode<'r>(rec: &'r WinRecord, e: &mut Event<'r>) {
    let channel = rec.channel.as_str();
    if channel.contains("RemoteConnectionManager") {
        // 1149 "User authentication succeeded": UserData Param1 user, Param2 domain,
        // Param3 the client's address. (With NLA this is the network authentication; the
        // session's own logon is 4624 type 10.)
        if rec.event_id == 1149 {
            set(e, Action::UserLogin, Outcome::Success);
            e.user_name = rec.data("Param1").map(|u| Cow::Borrowed(account(u)));
            source(e, rec.data("Param3"), None);
        }
    } else if channel.contains("RdpCoreTS") {
        match rec.event_id {
            // "The server accepted a new TCP connection from client A:P".
            131 => {
                set(e, Action::ConnectionOpened, Outcome::Unknown);
                if let Some((address, port)) = rec.data("ClientIP").and_then(split_address) {
                    source(e, Some(address), port);
                }
            }
            // "A connection from the client computer with an IP address of A failed
            // because the user name or password is not correct."
            140 => {
                set(e, Action::UserLogin, Outcome::Failure);
                e.reason = Some("auth-failed");
                source(e, rec.data("IPString"), None);
            }
            _ => {}
        }
    } else if channel.contains("LocalSessionManager") {
        // UserData EventXML: User (`DOMAIN\user`), SessionID, Address.
        let (action, outcome, reason) = match rec.event_id {
            21 => (Action::SessionStart, Outcome::Success, None),
            23 => (Action::UserLogout, Outcome::Success, None),
            24 => (Action::ConnectionClosed, Outcome::Unknown, None),
            25 => (Action::SessionStart, Outcome::Success, Some("reconnected")),
            // 22 (shell start) repeats 21's session; other ids are not logons.
            _ => return,
        };
        set(e, action, outcome);
        e.reason = reason;
        e.user_name = rec.data("User").map(|u| Cow::Borrowed(account(u)));
        source(e, rec.data("Address"), None);
    }
}

/// ClientIP's `A:P` (`10.23.123.11:36160`, `[fe80::1]:3389`) as address and port; an
/// address without a port as itself.
fn split_address(s: &str) -> Option<(&str, Option<&str>)> {
    if logward_core::parse_ip(s).is_some() {
        return Some((s, None));
    }
    let (address, port) = s.rsplit_once(':')?;
    let address = address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address);
    Some((address, Some(port)))
}

#[cfg(test)]
mod tests {
    use super::super::{decode, WinRecord};
    use logward_core::{Action, Dataset, Outcome};

    fn record(channel: &str, id: u32, data: &[(&str, &str)]) -> WinRecord {
        WinRecord::sample("", channel, "FS03.offsec.lan", id, data)
    }

    fn ip(e: &logward_core::Event<'_>) -> Option<String> {
        e.source_ip.map(|i| i.to_string())
    }

    #[test]
    fn rdp_authentication() {
        // ID1149-RDP success logins to multiple hosts.evtx (Param2 is empty there)
        let r = record(
            "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
            1149,
            &[
                ("Param1", "admmig"),
                ("Param2", ""),
                ("Param3", "10.23.123.11"),
            ],
        );
        let e = decode(&r);
        assert_eq!(e.dataset, Some(Dataset::WindowsRdp));
        assert_eq!(
            (e.action(), e.outcome),
            (Action::UserLogin, Outcome::Success)
        );
        assert_eq!(e.user_name.as_deref(), Some("admmig"));
        assert_eq!(ip(&e).as_deref(), Some("10.23.123.11"));
    }

    #[test]
    fn rdp_connections() {
        // ID131-RDP brutforce (no user info).evtx
        let ch = "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS/Operational";
        let r = record(
            ch,
            131,
            &[("ConnType", "TCP"), ("ClientIP", "10.23.123.11:36160")],
        );
        let e = decode(&r);
        assert_eq!(e.action(), Action::ConnectionOpened);
        assert_eq!(ip(&e).as_deref(), Some("10.23.123.11"));
        assert_eq!(e.source_port, Some(36160));
        let r = record(ch, 131, &[("ClientIP", "[2001:db8::7]:3390")]);
        let e = decode(&r);
        assert_eq!(
            (ip(&e).as_deref(), e.source_port),
            (Some("2001:db8::7"), Some(3390))
        );
        let r = record(ch, 131, &[("ClientIP", "host.example:3390")]);
        assert_eq!(decode(&r).source_address, None);
        let r = record(ch, 140, &[("IPString", "203.0.113.9")]);
        let e = decode(&r);
        assert_eq!(
            (e.action(), e.outcome),
            (Action::UserLogin, Outcome::Failure)
        );
        assert_eq!(ip(&e).as_deref(), Some("203.0.113.9"));
    }

    #[test]
    fn rdp_sessions() {
        let ch = "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational";
        let r = record(
            ch,
            21,
            &[
                ("User", "OFFSEC\\admmig"),
                ("SessionID", "2"),
                ("Address", "10.23.123.11"),
            ],
        );
        let e = decode(&r);
        assert_eq!(
            (e.action(), e.outcome),
            (Action::SessionStart, Outcome::Success)
        );
        assert_eq!(e.user_name.as_deref(), Some("admmig"));
        assert_eq!(ip(&e).as_deref(), Some("10.23.123.11"));
        let r = record(ch, 23, &[("User", "OFFSEC\\admmig"), ("Address", "LOCAL")]);
        let e = decode(&r);
        assert_eq!(e.action(), Action::UserLogout);
        assert_eq!(e.source_address, None);
        assert_eq!(
            decode(&record(ch, 24, &[])).action(),
            Action::ConnectionClosed
        );
        assert_eq!(decode(&record(ch, 25, &[])).reason, Some("reconnected"));
        assert_eq!(decode(&record(ch, 22, &[])).action, None);
    }
}
