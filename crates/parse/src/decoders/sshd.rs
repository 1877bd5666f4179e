//! sshd messages (also `sshd-session`, `sshd-auth`): logins, failures and pre-auth probes.
//!
//! Dispatch is on the first word of the message; every form is parsed by hand, borrowing
//! from the message (no regex, no allocation except when a line is ambiguous).
//!
//! **Peers are read from structure, never from attacker text.** User names, auth-info,
//! client identification strings and disconnect descriptions are chosen by the client. So:
//! - where the only attacker text precedes the address and the suffix is fixed
//!   (`Invalid user U from A port P`, `Connection closed by … U A port P [preauth]`), the
//!   address is parsed from the right;
//! - where the address directly follows a fixed prefix (`Connection from A`, `Unable to
//!   negotiate with A`), from the left;
//! - `Failed`/`Accepted` have attacker text on both sides (user name, auth-info), so every
//!   ` from A port P sshN` followed by end, `: ` or ` [preauth]` is a candidate; when more than
//!   one remains the leftmost goes in the event and all are listed in
//!   [`Found::ambiguous_peers`] for the correlator to settle (or to withhold).

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, scan, start, Found};
use crate::text;

/// Decodes one sshd message into `e`. `None` (and `e` untouched) when the form is not one
/// sshd writes about logins, sessions or probes (PAM lines fall through to `pam::decode` in
/// the dispatcher).
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    // `pam_unix(sshd:…): …`, a fifth of sshd's lines, is PAM's: no sshd form starts with
    // `pa` (nor does any noise `strip_noise` removes), so it goes straight to the fallback.
    if message.as_bytes().first() == Some(&b'p') && message.as_bytes().get(1) == Some(&b'a') {
        return None;
    }
    guarded(e, |e| dispatch(message, e))
}

fn dispatch<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let msg = strip_noise(message);
    let (first, rest) = scan::word(msg);
    // By first byte, then the word: a handful of compares instead of a chain of thirty.
    match first.as_bytes().first()? {
        b'A' => match first {
            "Accepted" if rest.starts_with("key ") => accepted_key(rest, e),
            // `Accepted certificate ID "…" (serial N) signed by T CA FP via FILE`: as above.
            "Accepted" if rest.starts_with("certificate ID ") => {
                start(e, Dataset::Sshd, Action::UserLogin, Outcome::Unknown);
                e.auth_method = Some("publickey");
                Found::yes()
            }
            "Accepted" => auth(rest, Outcome::Success, e),
            "Authentication" if rest.starts_with("refused: ") => {
                event(e, Action::UserLogin, Outcome::Failure, "bad-key")
            }
            "Address" => reverse_mapping_address(rest, e),
            _ => None,
        },
        b'F' if first == "Failed" => auth(rest, Outcome::Failure, e),
        // Part of a multi-step authentication: not decided yet.
        b'P' => match first {
            "Postponed" | "Partial" => auth(rest, Outcome::Unknown, e),
            "PAM:" => pam_error(rest, e),
            "Protocol" if rest.starts_with("major versions differ") => probe(e, "bad-protocol"),
            _ => None,
        },
        b'I' => match first {
            "Invalid" | "Illegal" => invalid_user(rest, e),
            _ => None,
        },
        b'C' => match first {
            "Connection" => connection(rest, e),
            "Corrupted" if rest.starts_with("MAC on input") => probe(e, "bad-protocol"),
            "Close" => close_session(text::after(rest, "session: user ")?, e),
            _ => None,
        },
        b'D' => match first {
            "Disconnected" => disconnected(text::after(rest, "from ")?, e),
            "Disconnecting:" => disconnecting_bare(rest, e),
            "Disconnecting" => disconnecting_user(rest, e),
            "Did" => no_identification(
                text::after(rest, "not receive identification string from ")?,
                e,
            ),
            _ => None,
        },
        b'R' => match first {
            "Received" => received_disconnect(text::after(rest, "disconnect from ")?, e),
            "ROOT" => root_refused(text::after(rest, "LOGIN REFUSED FROM ")?, e),
            "Read" => socket_failed(rest, e),
            _ => None,
        },
        b'U' => match first {
            "User" => user_not_allowed(rest, e),
            "Unable" => negotiate(text::after(rest, "to negotiate ")?, e),
            "Username" => {
                let (addr, p, _) = head_addr(text::after(rest, "too long from ")?)?;
                probe(e, "bad-protocol");
                with_source(e, addr, p)
            }
            _ => None,
        },
        b'r' => match first {
            "refused" => refused_connect(text::after(rest, "connect from ")?, e),
            "reverse" => {
                reverse_mapping_checking(text::after(rest, "mapping checking getaddrinfo for ")?, e)
            }
            _ => None,
        },
        b'B' if first == "Bad" => {
            if rest.starts_with("protocol") {
                bad_protocol(text::after(rest, "protocol version identification ")?, e)
            } else if rest.starts_with("packet length") {
                probe(e, "bad-protocol")
            } else {
                None
            }
        }
        b'k' => match first {
            "kex_exchange_identification:" => probe(e, "no-identification"),
            // `kex_protocol_error: type 20 seq 2 [preauth]`: a message out of turn.
            "kex_protocol_error:" => probe(e, "bad-protocol"),
            _ => None,
        },
        b'b' if first == "banner" => {
            banner_exchange(text::after(rest, "exchange: Connection from ")?, e)
        }
        b's' => match first {
            "ssh_dispatch_run_fatal:" => dispatch_fatal(text::after(rest, "Connection from ")?, e),
            "srclimit_penalise:" => penalty_summary(rest, e),
            "scanned" => scanned(rest, e),
            "session" => session_crash(rest, e),
            _ => None,
        },
        b'd' if first == "drop" => drop_connection(text::after(rest, "connection #")?, e),
        b'u' if first == "userauth_pubkey:" => key_not_accepted(rest, e),
        b'T' => match first {
            "Timeout" => auth_timeout(text::after(rest, "before authentication for ")?, e),
            // `Timeout, client not responding from [user U ]A port P` (ClientAlive).
            "Timeout," => id_closed(
                text::after(rest, "client not responding from ")?,
                "client-timeout",
                e,
            ),
            _ => None,
        },
        b't' if first == "terminating" => id_closed(
            text::after(rest, "inactive connection from ")?,
            "inactive",
            e,
        ),
        b'N' if first == "Nasty" => nasty_ptr(rest, e),
        b'W' if first == "WARNING:" && rest.starts_with("revoked key for ") => {
            event(e, Action::UserLogin, Outcome::Failure, "bad-key")
        }
        b'/' => key_option_refused(msg, e),
        b'n' if first == "no" && rest.starts_with("matching ") => probe(e, "negotiation-failed"),
        b'm' if first == "maximum" => max_attempts(
            text::after(rest, "authentication attempts exceeded for ")?,
            e,
        ),
        b'W' if first == "Write" => socket_failed(rest, e),
        b'p' if first == "probed" => scanned(rest, e),
        b'i' if first == "input_userauth_request:" => {
            let (body, _) = preauth(text::after(rest, "invalid user ")?);
            e.user_name = Some(Cow::Borrowed(body));
            event(e, Action::UserLogin, Outcome::Failure, "invalid-user")
        }
        b'S' => match first {
            "SSH:" => ssh_server(text::after(rest, "Server;Ltype: ")?, e),
            "Starting" => starting_session(text::after(rest, "session: ")?, e),
            "Session" => session_crash(rest, e),
            _ => None,
        },
        b'M' if first == "Magic" => magic_value(rest, e),
        _ => None,
    }
}

/// Strips what some systems put before sshd's own text: `error: `, `fatal: `, Solaris
/// `[ID 800047 auth.info] `, journal `kernel:[  970.699396]: ` / `kernel: [  970.699397] `,
/// and trailing blanks.
fn strip_noise(message: &str) -> &str {
    let mut m = scan::trim_end_blanks(message);
    // At most one of the prefixes can apply at a time (their first bytes differ), so taking
    // whichever applies until none does is the same as trying them all in turn.
    loop {
        let next = match m.as_bytes().first() {
            Some(b'e') => m.strip_prefix("error: "),
            Some(b'f') => m.strip_prefix("fatal: "),
            Some(b'[') => m
                .strip_prefix("[ID ")
                .and_then(|r| scan::split_once(r, "] "))
                .map(|(_, after)| after),
            Some(b'k') => m.strip_prefix("kernel:").and_then(|r| {
                let inner = r.trim_start_matches(' ').strip_prefix('[')?;
                let (_, after) = inner.split_once(']')?;
                Some(
                    after
                        .strip_prefix(':')
                        .unwrap_or(after)
                        .trim_start_matches(' '),
                )
            }),
            _ => None,
        };
        match next {
            Some(r) if r.len() != m.len() => m = r,
            _ => return m,
        }
    }
}

pub(crate) use scan::find_spaced;

/// An sshd event of this action, outcome and reason.
fn event<'a>(
    e: &mut Event<'_>,
    action: Action,
    outcome: Outcome,
    reason: &'static str,
) -> Option<Found<'a>> {
    start(e, Dataset::Sshd, action, outcome);
    e.reason = Some(reason);
    Found::yes()
}

fn probe<'a>(e: &mut Event<'_>, reason: &'static str) -> Option<Found<'a>> {
    event(e, Action::ConnectionProbe, Outcome::Failure, reason)
}

/// Sets the peer; `None` when there is none (the caller's fields are then reset).
fn with_source<'a>(e: &mut Event<'a>, addr: &'a str, port: Option<u16>) -> Option<Found<'a>> {
    if addr.is_empty() {
        return None;
    }
    e.set_source(Cow::Borrowed(addr), port);
    Found::yes()
}

/// Splits a trailing ` [preauth]`.
#[inline]
fn preauth(s: &str) -> (&str, bool) {
    match s.strip_suffix("[preauth]") {
        Some(r) => (scan::trim_end_spaces(r), true),
        None => (s, false),
    }
}

#[inline]
fn port(s: &str) -> Option<u16> {
    scan::port(s.as_bytes())
}

/// `A port N` at the very end of `s`, N a valid port: (A, N). The same as taking the last
/// ` port ` and keeping it only when all that follows is a port: a later ` port ` would
/// have to start inside `port N`, which holds one blank.
#[inline]
fn port_suffix(s: &str) -> Option<(&str, u16)> {
    let sp = scan::rfind_byte(b' ', s.as_bytes())?;
    let p = port(s.get(sp + 1..)?)?;
    let head = s.get(..sp)?.strip_suffix(" port")?;
    Some((head, p))
}

/// `s` without a trailing ` port N`, and N.
#[inline]
fn split_port(s: &str) -> (&str, Option<u16>) {
    match port_suffix(s) {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    }
}

/// `… ADDR[ port N]` parsed from the right: (text before ADDR, ADDR, port). ADDR never
/// contains a space, so whatever precedes it (a user name) cannot move it.
fn tail_addr(s: &str) -> Option<(&str, &str, Option<u16>)> {
    let (s, p) = split_port(s);
    let (prefix, addr) = match scan::rfind_byte(b' ', s.as_bytes()) {
        Some(i) => (s.get(..i)?, s.get(i + 1..)?),
        None => ("", s),
    };
    (!addr.is_empty()).then_some((prefix, addr, p))
}

/// `ADDR[ port N]…` parsed from the left: (ADDR, port, rest after the port).
fn head_addr(s: &str) -> Option<(&str, Option<u16>, &str)> {
    let (addr, rest) = scan::word(s);
    if addr.is_empty() {
        return None;
    }
    match rest.strip_prefix("port ") {
        Some(r) => {
            let end = scan::digits(r.as_bytes());
            let (digits, after) = (r.get(..end)?, r.get(end..)?);
            Some((addr, port(digits), after))
        }
        None => Some((addr, None, rest)),
    }
}

/// What precedes the address in `Connection closed by …`, `Disconnected from …` and friends:
/// nothing, `invalid user U`, `authenticating user U` or `user U`. `None` for anything else.
/// Returns (user, invalid).
fn user_prefix(prefix: &str) -> Option<(Option<&str>, bool)> {
    if prefix.is_empty() {
        return Some((None, false));
    }
    if let Some(u) = prefix.strip_prefix("invalid user ") {
        return Some((Some(u), true));
    }
    if let Some(u) = prefix.strip_prefix("authenticating user ") {
        return Some((Some(u), false));
    }
    prefix.strip_prefix("user ").map(|u| (Some(u), false))
}

/// `logward.auth.method` from sshd's method name.
fn method(m: &str) -> Option<&'static str> {
    Some(match m {
        "password" => "password",
        "publickey" => "publickey",
        "hostbased" => "hostbased",
        "none" => "none",
        _ if m.starts_with("keyboard-interactive") => "keyboard-interactive",
        _ if m.starts_with("gssapi") => "gssapi",
        _ => return None,
    })
}

/// A ` from ADDR[ port N[ sshN]]` occurrence that ends the structure: followed by end of
/// line, `: ` (auth-info) or ` [preauth]`. Strength 2 with `port N sshN`, 1 with the port
/// only, 0 bare; only the strongest class counts (an injected strong candidate can only sit
/// where a real strong one also is, see `auth`).
#[derive(Clone, Copy)]
struct Candidate<'a> {
    at: usize,
    addr: &'a str,
    port: Option<u16>,
    strength: u8,
    info: &'a str,
}

#[inline]
fn candidate(body: &str, at: usize) -> Option<Candidate<'_>> {
    let after = body.get(at + 6..)?;
    let (addr, mut t) = match scan::find_byte(b' ', after.as_bytes()) {
        Some(i) => (after.get(..i)?, after.get(i..)?),
        None => (after, ""),
    };
    if addr.is_empty() {
        return None;
    }
    let mut strength = 0;
    let mut p = None;
    if let Some(r) = t.strip_prefix(" port ") {
        let end = scan::digits(r.as_bytes());
        p = Some(port(r.get(..end)?)?);
        t = r.get(end..)?;
        strength = 1;
        if let Some(r) = t.strip_prefix(" ssh") {
            if let Some(r) = r.strip_prefix(['2', '1']) {
                t = r;
                strength = 2;
            }
        }
    }
    let info = if t.is_empty() || t.starts_with(" [preauth]") {
        ""
    } else {
        t.strip_prefix(": ")?
    };
    Some(Candidate {
        at,
        addr,
        port: p,
        strength,
        info,
    })
}

/// The strongest candidate (the leftmost of them) and how many have its strength.
fn best_candidate(body: &str) -> Option<(Candidate<'_>, usize)> {
    let mut best: Option<Candidate<'_>> = None;
    let mut count = 0usize;
    for at in find_spaced(body, " from ") {
        let Some(c) = candidate(body, at) else {
            continue;
        };
        match best {
            Some(b) if b.strength > c.strength => {}
            Some(b) if b.strength == c.strength => count += 1,
            _ => {
                best = Some(c);
                count = 1;
            }
        }
    }
    Some((best?, count))
}

/// The common line, `… from A port P sshN` at the very end with no other ` from ` before
/// it, parsed from the right without walking the address and port forwards: then that
/// is the only candidate and [`best_candidate`] would pick it (count 1). Any other shape,
/// or any earlier ` from ` (an injection attempt or a user name that holds one), is left
/// to [`best_candidate`].
///
/// After `at` no other occurrence can be a candidate: A, P and `sshN` hold no blank, so a
/// later ` from ` can only start right after `at`'s (A = `from`), where it is followed by
/// `port P sshN`, which no candidate is.
#[inline]
fn sole_tail_candidate(body: &str) -> Option<Candidate<'_>> {
    let r = body
        .strip_suffix(" ssh2")
        .or_else(|| body.strip_suffix(" ssh1"))?;
    let (r, p) = port_suffix(r)?;
    let sp = scan::rfind_byte(b' ', r.as_bytes())?;
    let addr = r.get(sp + 1..)?;
    if addr.is_empty() {
        return None;
    }
    let at = r.get(..sp)?.strip_suffix(" from")?.len();
    // Any ` from ` starting before `at` has its `f` before `at`.
    let head = body.as_bytes().get(..at)?;
    let earlier = scan::positions(b'f', head).any(|j| {
        j > 0
            && head.get(j - 1) == Some(&b' ')
            && body
                .as_bytes()
                .get(j..)
                .is_some_and(|t| t.starts_with(b"from "))
    });
    if earlier {
        return None;
    }
    Some(Candidate {
        at,
        addr,
        port: Some(p),
        strength: 2,
        info: "",
    })
}

/// `Accepted|Failed METHOD for [invalid user ]U from A port P sshN[: INFO]`.
fn auth<'a>(rest: &'a str, outcome: Outcome, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (meth, rest) = scan::word(rest);
    let body = rest.strip_prefix("for ")?;
    let (chosen, count) = match sole_tail_candidate(body) {
        Some(c) => (c, 1),
        None => best_candidate(body)?,
    };
    let user_text = body.get(..chosen.at)?;
    let (user, invalid) = if let Some(u) = user_text
        .strip_prefix("invalid user ")
        .or_else(|| user_text.strip_prefix("illegal user "))
    {
        (Some(u), true)
    } else if user_text == "<invalid username>" {
        (None, true)
    } else {
        (Some(user_text), false)
    };
    let auth_method = method(meth);
    let reason = match (outcome, invalid, auth_method) {
        (Outcome::Success | Outcome::Unknown, ..) => None,
        (_, true, _) => Some("invalid-user"),
        (_, _, Some("password" | "keyboard-interactive")) => Some("bad-password"),
        (_, _, Some("publickey" | "hostbased")) => Some("bad-key"),
        _ => Some("auth-failed"),
    };
    start(e, Dataset::Sshd, Action::UserLogin, outcome);
    e.reason = reason;
    e.auth_method = auth_method;
    e.user_name = user.map(Cow::Borrowed);
    if matches!(auth_method, Some("publickey" | "hostbased")) {
        let (kt, r) = scan::word(chosen.info);
        let (fp, _) = scan::word(r);
        let fp = fp.trim_end_matches(',');
        if !kt.is_empty() && !fp.is_empty() {
            e.auth_key_type = Some(Cow::Borrowed(kt));
            e.auth_key_fingerprint = Some(Cow::Borrowed(fp));
        }
    }
    e.set_source(Cow::Borrowed(chosen.addr), chosen.port);
    let mut found = Found::default();
    if count > 1 {
        // Truly ambiguous: list every candidate of the winning strength.
        found.ambiguous_peers = find_spaced(body, " from ")
            .filter_map(|at| candidate(body, at))
            .filter(|c| c.strength == chosen.strength)
            .map(|c| (Cow::Borrowed(c.addr), c.port))
            .collect();
    }
    Some(found)
}

/// `Invalid user U from A[ port P]` (also the old `Illegal user`).
fn invalid_user<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let body = rest.strip_prefix("user ")?;
    let (body, p) = split_port(body);
    let (user, addr) = if let Some(a) = body.strip_prefix("from ") {
        // Empty user name: `Invalid user  from A`.
        ("", a)
    } else {
        scan::rsplit_once(body, " from ")?
    };
    if scan::has_space(addr) {
        return None;
    }
    event(e, Action::UserLogin, Outcome::Failure, "invalid-user");
    e.user_name = Some(Cow::Borrowed(user));
    with_source(e, addr, p)
}

/// `Connection from …`, `Connection closed by …`, `Connection reset by …`.
fn connection<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    if let Some(r) = rest.strip_prefix("from ") {
        // `Connection from [user U ]A port P timed out`: the id from the right.
        if let Some(id) = r.strip_suffix(" timed out") {
            let (prefix, addr, p) = tail_addr(preauth(id).0)?;
            let (user, _) = user_prefix(prefix)?;
            event(
                e,
                Action::ConnectionClosed,
                Outcome::Failure,
                "client-timeout",
            );
            e.user_name = user.map(Cow::Borrowed);
            return with_source(e, addr, p);
        }
        let (addr, p, _) = head_addr(r)?;
        start(e, Dataset::Sshd, Action::ConnectionOpened, Outcome::Unknown);
        return with_source(e, addr, p);
    }
    let r = rest
        .strip_prefix("closed by ")
        .or_else(|| rest.strip_prefix("reset by "))?;
    closed(r, e)
}

/// The peer side of a closed connection: `[invalid|authenticating ]user U ]A[ port P][ [preauth]]`.
/// Before authentication it is a probe (fail2ban's ddos/aggressive modes); after, a plain close.
fn closed<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (body, pre) = preauth(r);
    let (prefix, addr, p) = tail_addr(body)?;
    let (user, _invalid) = user_prefix(prefix)?;
    if pre {
        probe(e, "preauth-disconnect");
    } else {
        start(e, Dataset::Sshd, Action::ConnectionClosed, Outcome::Unknown);
    }
    e.user_name = user.map(Cow::Borrowed);
    with_source(e, addr, p)
}

/// `Disconnected from [invalid user U |authenticating user U |user U ]A port P[ [preauth]]`.
fn disconnected<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    closed(r, e)
}

/// `Disconnecting: Too many authentication failures[ for [invalid user ]U] [preauth]` and
/// `Disconnecting: Change of username or service not allowed: …`. No peer on the line.
fn disconnecting_bare<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (body, _) = preauth(rest);
    if let Some(r) = body.strip_prefix("Too many authentication failures") {
        if let Some(u) = r.strip_prefix(" for ") {
            let u = u.strip_prefix("invalid user ").unwrap_or(u);
            e.user_name = Some(Cow::Borrowed(u));
        }
        return event(e, Action::UserLogin, Outcome::Failure, "too-many-failures");
    }
    if body.starts_with("Change of username or service not allowed") {
        return event(e, Action::UserLogin, Outcome::Failure, "user-change");
    }
    // `bad client public DH value`, `Packet corrupt`, `Corrupted check bytes on input` …:
    // the client broke the protocol.
    probe(e, "bad-protocol")
}

/// sshd's connection id followed by text: `[invalid |authenticating ]user U ]A port P: TEXT`.
/// U and TEXT can both hold client text, so every ` A port P: ` is a candidate: the first is
/// taken, and all are listed when there is more than one. Returns (user, A, P, TEXT, found).
#[allow(clippy::type_complexity)]
fn id_before_colon(body: &str) -> Option<(Option<&str>, &str, u16, &str, Found<'_>)> {
    let cands = || {
        find_spaced(body, " port ").filter_map(|at| {
            let r = body.get(at + 6..)?;
            let end = scan::digits(r.as_bytes());
            let p = port(r.get(..end)?)?;
            let text = r.get(end..)?.strip_prefix(": ")?;
            let before = body.get(..at)?;
            let start = before.rfind(' ').map_or(0, |i| i + 1);
            Some((start, at, p, text))
        })
    };
    let mut it = cands();
    let (from, to, p, text) = it.next()?;
    let more = it.next().is_some();
    // One blank separates the id's parts; an empty user name leaves two (`user  A`).
    let prefix = body.get(..from)?;
    let prefix = prefix.strip_suffix(' ').unwrap_or(prefix);
    let addr = body.get(from..to)?;
    if addr.is_empty() {
        return None;
    }
    let (user, _) = user_prefix(prefix)?;
    let mut found = Found::default();
    if more {
        found.ambiguous_peers = cands()
            .filter_map(|(s, e, p, _)| Some((Cow::Borrowed(body.get(s..e)?), Some(p))))
            .collect();
    }
    Some((user, addr, p, text, found))
}

/// `Disconnecting [invalid |authenticating ]user U A port P: REASON [preauth]`. REASON can
/// quote user names, so every ` A port P: ` is a candidate; more than one is ambiguous.
fn disconnecting_user<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (body, _) = preauth(rest);
    let (user, addr, p, reason, found) = id_before_colon(body)?;
    let why = if reason.starts_with("Too many authentication failures") {
        "too-many-failures"
    } else if reason.starts_with("Change of username or service not allowed") {
        "user-change"
    } else {
        "preauth-disconnect"
    };
    // OpenSSH ≥ 6.8 logs this after `maximum authentication attempts exceeded` for the same
    // connection: it is the disconnect, not another attempt (fail2ban counts it once, too).
    // Only a refused change of user is an attempt of its own.
    let action = if why == "user-change" {
        Action::UserLogin
    } else {
        Action::ConnectionProbe
    };
    event(e, action, Outcome::Failure, why);
    e.user_name = user.map(Cow::Borrowed);
    with_source(e, addr, Some(p)).map(|_| found)
}

/// `Received disconnect from A[ port P]:[ ]CODE: TEXT[ [preauth]]`. TEXT is the client's.
fn received_disconnect<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (addr, rest) = scan::word(r);
    let (addr, p, text) = match rest.strip_prefix("port ") {
        Some(pr) => {
            // `P:` — the text before the first `:` must be the port's digits.
            let end = scan::digits(pr.as_bytes());
            let t = pr.get(end..)?.strip_prefix(':')?;
            (addr, Some(port(pr.get(..end)?)?), t)
        }
        None => (addr.strip_suffix(':')?, None, rest),
    };
    let (text, pre) = preauth(text);
    if pre {
        probe(e, "preauth-disconnect");
        return with_source(e, addr, p);
    }
    let text = text.trim_start_matches(' ');
    let (code, desc) = scan::split_once(text, ":").unwrap_or((text, ""));
    if code == "11" || scan::contains(desc, "disconnected by user") {
        // A normal logout (`11: disconnected by user`).
        start(e, Dataset::Sshd, Action::ConnectionClosed, Outcome::Unknown);
    } else {
        // e.g. `3: com.jcraft.jsch.JSchException: Auth fail`: the client gave up failing.
        probe(e, "disconnect-error");
    }
    with_source(e, addr, p)
}

/// `User U from H not allowed because REASON` (and `User U not allowed because …`).
/// REASON is sshd's own text; U is an existing account name.
fn user_not_allowed<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let at = memchr::memmem::rfind(rest.as_bytes(), b" not allowed because ")?;
    let head = rest.get(..at)?;
    event(e, Action::UserLogin, Outcome::Failure, "not-allowed");
    match scan::rsplit_once(head, " from ") {
        Some((user, host)) if !scan::has_space(host) => {
            e.user_name = Some(Cow::Borrowed(user));
            with_source(e, host, None)
        }
        _ => {
            e.user_name = Some(Cow::Borrowed(head));
            Found::yes()
        }
    }
}

/// `ROOT LOGIN REFUSED FROM A[ port P][ [preauth]]`.
fn root_refused<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (addr, p, _) = head_addr(r)?;
    event(e, Action::UserLogin, Outcome::Failure, "root-refused");
    e.user_name = Some(Cow::Borrowed("root"));
    with_source(e, addr, p)
}

/// tcp-wrappers: `refused connect from NAME (ADDR)`; NAME may be `user@host` (client text),
/// so the parenthesised address at the end is the peer.
fn refused_connect<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let addr = match r.strip_suffix(')').and_then(|s| scan::rsplit_once(s, " (")) {
        Some((_, a)) => a,
        None => r,
    };
    if scan::has_space(addr) {
        return None;
    }
    probe(e, "refused");
    with_source(e, addr, None)
}

/// `Did not receive identification string from A[ port P]`.
fn no_identification<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (addr, p, _) = head_addr(r)?;
    probe(e, "no-identification");
    with_source(e, addr, p)
}

/// `Bad protocol version identification 'TEXT' from A[ port P]`: TEXT is the client's, so
/// from the right.
fn bad_protocol<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (r, p) = split_port(r);
    let (_, addr) = scan::rsplit_once(r, " from ")?;
    if scan::has_space(addr) {
        return None;
    }
    probe(e, "bad-protocol");
    with_source(e, addr, p)
}

/// `banner exchange: Connection from A port P: invalid format`.
fn banner_exchange<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (addr, p, _) = head_addr(r)?;
    probe(e, "bad-protocol");
    with_source(e, addr.trim_end_matches(':'), p)
}

/// `ssh_dispatch_run_fatal: Connection from [USER-PREFIX ]A port P: TEXT [preauth]`. TEXT is
/// sshd's error string, so the last ` port P: ` is the real one.
fn dispatch_fatal<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (body, _) = preauth(r);
    let mut found = None;
    for at in find_spaced(body, " port ") {
        let Some(t) = body.get(at + 6..) else {
            continue;
        };
        let end = scan::digits(t.as_bytes());
        if end > 0 && t.get(end..).is_some_and(|x| x.starts_with(':')) {
            found = Some((at, t.get(..end).and_then(port)));
        }
    }
    let (at, p) = found?;
    let (prefix, addr) = body
        .get(..at)?
        .rsplit_once(' ')
        .unwrap_or(("", body.get(..at)?));
    let (user, _) = user_prefix(prefix)?;
    probe(e, "bad-protocol");
    e.user_name = user.map(Cow::Borrowed);
    with_source(e, addr, p)
}

/// `Timeout before authentication for A port P` / `… for connection from A to B, pid = N`.
fn auth_timeout<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let r = r.strip_prefix("connection from ").unwrap_or(r);
    let (addr, p, _) = head_addr(r)?;
    probe(e, "auth-timeout");
    with_source(e, addr, p)
}

/// `Unable to negotiate with A port P: no matching X found. …` or, without a peer,
/// `Unable to negotiate a key exchange method [preauth]`.
fn negotiate<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    match r.strip_prefix("with ") {
        // A rekey after authentication names the user first (`with user U A port P: …`),
        // and the client's offer follows: candidates, as for `Disconnecting`.
        Some(r)
            if r.starts_with("user ")
                || r.starts_with("authenticating user ")
                || r.starts_with("invalid user ") =>
        {
            let (body, _) = preauth(r);
            let (user, addr, p, _, found) = id_before_colon(body)?;
            probe(e, "negotiation-failed");
            e.user_name = user.map(Cow::Borrowed);
            with_source(e, addr, Some(p)).map(|_| found)
        }
        Some(r) => {
            let (addr, p, _) = head_addr(r)?;
            probe(e, "negotiation-failed");
            with_source(e, addr.trim_end_matches(':'), p)
        }
        None => probe(e, "negotiation-failed"),
    }
}

/// `maximum authentication attempts exceeded for [invalid user ]U from A port P sshN [preauth]`.
fn max_attempts<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (body, _) = preauth(r);
    let body = body
        .strip_suffix(" ssh2")
        .or_else(|| body.strip_suffix(" ssh1"))
        .unwrap_or(body);
    let (body, p) = split_port(body);
    let (user, addr) = scan::rsplit_once(body, " from ")?;
    if scan::has_space(addr) {
        return None;
    }
    let user = user.strip_prefix("invalid user ").unwrap_or(user);
    event(e, Action::UserLogin, Outcome::Failure, "max-attempts");
    e.user_name = Some(Cow::Borrowed(user));
    with_source(e, addr, p)
}

/// `Read from socket failed: Connection reset by peer [preauth]`, `Write failed: …`. No peer.
fn socket_failed<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (body, pre) = preauth(rest);
    // `Read error from remote host A[ port P]: Connection reset by peer`.
    if let Some(r) = body.strip_prefix("error from remote host ") {
        let (addr, p, _) = head_addr(r)?;
        if pre {
            probe(e, "preauth-disconnect");
        } else {
            event(
                e,
                Action::ConnectionClosed,
                Outcome::Failure,
                "connection-error",
            );
        }
        return with_source(e, addr.trim_end_matches(':'), p);
    }
    if !(body.starts_with("from socket failed") || body.starts_with("failed")) {
        return None;
    }
    if pre {
        probe(e, "preauth-disconnect")
    } else {
        start(e, Dataset::Sshd, Action::ConnectionClosed, Outcome::Unknown);
        Found::yes()
    }
}

/// sshd's own PAM lines (auth-pam.c): `error: PAM: ERR for [illegal user ]U from H[ via L]`
/// (ERR is pam_strerror's text, Linux-PAM's or OpenPAM's), `PAM: pam_open_session(): ERR`,
/// `pam_setcred(): ERR`, `pam_chauthtok(): ERR`. U is the client's; H and L are sshd's, so
/// from the right. ERR comes first and is PAM's, so it is matched whole (one of them holds a
/// ` for `).
fn pam_error<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    if let Some(r) = rest.strip_prefix("pam_") {
        let (call, _) = r.split_once("(): ")?;
        let action = match call {
            "open_session" | "setcred" => Action::SessionStart,
            "chauthtok" => Action::PasswordChanged,
            _ => return None,
        };
        let reason = if action == Action::PasswordChanged {
            "token-error"
        } else {
            "session-failed"
        };
        return event(e, action, Outcome::Failure, reason);
    }
    let (reason, body) = PAM_ERRORS
        .iter()
        .find_map(|(err, reason)| {
            let head = rest.get(..err.len())?;
            let body = rest.get(err.len()..)?.strip_prefix(" for ")?;
            head.eq_ignore_ascii_case(err).then_some((*reason, body))
        })
        .or_else(|| {
            // Another ERR (a module's own code): the first ` for ` ends it.
            let (_, body) = scan::split_once(rest, " for ")?;
            Some(("pam-failure", body))
        })?;
    let body = match scan::rsplit_once(body, " via ") {
        Some((b, local)) if !scan::has_space(local) => b,
        _ => body,
    };
    let (user, host) = scan::rsplit_once(body, " from ")?;
    if scan::has_space(host) {
        return None;
    }
    let user = user
        .strip_prefix("illegal user ")
        .or_else(|| user.strip_prefix("invalid user "))
        .unwrap_or(user);
    event(e, Action::UserLogin, Outcome::Failure, reason);
    // sshd writes an empty name as nothing at all (`… for  from H`): no user then.
    e.user_name = (!user.is_empty()).then_some(Cow::Borrowed(user));
    with_source(e, host, None)
}

/// `drop connection #N from [A]:P on [B]:Q WHY` (OpenSSH ≥ 8.4): the listener refused a
/// connection before any protocol, because of PerSourcePenalties (`penalty: KIND`, ≥ 9.8) or
/// MaxStartups (`past MaxStartups`, `Maxstartups`). A and B are socket addresses, bracketed.
fn drop_connection<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (_, r) = scan::word(r);
    let r = r.strip_prefix("from [")?;
    let (addr, r) = r.split_once("]:")?;
    let end = scan::digits(r.as_bytes());
    let p = port(r.get(..end)?)?;
    let r = r.get(end..)?.strip_prefix(" on [")?;
    let (_, r) = r.split_once("]:")?;
    let end = scan::digits(r.as_bytes());
    let why = r.get(end..)?.strip_prefix(' ')?;
    let reason = match why.strip_prefix("penalty: ") {
        Some(kind) => penalty_reason(kind),
        None if why.eq_ignore_ascii_case("past MaxStartups")
            || why.eq_ignore_ascii_case("MaxStartups") =>
        {
            "max-startups"
        }
        None if why == "too many penalised addresses" => "penalty-table-full",
        None => return None,
    };
    probe(e, reason);
    with_source(e, addr, Some(p))
}

/// `event.reason` for a PerSourcePenalties kind (srclimit.c's texts, after `penalty: `).
fn penalty_reason(kind: &str) -> &'static str {
    match kind {
        "caused crash" => "penalty-crash",
        "failed authentication" => "penalty-auth-failed",
        "connections without attempting authentication" => "penalty-no-auth",
        "attempted authentication by invalid user" => "penalty-invalid-user",
        "connection prohibited by RefuseConnection" => "penalty-refused",
        "exceeded LoginGraceTime" => "penalty-grace-exceeded",
        _ => "penalty",
    }
}

/// `srclimit_penalise: ipv4: new A/N active|deferred penalty of S seconds for penalty: KIND`,
/// `srclimit_penalise: A/N: activating ipv4 penalty of S seconds for penalty: KIND` and `…
/// penalty table full, cannot penalise A/N for penalty: KIND`: the listener's note that it
/// penalises a masked network. That is no peer, so no source: the connection that earned it
/// was its own line. Outcome unknown (a deferred penalty refuses nothing yet).
fn penalty_summary<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let at = memchr::memmem::rfind(rest.as_bytes(), b" for penalty: ")?;
    let head = rest.get(..at)?;
    let kind = rest.get(at + 14..)?;
    let reason = if scan::contains(head, "penalty table full") {
        "penalty-table-full"
    } else if scan::contains(head, " penalty of ") {
        penalty_reason(kind)
    } else {
        return None;
    };
    event(e, Action::ConnectionProbe, Outcome::Unknown, reason)
}

/// `userauth_pubkey: key type T not in PubkeyAcceptedAlgorithms [preauth]` (and `signature
/// algorithm T not in …`): a key of a refused type, so a failed publickey attempt. The peer
/// comes from the session.
fn key_not_accepted<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (body, _) = preauth(rest);
    let r = body
        .strip_prefix("key type ")
        .or_else(|| body.strip_prefix("signature algorithm "))?;
    let (kt, r) = scan::word(r);
    if !r.starts_with("not in ") || kt.is_empty() {
        return None;
    }
    event(e, Action::UserLogin, Outcome::Failure, "bad-key");
    e.auth_method = Some("publickey");
    e.auth_key_type = Some(Cow::Borrowed(kt));
    Found::yes()
}

/// `Accepted key T FP found at FILE:LINE` (LogLevel VERBOSE): the offered key is authorised;
/// the login itself is the `Accepted publickey` that follows, so this one is undecided
/// (`user-login` unknown, as `Postponed`). FILE is the server's.
fn accepted_key<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let r = rest.strip_prefix("key ")?;
    let (kt, r) = scan::word(r);
    let (fp, r) = scan::word(r);
    if kt.is_empty() || fp.is_empty() || !r.starts_with("found at ") {
        return None;
    }
    start(e, Dataset::Sshd, Action::UserLogin, Outcome::Unknown);
    e.auth_method = Some("publickey");
    e.auth_key_type = Some(Cow::Borrowed(kt));
    e.auth_key_fingerprint = Some(Cow::Borrowed(fp));
    Found::yes()
}

/// `U from A port P id N` (the end of `Starting session: … for U from …` and `Close session:
/// user U from …`). U is an authenticated account's name, A sshd's: from the right all the
/// same.
fn session_peer<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (r, id) = scan::rsplit_once(r, " id ")?;
    if id.is_empty() || scan::digits(id.as_bytes()) != id.len() {
        return None;
    }
    let (r, p) = port_suffix(r)?;
    let (user, addr) = scan::rsplit_once(r, " from ")?;
    if scan::has_space(addr) {
        return None;
    }
    e.user_name = Some(Cow::Borrowed(user));
    with_source(e, addr, Some(p))
}

/// `Starting session: shell|command|subsystem 'S'|forced-command … [on TTY] for U from A port P
/// id N` (LogLevel VERBOSE).
fn starting_session<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let at = memchr::memmem::rfind(r.as_bytes(), b" for ")?;
    let rest = r.get(at + 5..)?;
    start(e, Dataset::Sshd, Action::SessionStart, Outcome::Success);
    session_peer(rest, e)
}

/// `Close session: user U from A port P id N` (LogLevel VERBOSE).
fn close_session<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    start(e, Dataset::Sshd, Action::UserLogout, Outcome::Success);
    session_peer(r, e)
}

/// pam_strerror texts sshd logs a failed PAM authentication with (Linux-PAM, then OpenPAM's
/// lower-case ones; compared ignoring case), and the reason each means.
const PAM_ERRORS: &[(&str, &str)] = &[
    ("Authentication failure", "pam-failure"),
    ("authentication error", "pam-failure"),
    (
        "User not known to the underlying authentication module",
        "invalid-user",
    ),
    ("unknown user", "invalid-user"),
    (
        "Have exhausted maximum number of retries for service",
        "max-attempts",
    ),
    ("maximum number of tries exceeded", "max-attempts"),
    ("User account has expired", "account-expired"),
    ("Permission denied", "not-allowed"),
];

/// `[user U ]A port P` that ends a line (sshd's connection id): the connection ended without
/// the client's doing (`client-timeout`, `inactive`).
fn id_closed<'a>(r: &'a str, reason: &'static str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (prefix, addr, p) = tail_addr(preauth(r).0)?;
    let (user, _) = user_prefix(prefix)?;
    event(e, Action::ConnectionClosed, Outcome::Failure, reason);
    e.user_name = user.map(Cow::Borrowed);
    with_source(e, addr, p)
}

/// `probed|scanned from A port P with VERSION.  Don't panic.`: a known scanner's banner.
fn scanned<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (addr, p, after) = head_addr(rest.strip_prefix("from ")?)?;
    if p.is_none() || !after.starts_with(" with ") {
        return None;
    }
    probe(e, "scan");
    with_source(e, addr, p)
}

/// The ≥ 9.8 listener on a session process that died: `session process N for connection from
/// A[ to B] killed by signal S[ (…)]`, `… terminated abnormally, status=0x…`, `Session
/// process N unpriv child crash for connection from A[ to B]`. A crash is what PerSourcePenalties
/// punishes hardest (memory-corruption probing); a plain kill (`SIGTERM`, `SIGKILL`) is not
/// one and is left alone.
fn session_crash<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let r = rest.strip_prefix("process ")?;
    let (_, r) = scan::word(r);
    let r = r
        .strip_prefix("for connection from ")
        .or_else(|| r.strip_prefix("unpriv child crash for connection from "))?;
    let (addr, tail) = scan::word(r);
    let tail = match tail.strip_prefix("to ") {
        Some(t) => scan::word(t).1,
        None => tail,
    };
    let crashed = if let Some(sig) = tail.strip_prefix("killed by signal ") {
        let end = scan::digits(sig.as_bytes());
        // SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS (Linux numbers and the BSDs').
        matches!(
            sig.get(..end),
            Some("4" | "6" | "7" | "8" | "10" | "11" | "12" | "31")
        )
    } else {
        tail.is_empty() || tail.starts_with("terminated abnormally") || tail.starts_with('(')
    };
    if !crashed || addr.is_empty() {
        return None;
    }
    probe(e, "crash");
    with_source(e, addr.trim_end_matches(','), None)
}

/// `Nasty PTR record "NAME" is set up for A, ignoring`: NAME is the peer's DNS, A sshd's.
fn nasty_ptr<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let r = rest.strip_suffix(", ignoring")?;
    let (_, addr) = scan::rsplit_once(r, " is set up for ")?;
    if scan::has_space(addr) {
        return None;
    }
    event(
        e,
        Action::ConnectionProbe,
        Outcome::Unknown,
        "reverse-mapping",
    );
    with_source(e, addr, None)
}

/// `FILE:LINE: Authentication tried for U with correct key but not from a permitted host
/// (host=H, ip=A, required=R).` and `… with valid certificate but not from a permitted source
/// address (A).`: a `from=` restriction refused the key. H is the peer's DNS, R the admin's,
/// so A is read from the right.
fn key_option_refused<'a>(msg: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let at = memchr::memmem::find(msg.as_bytes(), b": Authentication tried for ")?;
    let r = msg.get(at + 27..)?;
    let r = r.strip_suffix('.').unwrap_or(r).strip_suffix(')')?;
    let (user, addr) = if let Some((head, tail)) = scan::rsplit_once(r, ", ip=") {
        let (addr, _) = tail.split_once(", required=")?;
        let (user, _) = head.split_once(" with correct key ")?;
        (user, addr)
    } else {
        let (head, addr) = scan::rsplit_once(r, " (")?;
        let (user, _) = head.split_once(" with valid certificate ")?;
        (user, addr)
    };
    if scan::has_space(addr) {
        return None;
    }
    event(e, Action::UserLogin, Outcome::Failure, "not-allowed");
    e.auth_method = Some("publickey");
    e.user_name = Some(Cow::Borrowed(user));
    with_source(e, addr, None)
}

/// A patched sshd's audit lines: `SSH: Server;Ltype: Version;Remote: A-P;…`. `Version` opens
/// the connection; `Kex`/`Authname` only name the peer (kept `unknown`, but the correlator
/// learns the peer from them).
fn ssh_server<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (kind, r) = r.split_once(';')?;
    let remote = r.strip_prefix("Remote: ")?;
    let remote = remote.split([';', ' ']).next()?;
    let (addr, p) = remote.rsplit_once('-')?;
    match kind {
        "Version" => start(e, Dataset::Sshd, Action::ConnectionOpened, Outcome::Unknown),
        _ => {
            e.dataset = Some(Dataset::Sshd);
            e.action = Some(Action::Unknown);
        }
    }
    if let Some(name) = r.split(';').find_map(|f| f.strip_prefix("Name: ")) {
        e.user_name = Some(Cow::Borrowed(preauth(name).0));
    }
    with_source(e, addr, port(p))
}

/// `Address A maps to NAME, but this does not map back to the address - POSSIBLE BREAK-IN
/// ATTEMPT!`: a warning about the peer (outcome unknown), not a refusal. A is sshd's own.
fn reverse_mapping_address<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (addr, r) = scan::word(rest);
    if !r.starts_with("maps to ") {
        return None;
    }
    event(
        e,
        Action::ConnectionProbe,
        Outcome::Unknown,
        "reverse-mapping",
    );
    with_source(e, addr, None)
}

/// `reverse mapping checking getaddrinfo for NAME [A] failed - POSSIBLE BREAK-IN ATTEMPT!`:
/// NAME comes from the peer's DNS, so A is taken from the right.
fn reverse_mapping_checking<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let at = memchr::memmem::rfind(r.as_bytes(), b"] failed")?;
    let head = r.get(..at)?;
    let (_, addr) = scan::rsplit_once(head, " [")?;
    event(
        e,
        Action::ConnectionProbe,
        Outcome::Unknown,
        "reverse-mapping",
    );
    with_source(e, addr, None)
}

/// Obfuscated-handshake patch: `Magic value check failed (N) on obfuscated handshake from A
/// port P`.
fn magic_value<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    if !rest.starts_with("value check failed") {
        return None;
    }
    let (_, addr, p) = tail_addr(rest)?;
    probe(e, "bad-protocol");
    with_source(e, addr, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::test_summary::sum;
    use crate::decoders::Decoded;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// When the right-to-left shortcut answers, the full candidate walk agrees.
        #[test]
        fn sole_tail_candidate_agrees(
            parts in proptest::collection::vec(
                prop::sample::select(vec![
                    "invalid user ", "root", " from ", "from", "1.2.3.4", "2001:db8::1", " port ",
                    "22", "65536", " ssh2", " ssh1", ": ", " [preauth]", " ", "x", "é",
                ]),
                0..10,
            ),
            tail in prop::sample::select(vec![
                "", " from 1.2.3.4 port 22 ssh2", " from from port 22 ssh2",
                " from 2001:db8::1 port 65536 ssh2", " from x port 01 ssh1",
                "from 1.2.3.4 port 22 ssh2", " from  port 2 ssh2",
            ]),
        ) {
            let body = parts.concat() + tail;
            if let Some(c) = sole_tail_candidate(&body) {
                let (b, count) = best_candidate(&body).expect("a candidate");
                prop_assert_eq!(count, 1);
                prop_assert_eq!(
                    (b.at, b.addr, b.port, b.strength, b.info),
                    (c.at, c.addr, c.port, c.strength, c.info)
                );
            }
        }
    }

    fn try_d(m: &str) -> Option<Decoded<'_>> {
        Decoded::run(|e| decode(m, e))
    }

    fn d(m: &str) -> Decoded<'_> {
        try_d(m).unwrap_or_else(|| panic!("not decoded: {m}"))
    }

    #[test]
    fn accepted_publickey_with_key() {
        let x = d("Accepted publickey for deploy from 192.168.121.49 port 55306 ssh2: RSA SHA256:Qm9ndXNLZXlGb3JUZXN0aW5nT25seQ0K7hJ2x");
        assert_eq!(
            sum(&x),
            (
                "user-login",
                "success",
                None,
                Some("192.168.121.49"),
                Some(55306),
                Some("deploy")
            )
        );
        assert_eq!(x.event.auth_method, Some("publickey"));
        assert_eq!(x.event.auth_key_type.as_deref(), Some("RSA"));
        assert_eq!(
            x.event.auth_key_fingerprint.as_deref(),
            Some("SHA256:Qm9ndXNLZXlGb3JUZXN0aW5nT25seQ0K7hJ2x")
        );
        assert!(x.ambiguous_peers.is_empty());
        assert!(matches!(x.event.user_name, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn auth_methods_normalise() {
        for (m, want) in [
            ("keyboard-interactive/pam", Some("keyboard-interactive")),
            ("gssapi-with-mic", Some("gssapi")),
            ("password", Some("password")),
            ("hostbased", Some("hostbased")),
            ("none", Some("none")),
            ("unknown", None),
        ] {
            let line = format!("Accepted {m} for bob from 10.0.0.49 port 1 ssh2");
            assert_eq!(d(&line).event.auth_method, want, "{m}");
        }
    }

    #[test]
    fn failed_forms() {
        let x = d("Failed password for invalid user Admin from 194.117.26.65 port 13145 ssh2");
        assert_eq!(
            sum(&x),
            (
                "user-login",
                "failure",
                Some("invalid-user"),
                Some("194.117.26.65"),
                Some(13145),
                Some("Admin")
            )
        );
        let x = d("Failed password for root from 1.2.3.160 port 2 ssh2");
        assert_eq!(x.event.reason, Some("bad-password"));
        let x = d("Failed password for invalid user Admin from 2001:db8:aa:1234::1:1");
        assert_eq!(
            x.event.source_address.as_deref(),
            Some("2001:db8:aa:1234::1:1")
        );
        assert_eq!(x.event.source_port, None);
        let x = d("Failed publickey for invalid user mallory from 127.0.0.49 port 26912 ssh2: RSA SHA256:dGVzdC1rZXktbm90LXJlYWw$9xK2mPq");
        assert_eq!(x.event.reason, Some("invalid-user"));
        assert_eq!(x.event.auth_key_type.as_deref(), Some("RSA"));
        let x = d("[ID 800047 auth.info] Failed keyboard-interactive for <invalid username> from 205.186.180.47 port 10428 ssh2");
        assert_eq!(x.event.reason, Some("invalid-user"));
        assert_eq!(x.event.user_name, None);
        assert_eq!(x.event.source_address.as_deref(), Some("205.186.180.47"));
        let x = d("kernel:[  970.699396]: Failed keyboard-interactive for <invalid username> from 205.186.180.47 port 10428 ssh2");
        assert_eq!(x.event.source_address.as_deref(), Some("205.186.180.47"));
        let x = d(
            "kernel: [  970.699397] Failed password for user admin from 192.0.2.132 port 10449 ssh2",
        );
        assert_eq!(x.event.source_address.as_deref(), Some("192.0.2.132"));
        let x = d("Failed hostbased for dee from 127.0.0.49 port 31729 ssh2: RSA 3d:91:c4:7a:0e:52:b8:16:fa:27:63:d0:09:e5:4b:81, client user \"dan\", client host \"client.example\"");
        assert_eq!(x.event.reason, Some("bad-key"));
        assert_eq!(
            x.event.auth_key_fingerprint.as_deref(),
            Some("3d:91:c4:7a:0e:52:b8:16:fa:27:63:d0:09:e5:4b:81")
        );
        let x = d("Failed none for invalid user admin from 1.2.3.160 port 5 ssh2");
        assert_eq!(x.event.auth_method, Some("none"));
        let x = d("Failed unknown for invalid user redm from 192.0.2.49 port 25613 ssh2");
        assert_eq!(x.event.auth_method, None);
        assert_eq!(x.event.reason, Some("invalid-user"));
    }

    #[test]
    fn injection_in_user_name_is_not_a_candidate() {
        let x =
            d("Failed password for invalid user from 10.10.1.49 from 127.0.0.49 port 23856 ssh2");
        assert_eq!(x.event.source_address.as_deref(), Some("127.0.0.49"));
        assert_eq!(x.event.user_name.as_deref(), Some("from 10.10.1.49"));
        assert!(x.ambiguous_peers.is_empty());
        let x = d("Failed password for invalid user test from 10.10.1.86 port 50119 ssh2 from 127.0.0.49 port 23856 ssh2");
        assert_eq!(x.event.source_address.as_deref(), Some("127.0.0.49"));
        assert!(x.ambiguous_peers.is_empty());
        // Weaker injected candidates lose to the real `port N sshN` one.
        let x = d("Failed password for user from 127.0.0.49 port 51234 ssh1: ruser from 1.2.3.160");
        assert_eq!(x.event.source_address.as_deref(), Some("127.0.0.49"));
        assert!(x.ambiguous_peers.is_empty());
        let x = d("Failed password for user from 2001:db8:aa:1234::1:1 port 51234 ssh1: ruser XXXX from 1.2.3.160");
        assert_eq!(
            x.event.source_address.as_deref(),
            Some("2001:db8:aa:1234::1:1")
        );
    }

    #[test]
    fn injection_in_auth_info_is_ambiguous() {
        let x = d("Failed password for invalid user test from 127.0.0.49 port 23856 ssh2: from 10.10.1.86 port 50119 ssh2");
        assert_eq!(x.event.source_address.as_deref(), Some("127.0.0.49"));
        assert_eq!(
            x.ambiguous_peers,
            vec![
                (Cow::Borrowed("127.0.0.49"), Some(23856)),
                (Cow::Borrowed("10.10.1.86"), Some(50119))
            ]
        );
    }

    #[test]
    fn pam_error_forms() {
        for (m, host, user) in [
            ("error: PAM: Authentication failure for qx7781 from 192.030.0.234", "192.030.0.234", "qx7781"),
            ("error: PAM: authentication error for jo from example.com via 192.168.1.199", "example.com", "jo"),
            ("error: PAM: User not known to the underlying authentication module for illegal user svcprobe from 10.215.4.161 ", "10.215.4.161", "svcprobe"),
            ("error: PAM: Authentication failure for a from 6.6.6.234 via 1 from 2001:db8::1", "2001:db8::1", "a from 6.6.6.234 via 1"),
        ] {
            let x = d(m);
            assert_eq!(x.event.source_address.as_deref(), Some(host), "{m}");
            assert_eq!(x.event.user_name.as_deref(), Some(user), "{m}");
            assert_eq!(x.event.outcome, Outcome::Failure);
        }
        // Each pam_strerror text its reason; an illegal (unknown) user's name after the marker.
        for (m, reason, user, host) in [
            ("error: PAM: Authentication failure for illegal user admin from 203.0.113.4", "pam-failure", "admin", "203.0.113.4"),
            ("error: PAM: unknown user for illegal user oracle from 203.0.113.5", "invalid-user", "oracle", "203.0.113.5"),
            ("error: PAM: authentication error for root from host.example.net", "pam-failure", "root", "host.example.net"),
            ("error: PAM: Have exhausted maximum number of retries for service for root from 2001:db8::9", "max-attempts", "root", "2001:db8::9"),
            ("error: PAM: maximum number of tries exceeded for bob from 203.0.113.6", "max-attempts", "bob", "203.0.113.6"),
            ("error: PAM: User account has expired for carol from 203.0.113.7", "account-expired", "carol", "203.0.113.7"),
            ("error: PAM: Permission denied for dave from 203.0.113.8", "not-allowed", "dave", "203.0.113.8"),
            ("error: PAM: Authentication token is no longer valid; new one required for erin from 203.0.113.10", "pam-failure", "erin", "203.0.113.10"),
        ] {
            let x = d(m);
            assert_eq!(x.event.action(), Action::UserLogin, "{m}");
            assert_eq!(x.event.reason, Some(reason), "{m}");
            assert_eq!(x.event.user_name.as_deref(), Some(user), "{m}");
            assert_eq!(x.event.source_address.as_deref(), Some(host), "{m}");
        }
        for (m, action, reason) in [
            ("error: PAM: pam_open_session(): Cannot make/remove an entry for the specified session", Action::SessionStart, "session-failed"),
            ("fatal: PAM: pam_setcred(): Failure setting user credentials", Action::SessionStart, "session-failed"),
            ("fatal: PAM: pam_chauthtok(): Authentication token manipulation error", Action::PasswordChanged, "token-error"),
        ] {
            let x = d(m);
            assert_eq!((x.event.action(), x.event.outcome, x.event.reason), (action, Outcome::Failure, Some(reason)), "{m}");
            assert_eq!(x.event.source_address, None, "{m}");
        }
        // An empty user name is no user (a proptest find).
        let x = d("error: PAM: Authentication failure for  from 203.0.113.11");
        assert_eq!(x.event.user_name, None);
        assert_eq!(x.event.source_address.as_deref(), Some("203.0.113.11"));
        for m in [
            "error: PAM: pam_putenv: Bad item passed to pam_*_item()",
            "error: PAM: initialization failed",
            "error: PAM: could not set TZ environment: Invalid argument",
        ] {
            assert!(try_d(m).is_none(), "{m}");
        }
        // Leading zeros: kept as the log names it, never an IP.
        assert_eq!(
            d("error: PAM: Authentication failure for a from 192.030.0.234")
                .event
                .source_ip,
            None
        );
    }

    #[test]
    fn invalid_user_and_not_allowed() {
        let x = d("Invalid user ftp from 192.0.2.86 port 21774");
        assert_eq!(
            sum(&x),
            (
                "user-login",
                "failure",
                Some("invalid-user"),
                Some("192.0.2.86"),
                Some(21774),
                Some("ftp")
            )
        );
        let x = d("Invalid user  from 192.0.2.28 port 55646");
        assert_eq!(x.event.user_name.as_deref(), Some(""));
        let x = d("Invalid user x from 6.6.6.234 port 1 from 192.0.2.49");
        assert_eq!(x.event.source_address.as_deref(), Some("192.0.2.49"));
        let x = d("User root from 46.45.128.123 not allowed because listed in DenyUsers");
        assert_eq!(
            sum(&x),
            (
                "user-login",
                "failure",
                Some("not-allowed"),
                Some("46.45.128.123"),
                None,
                Some("root")
            )
        );
        let x = d("User root not allowed because account is locked");
        assert_eq!(x.event.source_address, None);
        assert_eq!(x.event.user_name.as_deref(), Some("root"));
        let x = d("input_userauth_request: invalid user root [preauth]");
        assert_eq!(x.event.user_name.as_deref(), Some("root"));
        assert_eq!(x.event.reason, Some("invalid-user"));
    }

    #[test]
    fn root_refused_and_tcp_wrappers() {
        let x = d("ROOT LOGIN REFUSED FROM ::ffff:1.2.3.160");
        assert_eq!(x.event.source_address.as_deref(), Some("1.2.3.160"));
        assert_eq!(x.event.reason, Some("root-refused"));
        let x = d("ROOT LOGIN REFUSED FROM 1.2.3.160 port 47649 [preauth]");
        assert_eq!(x.event.source_port, Some(47649));
        let x = d("refused connect from _c2VjcmV0LWJsb2I=_@::ffff:218.249.210.219 (::ffff:218.249.210.219)");
        assert_eq!(x.event.source_address.as_deref(), Some("218.249.210.219"));
        let x = d("refused connect from example.com (192.168.1.49)");
        assert_eq!(x.event.source_address.as_deref(), Some("192.168.1.49"));
    }

    #[test]
    fn closes_and_disconnects() {
        let x = d("Connection closed by authenticating user test 127.0.0.49 port 47649 192.0.2.169 port 33507 [preauth]");
        assert_eq!(
            sum(&x),
            (
                "connection-probe",
                "failure",
                Some("preauth-disconnect"),
                Some("192.0.2.169"),
                Some(33507),
                Some("test 127.0.0.49 port 47649")
            )
        );
        let x = d("Connection closed by invalid user  192.0.2.28 port 55646 [preauth]");
        assert_eq!(x.event.user_name.as_deref(), Some(""));
        let x = d("Connection closed by 192.0.2.49");
        assert_eq!(sum(&x).0, "connection-closed");
        let x = d("Connection reset by 192.0.2.205 port 11208 [preauth]");
        assert_eq!(sum(&x).0, "connection-probe");
        let x = d("Disconnected from 192.0.2.160 port 20129 [preauth]");
        assert_eq!(sum(&x).3, Some("192.0.2.160"));
        let x = d("Disconnected from user root 192.0.2.160 port 20129");
        assert_eq!(
            sum(&x),
            (
                "connection-closed",
                "unknown",
                None,
                Some("192.0.2.160"),
                Some(20129),
                Some("root")
            )
        );
        assert!(
            try_d("Disconnected from totobad user ftp 92.255.85.7 port 44200 [preauth]").is_none()
        );
        let x = d("Received disconnect from 198.51.100.74 port 23156:11: Bye Bye [preauth]");
        assert_eq!(sum(&x).0, "connection-probe");
        assert_eq!(sum(&x).4, Some(23156));
        let x = d("error: Received disconnect from 2001:db8::1: 14: No supported authentication methods available [preauth]");
        assert_eq!(sum(&x).3, Some("2001:db8::1"));
        let x = d("Received disconnect from 10.0.0.49 port 7736:3: com.jcraft.jsch.JSchException: Auth fail");
        assert_eq!(sum(&x).2, Some("disconnect-error"));
        let x = d("Received disconnect from 10.0.0.49 port 7736:11: disconnected by user");
        assert_eq!(sum(&x).0, "connection-closed");
        let x = d("Received disconnect from 10.0.0.49: 11: disconnected by user");
        assert_eq!(sum(&x).0, "connection-closed");
    }

    #[test]
    fn disconnecting() {
        let x = d("Disconnecting: Too many authentication failures for root [preauth]");
        assert_eq!(
            sum(&x),
            (
                "user-login",
                "failure",
                Some("too-many-failures"),
                None,
                None,
                Some("root")
            )
        );
        let x = d("Disconnecting invalid user xxx 192.0.2.21 port 10821: Too many authentication failures [preauth]");
        assert_eq!(
            sum(&x),
            (
                "connection-probe",
                "failure",
                Some("too-many-failures"),
                Some("192.0.2.21"),
                Some(10821),
                Some("xxx")
            )
        );
        // An empty user name leaves two blanks.
        let x = d("Disconnecting invalid user  192.0.2.21 port 1: Too many authentication failures [preauth]");
        assert_eq!((sum(&x).3, sum(&x).5), (Some("192.0.2.21"), Some("")));
        let x = d("Disconnecting invalid user admin 192.0.2.91 port 19262: Change of username or service not allowed: (admin,ssh-connection) -> (user,ssh-connection) [preauth]");
        assert_eq!(sum(&x).3, Some("192.0.2.91"));
        assert_eq!(sum(&x).5, Some("admin"));
        assert!(x.ambiguous_peers.is_empty());
        let x = d("Disconnecting invalid user a 192.0.2.91 port 19262: Change of username or service not allowed: (a,ssh-connection) -> (b 6.6.6.234 port 1: ,ssh-connection) [preauth]");
        assert_eq!(x.ambiguous_peers.len(), 2);
        let x = d("error: maximum authentication attempts exceeded for invalid user xxx from 192.0.2.21 port 10821 ssh2 [preauth]");
        assert_eq!(
            sum(&x),
            (
                "user-login",
                "failure",
                Some("max-attempts"),
                Some("192.0.2.21"),
                Some(10821),
                Some("xxx")
            )
        );
    }

    #[test]
    fn probes() {
        for (m, reason, host) in [
            ("Did not receive identification string from 192.0.2.197 port 12086", "no-identification", Some("192.0.2.197")),
            ("Bad protocol version identification 'dummy string' from 192.0.2.49' from 69.61.56.17 port 33680", "bad-protocol", Some("69.61.56.17")),
            ("error: kex_exchange_identification: Connection closed by remote host", "no-identification", None),
            ("banner exchange: Connection from 192.0.2.206 port 19969: invalid format", "bad-protocol", Some("192.0.2.206")),
            ("ssh_dispatch_run_fatal: Connection from 192.0.2.243 port 47400: message authentication code incorrect [preauth]", "bad-protocol", Some("192.0.2.243")),
            ("ssh_dispatch_run_fatal: Connection from authenticating user root 192.0.2.243 port 47400: Broken pipe [preauth]", "bad-protocol", Some("192.0.2.243")),
            ("fatal: Timeout before authentication for 192.0.2.30 port 50119", "auth-timeout", Some("192.0.2.30")),
            ("Timeout before authentication for connection from 192.0.2.141 to 127.0.0.49, pid = 14920", "auth-timeout", Some("192.0.2.141")),
            ("Unable to negotiate with 192.0.2.49 port 49167: no matching cipher found. Their offer: aes256-cbc [preauth]", "negotiation-failed", Some("192.0.2.49")),
            ("fatal: Unable to negotiate a key exchange method [preauth]", "negotiation-failed", None),
            ("fatal: no matching mac found: client hmac-xxx server hmac-xxx [preauth]", "negotiation-failed", None),
            ("fatal: Read from socket failed: Connection reset by peer [preauth]", "preauth-disconnect", None),
            ("fatal: Write failed: Connection reset by peer [preauth]", "preauth-disconnect", None),
            ("Magic value check failed (4289475479) on obfuscated handshake from 94.232.46.143 port 50344", "bad-protocol", Some("94.232.46.143")),
        ] {
            let x = d(m);
            assert_eq!(x.event.action(), Action::ConnectionProbe, "{m}");
            assert_eq!(x.event.outcome, Outcome::Failure, "{m}");
            assert_eq!(x.event.reason, Some(reason), "{m}");
            assert_eq!(x.event.source_address.as_deref(), host, "{m}");
        }
    }

    #[test]
    fn connection_opened_and_audit_lines() {
        let x = d("Connection from 192.0.2.132 port 45262 on 192.0.2.132 port 22");
        assert_eq!(
            sum(&x),
            (
                "connection-opened",
                "unknown",
                None,
                Some("192.0.2.132"),
                Some(45262),
                None
            )
        );
        let x = d("Connection from 192.0.2.197");
        assert_eq!(sum(&x).3, Some("192.0.2.197"));
        let x = d(
            "SSH: Server;Ltype: Version;Remote: 127.0.0.49-1780;Protocol: 2.0;Client: libssh2_1.4.3",
        );
        assert_eq!(
            sum(&x),
            (
                "connection-opened",
                "unknown",
                None,
                Some("127.0.0.49"),
                Some(1780),
                None
            )
        );
        let x = d("SSH: Server;Ltype: Authname;Remote: 127.0.0.49-1780;Name: root [preauth]");
        assert_eq!(
            sum(&x),
            (
                "unknown",
                "unknown",
                None,
                Some("127.0.0.49"),
                Some(1780),
                Some("root")
            )
        );
    }

    #[test]
    fn warnings_and_protocol_errors() {
        let x = d("Address 198.51.100.7 maps to a.example, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!");
        assert_eq!(
            sum(&x),
            (
                "connection-probe",
                "unknown",
                Some("reverse-mapping"),
                Some("198.51.100.7"),
                None,
                None
            )
        );
        let x = d("reverse mapping checking getaddrinfo for x [6.6.6.6] failed.example [198.51.100.8] failed - POSSIBLE BREAK-IN ATTEMPT!");
        assert_eq!(sum(&x).3, Some("198.51.100.8"));
        let x = d("Postponed keyboard-interactive for invalid user eve from 198.51.100.9 port 4 ssh2 [preauth]");
        assert_eq!(
            sum(&x),
            (
                "user-login",
                "unknown",
                None,
                Some("198.51.100.9"),
                Some(4),
                Some("eve")
            )
        );
        for m in [
            "Corrupted MAC on input. [preauth]",
            "Bad packet length 1234.",
            "Disconnecting: bad client public DH value [preauth]",
        ] {
            assert_eq!(sum(&d(m)).2, Some("bad-protocol"), "{m}");
        }
        let x = d("Read error from remote host 198.51.100.10: Connection reset by peer");
        assert_eq!(
            sum(&x),
            (
                "connection-closed",
                "failure",
                Some("connection-error"),
                Some("198.51.100.10"),
                None,
                None
            )
        );
        let x = d(
            "Authentication refused: bad ownership or modes for file /home/a/.ssh/authorized_keys",
        );
        assert_eq!(sum(&x).1, "failure");
    }

    #[test]
    fn per_source_penalties_and_max_startups() {
        for (m, reason, host, port) in [
            ("drop connection #3 from [192.0.2.7]:40122 on [198.51.100.1]:22 penalty: failed authentication", "penalty-auth-failed", "192.0.2.7", 40122),
            ("drop connection #0 from [2001:db8::7]:1 on [2001:db8::1]:22 penalty: caused crash", "penalty-crash", "2001:db8::7", 1),
            ("drop connection #1 from [192.0.2.7]:2 on [198.51.100.1]:22 penalty: connections without attempting authentication", "penalty-no-auth", "192.0.2.7", 2),
            ("drop connection #1 from [192.0.2.7]:2 on [198.51.100.1]:22 penalty: attempted authentication by invalid user", "penalty-invalid-user", "192.0.2.7", 2),
            ("drop connection #1 from [192.0.2.7]:2 on [198.51.100.1]:22 penalty: exceeded LoginGraceTime", "penalty-grace-exceeded", "192.0.2.7", 2),
            ("drop connection #1 from [192.0.2.7]:2 on [198.51.100.1]:22 penalty: connection prohibited by RefuseConnection", "penalty-refused", "192.0.2.7", 2),
            ("drop connection #1 from [192.0.2.7]:2 on [198.51.100.1]:22 penalty: something new", "penalty", "192.0.2.7", 2),
            ("drop connection #1 from [192.0.2.7]:2 on [198.51.100.1]:22 too many penalised addresses", "penalty-table-full", "192.0.2.7", 2),
            ("drop connection #10 from [192.0.2.8]:3 on [198.51.100.1]:22 past MaxStartups", "max-startups", "192.0.2.8", 3),
            ("drop connection #10 from [192.0.2.8]:3 on [198.51.100.1]:22 Maxstartups", "max-startups", "192.0.2.8", 3),
        ] {
            let x = d(m);
            assert_eq!(
                sum(&x),
                ("connection-probe", "failure", Some(reason), Some(host), Some(port), None),
                "{m}"
            );
        }
        for (m, reason) in [
            ("srclimit_penalise: ipv4: new 192.0.2.0/24 active penalty of 30.000 seconds for penalty: failed authentication", "penalty-auth-failed"),
            ("srclimit_penalise: ipv6: new 2001:db8::/64 deferred penalty of 1.000 seconds for penalty: caused crash", "penalty-crash"),
            ("srclimit_penalise: 192.0.2.0/24: activating ipv4 penalty of 15.500 seconds for penalty: exceeded LoginGraceTime", "penalty-grace-exceeded"),
            ("srclimit_penalise: ipv4 penalty table full, cannot penalise 192.0.2.0/24 for penalty: failed authentication", "penalty-table-full"),
        ] {
            // A masked network is no peer.
            assert_eq!(
                sum(&d(m)),
                ("connection-probe", "unknown", Some(reason), None, None, None),
                "{m}"
            );
        }
        for m in [
            "drop connection #1 from [192.0.2.7]:x on [198.51.100.1]:22 penalty: caused crash",
            "drop connection #1 from 192.0.2.7:2 on [198.51.100.1]:22 past MaxStartups",
            "drop connection #1 from [192.0.2.7]:2 on [198.51.100.1]:22 for fun",
            "beginning MaxStartups throttling",
            "exited MaxStartups throttling after 00:01:00, 5 connections dropped",
            "Received signal 15; terminating.",
            "srclimit_penalise: ipv4: something",
        ] {
            assert!(try_d(m).is_none(), "{m}");
        }
    }

    #[test]
    fn sessions_and_keys() {
        let x = d("Starting session: shell on pts/0 for alice from 192.0.2.9 port 50022 id 0");
        assert_eq!(
            sum(&x),
            (
                "session-start",
                "success",
                None,
                Some("192.0.2.9"),
                Some(50022),
                Some("alice")
            )
        );
        let x = d("Starting session: command for deploy from 2001:db8::9 port 4 id 1");
        assert_eq!(sum(&x).3, Some("2001:db8::9"));
        let x = d("Starting session: subsystem 'sftp' for bob from 192.0.2.9 port 5 id 0");
        assert_eq!(sum(&x).5, Some("bob"));
        let x = d("Close session: user ansible from 192.168.1.1 port 34928 id 0");
        assert_eq!(
            sum(&x),
            (
                "user-logout",
                "success",
                None,
                Some("192.168.1.1"),
                Some(34928),
                Some("ansible")
            )
        );
        assert!(try_d("Close session: user ansible from 192.168.1.1 port 34928").is_none());
        let x = d("Accepted key ED25519 SHA256:abcdEFGH found at /home/a/.ssh/authorized_keys:3");
        assert_eq!(sum(&x), ("user-login", "unknown", None, None, None, None));
        assert_eq!(x.event.auth_key_type.as_deref(), Some("ED25519"));
        assert_eq!(
            x.event.auth_key_fingerprint.as_deref(),
            Some("SHA256:abcdEFGH")
        );
        for m in [
            "userauth_pubkey: key type ssh-dss not in PubkeyAcceptedAlgorithms [preauth]",
            "userauth_pubkey: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms [preauth]",
        ] {
            let x = d(m);
            assert_eq!(sum(&x), ("user-login", "failure", Some("bad-key"), None, None, None));
            assert_eq!(x.event.auth_method, Some("publickey"));
        }
        let x = d("error: kex_protocol_error: type 20 seq 2 [preauth]");
        assert_eq!(sum(&x).2, Some("bad-protocol"));
        let x = d("error: Protocol major versions differ: 2 vs. 1");
        assert_eq!(sum(&x).2, Some("bad-protocol"));
    }

    #[test]
    fn timeouts_scans_crashes_and_restrictions() {
        for (m, want) in [
            ("Timeout, client not responding from user root 192.0.2.10 port 5022", ("connection-closed", "failure", Some("client-timeout"), Some("192.0.2.10"), Some(5022), Some("root"))),
            ("Timeout, client not responding from 192.0.2.10 port 5022", ("connection-closed", "failure", Some("client-timeout"), Some("192.0.2.10"), Some(5022), None)),
            ("Connection from authenticating user x 6.6.6.6 port 1 192.0.2.10 port 5022 timed out", ("connection-closed", "failure", Some("client-timeout"), Some("192.0.2.10"), Some(5022), Some("x 6.6.6.6 port 1"))),
            ("terminating inactive connection from user bob 192.0.2.10 port 5022", ("connection-closed", "failure", Some("inactive"), Some("192.0.2.10"), Some(5022), Some("bob"))),
            ("probed from 192.0.2.11 port 4000 with SSH-2.0-OpenSSH_2.5.2 probe.  Don't panic.", ("connection-probe", "failure", Some("scan"), Some("192.0.2.11"), Some(4000), None)),
            ("scanned from 192.0.2.11 port 4000 with SSH-1.5-NmapNSE_1.0.  Don't panic.", ("connection-probe", "failure", Some("scan"), Some("192.0.2.11"), Some(4000), None)),
            ("session process 4242 for connection from 192.0.2.12 to 198.51.100.1 killed by signal 11", ("connection-probe", "failure", Some("crash"), Some("192.0.2.12"), None, None)),
            ("Session process 4242 unpriv child crash for connection from 192.0.2.12 to 198.51.100.1 (early)", ("connection-probe", "failure", Some("crash"), Some("192.0.2.12"), None, None)),
            ("session process 4242 for connection from 192.0.2.12 terminated abnormally, status=0x86", ("connection-probe", "failure", Some("crash"), Some("192.0.2.12"), None, None)),
            ("Nasty PTR record \"x is set up for 6.6.6.6, ignoring\" is set up for 192.0.2.13, ignoring", ("connection-probe", "unknown", Some("reverse-mapping"), Some("192.0.2.13"), None, None)),
            ("/home/bob/.ssh/authorized_keys:2: Authentication tried for bob with correct key but not from a permitted host (host=x, ip=6.6.6.6, required=y, ip=192.0.2.14, required=10.0.0.0/8).", ("user-login", "failure", Some("not-allowed"), Some("192.0.2.14"), None, Some("bob"))),
            ("/home/bob/.ssh/authorized_keys:2: Authentication tried for bob with valid certificate but not from a permitted source address (192.0.2.14).", ("user-login", "failure", Some("not-allowed"), Some("192.0.2.14"), None, Some("bob"))),
            ("Partial publickey for bob from 192.0.2.15 port 4 ssh2: ED25519 SHA256:x", ("user-login", "unknown", None, Some("192.0.2.15"), Some(4), Some("bob"))),
            ("fatal: Username too long from 192.0.2.16 port 4", ("connection-probe", "failure", Some("bad-protocol"), Some("192.0.2.16"), Some(4), None)),
            ("Unable to negotiate with user bob 192.0.2.17 port 4: no matching cipher found. Their offer: x [preauth]", ("connection-probe", "failure", Some("negotiation-failed"), Some("192.0.2.17"), Some(4), Some("bob"))),
        ] {
            assert_eq!(sum(&d(m)), want, "{m}");
        }
        // Client text after the id (the offer) makes it ambiguous, never silently chosen.
        let x = d("Unable to negotiate with authenticating user a 192.0.2.17 port 4: no matching cipher found. Their offer: b 6.6.6.6 port 1: c");
        assert_eq!(x.ambiguous_peers.len(), 2);
        let x = d("WARNING: revoked key for bob attempted authentication");
        assert_eq!(sum(&x).2, Some("bad-key"));
        let x = d("Accepted certificate ID \"bob\" (serial 7) signed by ED25519 CA SHA256:x via /etc/ssh/ca");
        assert_eq!(sum(&x).1, "unknown");
        for m in [
            "session process 4242 for connection from 192.0.2.12 to 198.51.100.1 killed by signal 15",
            "probed from 192.0.2.11 with x",
            "/etc/x: something else",
        ] {
            assert!(try_d(m).is_none(), "{m}");
        }
    }

    #[test]
    fn not_ours() {
        for m in [
            "pam_unix(sshd:session): session opened for user rdx by (uid=0)",
            "Server listening on 0.0.0.12 port 22.",
            "",
            "Failed",
            "Accepted password for",
            "Received disconnect from",
            "Connection closed by",
        ] {
            assert!(try_d(m).is_none(), "{m}");
        }
    }
}
