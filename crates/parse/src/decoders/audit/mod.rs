//! Linux audit records (auditd's `/var/log/audit/audit.log`, the kernel's and the journal's
//! `audit` lines): the account and login records PAM, sshd and shadow-utils write, and execs
//! (SYSCALL + EXECVE joined by serial, see [`join`]). Record syntax in [`record`].
//!
//! Every event has `event.dataset: auditd`. What each type becomes is in docs/EVENTS.md
//! ("auditd"). The peer is only ever the record's last `addr=` field, and only when it is
//! an IP address: `hostname=` may be the client's own reverse DNS, `acct=` its chosen name.

use std::borrow::Cow;

use logward_core::{parse_ip, Action, Dataset, Event, Outcome};

use super::{guarded, start, Found};
use record::{Kind, Record};

pub mod join;
pub mod record;

pub use join::Joiner;

/// Programs whose syslog messages are audit records: the kernel's printk (`audit: type=…`),
/// the journal's audit transport (`audit[PID]: USER_AUTH …`), auditd's syslog plugins.
#[inline]
pub fn is_program(p: &str) -> bool {
    matches!(
        p,
        "audit" | "kernel" | "audispd" | "audisp-syslog" | "auditd"
    )
}

/// Whether a line without a syslog header is an audit.log record.
#[inline]
pub fn is_log_line(line: &str) -> bool {
    line.starts_with("type=") || line.starts_with("node=")
}

/// The record in an audit program's syslog message, after the kernel's `[uptime] ` and
/// `audit: ` prefixes.
pub fn syslog_record(message: &str) -> Option<Record<'_>> {
    let mut m = message;
    if m.starts_with('[') {
        m = m.split_once("] ").map_or(m, |(_, r)| r);
    }
    m = m.strip_prefix("audit: ").unwrap_or(m);
    record::parse(m)
}

/// Decodes one record into `e` (whose decoder fields are unset), with the input's join
/// state. `None` (and `e` untouched) for records that make no event of their own: SYSCALL
/// (it waits for its EXECVE), PROCTITLE, EOE, CRED_*, successful USER_ACCT, types logward does
/// not map.
pub fn decode<'a>(rec: &Record<'a>, joiner: &mut Joiner, e: &mut Event<'a>) -> Option<Found<'a>> {
    joiner.tick();
    match rec.kind {
        Kind::Syscall => {
            joiner.syscall(rec);
            None
        }
        Kind::Execve => guarded(e, |e| {
            let argv = record::execve_argv(rec.body);
            match joiner.execve(rec.serial) {
                Some(x) => join::fill(e, x, argv),
                None => {
                    start(e, Dataset::Auditd, Action::ProcessStarted, Outcome::Success);
                    e.command_line = Some(Cow::Owned(argv?));
                }
            }
            Found::yes()
        }),
        Kind::Proctitle | Kind::Eoe => {
            joiner.end(rec.serial);
            None
        }
        _ => guarded(e, |e| user_record(rec, e)),
    }
}

/// Programs whose authentication is a change of identity, not a login.
fn escalation(exe: &str) -> Option<&str> {
    let base = exe.rsplit('/').next().unwrap_or(exe);
    matches!(
        base,
        "su" | "sudo" | "doas" | "pkexec" | "runuser" | "sudo-rs"
    )
    .then_some(base)
}

/// `res=` → outcome (`success`/`yes`, `failed`/`no`).
fn outcome(msg: &str) -> Outcome {
    match record::last_field(msg, "res") {
        Some("success" | "yes") => Outcome::Success,
        Some("failed" | "fail" | "no") => Outcome::Failure,
        _ => Outcome::Unknown,
    }
}

/// The records of user-space programs (`… msg='op=… acct=… exe=… addr=… res=…'`).
fn user_record<'a>(rec: &Record<'a>, e: &mut Event<'a>) -> Option<Found<'a>> {
    let msg = record::user_msg(rec.body)?;
    let outcome = outcome(msg);
    let failed = outcome == Outcome::Failure;
    let acct = record::field(msg, "acct").and_then(record::value);
    // A user name sshd did not accept is written as `(unknown user)` / `(invalid user)`.
    let invalid = acct.as_deref().is_some_and(|a| a.starts_with('(')) || acct.is_none();
    let acct = acct.filter(|a| !a.starts_with('('));
    let actor = record::enriched_name(rec.enriched, "AUID").map(Cow::Borrowed);
    let exe = record::field(msg, "exe").and_then(record::value);
    let esc = exe.as_deref().and_then(escalation);
    let op = record::field(msg, "op").unwrap_or("");
    let (action, reason) = match rec.kind {
        Kind::UserAuth => {
            let reason = match op {
                _ if invalid => "invalid-user",
                "password" => "bad-password",
                "pubkey" => "bad-key",
                _ => "pam-failure",
            };
            (login_or_escalation(esc), failed.then_some(reason))
        }
        Kind::UserAcct if failed => (login_or_escalation(esc), Some("not-allowed")),
        Kind::UserErr if failed => (login_or_escalation(esc), Some("pam-error")),
        Kind::UserLogin => (Action::SessionStart, failed.then_some("login-failed")),
        Kind::UserStart => (Action::SessionStart, None),
        Kind::UserEnd | Kind::UserLogout => (Action::UserLogout, None),
        Kind::AddUser => (Action::UserCreated, None),
        Kind::DelUser => (Action::UserDeleted, None),
        Kind::AddGroup => (Action::GroupCreated, None),
        Kind::DelGroup => (Action::GroupDeleted, None),
        Kind::UserMgmt => (Action::UserModified, None),
        Kind::GrpMgmt => (Action::GroupModified, None),
        Kind::UserChauthtok => (Action::PasswordChanged, None),
        // pam_selinux's `default-context=… selected-context=…` is every login's context
        // choice, not a change to an account.
        Kind::UserRoleChange if !msg.contains("default-context=") => (Action::UserModified, None),
        Kind::UserCmd => (Action::PrivilegeEscalation, None),
        _ => return None,
    };
    start(e, Dataset::Auditd, action, outcome);
    e.reason = reason;
    match action {
        Action::UserLogin | Action::SessionStart | Action::UserLogout => e.user_name = acct,
        Action::PrivilegeEscalation if rec.kind == Kind::UserCmd => {
            e.user_name =
                actor.or_else(|| record::enriched_name(rec.enriched, "UID").map(Cow::Borrowed));
            e.command_line = record::field(msg, "cmd").and_then(record::value);
        }
        Action::PrivilegeEscalation => match esc {
            // su and runuser authenticate the target account; the actor is who ran them.
            Some("su" | "runuser") => {
                e.user_name = actor;
                e.user_target_name = acct;
            }
            _ => e.user_name = acct,
        },
        Action::GroupCreated | Action::GroupDeleted | Action::GroupModified => {
            e.user_name = actor;
            let grp = record::field(msg, "grp").and_then(record::value);
            if grp.is_some() {
                e.group_name = grp;
                e.user_target_name = acct;
            } else {
                e.group_name = acct.or_else(|| id(msg));
            }
        }
        _ => {
            e.user_name = actor;
            e.user_target_name = acct.or_else(|| id(msg));
        }
    }
    if let Some(ip) = record::last_field(msg, "addr").filter(|a| parse_ip(a).is_some()) {
        e.set_source(Cow::Borrowed(ip), None);
    }
    Found::yes()
}

fn login_or_escalation(esc: Option<&str>) -> Action {
    match esc {
        Some(_) => Action::PrivilegeEscalation,
        None => Action::UserLogin,
    }
}

/// `id=N`, a numeric account id, as written (never hex).
fn id(msg: &str) -> Option<Cow<'_, str>> {
    record::field(msg, "id")
        .filter(|v| !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()))
        .map(Cow::Borrowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use logward_core::Category;

    fn d(line: &str) -> Option<Event<'_>> {
        let rec = record::parse(line)?;
        let mut j = Joiner::default();
        let mut e = Event::default();
        let _ = decode(&rec, &mut j, &mut e)?;
        Some(e)
    }

    #[test]
    fn pam_authentication_failure_over_ssh() {
        let e = d("type=USER_AUTH msg=audit(1668381071.000:373474): pid=173582 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=192.0.2.111 addr=192.0.2.111 terminal=ssh res=failed'\u{1d}UID=\"root\" AUID=\"unset\"").unwrap();
        assert_eq!(e.action(), Action::UserLogin);
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.category, Category::AUTHENTICATION);
        assert_eq!(e.dataset, Some(Dataset::Auditd));
        assert_eq!(e.user_name.as_deref(), Some("root"));
        assert_eq!(e.source_ip, "192.0.2.111".parse().ok());
        assert_eq!(e.reason, Some("pam-failure"));
    }

    #[test]
    fn no_peer_from_question_marks_or_names() {
        let e = d("type=USER_AUTH msg=audit(1.0:1): pid=1 uid=0 auid=1000 ses=1 msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/bin/su\" hostname=? addr=? terminal=pts/0 res=failed'\u{1d}UID=\"alice\" AUID=\"alice\"").unwrap();
        assert_eq!(e.action(), Action::PrivilegeEscalation);
        assert_eq!(e.user_name.as_deref(), Some("alice"));
        assert_eq!(e.user_target_name.as_deref(), Some("root"));
        assert_eq!(e.source_address, None);
        let e = d("type=USER_LOGIN msg=audit(1.0:1): pid=1 uid=0 auid=1 ses=1 msg='op=login acct=\"bob\" exe=\"/usr/sbin/sshd\" hostname=evil.example addr=evil.example terminal=ssh res=success'").unwrap();
        assert_eq!(e.action(), Action::SessionStart);
        assert_eq!(e.source_address, None);
    }

    #[test]
    fn account_management() {
        let e = d("type=ADD_USER msg=audit(1.0:2): pid=9 uid=0 auid=1000 ses=3 msg='op=add-user acct=\"mallory\" exe=\"/usr/sbin/useradd\" hostname=web01 addr=? terminal=pts/0 res=success'\u{1d}UID=\"root\" AUID=\"alice\"").unwrap();
        assert_eq!(e.action(), Action::UserCreated);
        assert_eq!(e.user_name.as_deref(), Some("alice"));
        assert_eq!(e.user_target_name.as_deref(), Some("mallory"));
        let e = d("type=ADD_USER msg=audit(1.0:2): pid=9 uid=0 auid=0 ses=3 msg='op=adding user id=1001 exe=\"/usr/sbin/useradd\" hostname=? addr=? terminal=pts/0 res=success'").unwrap();
        assert_eq!(e.user_target_name.as_deref(), Some("1001"));
        let e = d("type=GRP_MGMT msg=audit(1.0:3): pid=9 uid=0 auid=0 ses=3 msg='op=add-user-to-group grp=\"sudo\" acct=\"mallory\" exe=\"/usr/sbin/usermod\" hostname=? addr=? terminal=pts/0 res=success'").unwrap();
        assert_eq!(e.action(), Action::GroupModified);
        assert_eq!(e.group_name.as_deref(), Some("sudo"));
        assert_eq!(e.user_target_name.as_deref(), Some("mallory"));
        let e = d("type=USER_CHAUTHTOK msg=audit(1.0:4): pid=9 uid=0 auid=1000 ses=3 msg='op=PAM:chauthtok grantors=pam_unix acct=\"bob\" exe=\"/usr/bin/passwd\" hostname=? addr=? terminal=pts/0 res=success'").unwrap();
        assert_eq!(e.action(), Action::PasswordChanged);
        assert_eq!(e.user_target_name.as_deref(), Some("bob"));
    }

    #[test]
    fn records_without_an_event_leave_it_untouched() {
        for l in [
            "type=CRED_ACQ msg=audit(1.0:5): pid=1 uid=0 auid=1 ses=1 msg='op=PAM:setcred acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=1.2.3.4 addr=1.2.3.4 terminal=ssh res=success'",
            "type=USER_ACCT msg=audit(1.0:5): pid=1 uid=0 auid=1 ses=1 msg='op=PAM:accounting acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=1.2.3.4 addr=1.2.3.4 terminal=ssh res=success'",
            "type=PROCTITLE msg=audit(1.0:5): proctitle=6C73",
            "type=AVC msg=audit(1.0:5): avc: denied",
        ] {
            assert!(d(l).is_none(), "{l}");
        }
    }

    #[test]
    fn execve_joined_with_its_syscall() {
        let mut j = Joiner::default();
        let sys = "type=SYSCALL msg=audit(1700000000.5:9): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 auid=1000 uid=0 comm=\"nc\" exe=\"/usr/bin/nc.openbsd\" key=(null)\u{1d}ARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"root\"";
        let mut e = Event::default();
        assert!(decode(&record::parse(sys).unwrap(), &mut j, &mut e).is_none());
        let exe =
            "type=EXECVE msg=audit(1700000000.5:9): argc=3 a0=\"nc\" a1=\"-e\" a2=2F62696E2F7368";
        let mut e = Event::default();
        let _ = decode(&record::parse(exe).unwrap(), &mut j, &mut e).unwrap();
        assert_eq!(e.action(), Action::ProcessStarted);
        assert_eq!(e.category, Category::PROCESS);
        assert_eq!(e.command_line.as_deref(), Some("nc -e /bin/sh"));
        assert_eq!(e.user_name.as_deref(), Some("alice"));
        assert!(j.take().is_none());
    }

    #[test]
    fn journal_and_kernel_forms() {
        let r = syslog_record("USER_AUTH pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=1.2.3.4 addr=1.2.3.4 terminal=ssh res=failed'").unwrap();
        assert_eq!(r.kind, Kind::UserAuth);
        let r =
            syslog_record("[  12.5] audit: type=1100 audit(1.0:3): pid=1 msg='op=x res=failed'")
                .unwrap();
        assert_eq!((r.kind, r.serial), (Kind::UserAuth, Some(3)));
        assert!(syslog_record("usb 1-1: new device").is_none());
    }
}
