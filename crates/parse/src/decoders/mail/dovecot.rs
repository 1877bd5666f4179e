//! Dovecot: the login processes (`imap-login`, `pop3-login`, `submission-login`,
//! `managesieve-login`) and the auth processes (`auth`, `auth-worker(N)`), whether syslog
//! names them as the program or they follow `dovecot: ` in the message.
//!
//! - Login lines: `STATUS (auth failed, N attempts …): user=<U>, method=M, rip=A, lip=B, …`.
//!   The peer is `rip=` only. The user name comes before it and may hold anything, so the
//!   last `rip=` of the field list is taken: everything after the real one (`lip=`, `mpid=`,
//!   TLS state, `session=<…>`) is Dovecot's own text.
//! - Auth lines: `PASSDB(U,A[,<session>]): MESSAGE`. U may hold `,` and `): `, so every
//!   `): ` whose arguments end in `,A[,<session>]` is a candidate; more than one is ambiguous.
//!   The verdict is read after the last one (the client's text comes before the real close).
//!   Dovecot 2.4 writes the same as `auth(U,A,sasl:M)<S>: Info: PASSDB: MESSAGE`.

use std::borrow::Cow;

use logward_core::event::parse_ip;
use logward_core::{Action, Dataset, Event, Outcome};

use super::{login_failed, non_empty, probe, set_peer, Peers};
use crate::decoders::{guarded, scan, start, Found};

const DS: Dataset = Dataset::Dovecot;

/// Whether a syslog program is one of Dovecot's processes.
#[inline]
pub fn is_dovecot(program: &str) -> bool {
    matches!(
        program,
        "dovecot"
            | "auth"
            | "imap-login"
            | "pop3-login"
            | "submission-login"
            | "managesieve-login"
            | "lmtp"
    ) || program.starts_with("auth-worker")
}

/// Decodes one Dovecot message into `e`; `None` (and `e` untouched) otherwise.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| dispatch(message, e))
}

/// Dovecot's process names, as they prefix a message (`imap-login: `, `auth-worker(304): `).
fn is_service(name: &str) -> bool {
    matches!(
        name,
        "dovecot"
            | "auth"
            | "auth-worker"
            | "imap-login"
            | "pop3-login"
            | "submission-login"
            | "managesieve-login"
            | "lmtp"
            | "master"
    )
}

fn dispatch<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let mut m = scan::trim_end_blanks(message);
    // At most a few prefixes: `dovecot: auth(default): Info: conn unix:… auth-worker<N>: `.
    for _ in 0..6 {
        if let Some(found) = auth_line(m, e) {
            return Some(found);
        }
        if m.starts_with("auth(") {
            if let Some(found) = auth_prefix(m, e) {
                return Some(found);
            }
        }
        let (first, rest) = scan::word(m);
        let Some(tag) = first.strip_suffix(':') else {
            break;
        };
        let name = tag.split('(').next().unwrap_or(tag);
        let name = name.split('<').next().unwrap_or(name);
        if is_service(name) || matches!(tag, "Info" | "Warning" | "Error" | "Debug" | "Fatal") {
            m = rest;
        } else {
            break;
        }
        // `conn unix:auth-worker (pid=27359,uid=97): auth-worker<55>: …`
        if m.starts_with("conn ") {
            m = scan::split_once(m, "): ")?.1;
        }
    }
    login_line(m, e)
}

/// `PASSDB(U,A[,<session>]): MESSAGE` (`pam`, `passwd-file`, `sql`, `ldap`, …).
fn auth_line<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let open = scan::find_byte(b'(', m.as_bytes())?;
    let name = m.get(..open)?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || is_service(name)
    {
        return None;
    }
    let mut peers = Peers::default();
    let mut chosen: Option<(&str, &str)> = None;
    let mut at = open;
    while let Some(i) = m.get(at..).and_then(|t| scan::find(t, "): ")) {
        let close = at + i;
        at = close + 1;
        let Some(args) = m.get(open + 1..close) else {
            break;
        };
        let Some((user, addr)) = split_args(args) else {
            continue;
        };
        peers.push(addr, None);
        // The last fit: the client's text comes before the real one.
        chosen = Some((user, m.get(close + 3..).unwrap_or("")));
    }
    let (user, msg) = chosen?;
    let reason = auth_reason(msg)?;
    e.user_name = non_empty(user).map(Cow::Borrowed);
    let found = peers.apply(e)?;
    login_failed(e, DS, reason).map(|_| found)
}

/// Dovecot 2.4's auth lines: `auth(U,A[,sasl:M])<S>: [LEVEL: ][PASSDB: ]MESSAGE`. U may
/// hold `)` and `,`: every `)` followed by `<S>: ` or `: ` whose arguments end in an address
/// is a candidate, as in [`auth_line`].
fn auth_prefix<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let all = m.strip_prefix("auth(")?;
    let mut peers = Peers::default();
    let mut chosen: Option<(&str, &str)> = None;
    for i in scan::positions(b')', all.as_bytes()) {
        let Some(after) = all.get(i + 1..) else {
            break;
        };
        let msg = if let Some(r) = after.strip_prefix(": ") {
            r
        } else if let Some(r) = after.strip_prefix('<') {
            let Some(close) = scan::find_byte(b'>', r.as_bytes()) else {
                continue;
            };
            match (r.get(..close), r.get(close + 1..)) {
                (Some(sess), Some(t)) if !sess.is_empty() && !scan::has_space(sess) => {
                    match t.strip_prefix(": ") {
                        Some(t) => t,
                        None => continue,
                    }
                }
                _ => continue,
            }
        } else {
            continue;
        };
        let Some(args) = all.get(..i) else { break };
        let args = match scan::rsplit_once(args, ",") {
            Some((head, last)) if last.starts_with("sasl:") => head,
            _ => args,
        };
        let Some((user, addr)) = split_args(args) else {
            continue;
        };
        peers.push(addr, None);
        // The last fit: the client's text comes before the real one.
        chosen = Some((user, msg));
    }
    let (user, mut msg) = chosen?;
    // `Info: sql: Password mismatch …`: the level, then the passdb.
    for _ in 0..2 {
        let (w, rest) = scan::word(msg);
        match w.strip_suffix(':') {
            Some(t) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') => {
                msg = rest
            }
            _ => break,
        }
    }
    let reason = auth_reason(msg)?;
    e.user_name = non_empty(user).map(Cow::Borrowed);
    let found = peers.apply(e)?;
    login_failed(e, DS, reason).map(|_| found)
}

/// `U,A`, `U,A,`, `U,A,<session>` → (U, A), A an IP address.
fn split_args(args: &str) -> Option<(&str, &str)> {
    let args = match args.strip_suffix('>') {
        Some(a) => scan::rsplit_once(a, ",<")?.0,
        None => args.strip_suffix(',').unwrap_or(args),
    };
    let (user, addr) = scan::rsplit_once(args, ",")?;
    parse_ip(addr)?;
    Some((user, addr))
}

/// The failures an auth process reports about a client's credentials.
fn auth_reason(msg: &str) -> Option<&'static str> {
    if msg.starts_with("unknown user") {
        Some("invalid-user")
    } else if let Some(why) = msg.strip_prefix("pam_authenticate() failed: ") {
        Some(if why.starts_with("User not known") {
            "invalid-user"
        } else {
            "auth-failed"
        })
    } else if msg.starts_with("Password mismatch") || msg.starts_with("invalid credentials") {
        Some("bad-password")
    } else {
        None
    }
}

/// A login process's verdict: `STATUS: user=<U>, method=M, rip=A, lip=B, …`.
fn login_line<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    // The field list starts at the first `: user=<`, `: method=` or `: rip=`; what precedes
    // it is Dovecot's status text.
    let kv_at = [": user=<", ": method=", ": rip="]
        .iter()
        .filter_map(|p| scan::find(m, p))
        .min()?;
    let status = m.get(..kv_at)?;
    let kv = m.get(kv_at + 2..)?;
    // The last `rip=` that starts a field.
    let rip_at = kv
        .match_indices("rip=")
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || kv.get(..i).is_some_and(|h| h.ends_with(", ")))
        .last()?;
    let value = kv.get(rip_at + 4..)?;
    let addr = value.split(',').next().unwrap_or(value);
    parse_ip(addr)?;
    let user = kv
        .strip_prefix("user=<")
        .and_then(|u| {
            let head = u.get(..rip_at.checked_sub(6)?)?;
            head.get(..scan::rfind_byte(b'>', head.as_bytes())?)
        })
        .and_then(non_empty);

    let has = |p: &str| scan::contains(status, p);
    let verdict = if has("(auth failed") || has("(proxy dest auth failed") {
        Some("auth-failed")
    } else if has("(tried to use disabled ") || has("(tried to use disallowed ") {
        Some("plaintext-refused")
    } else {
        None
    };
    set_peer(e, addr, None);
    e.user_name = user.map(Cow::Borrowed);
    if let Some(reason) = verdict {
        return login_failed(e, DS, reason);
    }
    if has("(no auth attempts")
        || has("(disconnected before auth was ready")
        || has("(client didn't finish SASL auth")
        || has("(disconnected during TLS handshake")
    {
        return probe(e, DS, "no-auth-attempt");
    }
    if status == "Login" {
        start(e, DS, Action::UserLogin, Outcome::Success);
        return Found::yes();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn dec(m: &str) -> Option<Decoded<'_>> {
        Decoded::run(|e| decode(m, e))
    }

    #[test]
    fn login_failure_peer_is_the_last_rip() {
        let d = dec("imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, rip=6.6.6.6, lip=1.1.1.1>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2, TLS").unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.1"));
        assert_eq!(
            d.event.user_name.as_deref(),
            Some("x>, rip=6.6.6.6, lip=1.1.1.1")
        );
        assert_eq!(d.event.outcome, Outcome::Failure);
    }

    #[test]
    fn auth_worker_forms() {
        let d = dec("auth-worker(31326): pam(username,1.2.3.4): unknown user").unwrap();
        assert_eq!(d.event.reason, Some("invalid-user"));
        assert_eq!(d.event.user_name.as_deref(), Some("username"));
        let d = dec("auth: sql(a@b,192.0.2.5,<n4JLdHNVngZGpV2j>): Password mismatch").unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.5"));
        let d = dec("Info: conn unix:auth-worker (uid=143): auth-worker<13247>: sql(support,192.0.2.6): unknown user").unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.6"));
    }

    #[test]
    fn injected_passdb_arguments_are_ambiguous() {
        let d = dec(
            "auth: pam(x,6.6.6.6): zzz (y,192.0.2.1): pam_authenticate() failed: Permission denied",
        )
        .unwrap();
        assert_eq!(d.ambiguous_peers.len(), 2);
        assert_eq!(d.event.reason, Some("auth-failed"));
    }

    #[test]
    fn dovecot_2_4_auth_prefix() {
        let d = dec("auth(info@example.com,192.0.2.110,sasl:login)<CvN+E95Uf4e7eEnj>: Info: sql: Password mismatch (given password: x)").unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.110"));
        assert_eq!(d.event.user_name.as_deref(), Some("info@example.com"));
        assert_eq!(d.event.reason, Some("bad-password"));
        assert!(d.ambiguous_peers.is_empty());
        let d =
            dec("auth(x,6.6.6.6)<a>: y,192.0.2.1,sasl:plain)<S>: Info: sql: unknown user").unwrap();
        assert_eq!(d.ambiguous_peers.len(), 2);
    }

    #[test]
    fn successful_login() {
        let d = dec("imap-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.3, lip=192.0.2.1, mpid=123, TLS, session=<x>").unwrap();
        assert_eq!(d.event.action(), Action::UserLogin);
        assert_eq!(d.event.outcome, Outcome::Success);
        assert_eq!(d.event.user_name.as_deref(), Some("alice"));
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.3"));
        // Lines that name a peer but no verdict stay unknown.
        assert!(dec("imap-login: Maximum number of connections from user+IP exceeded (mail_max_userip_connections=10): user=<a>, rip=192.0.2.3").is_none());
    }

    #[test]
    fn no_auth_attempts_is_a_probe() {
        let d = dec("pop3-login: Disconnected (no auth attempts): rip=121.44.24.254, lip=113.212.99.194, TLS: Disconnected").unwrap();
        assert_eq!(d.event.action(), Action::ConnectionProbe);
    }
}
