//! Asterisk: chan_sip, chan_iax2, PJSIP, the manager (AMI), the security log and FreePBX's
//! dialplan `Rejecting unknown SIP connection from A`, in syslog (`asterisk[pid]: LEVEL[tid]:
//! …`) or in Asterisk's own `messages` log (`[DATE] LEVEL[tid][C-…] file.c: …`, see
//! `service_logs`).
//!
//! The header (level, thread, call id, `file.c[:line][ [in ]function]:`) is parsed first and
//! each message is matched where it starts, so no client text can pose as one. Within a
//! message the client chooses the SIP URI, caller id, extension, call id, account and session
//! ids, so the peer is read where Asterisk wrote it:
//! - `Registration from 'URI' failed for 'A[:P]' - WHY`: WHY is Asterisk's, so the last
//!   `' failed for '` is the real one;
//! - `Request ['M' ]from 'URI' failed for 'A:P' (callid: ID) - WHY` and `Call from 'CID' (A)
//!   to extension 'X' …` have client text on both sides: every place the address could be is
//!   a candidate, and more than one distinct address makes the line ambiguous
//!   ([`Found::ambiguous_peers`]; withheld unless a session settles it);
//! - the security log's `RemoteAddress="IPV4/UDP/A/P"` likewise (SessionID, Response and
//!   ReceivedHash are client text, unescaped);
//! - `Host A failed …`, `A failed to authenticate as 'U'`, `hacking attempt detected 'A'`
//!   from the left, `No registration for peer 'U' (from A)` from the right.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, peer, scan, Found, Peer};

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let m = scan::trim_end_blanks(message);
        let m = skip_level(m);
        body(skip_source(m)?, e)
    })
}

/// A message the frame already cut after its source (`[DATE] LEVEL[tid] file.c: MSG` framed
/// with `LEVEL[tid]` as the host and `file.c` as the program).
pub fn decode_body<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| body(scan::trim_end_blanks(message), e))
}

/// `LEVEL[tid][C-…]: ` / `LEVEL [tid] ` → what follows. Absent when the frame took
/// `LEVEL[tid]:` as the syslog tag.
fn skip_level(m: &str) -> &str {
    let b = m.as_bytes();
    let n = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    if n == 0 {
        return m;
    }
    let mut rest = &m[n..];
    rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut brackets = 0;
    while let Some(r) = rest.strip_prefix('[') {
        let Some((inner, after)) = r.split_once(']') else {
            return m;
        };
        if inner.is_empty() || inner.contains(' ') {
            return m;
        }
        rest = after;
        brackets += 1;
    }
    if brackets == 0 {
        return m;
    }
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    rest.strip_prefix(' ').unwrap_or(rest)
}

/// What the message source adds: `file.c: `, `file.c:LINE [in ]function: `, or FreePBX's
/// `Ext. X…: ` (returned whole: its message is matched from the right).
fn skip_source(m: &str) -> Option<&str> {
    if m.starts_with("Ext. ") {
        return Some(m);
    }
    let (file, rest) = scan::word(m);
    let (_, line) = scan::split_once(file, ".c:")?;
    if line.is_empty() {
        return Some(rest.trim_start_matches(' '));
    }
    if !line.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let rest = rest.strip_prefix("in ").unwrap_or(rest);
    let (func, rest) = scan::word(rest);
    func.strip_suffix(':')?;
    Some(rest)
}

fn body<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (first, rest) = scan::word(m);
    match first {
        "Registration" => registration(rest.strip_prefix("from '")?, e),
        "Request" => request(rest, e),
        "Call" => call(m, e),
        "Host" => host(rest, e),
        "No" => no_registration(rest.strip_prefix("registration for peer '")?, e),
        "hacking" => {
            let a = rest
                .strip_prefix("attempt detected '")?
                .strip_suffix('\'')?;
            peer::set(e, a, None)?;
            peer::abuse(e, Dataset::Asterisk, "hacking-attempt")
        }
        "Ext." => rejecting(m, e),
        _ if first.starts_with("SecurityEvent=\"") => security(m, e),
        // `A failed to authenticate as 'U'`, `A tried to authenticate with nonexistent user 'U'`.
        _ if rest.starts_with("failed to authenticate as '") => {
            peer::set(e, first, None)?;
            user_quoted(e, rest.strip_prefix("failed to authenticate as '")?);
            peer::login_failed(e, Dataset::Asterisk, "bad-password")
        }
        _ if rest.starts_with("tried to authenticate with nonexistent user '") => {
            peer::set(e, first, None)?;
            user_quoted(
                e,
                rest.strip_prefix("tried to authenticate with nonexistent user '")?,
            );
            peer::login_failed(e, Dataset::Asterisk, "invalid-user")
        }
        // PJSIP's `ENDPOINT: Call (A) to extension …`: ENDPOINT is the server's own name.
        _ if first.ends_with(':') && rest.starts_with("Call (") => {
            let inner = rest.strip_prefix("Call (")?;
            let (addr, tail) = inner.split_once(") to extension '")?;
            if !scan::contains(tail, "' rejected because extension not found in context '") {
                return None;
            }
            let (a, p) = peer::ip_port(addr)?;
            peer::set(e, a, p)?;
            peer::abuse(e, Dataset::Asterisk, "unknown-extension")
        }
        _ => None,
    }
}

/// `U'…` → U as `user.name`.
fn user_quoted<'a>(e: &mut Event<'a>, s: &'a str) {
    if let Some((u, _)) = s.split_once('\'') {
        peer::user(e, u);
    }
}

/// After `Registration from '`: `URI' failed for 'A[:P]' - WHY`.
fn registration<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let i = scan::rfind(m, "' failed for '")?;
    let (addr, why) = m.get(i + "' failed for '".len()..)?.split_once("' - ")?;
    let (a, p) = peer::ip_port(addr)?;
    peer::set(e, a, p)?;
    sip_user(e, m.get(..i)?);
    let reason = match why {
        "Wrong password" => "bad-password",
        "No matching peer found" | "Not a local domain" => "invalid-user",
        _ => "not-allowed",
    };
    peer::login_failed(e, Dataset::Asterisk, reason)
}

/// The user of a SIP URI (`"N" <sip:U@H>`, `sip:U@H`): client text, only ever the user.
fn sip_user<'a>(e: &mut Event<'a>, uri: &'a str) {
    if let Some((_, r)) = uri.split_once("sip:") {
        if let Some((u, _)) = r.split_once('@') {
            peer::user(e, u);
        }
    }
}

/// After `Request `: `['M' ]from 'URI' failed for 'A:P' (callid: ID) - WHY`.
fn request<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let m = match m.strip_prefix('\'') {
        Some(r) => r.split_once("' ")?.1,
        None => m,
    };
    let uri = m.strip_prefix("from '")?;
    let found = candidates(e, uri, "' failed for '", "' (callid: ")?;
    if let Some(end) = scan::find(uri, "' failed for '") {
        sip_user(e, uri.get(..end)?);
    }
    let reason = if scan::contains(m, " - No matching endpoint found") {
        "invalid-user"
    } else if scan::contains(m, " - Failed to authenticate") {
        "bad-password"
    } else {
        "not-allowed"
    };
    let _: Found<'_> = peer::login_failed(e, Dataset::Asterisk, reason)?;
    Some(found)
}

/// `Call from 'CID' (A) to extension 'X' rejected because extension not found in context
/// 'C'.`
fn call<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let rest = m.strip_prefix("Call from '")?;
    if !rest.ends_with("'.")
        || !scan::contains(rest, "' rejected because extension not found in context '")
    {
        return None;
    }
    let found = candidates(e, rest, "' (", ") to extension '")?;
    let _: Found<'_> = peer::abuse(e, Dataset::Asterisk, "unknown-extension")?;
    Some(found)
}

/// Every `BEFORE A AFTER` in `s` with A an address: the first is the event's peer; more
/// than one distinct address are all reported as ambiguous.
fn candidates<'a>(
    e: &mut Event<'a>,
    s: &'a str,
    before: &'static str,
    after: &'static str,
) -> Option<Found<'a>> {
    let mut peers: Vec<Peer<'a>> = Vec::new();
    let mut from = 0;
    while let Some(i) = s.get(from..).and_then(|r| scan::find(r, before)) {
        let start = from + i + before.len();
        from = start;
        let Some(rest) = s.get(start..) else { break };
        let Some(end) = scan::find(rest, after) else {
            break;
        };
        if let Some((a, p)) = rest.get(..end).and_then(peer::ip_port) {
            if !peers.iter().any(|(x, _)| x == a) {
                peers.push((Cow::Borrowed(a), p));
            }
        }
    }
    let (a, p) = peers.first().cloned()?;
    e.set_source(a, p);
    Some(Found {
        ambiguous_peers: if peers.len() > 1 { peers } else { Vec::new() },
    })
}

/// After `Host `: `A failed to authenticate as 'U'` / `A failed MD5 authentication for 'U'
/// (…)`.
fn host<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (a, rest) = scan::word(m);
    let u = rest
        .strip_prefix("failed to authenticate as '")
        .or_else(|| rest.strip_prefix("failed MD5 authentication for '"))?;
    peer::set(e, a, None)?;
    user_quoted(e, u);
    peer::login_failed(e, Dataset::Asterisk, "bad-password")
}

/// After `No registration for peer '`: `U' (from A)`.
fn no_registration<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (u, a) = scan::rsplit_once(m.strip_suffix(')')?, "' (from ")?;
    peer::set(e, a, None)?;
    peer::user(e, u);
    peer::login_failed(e, Dataset::Asterisk, "invalid-user")
}

/// FreePBX: `Ext. X[…]: "Rejecting unknown SIP connection from A"` (X is the dialled
/// extension: client text; A ends the line).
fn rejecting<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (head, addr) = m.strip_suffix('"')?.rsplit_once(" from ")?;
    if !head.ends_with(": \"Rejecting unknown SIP connection") {
        return None;
    }
    let (a, p) = peer::ip_port(addr)?;
    peer::set(e, a, p)?;
    peer::abuse(e, Dataset::Asterisk, "unknown-sip-connection")
}

/// `SecurityEvent="KIND",…,AccountID="U",…,RemoteAddress="IPV4/UDP/A/P",…`.
fn security<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let kind = m.strip_prefix("SecurityEvent=\"")?.split_once('"')?.0;
    let (outcome, reason) = match kind {
        "InvalidAccountID" => (Outcome::Failure, Some("invalid-user")),
        "InvalidPassword" | "ChallengeResponseFailed" => (Outcome::Failure, Some("bad-password")),
        "FailedACL" | "AuthMethodNotAllowed" => (Outcome::Failure, Some("not-allowed")),
        "SuccessfulAuth" => (Outcome::Success, None),
        _ => return None,
    };
    let mut peers: Vec<Peer<'a>> = Vec::new();
    for (i, _) in m.match_indices("RemoteAddress=\"IPV") {
        let Some(v) = m.get(i + "RemoteAddress=\"IPV".len()..) else {
            continue;
        };
        // `4/UDP/A/P"`
        let Some((field, _)) = v.split_once('"') else {
            continue;
        };
        let mut parts = field.splitn(4, '/');
        let (Some(_), Some(_), Some(a), Some(p)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if !peer::is_ip(a) {
            continue;
        }
        let Some(p) = scan::port(p.as_bytes()) else {
            continue;
        };
        if !peers.iter().any(|(x, _)| x == a) {
            peers.push((Cow::Borrowed(a), Some(p)));
        }
    }
    let (a, p) = peers.first().cloned()?;
    e.set_source(a, p);
    if let Some(u) = scan::split_once(m, ",AccountID=\"")
        .map(|(_, r)| r)
        .and_then(|r| r.split_once('"'))
    {
        if u.0 != "<unknown>" {
            peer::user(e, u.0);
        }
    }
    let _: Found<'_> = peer::event(e, Dataset::Asterisk, Action::UserLogin, outcome, reason)?;
    Some(Found {
        ambiguous_peers: if peers.len() > 1 { peers } else { Vec::new() },
    })
}
