//! Rotated log file names: the one grammar `logward scan` (ordering its inputs) and the
//! agent's file source (finding a checkpoint's file after rotations) share.
//!
//! A rotated name is the log's name, a separator and a suffix, then optionally a compression
//! suffix (`.gz`, `.xz`, `.bz2`, `.zst`, `.lz4`):
//!
//! - `NAME.N` (fewer than 8 digits): logrotate's numbered rotations, a larger N is older;
//! - `NAME-DATE` or `NAME.DATE`: logrotate's `dateext` (`-20261201`, `.20261201`,
//!   `.2026-12-01`, `-20261201_1200`): a digit first, then digits, `-` or `_`, at least 8
//!   digits in all; the digits read as text, so a later date is newer.
//!
//! Oldest first: dated files, then numbered ones (logrotate uses one scheme per log; when
//! both are there the dated ones sort first), then the live file.

use std::cmp::Ordering;

/// Compression suffixes of rotated files (they cannot be followed from an offset).
pub const COMPRESSED: [&str; 5] = [".gz", ".xz", ".bz2", ".zst", ".lz4"];

/// Where a file sits in its log's history; ordered oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Age<'a> {
    /// `NAME-20261201`, `NAME.2026-12-01`: a later date is newer.
    Dated(DateKey<'a>),
    /// `NAME.3`: a larger number is older (`Reverse` puts it first).
    Numbered(std::cmp::Reverse<u64>),
    /// The live file (no rotation suffix).
    Current,
}

/// A `dateext` suffix, compared by its digits only (`2026-12-01` = `20261201`).
#[derive(Debug, Clone, Copy)]
pub struct DateKey<'a>(&'a str);

impl DateKey<'_> {
    fn digits(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.bytes().filter(u8::is_ascii_digit)
    }
}

impl PartialEq for DateKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DateKey<'_> {}

impl PartialOrd for DateKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DateKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.digits().cmp(other.digits())
    }
}

/// A file name read as a log's name plus its place in the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation<'a> {
    /// The live log's file name (`auth.log` for `auth.log.2.gz`).
    pub base: &'a str,
    pub age: Age<'a>,
    /// Ends in one of [`COMPRESSED`].
    pub compressed: bool,
}

/// Splits `name` into its log's name and its place in the rotation; a name with no
/// rotation suffix is the live file ([`Age::Current`], `base` = the name without a
/// compression suffix).
pub fn split(name: &str) -> Rotation<'_> {
    let (stem, compressed) = strip_compression(name);
    // The leftmost separator whose suffix is a rotation: `auth.log-2026-12-01` is dated,
    // not `auth.log-2026-12` with a suffix `01`.
    for (i, b) in stem.bytes().enumerate() {
        if i == 0 || !(b == b'.' || b == b'-') {
            continue;
        }
        if let Some(age) = suffix_age(b, &stem[i + 1..]) {
            return Rotation {
                base: &stem[..i],
                age,
                compressed,
            };
        }
    }
    Rotation {
        base: stem,
        age: Age::Current,
        compressed,
    }
}

/// `name`'s place in `base`'s rotation and whether it is compressed, when it is one of
/// `base`'s rotated files (not `base` itself).
pub fn rotation_of<'a>(base: &str, name: &'a str) -> Option<(Age<'a>, bool)> {
    let rest = name.strip_prefix(base)?;
    let (stem, compressed) = strip_compression(rest);
    let sep = *stem.as_bytes().first()?;
    if sep != b'.' && sep != b'-' {
        return None;
    }
    suffix_age(sep, &stem[1..]).map(|age| (age, compressed))
}

fn strip_compression(name: &str) -> (&str, bool) {
    match COMPRESSED.iter().find_map(|c| name.strip_suffix(c)) {
        Some(stem) if !stem.is_empty() => (stem, true),
        _ => (name, false),
    }
}

/// The age a suffix after separator `sep` stands for, if it is a rotation suffix.
fn suffix_age(sep: u8, s: &str) -> Option<Age<'_>> {
    if !s.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return None;
    }
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    if digits >= 8 {
        return Some(Age::Dated(DateKey(s)));
    }
    if sep == b'.' && digits == s.len() {
        return s.parse().ok().map(|n| Age::Numbered(std::cmp::Reverse(n)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;

    fn age(name: &str) -> (&str, Age<'_>, bool) {
        let r = split(name);
        (r.base, r.age, r.compressed)
    }

    #[test]
    fn numbered_and_compressed() {
        assert_eq!(
            age("auth.log.1"),
            ("auth.log", Age::Numbered(Reverse(1)), false)
        );
        assert_eq!(
            age("auth.log.2.gz"),
            ("auth.log", Age::Numbered(Reverse(2)), true)
        );
        assert_eq!(
            rotation_of("auth.log", "auth.log.2.gz"),
            Some((Age::Numbered(Reverse(2)), true))
        );
    }

    #[test]
    fn dates_in_every_spelling_are_dates_not_numbers() {
        for (name, compressed) in [
            ("secure-20261201", false),
            ("secure.20261201.gz", true),
            ("secure.2026-12-01", false),
            ("secure-2026-12-01.xz", true),
        ] {
            let r = split(name);
            assert_eq!(r.base, "secure", "{name}");
            assert_eq!(r.compressed, compressed, "{name}");
            assert_eq!(r.age, Age::Dated(DateKey("20261201")), "{name}");
            assert_eq!(
                rotation_of("secure", name).map(|(a, _)| a),
                Some(r.age),
                "{name}"
            );
        }
        // A later date is newer, however it is spelled.
        assert!(split("secure.2026-12-01").age > split("secure-20261130").age);
        // Every date is older than every number, and numbers older than the live file.
        assert!(split("secure-20261201").age < split("secure.30").age);
        assert!(split("secure.1").age < split("secure").age);
    }

    #[test]
    fn other_names_are_live_files() {
        for name in [
            "auth.log",
            "auth.log.",
            "auth.log.x",
            "auth.log-old",
            "auth.log-1",
            "app-v2",
            "x.gz",
        ] {
            assert_eq!(split(name).age, Age::Current, "{name}");
        }
        assert_eq!(split("auth.log.gz").base, "auth.log");
        for not in [
            "auth.log",
            "auth.log.",
            "auth.log.x",
            "auth.log-old",
            "auth.logx.1",
            "x.log.1",
        ] {
            assert_eq!(rotation_of("auth.log", not), None, "{not}");
        }
    }

    #[test]
    fn oldest_first() {
        let mut names = vec![
            "auth.log",
            "auth.log.1",
            "auth.log.10",
            "auth.log.2.gz",
            "auth.log-20261122",
            "auth.log.20261121.xz",
        ];
        names.sort_by_key(|n| split(n).age);
        assert_eq!(
            names,
            [
                "auth.log.20261121.xz",
                "auth.log-20261122",
                "auth.log.10",
                "auth.log.2.gz",
                "auth.log.1",
                "auth.log",
            ]
        );
    }
}
