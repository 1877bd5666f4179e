//! Time for lines that carry an incomplete one: BSD syslog writes neither year nor zone.
//!
//! The year comes from a [`YearRule`]: a reference time (the file's mtime, or `--reference-time`)
//! that no line can be after, so a `Dec` line in a file last written in `Jan` belongs to the year
//! before; or a fixed first year (`--year`) that rolls over when the months wrap. The zone is
//! the local one (`TZ`), or a fixed offset.

use chrono::{Local, NaiveDate, Offset, TimeZone};
use logward_core::time::{civil_from_days, days_from_civil, valid_date};
use logward_core::Timestamp;

/// How year-less timestamps get their year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearRule {
    /// No line is later than this instant (the file's mtime): months after it are last year's.
    Reference(Timestamp),
    /// The first line is in this year; December → January advances it.
    Fixed(i32),
}

/// Which wall clock year-less, zone-less lines were written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The process's local zone (`TZ`, else /etc/localtime).
    Local,
    /// A fixed offset from UTC in seconds.
    Fixed(i32),
}

/// Gives BSD syslog timestamps a year and an offset; keeps the small state the year roll-over
/// and the offset cache need. One per input file.
#[derive(Debug, Clone)]
pub struct YearResolver {
    rule: YearRule,
    zone: Zone,
    year: i32,
    last_month: u32,
    /// Cache of the local offset for one wall-clock hour (logs are mostly in time order).
    cached_hour: i64,
    cached_offset: i32,
    /// The last (year, month, day) seen and its day number.
    cached_date: (i32, u32, u32),
    cached_days: i64,
}

impl YearResolver {
    pub fn new(rule: YearRule, zone: Zone) -> Self {
        let year = match rule {
            YearRule::Fixed(y) => y,
            YearRule::Reference(ts) => ts.local_fields().0,
        };
        YearResolver {
            rule,
            zone,
            year,
            last_month: 0,
            cached_hour: i64::MIN,
            cached_offset: 0,
            cached_date: (0, 0, 0),
            cached_days: 0,
        }
    }

    /// Fixed first year at a fixed UTC offset (tests).
    pub fn fixed(year: i32, offset: i32) -> Self {
        Self::new(YearRule::Fixed(year), Zone::Fixed(offset))
    }

    /// Parses `Mmm dd hh:mm:ss` (day space- or zero-padded, or one digit) at the start of `b`.
    /// Returns the timestamp and the bytes used.
    pub fn parse_bsd(&mut self, b: &[u8]) -> Option<(Timestamp, usize)> {
        let BsdDate {
            month,
            day,
            time: (h, m, s),
            nanos,
            used: i,
        } = bsd_fields(b)?;
        let year = self.year_for(month, day, (h, m, s));
        // Consecutive lines nearly always share their date: skip the calendar arithmetic.
        let days = self.days(year, month, day)?;
        let offset = self.offset_at(days, h);
        let local = days * 86_400 + (h * 3600 + m * 60 + s.min(59)) as i64;
        let ts = Timestamp {
            unix: local - offset as i64,
            nanos,
            offset,
        };
        Some((ts, i))
    }

    /// A date and time that carries its zone (`Some` offset) or is read in this input's zone.
    pub fn resolve(&mut self, c: Civil, offset: Option<i32>) -> Option<Timestamp> {
        match offset {
            Some(o) => Timestamp::from_local(c.date, c.time, c.nanos, o),
            None => self.wall_clock(c.date, c.time, c.nanos),
        }
    }

    /// A full date and time written without a zone (`2013/04/11 14:22:43`, ISO 8601 without
    /// an offset, Apache's `[Sun Jul 28 21:27:56.549667 2013]`): read in this input's zone,
    /// like a BSD timestamp. `None` for impossible dates and times.
    #[inline]
    pub fn wall_clock(
        &mut self,
        (year, month, day): (i32, u32, u32),
        (h, m, s): (u32, u32, u32),
        nanos: u32,
    ) -> Option<Timestamp> {
        if h > 23 || m > 59 || s > 60 || nanos >= 1_000_000_000 {
            return None;
        }
        let days = self.days(year, month, day)?;
        let offset = self.offset_at(days, h);
        let local = days * 86_400 + (h * 3600 + m * 60 + s.min(59)) as i64;
        Some(Timestamp {
            unix: local - offset as i64,
            nanos,
            offset,
        })
    }

    /// The day number of a date, `None` for one the calendar does not have. Consecutive lines
    /// nearly always share their date: the last one's is kept.
    #[inline(always)]
    fn days(&mut self, year: i32, month: u32, day: u32) -> Option<i64> {
        if self.cached_date == (year, month, day) {
            return Some(self.cached_days);
        }
        if !valid_date(year, month, day) {
            return None;
        }
        let days = days_from_civil(year, month, day);
        self.cached_date = (year, month, day);
        self.cached_days = days;
        Some(days)
    }

    fn year_for(&mut self, month: u32, day: u32, (h, m, s): (u32, u32, u32)) -> i32 {
        match self.rule {
            YearRule::Fixed(_) => {
                if self.last_month != 0 && month + 6 <= self.last_month {
                    // December → January: the next year.
                    self.year += 1;
                } else if self.last_month != 0 && month >= self.last_month + 6 {
                    // A stray line from before the wrap; do not move the year back for good.
                    return self.year - 1;
                }
                self.last_month = month;
                self.year
            }
            YearRule::Reference(reference) => {
                let ref_local = reference.unix + reference.offset as i64;
                let y = civil_from_days(ref_local.div_euclid(86_400)).0;
                let day = if valid_date(y, month, day) { day } else { 28 };
                let local =
                    days_from_civil(y, month, day) * 86_400 + (h * 3600 + m * 60 + s) as i64;
                // Two days of slack for clock skew and zones.
                if local > ref_local + 2 * 86_400 {
                    y - 1
                } else {
                    y
                }
            }
        }
    }

    fn offset_at(&mut self, days: i64, hour: u32) -> i32 {
        match self.zone {
            Zone::Fixed(o) => o,
            Zone::Local => {
                let key = days * 24 + hour as i64;
                if key != self.cached_hour {
                    let (year, month, day) = civil_from_days(days);
                    self.cached_hour = key;
                    self.cached_offset = local_offset(year, month, day, hour);
                }
                self.cached_offset
            }
        }
    }
}

/// A date and time as written, before a zone is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub date: (i32, u32, u32),
    pub time: (u32, u32, u32),
    pub nanos: u32,
}

/// A BSD syslog date as written: no year, no zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BsdDate {
    pub month: u32,
    pub day: u32,
    pub time: (u32, u32, u32),
    pub nanos: u32,
    /// Bytes of the line it took.
    pub used: usize,
}

/// The month an English abbreviation at the start of `b` names (`Jan` → 1), for the dates
/// outside the syslog header's hot path (which keeps its own copy: see [`bsd_fields`]).
pub fn month_abbr(b: &[u8]) -> Option<u32> {
    Some(match b.get(..3)? {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

/// `Mmm dd hh:mm:ss[.fraction]` at the start of `b`. Hours, minutes and seconds are
/// range-checked, the day only against 31.
#[inline(always)]
pub fn bsd_fields(b: &[u8]) -> Option<BsdDate> {
    // Every syslog line's first bytes: the table is inline here, as going through
    // `month_abbr`'s `Option` cost 15 instructions a line (callgrind, bench/instructions.sh).
    let month = match b.get(..3)? {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let mut day = 0u32;
    let day_start = i;
    while i < b.len() && b[i].is_ascii_digit() && i - day_start < 2 {
        day = day * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    if i == day_start || b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    let d = |x: u8| x.wrapping_sub(b'0') as u32;
    let &[h1, h2, b':', m1, m2, b':', s1, s2] = b.get(i..i + 8)? else {
        return None;
    };
    // Each must be a digit: `d` maps anything else above 9.
    let (dh1, dh2, dm1, dm2, ds1, ds2) = (d(h1), d(h2), d(m1), d(m2), d(s1), d(s2));
    if dh1.max(dh2).max(dm1).max(dm2).max(ds1).max(ds2) > 9 {
        return None;
    }
    let (h, m, s) = (dh1 * 10 + dh2, dm1 * 10 + dm2, ds1 * 10 + ds2);
    i += 8;
    let mut nanos = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut j = start;
        while j < b.len() && b[j].is_ascii_digit() && j - start < 9 {
            nanos = nanos * 10 + d(b[j]);
            j += 1;
        }
        if j > start {
            for _ in (j - start)..9 {
                nanos *= 10;
            }
            i = j;
        }
    }
    if h > 23 || m > 59 || s > 60 || day > 31 {
        return None;
    }
    Some(BsdDate {
        month,
        day,
        time: (h, m, s),
        nanos,
        used: i,
    })
}

/// ISO 8601 as logs write it: `YYYY-MM-DD`, then `T`, a space or svlogd's `_`, `hh:mm:ss`, an
/// optional fraction after `.` or `,`, and an optional zone `Z`, `±hh:mm`, `±hhmm` or `±hh`.
/// Returns the fields, the offset when one was written, and the bytes used. The date is not
/// checked here (`0000-12-30` placeholders are the caller's to reject).
pub fn parse_iso(s: &[u8]) -> Option<(Civil, Option<i32>, usize)> {
    let num = logward_core::time::digits_at;
    let year = num(s, 0, 4)? as i32;
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return None;
    }
    let (mo, d) = (num(s, 5, 2)?, num(s, 8, 2)?);
    if !matches!(s.get(10), Some(b'T' | b' ' | b'_')) {
        return None;
    }
    if s.get(13) != Some(&b':') || s.get(16) != Some(&b':') {
        return None;
    }
    let (h, mi, sec) = (num(s, 11, 2)?, num(s, 14, 2)?, num(s, 17, 2)?);
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if matches!(s.get(i), Some(b'.' | b',')) {
        let (n, used) = logward_core::time::fraction_digits(s.get(i + 1..)?)?;
        nanos = n;
        i += 1 + used;
    }
    let offset = match s.get(i) {
        Some(b'Z') => {
            i += 1;
            Some(0)
        }
        Some(&c @ (b'+' | b'-')) => {
            let oh = num(s, i + 1, 2)?;
            let (om, used) = if s.get(i + 3) == Some(&b':') {
                (num(s, i + 4, 2)?, 6)
            } else if let Some(om) = num(s, i + 3, 2) {
                (om, 5)
            } else {
                (0, 3)
            };
            if oh > 23 || om > 59 {
                return None;
            }
            i += used;
            let o = (oh * 3600 + om * 60) as i32;
            Some(if c == b'-' { -o } else { o })
        }
        _ => None,
    };
    let civil = Civil {
        date: (year, mo, d),
        time: (h, mi, sec),
        nanos,
    };
    Some((civil, offset, i))
}

/// A TAI64N label, `@` and 24 hex digits (daemontools, runit's svlogd, socklog): the time it
/// stands for, in UTC. Like `tai64nlocal`, the label is TAI = UTC + 10 s (2^62 + 10 is the
/// Unix epoch); later leap seconds are not in the label, so none are applied.
pub fn parse_tai64n(s: &[u8]) -> Option<Timestamp> {
    fn hex(s: &[u8]) -> Option<u64> {
        let mut n = 0u64;
        for &c in s {
            let d = (c as char).to_digit(16)?;
            n = n << 4 | d as u64;
        }
        Some(n)
    }
    let (&b'@', rest) = s.split_first()? else {
        return None;
    };
    let secs = hex(rest.get(..16)?)?;
    let nanos = hex(rest.get(16..24)?)?;
    const EPOCH: u64 = (1 << 62) + 10;
    let unix = i64::try_from(secs.checked_sub(EPOCH)?).ok()?;
    // Year 9999 at most: the rest of logward formats four-digit years.
    if unix > 253_402_300_799 || nanos >= 1_000_000_000 {
        return None;
    }
    Some(Timestamp {
        unix,
        nanos: nanos as u32,
        offset: 0,
    })
}

/// The local zone's UTC offset at a wall-clock hour (the earlier one in a DST fold, the one
/// after a DST gap).
pub fn local_offset(year: i32, month: u32, day: u32, hour: u32) -> i32 {
    let Some(naive) =
        NaiveDate::from_ymd_opt(year, month, day).and_then(|d| d.and_hms_opt(hour, 0, 0))
    else {
        return 0;
    };
    match Local.offset_from_local_datetime(&naive) {
        chrono::LocalResult::Single(o) | chrono::LocalResult::Ambiguous(o, _) => {
            o.fix().local_minus_utc()
        }
        chrono::LocalResult::None => Local
            .offset_from_utc_datetime(&naive)
            .fix()
            .local_minus_utc(),
    }
}

/// The local zone's offset at an instant (for showing file mtimes and reference times).
pub fn local_offset_at(unix: i64) -> i32 {
    match chrono::DateTime::from_timestamp(unix, 0) {
        Some(dt) => Local
            .offset_from_utc_datetime(&dt.naive_utc())
            .fix()
            .local_minus_utc(),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsd_forms() {
        let mut y = YearResolver::fixed(2026, 0);
        let (ts, used) = y.parse_bsd(b"Mar  1 00:00:01 host").unwrap();
        assert_eq!(
            (ts.to_string().as_str(), used),
            ("2026-03-01T00:00:01Z", 15)
        );
        let (ts, used) = y.parse_bsd(b"Feb 7 16:01:07 x").unwrap();
        assert_eq!(
            (ts.to_string().as_str(), used),
            ("2026-02-07T16:01:07Z", 14)
        );
        assert!(y.parse_bsd(b"Mar 32 00:00:01").is_none());
        assert!(y.parse_bsd(b"Mar  1 0:00:01").is_none());
        assert!(y.parse_bsd(b"Foo  1 00:00:01").is_none());
    }

    #[test]
    fn fixed_year_rolls_over_in_december() {
        let mut y = YearResolver::fixed(2025, 3600);
        let a = y.parse_bsd(b"Dec 31 23:59:59").unwrap().0;
        let b = y.parse_bsd(b"Jan  1 00:00:01").unwrap().0;
        assert_eq!(a.to_string(), "2025-12-31T23:59:59+01:00");
        assert_eq!(b.to_string(), "2026-01-01T00:00:01+01:00");
        assert_eq!(b.unix - a.unix, 2);
    }

    #[test]
    fn reference_time_puts_later_months_in_the_year_before() {
        // fail2ban's test "now": 2005-08-14T10:00:00Z.
        let now = Timestamp {
            unix: 1_124_013_600,
            nanos: 0,
            offset: 0,
        };
        let mut y = YearResolver::new(YearRule::Reference(now), Zone::Fixed(0));
        assert_eq!(
            y.parse_bsd(b"Sep 29 16:28:02").unwrap().0.to_string(),
            "2004-09-29T16:28:02Z"
        );
        assert_eq!(
            y.parse_bsd(b"Jun 21 16:47:48").unwrap().0.to_string(),
            "2005-06-21T16:47:48Z"
        );
        assert_eq!(
            y.parse_bsd(b"Aug 15 09:00:00").unwrap().0.to_string(),
            "2005-08-15T09:00:00Z"
        );
        // Feb 29 in a year without one is no timestamp, not a panic or a wrong date.
        assert!(y.parse_bsd(b"Feb 29 10:00:00").is_none());
    }
}
