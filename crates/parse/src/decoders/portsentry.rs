//! portsentry: `attackalert: … from host: NAME/A to TCP port: P` (syslog) and its
//! `portsentry.blocked.*` files, `EPOCH - MM/DD/YYYY HH:MM:SS Host: NAME/A Port: P TCP
//! Blocked` (`service_logs`) → `service-abuse` `port-scan`. NAME is portsentry's reverse
//! lookup of A (no `/` in a host name); A follows the last `/` of the field.

use logward_core::{Dataset, Event, Timestamp};

use super::{guarded, peer, scan, squid, Found};

/// A syslog message (`portsentry[pid]: …`).
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let rest = message.strip_prefix("attackalert: ")?;
        let (_, field) = scan::split_once(rest, " from host: ")?;
        let (field, tail) = scan::word(field);
        if !tail.starts_with("to ") {
            return None;
        }
        scan_from(e, field)
    })
}

/// A line of the blocked-hosts file; its own time too.
pub fn blocked<'a>(line: &'a str, e: &mut Event<'a>) -> Option<(Found<'a>, Option<Timestamp>)> {
    let (time, rest) = scan::word(line);
    let ts = squid::epoch(time)?;
    let rest = rest.strip_prefix("- ")?;
    let (_, rest) = scan::split_once(rest, " Host: ")?;
    let (field, tail) = scan::word(rest);
    if !(tail.starts_with("Port: ") && tail.ends_with(" Blocked")) {
        return None;
    }
    let found = guarded(e, |e| scan_from(e, field))?;
    Some((found, Some(ts)))
}

fn scan_from<'a>(e: &mut Event<'a>, field: &'a str) -> Option<Found<'a>> {
    let a = field.rsplit_once('/').map_or(field, |(_, a)| a);
    peer::set(e, a, None)?;
    peer::abuse(e, Dataset::Portsentry, "port-scan")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        let d = Decoded::run(|e| {
            decode(
                "attackalert: SYN/Normal scan from host: scanner.example/192.0.2.8 to TCP port: 22",
                e,
            )
        })
        .unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.8"));
        let mut e = Event::default();
        let (_, ts) = blocked(
            "1403884279 - 06/27/2014 17:51:19 Host: 192.168.56.1/192.168.56.1 Port: 1 TCP Blocked",
            &mut e,
        )
        .unwrap();
        assert_eq!(e.source_address.as_deref(), Some("192.168.56.1"));
        assert_eq!(ts.unwrap().unix, 1_403_884_279);
    }
}
