//! One audit record as the Linux audit system writes it, split into its parts without
//! copying:
//!
//! - audit.log: `[node=N ]type=NAME msg=audit(SECS.MS:SERIAL): BODY[GS ENRICHED]`, where GS is
//!   the 0x1d byte `log_format = ENRICHED` puts before the resolved names (`UID="root"`);
//! - the kernel's own printk (auditd not running) and the journal's `audit:` tag:
//!   `type=NUMBER audit(SECS.MS:SERIAL): BODY`;
//! - the journal's audit transport as syslog text (`audit[PID]: NAME BODY`): no header, the
//!   time comes from the frame.
//!
//! The kernel and libaudit hex-encode every value that holds a blank, a quote, a control
//! byte or a byte above 0x7e (`acct=726F6F7420`), and quote the others (`acct="root"`): so
//! in a record's text, blanks only ever separate fields, and no value a user chose can
//! contain a blank, a quote or the GS byte. That is what makes splitting at blanks exact.

use std::borrow::Cow;

use logward_core::Timestamp;

use crate::decoders::scan;

/// The record types logward maps (libaudit.h numbers), and `Other` for the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    UserAuth,
    UserAcct,
    UserMgmt,
    CredAcq,
    CredDisp,
    UserStart,
    UserEnd,
    UserChauthtok,
    UserErr,
    CredRefr,
    UserLogin,
    UserLogout,
    AddUser,
    DelUser,
    AddGroup,
    DelGroup,
    UserCmd,
    GrpMgmt,
    UserRoleChange,
    Syscall,
    Execve,
    Proctitle,
    Eoe,
    Other,
}

impl Kind {
    /// `type=` as a name (`USER_AUTH`).
    pub fn from_name(s: &str) -> Kind {
        match s {
            "USER_AUTH" => Kind::UserAuth,
            "USER_ACCT" => Kind::UserAcct,
            "USER_MGMT" => Kind::UserMgmt,
            "CRED_ACQ" => Kind::CredAcq,
            "CRED_DISP" => Kind::CredDisp,
            "USER_START" => Kind::UserStart,
            "USER_END" => Kind::UserEnd,
            "USER_CHAUTHTOK" => Kind::UserChauthtok,
            "USER_ERR" => Kind::UserErr,
            "CRED_REFR" => Kind::CredRefr,
            "USER_LOGIN" => Kind::UserLogin,
            "USER_LOGOUT" => Kind::UserLogout,
            "ADD_USER" => Kind::AddUser,
            "DEL_USER" => Kind::DelUser,
            "ADD_GROUP" => Kind::AddGroup,
            "DEL_GROUP" => Kind::DelGroup,
            "USER_CMD" => Kind::UserCmd,
            "GRP_MGMT" => Kind::GrpMgmt,
            "USER_ROLE_CHANGE" => Kind::UserRoleChange,
            "SYSCALL" => Kind::Syscall,
            "EXECVE" => Kind::Execve,
            "PROCTITLE" => Kind::Proctitle,
            "EOE" => Kind::Eoe,
            _ => Kind::Other,
        }
    }

    /// `type=` as the kernel's number (`1100`).
    pub fn from_number(n: u32) -> Kind {
        match n {
            1100 => Kind::UserAuth,
            1101 => Kind::UserAcct,
            1102 => Kind::UserMgmt,
            1103 => Kind::CredAcq,
            1104 => Kind::CredDisp,
            1105 => Kind::UserStart,
            1106 => Kind::UserEnd,
            1108 => Kind::UserChauthtok,
            1109 => Kind::UserErr,
            1110 => Kind::CredRefr,
            1112 => Kind::UserLogin,
            1113 => Kind::UserLogout,
            1114 => Kind::AddUser,
            1115 => Kind::DelUser,
            1116 => Kind::AddGroup,
            1117 => Kind::DelGroup,
            1123 => Kind::UserCmd,
            1132 => Kind::GrpMgmt,
            2300 => Kind::UserRoleChange,
            1300 => Kind::Syscall,
            1309 => Kind::Execve,
            1327 => Kind::Proctitle,
            1320 => Kind::Eoe,
            _ => Kind::Other,
        }
    }

    fn parse(s: &str) -> Kind {
        match s.as_bytes().first() {
            Some(c) if c.is_ascii_digit() => s.parse().map_or(Kind::Other, Kind::from_number),
            _ => Kind::from_name(s),
        }
    }
}

/// A record's parts, borrowed from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// `node=` (auditd's `name_format`): the host that made the record.
    pub node: Option<&'a str>,
    pub kind: Kind,
    /// From `audit(SECS.MS:…)`, UTC; `None` in the journal's form.
    pub time: Option<Timestamp>,
    /// The event's serial (`audit(…:SERIAL)`): every record of one event shares it.
    pub serial: Option<u64>,
    /// The fields after the header, up to the GS byte.
    pub body: &'a str,
    /// The enriched fields after the GS byte (`UID="root" AUID="unset"`), or empty.
    pub enriched: &'a str,
}

/// The GS byte `log_format = ENRICHED` writes before the resolved names.
const GS: u8 = 0x1d;

/// Parses one record (see the module comment). `None` for text that is not one.
pub fn parse(text: &str) -> Option<Record<'_>> {
    let mut s = text;
    let mut node = None;
    if let Some(r) = s.strip_prefix("node=") {
        let (n, r) = scan::word(r);
        node = Some(n).filter(|n| !n.is_empty());
        s = r;
    }
    let (kind, time, serial, body) = if let Some(r) = s.strip_prefix("type=") {
        let (t, r) = scan::word(r);
        let kind = Kind::parse(t);
        let r = r.strip_prefix("msg=").unwrap_or(r);
        let r = r.strip_prefix("audit(")?;
        let (stamp, r) = scan::split_once(r, "):")?;
        let (time, serial) = stamp_parts(stamp)?;
        (
            kind,
            Some(time),
            Some(serial),
            r.strip_prefix(' ').unwrap_or(r),
        )
    } else if node.is_none() {
        // The journal's form: `USER_AUTH pid=…`. Only a known type name counts.
        let (t, r) = scan::word(s);
        match Kind::from_name(t) {
            Kind::Other => return None,
            kind => (kind, None, None, r),
        }
    } else {
        return None;
    };
    let (body, enriched) = match scan::find_byte(GS, body.as_bytes()) {
        Some(i) => (body.get(..i)?, body.get(i + 1..)?),
        None => (body, ""),
    };
    Some(Record {
        node,
        kind,
        time,
        serial,
        body,
        enriched,
    })
}

/// `SECS.MS:SERIAL` → (time in UTC, serial).
fn stamp_parts(stamp: &str) -> Option<(Timestamp, u64)> {
    let (t, serial) = stamp.split_once(':')?;
    let serial: u64 = digits_only(serial)?.parse().ok()?;
    let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
    let unix: i64 = digits_only(secs)?.parse().ok()?;
    // Up to nanoseconds; auditd writes milliseconds.
    let frac = frac.get(..frac.len().min(9)).unwrap_or("");
    let mut nanos: u32 = 0;
    for (i, c) in frac.bytes().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
    }
    // Beyond year 9999 a timestamp is no clock's reading.
    if unix > 253_402_300_799 {
        return None;
    }
    Some((
        Timestamp {
            unix,
            nanos,
            offset: 0,
        },
        serial,
    ))
}

fn digits_only(s: &str) -> Option<&str> {
    (!s.is_empty() && s.len() <= 19 && s.bytes().all(|c| c.is_ascii_digit())).then_some(s)
}

/// The text between `msg='` and the closing quote: the fields a user-space program wrote
/// (PAM, sshd, shadow-utils). Everything before it (pid, uid, auid, ses, subj) the kernel
/// wrote.
pub fn user_msg(body: &str) -> Option<&str> {
    let i = scan::find(body, "msg='")?;
    let r = body.get(i + 5..)?;
    let r = scan::trim_end_blanks(r);
    Some(r.strip_suffix('\'').unwrap_or(r))
}

/// The first `key=value` field of `s` (a field starts the text or follows a blank); the raw
/// value, up to the next blank.
pub fn field<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let b = s.as_bytes();
    let k = key.as_bytes();
    let mut at = 0;
    while let Some(rest) = b.get(at..) {
        if rest.starts_with(k) && rest.get(k.len()) == Some(&b'=') {
            let v = s.get(at + k.len() + 1..)?;
            return Some(scan::word(v).0);
        }
        at += scan::find_byte(b' ', rest)? + 1;
    }
    None
}

/// The last `key=value` field of `s`: for fields that follow text a client may have put in
/// the record (sshd's `hostname=` is the client's reverse DNS), the one the writer put last.
pub fn last_field<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let mut end = s.len();
    loop {
        let head = s.get(..end)?;
        let i = scan::rfind(head, key)?;
        let starts = i == 0 || s.as_bytes().get(i - 1) == Some(&b' ');
        if starts && s.as_bytes().get(i + key.len()) == Some(&b'=') {
            return Some(scan::word(s.get(i + key.len() + 1..)?).0);
        }
        end = i;
    }
}

/// A value as written: `"text"` → text; `?` / `(null)` / empty → none; an unquoted value of
/// hex digits → its bytes (lossy UTF-8); any other unquoted value as it is (numbers).
pub fn value(raw: &str) -> Option<Cow<'_, str>> {
    if let Some(q) = raw.strip_prefix('"') {
        let inner = q.strip_suffix('"').unwrap_or(q);
        return Some(Cow::Borrowed(inner));
    }
    match raw {
        "" | "?" | "(null)" => None,
        _ => match unhex(raw) {
            Some(bytes) => Some(Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())),
            None => Some(Cow::Borrowed(raw)),
        },
    }
}

/// Hex digits (an even number of them, at least two) → bytes.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() < 2 || b.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks_exact(2) {
        let hi = hex_digit(pair[0])?;
        let lo = hex_digit(pair[1])?;
        out.push(hi << 4 | lo);
    }
    Some(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// An enriched name (`AUID="alice"`), unless it is `unset` or unknown.
pub fn enriched_name<'a>(enriched: &'a str, key: &str) -> Option<&'a str> {
    let v = field(enriched, key)?;
    let v = v.strip_prefix('"').unwrap_or(v);
    let v = v.strip_suffix('"').unwrap_or(v);
    (!v.is_empty() && v != "unset" && v != "?" && !v.starts_with("unknown(")).then_some(v)
}

/// EXECVE's argv: `argc=N a0="ls" a1=2D6C a2_len=9000 a2[0]=… a2[1]=…`, each argument
/// unquoted or hex-decoded, long ones joined from their pieces (as bytes: the kernel cuts
/// pieces anywhere, inside a character too), joined with blanks. `None` when the record
/// holds no argument.
pub fn execve_argv(body: &str) -> Option<String> {
    let mut out: Vec<u8> = Vec::new();
    let mut last: Option<u64> = None;
    let mut rest = body;
    while !rest.is_empty() {
        let (tok, tail) = scan::word(rest);
        rest = tail;
        let Some((key, raw)) = tok.split_once('=') else {
            continue;
        };
        let Some(k) = key.strip_prefix('a') else {
            continue;
        };
        // `aN` or `aN[i]`; `aN_len` and `argc` are not arguments.
        let num = k.split_once('[').map_or(k, |(n, _)| n);
        let Some(n) = digits_only(num).and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        if last != Some(n) {
            if last.is_some() {
                out.push(b' ');
            }
            last = Some(n);
        }
        match raw.strip_prefix('"') {
            Some(q) => out.extend_from_slice(q.strip_suffix('"').unwrap_or(q).as_bytes()),
            None => match unhex(raw) {
                Some(bytes) => out.extend_from_slice(&bytes),
                None if raw == "(null)" => {}
                None => out.extend_from_slice(raw.as_bytes()),
            },
        }
    }
    last?;
    Some(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        let r = parse("type=USER_AUTH msg=audit(1700000000.123:456): pid=1 uid=0 msg='op=x res=failed'\u{1d}UID=\"root\" AUID=\"unset\"").unwrap();
        assert_eq!(r.kind, Kind::UserAuth);
        assert_eq!(r.serial, Some(456));
        let t = r.time.unwrap();
        assert_eq!((t.unix, t.nanos), (1_700_000_000, 123_000_000));
        assert_eq!(r.body, "pid=1 uid=0 msg='op=x res=failed'");
        assert_eq!(r.enriched, "UID=\"root\" AUID=\"unset\"");
        assert_eq!(enriched_name(r.enriched, "UID"), Some("root"));
        assert_eq!(enriched_name(r.enriched, "AUID"), None);

        let r = parse("node=web01 type=1300 audit(1.5:7): arch=c000003e").unwrap();
        assert_eq!(
            (r.node, r.kind, r.serial),
            (Some("web01"), Kind::Syscall, Some(7))
        );
        let r = parse("USER_LOGIN pid=1 msg='op=login res=success'").unwrap();
        assert_eq!((r.kind, r.time), (Kind::UserLogin, None));
        assert_eq!(parse("Hello world"), None);
        assert_eq!(parse("type=X msg=audit(abc:1): x"), None);
    }

    #[test]
    fn values_and_fields() {
        let m = "op=PAM:authentication grantors=? acct=\"root\" hostname=a addr=1.2.3.4 terminal=ssh res=failed";
        assert_eq!(field(m, "acct"), Some("\"root\""));
        assert_eq!(field(m, "op"), Some("PAM:authentication"));
        assert_eq!(field(m, "addr"), Some("1.2.3.4"));
        assert_eq!(field(m, "res"), Some("failed"));
        assert_eq!(field(m, "name"), None);
        assert_eq!(
            last_field("hostname=x addr=9.9.9.9 addr=1.1.1.1 t=1", "addr"),
            Some("1.1.1.1")
        );
        assert_eq!(value("\"root\"").as_deref(), Some("root"));
        assert_eq!(
            value("28696E76616C6964207573657229").as_deref(),
            Some("(invalid user)")
        );
        assert_eq!(value("?"), None);
    }

    #[test]
    fn argv() {
        assert_eq!(
            execve_argv("argc=3 a0=\"ls\" a1=2D6C a2=\"/tmp\"").as_deref(),
            Some("ls -l /tmp")
        );
        assert_eq!(
            execve_argv("argc=2 a0=\"x\" a1_len=6 a1[0]=616263 a1[1]=\"def\"").as_deref(),
            Some("x abcdef")
        );
        assert_eq!(execve_argv("argc=0"), None);
    }
}
