//! wu-ftpd (`wu-ftpd`, and BSD-style `ftpd`): `failed login from NAME [A]` (A from the
//! brackets at the end: NAME is the server's reverse lookup) and `FTP LOGIN FAILED FROM A, U`
//! (A up to the first comma, which no address or host name holds; U the rest).

use logward_core::{Dataset, Event};

use super::super::{guarded, peer, scan, Found};

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| line(scan::trim_end_blanks(message), e))
}

fn line<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    if let Some(rest) = m.strip_prefix("failed login from ") {
        let (_name, bracket) = rest.rsplit_once(" [")?;
        let addr = bracket.strip_suffix(']')?;
        peer::set(e, addr, None)?;
        return peer::login_failed(e, Dataset::Wuftpd, "bad-password");
    }
    let rest = m.strip_prefix("FTP LOGIN FAILED FROM ")?;
    let (addr, user) = rest.split_once(',')?;
    let user = user.strip_prefix(' ').unwrap_or(user);
    peer::set(e, addr, None)?;
    peer::user(e, user);
    peer::login_failed(e, Dataset::Wuftpd, "bad-password")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        let d = Decoded::run(|e| {
            decode(
                "failed login from hj-145-173-a8.bta.net.cn [202.108.145.173]",
                e,
            )
        })
        .unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("202.108.145.173"));
        let d =
            Decoded::run(|e| decode("FTP LOGIN FAILED FROM 192.0.2.3, root [6.6.6.6]", e)).unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.3"));
        assert_eq!(d.event.user_name.as_deref(), Some("root [6.6.6.6]"));
    }
}
