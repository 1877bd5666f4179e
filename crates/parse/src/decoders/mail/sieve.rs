//! Cyrus timsieved (ManageSieve; `sieve`, `timsieved`, `cyrus/timsieved`):
//! `badlogin: NAME[A] MECH authentication failure`, the Cyrus grammar without the blank.
//! Dovecot's `managesieve-login` writes Dovecot's login lines ([`super::dovecot`]).

use logward_core::{Dataset, Event};

use crate::decoders::{guarded, Found};

/// Whether a syslog program is timsieved.
#[inline]
pub fn is_sieve(program: &str) -> bool {
    matches!(program, "sieve" | "timsieved" | "cyrus/timsieved")
}

/// Decodes one timsieved message into `e`.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| super::cyrus::badlogin(message, Dataset::Sieve, e))
}
