//! `journalctl -o json` lines: one JSON object per entry. MESSAGE, SYSLOG_IDENTIFIER, the pid,
//! host name and time frame the entry; PRIORITY and SYSLOG_FACILITY become
//! `log.syslog.*.code`; `_SYSTEMD_UNIT` becomes `systemd.unit`; every other field is kept under
//! `journald.*` (lower case, leading underscores dropped) so rules can test them.

use std::borrow::Cow;

use logward_core::Timestamp;
use serde_json::Value;

use crate::frame::Frame;

/// Frames a journal JSON line; `None` when it is not a JSON object with a MESSAGE.
pub fn frame(line: &str) -> Option<Frame<'_>> {
    let Value::Object(map) = serde_json::from_str::<Value>(line).ok()? else {
        return None;
    };
    let mut f = Frame::default();
    let mut message = None;
    for (k, v) in map {
        let Some(text) = field_text(v) else { continue };
        match k.as_str() {
            "MESSAGE" => message = Some(text),
            "SYSLOG_IDENTIFIER" => f.program = Some(Cow::Owned(text)),
            "_PID" => f.pid = text.parse().ok().or(f.pid),
            "SYSLOG_PID" if f.pid.is_none() => f.pid = text.parse().ok(),
            "_HOSTNAME" => f.host = Some(Cow::Owned(text)),
            "__REALTIME_TIMESTAMP" => {
                f.timestamp = text.parse::<i64>().ok().map(Timestamp::from_unix_micros);
            }
            "PRIORITY" => f.severity = text.parse().ok().filter(|&p: &u8| p <= 7),
            "SYSLOG_FACILITY" => f.facility = text.parse().ok().filter(|&p: &u8| p <= 23),
            "_SYSTEMD_UNIT" => f.unit = Some(Cow::Owned(text)),
            _ => {
                let name = k.trim_start_matches('_').to_ascii_lowercase();
                f.journald.push((Cow::Owned(name), Cow::Owned(text)));
            }
        }
    }
    f.message = Cow::Owned(message?);
    Some(f)
}

/// The journal writes text as a string, binary data as an array of bytes, and `null` for
/// values too large to show.
fn field_text(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(bytes) => {
            let raw: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            Some(String::from_utf8_lossy(&raw).into_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_entry() {
        let line = r#"{"__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"web01","SYSLOG_IDENTIFIER":"sshd-session","_PID":"4242","PRIORITY":"6","SYSLOG_FACILITY":"10","_SYSTEMD_UNIT":"ssh.service","MESSAGE":"Accepted publickey for alice from 192.0.2.1 port 5000 ssh2","_COMM":"sshd-session","__CURSOR":"s=1"}"#;
        let f = frame(line).unwrap();
        assert_eq!(f.program.as_deref(), Some("sshd-session"));
        assert_eq!(
            (f.pid, f.severity, f.facility),
            (Some(4242), Some(6), Some(10))
        );
        assert_eq!(f.unit.as_deref(), Some("ssh.service"));
        assert_eq!(
            f.timestamp.unwrap().to_string(),
            "2023-11-14T22:13:20.123456Z"
        );
        assert!(f
            .journald
            .iter()
            .any(|(k, v)| k == "comm" && v == "sshd-session"));
        assert!(f.message.starts_with("Accepted"));
    }

    #[test]
    fn binary_message_and_non_objects() {
        let f = frame(r#"{"MESSAGE":[104,105,255]}"#).unwrap();
        assert_eq!(f.message, "hi\u{fffd}");
        assert!(frame("[1,2]").is_none());
        assert!(frame(r#"{"A":"b"}"#).is_none());
        assert!(frame("{not json").is_none());
    }
}
