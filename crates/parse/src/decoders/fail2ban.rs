//! fail2ban's own log: `[fail2ban.actions[  ][[PID]]: ][LEVEL  ][JAIL] Ban A` → `service-abuse`
//! `banned` (dataset `fail2ban`), so logward can take over repeat offenders ("recidive")
//! from a fail2ban that still runs. `Unban`, `Restore Ban` (a restart re-applying old bans)
//! and the `recidive` jail's own bans (which already count the others) are not counted.

use logward_core::{Dataset, Event};

use super::{guarded, peer, scan, Found};

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| line(scan::trim_end_blanks(message), e))
}

fn line<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let mut m = m;
    // `fail2ban.actions        [11524]: ` inside a `fail2ban-server` line.
    if let Some(r) = m.strip_prefix("fail2ban.actions") {
        let r = r.trim_start_matches(' ');
        let r = match r.strip_prefix('[') {
            Some(p) => p.split_once(']')?.1,
            None => r,
        };
        m = r.strip_prefix(':')?.trim_start_matches(' ');
    }
    // `NOTICE  `
    if !m.starts_with('[') {
        let (level, rest) = scan::word(m);
        if level.is_empty() || !level.bytes().all(|c| c.is_ascii_uppercase()) {
            return None;
        }
        m = rest.trim_start_matches(' ');
    }
    let (jail, rest) = m.strip_prefix('[')?.split_once("] ")?;
    let a = rest.strip_prefix("Ban ")?;
    if jail == "recidive" || jail.is_empty() {
        return None;
    }
    peer::set(e, a, None)?;
    peer::abuse(e, Dataset::Fail2ban, "banned")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        for m in [
            "NOTICE [sendmail] Ban 192.0.2.1",
            "fail2ban.actions        [11524]: NOTICE  [postfix-auth] Ban 192.0.2.1",
            "fail2ban.actions: NOTICE [sendmail] Ban 192.0.2.1",
            "[postfix-sasl] Ban 192.0.2.1",
        ] {
            let d = Decoded::run(|e| decode(m, e)).unwrap();
            assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.1"), "{m}");
        }
        for m in [
            "NOTICE [sendmail] Unban 192.0.2.1",
            "NOTICE [recidive] Ban 192.0.2.1",
            "NOTICE [sshd] Restore Ban 192.0.2.1",
            "NOTICE [x] Ban host.example",
        ] {
            assert!(Decoded::run(|e| decode(m, e)).is_none(), "{m}");
        }
    }
}
