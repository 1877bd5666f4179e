//! `@timestamp`: an instant plus the UTC offset it was written with, so output keeps the
//! log's own wall-clock time (RFC 3339 with offset, DESIGN.md).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// Seconds since the Unix epoch, UTC.
    pub unix: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Offset from UTC, in seconds, of the wall clock the log was written in.
    pub offset: i32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub const fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year } as i64;
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The (year, month, day) of a count of days since 1970-01-01.
pub const fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

/// Whether a date exists (rejects Feb 30, month 13 …).
pub const fn valid_date(year: i32, month: u32, day: u32) -> bool {
    if month < 1 || month > 12 || day < 1 {
        return false;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let max = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= max
}

/// `len` decimal digits at `at` in `s`, every one a digit, as a number: the fixed-width
/// fields of a logged date (`2026`, `06`). The one digit reader of every date parser.
#[inline]
pub fn digits_at(s: &[u8], at: usize, len: usize) -> Option<u32> {
    let mut n = 0u32;
    for &c in s.get(at..at.checked_add(len)?)? {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u32::from(d);
    }
    Some(n)
}

/// The digits of a fraction of a second at the start of `s` (after its `.` or `,`): the
/// nanoseconds (digits past the ninth read but ignored) and how many digits there were;
/// `None` when there is none.
#[inline]
pub fn fraction_digits(s: &[u8]) -> Option<(u32, usize)> {
    let mut nanos = 0u32;
    let mut n = 0;
    while let Some(&c) = s.get(n).filter(|c| c.is_ascii_digit()) {
        if n < 9 {
            nanos = nanos * 10 + u32::from(c - b'0');
        }
        n += 1;
    }
    if n == 0 {
        return None;
    }
    for _ in n.min(9)..9 {
        nanos *= 10;
    }
    Some((nanos, n))
}

impl Timestamp {
    /// A wall-clock time at a known offset. `None` for impossible dates and times.
    pub fn from_local(
        date: (i32, u32, u32),
        time: (u32, u32, u32),
        nanos: u32,
        offset: i32,
    ) -> Option<Timestamp> {
        let (y, mo, d) = date;
        let (h, mi, s) = time;
        // Second 60 is a leap second as syslog may print it; it folds onto :59.
        if !valid_date(y, mo, d) || h > 23 || mi > 59 || s > 60 || nanos >= 1_000_000_000 {
            return None;
        }
        let local = days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s.min(59)) as i64;
        Some(Timestamp {
            unix: local - offset as i64,
            nanos,
            offset,
        })
    }

    /// From a Unix time in microseconds (the journal's `__REALTIME_TIMESTAMP`), shown in UTC.
    pub fn from_unix_micros(us: i64) -> Timestamp {
        Timestamp {
            unix: us.div_euclid(1_000_000),
            nanos: (us.rem_euclid(1_000_000) * 1000) as u32,
            offset: 0,
        }
    }

    /// The same instant shown at another offset.
    pub fn with_offset(self, offset: i32) -> Timestamp {
        Timestamp { offset, ..self }
    }

    /// Wall-clock (year, month, day, hour, minute, second) at this timestamp's offset.
    pub fn local_fields(&self) -> (i32, u32, u32, u32, u32, u32) {
        let local = self.unix + self.offset as i64;
        let (y, m, d) = civil_from_days(local.div_euclid(86_400));
        let sod = local.rem_euclid(86_400) as u32;
        (y, m, d, sod / 3600, sod / 60 % 60, sod % 60)
    }

    /// RFC 3339 text: `2026-11-22T10:00:01.123456+01:00` (fraction only when non-zero,
    /// `Z` for UTC).
    pub fn write_rfc3339<W: fmt::Write>(&self, w: &mut W) -> fmt::Result {
        let (y, mo, d, h, mi, s) = self.local_fields();
        write!(w, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        if self.nanos != 0 {
            if self.nanos % 1000 == 0 {
                write!(w, ".{:06}", self.nanos / 1000)?;
            } else {
                write!(w, ".{:09}", self.nanos)?;
            }
        }
        if self.offset == 0 {
            w.write_char('Z')
        } else {
            let sign = if self.offset < 0 { '-' } else { '+' };
            let o = self.offset.unsigned_abs();
            write!(w, "{sign}{:02}:{:02}", o / 3600, o / 60 % 60)
        }
    }

    /// Parses RFC 3339 (`T` or space separator, any fraction, `Z` or `±hh:mm`/`±hhmm`).
    /// Returns the timestamp and the number of bytes read.
    pub fn parse_rfc3339(s: &[u8]) -> Option<(Timestamp, usize)> {
        let num = digits_at;
        let year = num(s, 0, 4)? as i32;
        if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
            return None;
        }
        let (mo, d) = (num(s, 5, 2)?, num(s, 8, 2)?);
        if !matches!(s.get(10), Some(b'T' | b't' | b' ')) {
            return None;
        }
        let (h, mi, sec) = (num(s, 11, 2)?, num(s, 14, 2)?, num(s, 17, 2)?);
        if s.get(13) != Some(&b':') || s.get(16) != Some(&b':') {
            return None;
        }
        let mut i = 19;
        let mut nanos = 0u32;
        if s.get(i) == Some(&b'.') {
            let (n, used) = fraction_digits(s.get(i + 1..)?)?;
            nanos = n;
            i += 1 + used;
        }
        let offset = match s.get(i) {
            Some(b'Z' | b'z') => {
                i += 1;
                0
            }
            Some(&c @ (b'+' | b'-')) => {
                let oh = num(s, i + 1, 2)?;
                let (om, used) = if s.get(i + 3) == Some(&b':') {
                    (num(s, i + 4, 2)?, 6)
                } else {
                    (num(s, i + 3, 2)?, 5)
                };
                if oh > 23 || om > 59 {
                    return None;
                }
                i += used;
                let o = (oh * 3600 + om * 60) as i32;
                if c == b'-' {
                    -o
                } else {
                    o
                }
            }
            _ => return None,
        };
        let ts = Timestamp::from_local((year, mo, d), (h, mi, sec), nanos, offset)?;
        Some((ts, i))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_rfc3339(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_field_readers() {
        assert_eq!(digits_at(b"2026-12", 0, 4), Some(2026));
        assert_eq!(digits_at(b"2026-12", 5, 2), Some(12));
        assert_eq!(digits_at(b"2026-12", 5, 3), None);
        assert_eq!(digits_at(b"20x6", 0, 4), None);
        assert_eq!(digits_at(b"1", usize::MAX, 2), None);
        assert_eq!(fraction_digits(b"5 x"), Some((500_000_000, 1)));
        assert_eq!(fraction_digits(b"123456789123Z"), Some((123_456_789, 12)));
        assert_eq!(fraction_digits(b"Z"), None);
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn rfc3339_parse_and_print() {
        let s = b"2026-11-22T10:00:01.123456+01:00 host";
        let (ts, used) = Timestamp::parse_rfc3339(s).unwrap();
        assert_eq!(used, 32);
        assert_eq!(ts.unix, 1_795_338_001);
        assert_eq!(ts.to_string(), "2026-11-22T10:00:01.123456+01:00");
        let (utc, _) = Timestamp::parse_rfc3339(b"2019-07-08T17:40:16.954167-04:00").unwrap();
        assert_eq!(
            utc.with_offset(0).to_string(),
            "2019-07-08T21:40:16.954167Z"
        );
        assert!(Timestamp::parse_rfc3339(b"2026-02-30T00:00:00Z").is_none());
        assert!(Timestamp::parse_rfc3339(b"2026-01-01T00:00:00").is_none());
    }

    #[test]
    fn micros() {
        let ts = Timestamp::from_unix_micros(1_700_000_000_123_456);
        assert_eq!(ts.to_string(), "2023-11-14T22:13:20.123456Z");
    }
}
