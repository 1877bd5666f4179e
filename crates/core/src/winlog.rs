//! [`Winlog`]: a Windows event's own fields, under the names Winlogbeat gives them
//! (`winlog.channel`, `winlog.event_id`, `winlog.event_data.*` …), so users who know Elastic
//! find them where they expect. Set on events decoded from `.evtx`, Windows Event XML and
//! Winlogbeat JSON; `None` on every other event.

use std::borrow::Cow;

type Text<'a> = Cow<'a, str>;

/// `winlog.*` and `logward.windows.*`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Winlog<'a> {
    /// `winlog.channel` (`Security`, `System`,
    /// `Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational` …).
    pub channel: Text<'a>,
    /// `winlog.event_id`.
    pub event_id: u32,
    /// `winlog.provider_name` (`Microsoft-Windows-Security-Auditing` …).
    pub provider_name: Text<'a>,
    /// `winlog.computer_name`: the `Computer` the event names (also `host.name`).
    pub computer_name: Text<'a>,
    /// `winlog.record_id`: the EventRecordID, unique and increasing within one channel.
    pub record_id: Option<u64>,
    /// `logward.windows.logon_type`: the logon type as a word (`network`,
    /// `remote-interactive` …), for 4624/4625/4634 and their kin.
    pub logon_type: Option<&'static str>,
    /// `winlog.event_data.*`: the EventData (or UserData) values by name, in document order.
    pub event_data: Vec<(Text<'a>, Text<'a>)>,
}

impl<'a> Winlog<'a> {
    /// One `winlog.event_data` value by its name.
    pub fn data(&self, name: &str) -> Option<&str> {
        self.event_data
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    /// A copy that borrows from `self`.
    pub fn borrowed(&self) -> Winlog<'_> {
        Winlog {
            channel: Cow::Borrowed(&self.channel),
            event_id: self.event_id,
            provider_name: Cow::Borrowed(&self.provider_name),
            computer_name: Cow::Borrowed(&self.computer_name),
            record_id: self.record_id,
            logon_type: self.logon_type,
            event_data: self
                .event_data
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_ref()), Cow::Borrowed(v.as_ref())))
                .collect(),
        }
    }

    /// Detaches from the record it was decoded from.
    pub fn into_owned(self) -> Winlog<'static> {
        let own = |t: Text<'_>| Cow::Owned(t.into_owned());
        Winlog {
            channel: own(self.channel),
            event_id: self.event_id,
            provider_name: own(self.provider_name),
            computer_name: own(self.computer_name),
            record_id: self.record_id,
            logon_type: self.logon_type,
            event_data: self
                .event_data
                .into_iter()
                .map(|(k, v)| (own(k), own(v)))
                .collect(),
        }
    }
}

/// The logon types of 4624/4625/4634 (LogonType), as words.
pub const LOGON_TYPES: &[(u8, &str)] = &[
    (0, "system"),
    (2, "interactive"),
    (3, "network"),
    (4, "batch"),
    (5, "service"),
    (7, "unlock"),
    (8, "network-cleartext"),
    (9, "new-credentials"),
    (10, "remote-interactive"),
    (11, "cached-interactive"),
    (12, "cached-remote-interactive"),
    (13, "cached-unlock"),
];

/// The word of a LogonType number (`"10"` → `remote-interactive`).
pub fn logon_type_word(number: &str) -> Option<&'static str> {
    let n: u8 = number.trim().parse().ok()?;
    LOGON_TYPES.iter().find(|(k, _)| *k == n).map(|(_, w)| *w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logon_type_words() {
        assert_eq!(logon_type_word("10"), Some("remote-interactive"));
        assert_eq!(logon_type_word(" 3"), Some("network"));
        assert_eq!(logon_type_word("6"), None);
        assert_eq!(logon_type_word("-"), None);
    }

    #[test]
    fn owned_and_borrowed_copies_are_equal() {
        let w = Winlog {
            channel: "Security".into(),
            event_id: 4625,
            event_data: vec![("IpAddress".into(), "192.0.2.1".into())],
            ..Winlog::default()
        };
        assert_eq!(w.borrowed(), w);
        assert_eq!(w.clone().into_owned(), w);
        assert_eq!(w.data("IpAddress"), Some("192.0.2.1"));
        assert_eq!(w.data("Nope"), None);
    }
}
