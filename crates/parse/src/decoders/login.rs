//! `login` messages.

use super::Decoded;

pub fn decode(message: &str) -> Option<Decoded<'_>> {
    let _ = message;
    None
}
