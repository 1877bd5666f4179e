//! Cyrus IMAP (`cyrus/imap`, `cyrus/imaps`, `cyrus/pop3`, `imapd`, `imap`, …):
//! `badlogin: NAME [A] MECH [USER] SASL(-13): …`. NAME is the reverse-DNS name (no blank,
//! no bracket), so the peer is the first bracket; the user and the SASL text follow it.

use std::borrow::Cow;

use logward_core::{Dataset, Event};

use super::{host_bracket, login_failed, non_empty, set_peer};
use crate::decoders::{guarded, scan, Found};

/// Whether a syslog program is one of Cyrus's services (`cyrus/imap`, `cyrus/pop3s`, …;
/// `cyrus/timsieved` is [`super::sieve`]'s).
#[inline]
pub fn is_cyrus(program: &str) -> bool {
    program.starts_with("cyrus/") || matches!(program, "imap" | "imaps" | "pop3" | "pop3s")
}

/// Decodes one Cyrus message into `e`.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| badlogin(message, Dataset::Cyrus, e))
}

/// `badlogin: NAME[ ][A] MECH [USER ]…`, shared with timsieved.
pub(crate) fn badlogin<'a>(m: &'a str, ds: Dataset, e: &mut Event<'a>) -> Option<Found<'a>> {
    let rest = scan::trim_end_blanks(m).strip_prefix("badlogin: ")?;
    let (addr, after) = host_bracket(rest)?;
    let after = after.strip_prefix(' ')?;
    let (_mech, r) = scan::word(after);
    // `plaintext USER SASL(-13): …`: a user stands between the mechanism and `SASL(`.
    if !r.starts_with('[') && !r.starts_with("SASL") && !r.starts_with("authentication") {
        let (user, tail) = scan::word(r);
        if tail.starts_with("SASL") {
            e.user_name = non_empty(user).map(Cow::Borrowed);
        }
    }
    set_peer(e, addr, None);
    login_failed(e, ds, "auth-failed")
}
