//! `journalctl -o json` lines: one JSON object per entry. MESSAGE, SYSLOG_IDENTIFIER, the pid,
//! host name and time frame the entry; PRIORITY and SYSLOG_FACILITY become
//! `log.syslog.*.code`; `_SYSTEMD_UNIT` becomes `systemd.unit`; every other field is kept under
//! `journald.*` (lower case, leading underscores dropped) so rules can test them.
//!
//! **Forgery.** `SYSLOG_IDENTIFIER` is whatever the writer says (`logger -t sshd` from any
//! user); the fields with a leading underscore are the journal's own, filled in from the
//! kernel. An entry that claims a program logward decodes is trusted only when those agree:
//! `_COMM` (the kernel's process name, cut to 15 bytes) is that program, `_EXE` is that
//! program's file under a system directory, and — for programs that only ever log as root
//! (sshd, logind, login, the account tools) — `_UID` is 0. Otherwise its program is what `_COMM` says (or none),
//! and the claim is kept as `logward.claimed_program`. A field the journal did not record (a
//! process that exited before journald looked at `/proc` has no `_COMM`/`_EXE`) is not held
//! against the entry; `_UID` is always there for local writers. Entries claiming `audit` or
//! `kernel` (whose audit records logward decodes) are trusted only when the journal's
//! `_TRANSPORT` is `audit` / `kernel`; an `audit`-transport entry is `audit`'s whatever it
//! claims.

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
    let mut trusted = Trusted::default();
    for (k, v) in map {
        let Some(text) = field_text(v) else { continue };
        match k.as_str() {
            "_COMM" => trusted.comm = Some(text.clone()),
            "_EXE" => trusted.exe = Some(text.clone()),
            "_UID" => trusted.uid = Some(text.clone()),
            "_TRANSPORT" => trusted.transport = Some(text.clone()),
            _ => {}
        }
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
    let message = message?;
    // The kernel's audit records: the journal names the transport, whatever the entry says.
    if trusted.transport.as_deref() == Some("audit") {
        f.program = Some(Cow::Borrowed("audit"));
    }
    if let Some(claimed) = f.program.as_deref() {
        if !trusted.vouches_for(claimed, &message) {
            f.claimed_program = f.program.take();
            // Decoded as what the journal says it is; never as a program it is not.
            let login_user = trusted.login_user();
            f.program = trusted
                .comm
                .filter(|c| protected(c).is_none() && !(login_user && speaks_for(c, &message)))
                .map(Cow::Owned);
        }
    }
    f.message = Cow::Owned(message);
    Some(f)
}

/// The programs whose entries logward decodes, and whether each only ever logs as root.
const PROTECTED: &[(&str, bool)] = &[
    ("sshd", true),
    ("sshd-session", true),
    ("sshd-auth", true),
    ("systemd-logind", true),
    ("login", true),
    ("useradd", true),
    ("userdel", true),
    ("usermod", true),
    ("groupadd", true),
    ("groupdel", true),
    ("chpasswd", true),
    // Set-uid programs log with the calling user's (real) uid.
    ("sudo", false),
    ("su", false),
    ("passwd", false),
    ("gpasswd", false),
    ("chage", false),
];

/// The journal transport that alone may carry entries of `claimed`, for the kernel's
/// programs (whose audit records logward decodes).
fn kernel_transport(claimed: &str) -> Option<&'static str> {
    match claimed {
        "audit" => Some("audit"),
        "kernel" => Some("kernel"),
        _ => None,
    }
}

/// Whether `message` written as `program` decodes as an event (so a forgery of it matters).
fn speaks_for(program: &str, message: &str) -> bool {
    let mut e = logward_core::Event::default();
    crate::decoders::decode(program, message, &mut e).is_some()
}

/// The first uid of a login user (`UID_MIN` of login.defs on Debian, Fedora, Arch, SUSE);
/// system users, which services run as, are below it.
const FIRST_LOGIN_UID: u32 = 1000;

/// Where system programs live: directories only root can write to.
const SYSTEM_DIRS: &[&str] = &["/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/"];

/// The kernel's process name is cut to 15 bytes (`TASK_COMM_LEN`).
const COMM_LEN: usize = 15;

/// `name`'s entry in [`PROTECTED`], compared as the kernel would show it.
fn protected(name: &str) -> Option<(&'static str, bool)> {
    PROTECTED
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(name))
        .copied()
}

/// The sshd programs are one family: any of them may write another's identifier.
fn family(name: &str) -> &str {
    if name.starts_with("sshd") {
        "sshd"
    } else {
        name
    }
}

/// The journal's own fields about the writer.
#[derive(Debug, Default)]
struct Trusted {
    comm: Option<String>,
    exe: Option<String>,
    uid: Option<String>,
    transport: Option<String>,
}

impl Trusted {
    /// Whether a login user's process wrote the entry (an unreadable `_UID` counts as one).
    fn login_user(&self) -> bool {
        self.uid
            .as_deref()
            .is_some_and(|u| u.parse::<u32>().map_or(true, |u| u >= FIRST_LOGIN_UID))
    }

    /// Whether the journal's fields allow the entry, `message`, to be from `claimed`.
    fn vouches_for(&self, claimed: &str, message: &str) -> bool {
        // Audit records and kernel messages come only through the journal's own transports
        // (`logger -t audit` arrives over `syslog`).
        if let Some(transport) = kernel_transport(claimed) {
            return self.transport.as_deref() == Some(transport);
        }
        let Some((program, root_only)) = protected(claimed) else {
            // Any other program (nginx, dovecot, vsftpd, postfix/smtpd …): services run as
            // root or as a system user, never as a login user, who could otherwise write
            // `logger -t nginx '… client: A'` lines that get A banned. Their process names
            // vary too much (`postfix/smtpd` is `smtpd`, Dovecot's `auth`) to check by name.
            // A login user's own programs keep their names: only an entry that would decode
            // as a security event is held to it.
            return !(self.login_user() && speaks_for(claimed, message));
        };
        if let Some(comm) = &self.comm {
            let want = family(program);
            let cut = &want[..want.len().min(COMM_LEN)];
            let is = family(comm);
            if !is.eq_ignore_ascii_case(cut) && !is.eq_ignore_ascii_case(want) {
                return false;
            }
        }
        if let Some(exe) = &self.exe {
            if !SYSTEM_DIRS.iter().any(|d| exe.starts_with(d)) {
                return false;
            }
            // `_COMM` is the name the program was started by, which a user chooses (a
            // symlink named `sudo` to /usr/bin/logger); `_EXE` is the file it really runs.
            let file = exe.rsplit('/').next().unwrap_or(exe);
            if !family(file).eq_ignore_ascii_case(family(program)) {
                return false;
            }
        }
        if root_only {
            if let Some(uid) = &self.uid {
                if uid != "0" {
                    return false;
                }
            }
        }
        true
    }
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
    fn audit_records_only_from_the_audit_transport() {
        let real = r#"{"__REALTIME_TIMESTAMP":"1700000000123456","_TRANSPORT":"audit","_PID":"77","_COMM":"sshd","MESSAGE":"USER_AUTH pid=77 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=192.0.2.1 addr=192.0.2.1 terminal=ssh res=failed'"}"#;
        let f = frame(real).unwrap();
        assert_eq!(f.program.as_deref(), Some("audit"));
        assert_eq!(f.claimed_program, None);
        for forged in [
            r#"{"_TRANSPORT":"syslog","SYSLOG_IDENTIFIER":"audit","_COMM":"logger","_UID":"1000","MESSAGE":"USER_AUTH pid=1 msg='op=x addr=192.0.2.1 res=failed'"}"#,
            r#"{"_TRANSPORT":"stdout","SYSLOG_IDENTIFIER":"kernel","_COMM":"sh","_UID":"1000","MESSAGE":"audit: type=1100 audit(1.0:1): pid=1 msg='op=x addr=192.0.2.1 res=failed'"}"#,
        ] {
            let f = frame(forged).unwrap();
            assert!(
                matches!(f.program.as_deref(), Some("logger" | "sh")),
                "{forged}"
            );
            assert!(f.claimed_program.is_some());
        }
    }

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

    /// `logger -t sshd` by uid 1000, as journalctl writes it: not sshd.
    #[test]
    fn an_identifier_the_journal_contradicts_is_not_trusted() {
        let forged = r#"{"__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"web01","SYSLOG_IDENTIFIER":"sshd","_PID":"4242","_UID":"1000","_GID":"1000","_COMM":"logger","_EXE":"/usr/bin/logger","_TRANSPORT":"syslog","MESSAGE":"Failed password for root from 192.0.2.1 port 5000 ssh2"}"#;
        let f = frame(forged).unwrap();
        assert_eq!(f.program.as_deref(), Some("logger"));
        assert_eq!(f.claimed_program.as_deref(), Some("sshd"));
        // A copy of a program named sshd in a user's directory, or run by a user.
        for (comm, exe, uid) in [
            ("sshd", "/home/eve/sshd", "1000"),
            ("sshd", "/usr/sbin/sshd", "1000"),
            ("sudo", "/tmp/sudo", "1000"),
            // A symlink named after the program, to a system binary that is not it.
            ("sudo", "/usr/bin/logger", "1000"),
            ("sshd", "/usr/bin/logger", "0"),
        ] {
            let line = forged
                .replace(r#""_COMM":"logger""#, &format!(r#""_COMM":"{comm}""#))
                .replace("/usr/bin/logger", exe)
                .replace(r#""_UID":"1000""#, &format!(r#""_UID":"{uid}""#))
                .replace(
                    r#""SYSLOG_IDENTIFIER":"sshd""#,
                    &format!(r#""SYSLOG_IDENTIFIER":"{comm}""#),
                );
            let f = frame(&line).unwrap();
            assert_eq!(f.program, None, "{line}");
            assert_eq!(f.claimed_program.as_deref(), Some(comm), "{line}");
        }
        // Without _COMM/_EXE (the writer exited first), _UID still tells.
        let bare = forged.replace(r#""_COMM":"logger","_EXE":"/usr/bin/logger","#, "");
        let f = frame(&bare).unwrap();
        assert_eq!(
            (f.program, f.claimed_program.as_deref()),
            (None, Some("sshd"))
        );
    }

    /// `logger -t nginx`, `-t dovecot`, a copy of a binary named `vsftpd` …, by uid 1000:
    /// lines a service writes, forged by a login user, get nobody banned.
    #[test]
    fn a_login_user_cannot_speak_for_a_service() {
        for (ident, comm, message) in [
            ("nginx", "logger", r#"2026/12/06 10:00:01 [error] 7#7: *1 user "x" was not found in "/etc/nginx/htpasswd", client: 192.0.2.9, server: , request: "GET / HTTP/1.1""#),
            ("dovecot", "python3", "auth: passwd-file(alice,192.0.2.9,<abc>): Password mismatch"),
            ("vsftpd", "vsftpd", r#"pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x rhost=192.0.2.9"#),
            ("logger", "logger", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.9  user=root"),
        ] {
            let line = format!(
                r#"{{"SYSLOG_IDENTIFIER":"{ident}","_COMM":"{comm}","_EXE":"/usr/bin/{comm}","_UID":"1000","MESSAGE":{}}}"#,
                serde_json::Value::String(message.into())
            );
            let f = frame(&line).unwrap();
            assert_eq!(f.claimed_program.as_deref(), Some(ident), "{line}");
            let mut d = crate::LineDecoder::new(crate::YearResolver::fixed(2026, 0));
            let e = d.decode(&line);
            assert_eq!(e.action(), logward_core::Action::Unknown, "{line}");
            assert_eq!(e.source_address, None, "{line}");
        }
        // A login user's own program, writing what no decoder reads, keeps its name.
        let own = r#"{"SYSLOG_IDENTIFIER":"backup.sh","_COMM":"bash","_EXE":"/usr/bin/bash","_UID":"1000","MESSAGE":"nightly backup done"}"#;
        let f = frame(own).unwrap();
        assert_eq!(
            (f.program.as_deref(), f.claimed_program),
            (Some("backup.sh"), None)
        );
        // The service itself, as its system user.
        let real = r#"{"SYSLOG_IDENTIFIER":"dovecot","_COMM":"auth","_EXE":"/usr/lib/dovecot/auth","_UID":"109","MESSAGE":"auth: passwd-file(alice,192.0.2.9,<abc>): Password mismatch"}"#;
        let f = frame(real).unwrap();
        assert_eq!(
            (f.program.as_deref(), f.claimed_program),
            (Some("dovecot"), None)
        );
    }

    #[test]
    fn real_entries_keep_their_program() {
        for (ident, comm, exe, uid) in [
            ("sshd", "sshd", "/usr/sbin/sshd", "0"),
            ("sshd", "sshd-session", "/usr/lib/openssh/sshd-session", "0"),
            (
                "sshd-session",
                "sshd-session",
                "/usr/lib/openssh/sshd-session",
                "0",
            ),
            (
                "systemd-logind",
                "systemd-logind",
                "/usr/lib/systemd/systemd-logind",
                "0",
            ),
            ("sudo", "sudo", "/usr/bin/sudo", "1000"),
            ("passwd", "passwd", "/usr/bin/passwd", "1000"),
            ("CRON", "cron", "/usr/sbin/cron", "0"),
            (
                "postfix/smtpd",
                "smtpd",
                "/usr/lib/postfix/sbin/smtpd",
                "107",
            ),
        ] {
            let line = format!(
                r#"{{"SYSLOG_IDENTIFIER":"{ident}","_COMM":"{comm}","_EXE":"{exe}","_UID":"{uid}","MESSAGE":"x"}}"#
            );
            let f = frame(&line).unwrap();
            assert_eq!(f.program.as_deref(), Some(ident), "{line}");
            assert_eq!(f.claimed_program, None, "{line}");
        }
        // No trusted fields at all (an export that dropped them): nothing to hold against it.
        let f = frame(r#"{"SYSLOG_IDENTIFIER":"sshd","MESSAGE":"x"}"#).unwrap();
        assert_eq!(f.program.as_deref(), Some("sshd"));
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
