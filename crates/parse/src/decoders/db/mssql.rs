//! Microsoft SQL Server's error log: `[DATE TIME ]Logon       Login failed for user 'U'.
//! Reason: R [CLIENT: A]`. U is client text (unescaped: `'O'Leary'`) and R is the server's,
//! so the peer is read from the `[CLIENT: A]` that ends the line.

use std::borrow::Cow;

use logward_core::{Dataset, Event};

use super::super::{guarded, peer, scan, Found};

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| failed(message, e))
}

fn failed<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let m = match m.strip_prefix("Logon") {
        Some(r) if r.starts_with(' ') => r.trim_start_matches(' '),
        Some(_) => return None,
        None => m,
    };
    let rest = m.strip_prefix("Login failed for user '")?;
    let rest = scan::trim_end_blanks(rest).strip_suffix(']')?;
    let (head, client) = scan::rsplit_once(rest, " [CLIENT: ")?;
    let (user, why) = match scan::rsplit_once(head, "'. Reason: ") {
        Some((u, why)) => (u, why),
        None => (head.strip_suffix("'.")?, ""),
    };
    let reason = if why.starts_with("Could not find a login") {
        "invalid-user"
    } else if why.starts_with("Password did not match") {
        "bad-password"
    } else {
        "auth-failed"
    };
    if peer::is_ip(client) {
        e.set_source(Cow::Borrowed(client), None);
    } else if client != "<local machine>" {
        return None;
    }
    peer::user(e, user);
    peer::login_failed(e, Dataset::Mssql, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        let d = Decoded::run(|e| decode("Logon       Login failed for user 'O'Leary'. Reason: Could not find a login matching the name provided. [CLIENT: 192.0.2.4]", e)).unwrap();
        assert_eq!(d.event.user_name.as_deref(), Some("O'Leary"));
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.4"));
        assert_eq!(d.event.reason, Some("invalid-user"));
        let d = Decoded::run(|e| decode("Login failed for user 'x [CLIENT: 6.6.6.6]'. Reason: Password did not match that for the login provided. [CLIENT: 192.0.2.4]", e)).unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.4"));
        assert!(Decoded::run(|e| decode(
            "Wrong data received: Logon       Login failed for user 'test'. [CLIENT: 192.0.2.5]",
            e
        ))
        .is_none());
    }
}
