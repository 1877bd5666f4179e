//! Windows events: [`WinRecord`] (one event, whatever it was read from) → ECS [`Event`].
//!
//! Platform-free on purpose: the readers (`.evtx`, Event XML, Winlogbeat JSON, the Beats
//! input) produce a [`WinRecord`], and [`decode`] is the one place a Windows event id
//! becomes an action. A native Windows service subscribing to the Security channel would
//! produce the same records (docs/ARCHITECTURE.md, "Windows").

mod accounts;
pub mod evtx;
pub mod lines;
mod openssh;
mod powershell;
mod rdp;
mod record;
mod security;
mod status;
mod system;
pub mod winlogbeat;
pub mod xml;

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome, Winlog};

pub use evtx::{EvtxIdentity, EvtxReadError, EvtxReader};
pub use record::{WinRecord, AUDIT_FAILURE, AUDIT_SUCCESS};

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
    match e.dataset {
        Some(Dataset::WindowsSecurity) => security::decode(rec, &mut e),
        Some(Dataset::WindowsSystem) => system::decode(rec, &mut e),
        Some(Dataset::WindowsRdp) => rdp::decode(rec, &mut e),
        Some(Dataset::WindowsOpenssh) => openssh::decode(rec, &mut e),
        Some(Dataset::WindowsPowershell) => powershell::decode(rec, &mut e),
        _ => {}
    }
    e
}

/// Sets the action, its category and the outcome.
fn set(e: &mut Event<'_>, action: Action, outcome: Outcome) {
    e.action = Some(action);
    e.category = action.category();
    e.outcome = outcome;
}

/// One EventData value, borrowed; `None` for Windows' placeholders (`-`, empty).
fn text<'r>(rec: &'r WinRecord, name: &str) -> Option<Cow<'r, str>> {
    rec.data(name).map(Cow::Borrowed)
}

/// Sets `source.*` from an address field and a port field, when the address is an IP
/// address: the only peers a Windows event gives are IpAddress, ClientIP and Param3/Address,
/// and a workstation name (WorkstationName, the client's own choice) is never one.
/// Loopback (`::1`, `127.0.0.1`) is kept: it is what Windows saw, and rules ignore it.
fn source<'r>(e: &mut Event<'r>, address: Option<&'r str>, port: Option<&str>) {
    let Some(address) = address else { return };
    if logward_core::parse_ip(address).is_none() {
        return;
    }
    let port = port.and_then(|p| p.trim().parse().ok()).filter(|p| *p != 0);
    e.set_source(Cow::Borrowed(address), port);
}

/// An account name without its `DOMAIN\` (`CONTOSO\alice` → `alice`), as the Security
/// channel writes TargetUserName; the domain stays in `winlog.event_data`.
fn account(name: &str) -> &str {
    name.rsplit_once('\\').map_or(name, |(_, user)| user)
}
