//! Pure-FTPd: `(U@A) [LEVEL] MSG`. Before a login U is `?`; after one it is the account, so
//! the prefix holds no client text and A (the socket's address) is read from it. The user
//! name in `Authentication failed for user [U]` is client text and only ever the user.

use logward_core::{Action, Dataset, Event, Outcome};

use super::super::{guarded, peer, scan, Found};

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| line(message, e))
}

fn line<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let m = m.strip_prefix('(')?;
    let close = scan::find(m, ") [")?;
    let (_, addr) = m.get(..close)?.rsplit_once('@')?;
    let rest = m.get(close + 3..)?;
    let (_level, msg) = rest.split_once("] ")?;
    let msg = scan::trim_end_blanks(msg);
    if let Some(u) = msg
        .strip_prefix("Authentication failed for user [")
        .and_then(|r| r.strip_suffix(']'))
    {
        peer::set(e, addr, None)?;
        peer::user(e, u);
        return peer::login_failed(e, Dataset::PureFtpd, "bad-password");
    }
    let u = msg.strip_suffix(" is now logged in")?;
    peer::set(e, addr, None)?;
    peer::user(e, u);
    peer::event(
        e,
        Dataset::PureFtpd,
        Action::UserLogin,
        Outcome::Success,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        let d = Decoded::run(|e| {
            decode(
                "(?@24.79.92.194) [WARNING] Authentication failed for user [Administrator]",
                e,
            )
        })
        .unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("24.79.92.194"));
        assert_eq!(d.event.user_name.as_deref(), Some("Administrator"));
        let d = Decoded::run(|e| {
            decode(
                "(?@192.0.2.1) [WARNING] Authentication failed for user [x) [@6.6.6.6]",
                e,
            )
        })
        .unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.1"));
        let d = Decoded::run(|e| decode("(?@192.0.2.1) [INFO] bob is now logged in", e)).unwrap();
        assert_eq!(d.event.outcome, Outcome::Success);
    }
}
