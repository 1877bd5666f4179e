//! [`WinRecord`]: one Windows event as every reader hands it over — the `.evtx` reader, the
//! Windows Event XML reader and the Winlogbeat JSON reader all produce it, and
//! [`super::decode`] maps it to an ECS event, so the three inputs cannot drift apart.

use logward_core::Timestamp;

/// The `Keywords` bit of an audit failure (`0x8010000000000000` in a Security record): the
/// attempt the event id names failed. Some ids (4723, 4724) are written either way.
pub const AUDIT_FAILURE: u64 = 0x0010_0000_0000_0000;
/// The `Keywords` bit of an audit success (`0x8020000000000000`).
pub const AUDIT_SUCCESS: u64 = 0x0020_0000_0000_0000;

/// One Windows event: the `System` part and the EventData/UserData values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WinRecord {
    /// `System/Provider/@Name` (`Microsoft-Windows-Security-Auditing`).
    pub provider: String,
    /// `System/EventID` (qualifiers dropped).
    pub event_id: u32,
    /// `System/Channel` (`Security`, `System`, `Microsoft-Windows-…/Operational`).
    pub channel: String,
    /// `System/Computer`.
    pub computer: String,
    /// `System/EventRecordID`.
    pub record_id: Option<u64>,
    /// `System/TimeCreated/@SystemTime`.
    pub time: Option<Timestamp>,
    /// `System/Execution/@ProcessID`.
    pub process_id: Option<u32>,
    /// `System/Keywords`, the audit bits among them ([`AUDIT_FAILURE`], [`AUDIT_SUCCESS`]); 0
    /// when the record has none.
    pub keywords: u64,
    /// The `EventData/Data` values by `Name`, in document order; for `UserData`, the leaf
    /// elements of its one child by element name. Readers give unnamed `Data` elements the
    /// names Winlogbeat gives them (`param1`, `param2` …) and keep names unique (a repeated
    /// name gets `_2`, `_3` …), so the pairs are a map.
    pub data: Vec<(String, String)>,
    /// The record as read (its XML or JSON), for `event.original` and the alert page.
    pub original: Option<String>,
}

impl WinRecord {
    /// Whether the record is an audit failure (its `Keywords`).
    pub fn audit_failure(&self) -> bool {
        self.keywords & AUDIT_FAILURE != 0
    }

    /// One EventData value by name; `None` for a missing value and for Windows' "no value"
    /// placeholders (`-`, empty).
    pub fn data(&self, name: &str) -> Option<&str> {
        let v = self.data.iter().find(|(k, _)| k == name)?.1.trim();
        (!v.is_empty() && v != "-").then_some(v)
    }

    /// [`push_data`](Self::push_data) with strings from `spare` (pairs of a record read
    /// before, see [`WinRecord::recycle`]) instead of new ones: a reader of many records
    /// allocates for the first ones only.
    pub fn push_data_from(&mut self, name: &str, value: &str, spare: &mut Vec<(String, String)>) {
        let Some((mut k, mut v)) = spare.pop() else {
            return self.push_data(name, value.to_owned());
        };
        v.clear();
        v.push_str(value);
        if self.data.iter().any(|(have, _)| have == name) {
            return self.push_data(name, v);
        }
        k.clear();
        k.push_str(name);
        self.data.push((k, v));
    }

    /// Empties the record for the next one, keeping its buffers: its own strings stay in it,
    /// its EventData pairs go to `spare` (up to a bound) for
    /// [`push_data_from`](Self::push_data_from).
    pub fn recycle(&mut self, spare: &mut Vec<(String, String)>) {
        /// A few records' worth: enough for any record, bounded whatever was read.
        const KEEP: usize = 1024;
        self.provider.clear();
        self.channel.clear();
        self.computer.clear();
        self.event_id = 0;
        self.record_id = None;
        self.time = None;
        self.process_id = None;
        self.keywords = 0;
        self.original = None;
        let room = KEEP.saturating_sub(spare.len());
        spare.extend(self.data.drain(..).take(room));
    }

    /// Adds a value under `name`, or under `name_2`, `name_3` … when `name` is taken.
    pub fn push_data(&mut self, name: &str, value: String) {
        if !self.data.iter().any(|(k, _)| k == name) {
            self.data.push((name.to_owned(), value));
            return;
        }
        let mut n = 2;
        loop {
            let candidate = format!("{name}_{n}");
            if !self.data.iter().any(|(k, _)| *k == candidate) {
                self.data.push((candidate, value));
                return;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
impl WinRecord {
    /// A record for the mapping's tests: event `id` of `provider` in `channel`, written on
    /// `computer`, with the EventData values `data` in order.
    pub(crate) fn sample(
        provider: &str,
        channel: &str,
        computer: &str,
        id: u32,
        data: &[(&str, &str)],
    ) -> WinRecord {
        let mut r = WinRecord {
            provider: provider.into(),
            event_id: id,
            channel: channel.into(),
            computer: computer.into(),
            ..WinRecord::default()
        };
        for (k, v) in data {
            r.push_data(k, (*v).to_owned());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_no_value_and_names_stay_unique() {
        let mut r = WinRecord::default();
        r.push_data("IpAddress", "-".into());
        r.push_data("TargetUserName", " bob ".into());
        r.push_data("TargetUserName", "eve".into());
        assert_eq!(r.data("IpAddress"), None);
        assert_eq!(r.data("TargetUserName"), Some("bob"));
        assert_eq!(r.data("TargetUserName_2"), Some("eve"));
        assert_eq!(r.data("Nope"), None);
    }
}
