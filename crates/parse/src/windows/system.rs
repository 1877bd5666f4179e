//! The System channel: a log cleared (104, Microsoft-Windows-Eventlog) and a service
//! installed (7045, Service Control Manager). Event ids are per provider, so both are
//! matched with theirs (a reader that gives no provider is trusted on the id).

use logward_core::{Action, Event, Outcome};

use super::{set, text, WinRecord};

pub(super) fn decode<'r>(rec: &'r WinRecord, e: &mut Event<'r>) {
    let from = |provider: &str| rec.provider.is_empty() || rec.provider == provider;
    match rec.event_id {
        // UserData LogFileCleared: SubjectUserName, SubjectDomainName, Channel, BackupPath.
        104 if from("Microsoft-Windows-Eventlog") => {
            set(e, Action::LogCleared, Outcome::Success);
            e.user_name = text(rec, "SubjectUserName");
        }
        // ServiceName, ImagePath, ServiceType, StartType, AccountName. AccountName is the
        // account the service will run as, not who installed it (the event does not say),
        // so it stays in winlog.event_data; the command the service runs is ImagePath.
        7045 if from("Service Control Manager") => {
            set(e, Action::ServiceInstalled, Outcome::Success);
            e.command_line = text(rec, "ImagePath");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, WinRecord};
    use logward_core::{Action, Dataset};

    fn record(provider: &str, id: u32, data: &[(&str, &str)]) -> WinRecord {
        WinRecord::sample(provider, "System", "FS01", id, data)
    }

    #[test]
    fn log_cleared_and_service_installed() {
        let r = record(
            "Microsoft-Windows-Eventlog",
            104,
            &[
                ("SubjectUserName", "admmig"),
                ("SubjectDomainName", "OFFSEC"),
                ("Channel", "System"),
                ("BackupPath", ""),
            ],
        );
        let e = decode(&r);
        assert_eq!(e.action, Some(Action::LogCleared));
        assert_eq!(e.dataset, Some(Dataset::WindowsSystem));
        assert_eq!(e.user_name.as_deref(), Some("admmig"));

        let r = record(
            "Service Control Manager",
            7045,
            &[
                ("ServiceName", "PSEXESVC"),
                ("ImagePath", "%SystemRoot%\\PSEXESVC.exe"),
                ("ServiceType", "user mode service"),
                ("StartType", "demand start"),
                ("AccountName", "LocalSystem"),
            ],
        );
        let e = decode(&r);
        assert_eq!(e.action, Some(Action::ServiceInstalled));
        assert_eq!(
            e.command_line.as_deref(),
            Some("%SystemRoot%\\PSEXESVC.exe")
        );
        assert_eq!(e.user_name, None);

        // The same ids from another provider are not these events.
        let r = record("Microsoft-Windows-Kernel-General", 104, &[]);
        assert_eq!(decode(&r).action, None);
    }
}
