//! FreeSWITCH (mod_sofia): `[DATE TIME ][LOAD% ][LEVEL] [[SOFIA] ]file.c:N MSG` (also
//! `[file.c:N]`), in syslog (`freeswitch[pid]: …`, its own date kept in the message) or in
//! `freeswitch.log` (`service_logs`).
//!
//! - `SIP auth failure (M) on sofia profile 'P' for [U@D] from ip A` → `user-login` failure
//!   `bad-password`;
//! - `Can't find user [U@D] from A` → failure `invalid-user`;
//! - `SIP auth challenge (M) … from ip A` → `user-login` outcome unknown `challenge`: every
//!   SIP login starts with one, so it is not a failure.
//!
//! U and D are client text and come before A, which ends the line: A is read from the right.

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, peer, scan, Found};

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| body(skip_header(scan::trim_end_blanks(message))?, e))
}

fn skip_header(mut m: &str) -> Option<&str> {
    // Date, time and the CPU idle figure (`82.43%`).
    for _ in 0..3 {
        let (tok, rest) = scan::word(m);
        if tok.is_empty()
            || !tok
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b':' | b'.' | b'%'))
        {
            break;
        }
        m = rest.trim_start_matches(' ');
    }
    // `[LEVEL] `, `[SOFIA] `, `[file.c:N] ` (absent when the frame took `[LEVEL]` as the tag).
    let mut source = false;
    for _ in 0..3 {
        let Some(r) = m.strip_prefix('[') else { break };
        let (inner, rest) = r.split_once("] ")?;
        if inner.contains(".c:") {
            source = true;
        }
        m = rest;
        if source {
            break;
        }
    }
    if !source {
        let (file, rest) = scan::word(m);
        let (_, line) = scan::split_once(file, ".c:")?;
        if line.is_empty() || !line.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        m = rest;
    }
    Some(m)
}

fn body<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (outcome, reason, head, addr) = if let Some(r) = m.strip_prefix("SIP auth failure (") {
        let (head, a) = scan::rsplit_once(r, " from ip ")?;
        (Outcome::Failure, "bad-password", head, a)
    } else if let Some(r) = m.strip_prefix("SIP auth challenge (") {
        let (head, a) = scan::rsplit_once(r, " from ip ")?;
        (Outcome::Unknown, "challenge", head, a)
    } else if let Some(r) = m.strip_prefix("Can't find user [") {
        let (head, a) = scan::rsplit_once(r, " from ")?;
        (Outcome::Failure, "invalid-user", head, a)
    } else {
        return None;
    };
    peer::set(e, addr, None)?;
    // `…for [U@D]` / `U@D]`: the user is what precedes the last `@` of the bracket.
    let who = scan::split_once(head, " for [").map_or(head, |(_, w)| w);
    if let Some((u, _)) = who.strip_suffix(']').and_then(|w| w.rsplit_once('@')) {
        peer::user(e, u);
    }
    peer::event(
        e,
        Dataset::Freeswitch,
        Action::UserLogin,
        outcome,
        Some(reason),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        for m in [
            "2013-12-31 17:39:54.767815 [WARNING] sofia_reg.c:2531 Can't find user [1001@192.168.2.51] from 192.0.2.5",
            "08-03 07:56:53.026292 [WARN] [SOFIA] [sofia_reg.c:4130] Can't find user [101@148.251.134.154] from 192.0.2.5",
            "2021-10-29 14:13:24.894719 82.43% [WARNING] sofia_reg.c:2889 Can't find user [201@::1] from 192.0.2.5",
            "sofia_reg.c:2889 Can't find user [x] from 6.6.6.6@::1] from 192.0.2.5",
        ] {
            let d = Decoded::run(|e| decode(m, e)).unwrap();
            assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.5"), "{m}");
        }
        let d = Decoded::run(|e| decode("[WARNING] sofia_reg.c:1478 SIP auth failure (INVITE) on sofia profile 'internal' for [000972543480510@192.168.2.51] from ip 192.0.2.6", e)).unwrap();
        assert_eq!(d.event.user_name.as_deref(), Some("000972543480510"));
        assert!(Decoded::run(|e| decode("[DEBUG] sofia.c:7954 IP 185.24.234.141 Rejected by acl \"domains\". Falling back to Digest auth.", e)).is_none());
    }
}
