//! Windows events: [`WinRecord`] (one event, whatever it was read from) → ECS [`Event`].
//!
//! Platform-free on purpose: the readers (`.evtx`, Event XML, Winlogbeat JSON, the Beats
//! input) produce a [`WinRecord`], and [`decode`] is the one place a Windows event id
//! becomes an action. A native Windows service subscribing to the Security channel would
//! produce the same records (docs/ARCHITECTURE.md, "Windows").

mod record;
mod security;

use std::borrow::Cow;

use logward_core::{Dataset, Event, Winlog};

pub use record::WinRecord;

/// The `event.dataset` of a channel.
pub fn dataset(channel: &str) -> Dataset {
    match channel {
        "Security" => Dataset::WindowsSecurity,
        "System" => Dataset::WindowsSystem,
        "OpenSSH/Operational" | "OpenSSH/Admin" => Dataset::WindowsOpenssh,
        c if c.contains("TerminalServices") || c.contains("RemoteDesktopServices") => {
            Dataset::WindowsRdp
        }
        c if c.contains("PowerShell") => Dataset::WindowsPowershell,
        _ => Dataset::Windows,
    }
}

/// Maps one record to its event. Always returns an event: an event id logward does not
/// know is `event.action: unknown` with every `winlog.*` field kept, so rules can still
/// select it by `winlog.event_id`.
pub fn decode(rec: &WinRecord) -> Event<'_> {
    let mut e = Event {
        timestamp: rec.time,
        dataset: Some(dataset(&rec.channel)),
        host_name: (!rec.computer.is_empty()).then_some(Cow::Borrowed(rec.computer.as_str())),
        original: rec.original.as_deref().map(Cow::Borrowed),
        winlog: Some(Box::new(Winlog {
            channel: Cow::Borrowed(&rec.channel),
            event_id: rec.event_id,
            provider_name: Cow::Borrowed(&rec.provider),
            computer_name: Cow::Borrowed(&rec.computer),
            record_id: rec.record_id,
            logon_type: None,
            event_data: rec
                .data
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
                .collect(),
        })),
        ..Event::default()
    };
    if rec.channel == "Security" {
        security::decode(rec, &mut e);
    }
    e
}
