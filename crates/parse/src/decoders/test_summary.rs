//! What the decoders' unit tests compare: an event's action, outcome, reason, peer and user
//! in one tuple, so a table of expected lines reads as one row a line.

use super::Decoded;

/// (action, outcome, reason, source address, port, user)
pub type Summary<'a> = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'a str>,
    Option<u16>,
    Option<&'a str>,
);

pub fn sum<'a>(x: &'a Decoded<'_>) -> Summary<'a> {
    let e = &x.event;
    (
        e.action().as_str(),
        e.outcome.as_str(),
        e.reason,
        e.source_address.as_deref(),
        e.source_port,
        e.user_name.as_deref(),
    )
}
