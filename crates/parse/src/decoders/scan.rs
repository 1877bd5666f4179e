//! Byte search for the decoders' hot paths, eight bytes at a time in a `u64` (SWAR).
//!
//! The fields and messages decoders look through are 5–120 bytes long. There a byte loop
//! costs 4–5 instructions per byte and `memchr` 40–50 instructions of set-up and dispatch per
//! call; a word-at-a-time scan costs about one instruction per byte with no set-up, which
//! showed in the profiles of the PAM and sshd decoders. Safe code only: words are read with
//! `u64::from_le_bytes`.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// High bit set in each byte of `w` that is zero, and only there (no borrow between bytes,
/// so the mask is exact in both directions).
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    !(((w & LOW7) + LOW7) | w) & HI
}

#[inline(always)]
fn word_at(hay: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = hay.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Position of the first byte of `hay` for which `hit` marks a match in its word.
#[inline(always)]
fn find_by(hay: &[u8], hit: impl Fn(u64) -> u64, is: impl Fn(u8) -> bool) -> Option<usize> {
    let mut i = 0;
    while let Some(w) = word_at(hay, i) {
        let m = hit(w);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let tail = hay.get(i..)?;
    tail.iter().position(|&c| is(c)).map(|p| i + p)
}

/// Position of the first `needle` byte.
#[inline]
pub fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    let rep = LO.wrapping_mul(u64::from(needle));
    find_by(hay, |w| zero_bytes(w ^ rep), |c| c == needle)
}

/// Position of the first byte that is `a` or `b`.
#[inline]
pub fn find_either(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    let (ra, rb) = (LO.wrapping_mul(u64::from(a)), LO.wrapping_mul(u64::from(b)));
    find_by(
        hay,
        |w| zero_bytes(w ^ ra) | zero_bytes(w ^ rb),
        |c| c == a || c == b,
    )
}

/// Position of the last `needle` byte.
#[inline]
pub fn rfind_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    let rep = LO.wrapping_mul(u64::from(needle));
    let mut end = hay.len();
    while end >= 8 {
        let w = word_at(hay, end - 8)?;
        let m = zero_bytes(w ^ rep);
        if m != 0 {
            return Some(end - 8 + (7 - m.leading_zeros() / 8) as usize);
        }
        end -= 8;
    }
    hay.get(..end)?.iter().rposition(|&c| c == needle)
}

/// Every position of `needle` in `hay` (or, with `TWO`, of either of two bytes), in order,
/// in one pass eight bytes at a time (a mask per word, its set bits taken lowest first):
/// no per-hit restart of the search.
#[derive(Debug, Clone)]
pub struct Positions<'a, const TWO: bool = false> {
    hay: &'a [u8],
    rep: u64,
    rep_b: u64,
    /// Offset of the word `mask` describes.
    base: usize,
    /// High bit of each byte of that word still to report.
    mask: u64,
    /// Offset of the next word to load; the haystack's length once the tail is done.
    next: usize,
}

impl<const TWO: bool> Positions<'_, TWO> {
    #[inline(always)]
    fn hits(&self, w: u64) -> u64 {
        if TWO {
            zero_bytes(w ^ self.rep) | zero_bytes(w ^ self.rep_b)
        } else {
            zero_bytes(w ^ self.rep)
        }
    }
}

impl<const TWO: bool> Iterator for Positions<'_, TWO> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        loop {
            if self.mask != 0 {
                let i = self.base + (self.mask.trailing_zeros() / 8) as usize;
                self.mask &= self.mask - 1;
                return Some(i);
            }
            if let Some(w) = word_at(self.hay, self.next) {
                self.base = self.next;
                self.mask = self.hits(w);
                self.next += 8;
                continue;
            }
            let len = self.hay.len();
            if self.next >= len {
                return None;
            }
            // Fewer than eight bytes left: the last word again (overlapping what was seen),
            // minus the bytes already reported; a whole short haystack is padded instead,
            // with a byte that is neither needle.
            let done = self.next;
            self.next = len;
            if let Some(w) = len.checked_sub(8).and_then(|b| word_at(self.hay, b)) {
                self.base = len - 8;
                let seen = done - self.base;
                self.mask = self.hits(w) & (u64::MAX << (8 * seen));
            } else {
                let (a, b) = (self.rep as u8, self.rep_b as u8);
                let fill = if !a != b { !a } else { !a ^ 1 };
                let mut buf = [fill; 8];
                for (d, s) in buf.iter_mut().zip(self.hay) {
                    *d = *s;
                }
                self.base = 0;
                self.mask = self.hits(u64::from_le_bytes(buf));
            }
        }
    }
}

/// Every position of `needle` in `hay`, in order (see [`Positions`]).
#[inline]
pub fn positions(needle: u8, hay: &[u8]) -> Positions<'_> {
    let rep = LO.wrapping_mul(u64::from(needle));
    Positions {
        hay,
        rep,
        rep_b: rep,
        base: 0,
        mask: 0,
        next: 0,
    }
}

/// Every position of `a` or `b` in `hay`, in order (see [`Positions`]).
#[inline]
pub fn positions2(a: u8, b: u8, hay: &[u8]) -> Positions<'_, true> {
    Positions {
        hay,
        rep: LO.wrapping_mul(u64::from(a)),
        rep_b: LO.wrapping_mul(u64::from(b)),
        base: 0,
        mask: 0,
        next: 0,
    }
}

/// Positions of `pat` (two bytes or more, the first a blank) in `s`, in order. Walks the
/// occurrences of `pat`'s second byte (rarer than blanks in log text) in one pass.
#[inline]
pub fn find_spaced<'a>(s: &'a str, pat: &'static str) -> impl Iterator<Item = usize> + 'a {
    let b = s.as_bytes();
    let p = pat.as_bytes();
    let (lead, key, tail) = match p {
        [l, k, t @ ..] => (*l, *k, t),
        _ => (b' ', 0, &[][..]),
    };
    positions(key, b).filter_map(move |j| {
        let i = j.checked_sub(1)?;
        let ok = b.get(i) == Some(&lead) && b.get(j + 1..).is_some_and(|t| t.starts_with(tail));
        ok.then_some(i)
    })
}

/// A port: one or more ASCII digits (leading zeros allowed) worth at most 65535. What
/// `s.parse::<u16>()` accepts from an all-digit string, without its generic set-up.
#[inline]
pub fn port(s: &[u8]) -> Option<u16> {
    if s.is_empty() {
        return None;
    }
    let mut v: u32 = 0;
    for &c in s {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u32::from(d);
        if v > 65_535 {
            return None;
        }
    }
    u16::try_from(v).ok()
}

/// How many ASCII digits `s` starts with.
#[inline]
pub fn digits(s: &[u8]) -> usize {
    s.iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len())
}

/// `s` without its trailing spaces.
#[inline]
pub fn trim_end_spaces(s: &str) -> &str {
    let b = s.as_bytes();
    let mut n = b.len();
    while n > 0 && b[n - 1] == b' ' {
        n -= 1;
    }
    s.get(..n).unwrap_or(s)
}

/// `s.trim_end_matches([' ', '\t', '\r'])`, on bytes.
#[inline]
pub fn trim_end_blanks(s: &str) -> &str {
    let b = s.as_bytes();
    let mut n = b.len();
    while n > 0 && matches!(b[n - 1], b' ' | b'\t' | b'\r') {
        n -= 1;
    }
    s.get(..n).unwrap_or(s)
}

/// Position of the first `pat` in `s`. A match starts with `pat`'s first byte, never a UTF-8
/// continuation byte, so the index is a char boundary.
#[inline]
pub fn find(s: &str, pat: &str) -> Option<usize> {
    let (h, p) = (s.as_bytes(), pat.as_bytes());
    let Some((&first, rest)) = p.split_first() else {
        return Some(0);
    };
    let mut at = 0;
    loop {
        let i = at + find_byte(first, h.get(at..)?)?;
        if h.get(i + 1..).is_some_and(|t| t.starts_with(rest)) {
            return Some(i);
        }
        at = i + 1;
    }
}

/// Position of the last `pat` in `s` (see [`find`]).
#[inline]
pub fn rfind(s: &str, pat: &str) -> Option<usize> {
    let (h, p) = (s.as_bytes(), pat.as_bytes());
    let Some((&first, rest)) = p.split_first() else {
        return Some(h.len());
    };
    let mut end = h.len();
    loop {
        let i = rfind_byte(first, h.get(..end)?)?;
        if h.get(i + 1..).is_some_and(|t| t.starts_with(rest)) {
            return Some(i);
        }
        end = i;
    }
}

/// `str::split_once(pat)`, by [`find`].
#[inline]
pub fn split_once<'s>(s: &'s str, pat: &str) -> Option<(&'s str, &'s str)> {
    let i = find(s, pat)?;
    Some((s.get(..i)?, s.get(i + pat.len()..)?))
}

/// `str::rsplit_once(pat)`, by [`rfind`].
#[inline]
pub fn rsplit_once<'s>(s: &'s str, pat: &str) -> Option<(&'s str, &'s str)> {
    let i = rfind(s, pat)?;
    Some((s.get(..i)?, s.get(i + pat.len()..)?))
}

/// Whether `pat` occurs in `s`.
#[inline]
pub fn contains(s: &str, pat: &str) -> bool {
    find(s, pat).is_some()
}

/// Whether `s` holds a space.
#[inline]
pub fn has_space(s: &str) -> bool {
    find_byte(b' ', s.as_bytes()).is_some()
}

/// Splits at the first space: (word, rest after the space), like `text::word`.
#[inline]
pub fn word(s: &str) -> (&str, &str) {
    match find_byte(b' ', s.as_bytes()) {
        Some(i) => (s.get(..i).unwrap_or(s), s.get(i + 1..).unwrap_or("")),
        None => (s, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn agrees_with_std(h in "[a b:()é\u{80}]{0,70}", p in "[a b:()é]{0,4}") {
            prop_assert_eq!(find(&h, &p), h.find(p.as_str()));
            prop_assert_eq!(rfind(&h, &p), h.rfind(p.as_str()));
            prop_assert_eq!(split_once(&h, &p), h.split_once(p.as_str()));
            prop_assert_eq!(rsplit_once(&h, &p), h.rsplit_once(p.as_str()));
            prop_assert_eq!(word(&h), crate::text::word(&h));
            prop_assert_eq!(contains(&h, &p), h.contains(p.as_str()));
            prop_assert_eq!(has_space(&h), h.contains(' '));
            let b = h.as_bytes();
            for n in [b' ', b'a', b':', 0xc3, 0x80, 0xff, 0] {
                prop_assert_eq!(find_byte(n, b), b.iter().position(|&c| c == n));
                prop_assert_eq!(rfind_byte(n, b), b.iter().rposition(|&c| c == n));
                prop_assert_eq!(
                    find_either(n, b'(', b),
                    b.iter().position(|&c| c == n || c == b'(')
                );
            }
        }

        #[test]
        fn positions_and_ports(h in "[a b:()é\u{80}0-9]{0,70}", p in "[a b:()0-9]{0,7}") {
            let b = h.as_bytes();
            for n in [b' ', b'a', b':', 0xc3, 0x80, b'0'] {
                let want: Vec<usize> = (0..b.len()).filter(|&i| b[i] == n).collect();
                prop_assert_eq!(positions(n, b).collect::<Vec<_>>(), want);
            }
            for pat in [" from ", " a", " port ", " b:"] {
                let naive: Vec<usize> = (0..b.len()).filter(|&i| b[i..].starts_with(pat.as_bytes())).collect();
                prop_assert_eq!(find_spaced(&h, pat).collect::<Vec<_>>(), naive);
            }
            let pb = p.as_bytes();
            let std_port = if !pb.is_empty() && pb.iter().all(u8::is_ascii_digit) { p.parse::<u16>().ok() } else { None };
            prop_assert_eq!(port(pb), std_port);
            prop_assert_eq!(digits(pb), pb.iter().take_while(|c| c.is_ascii_digit()).count());
            prop_assert_eq!(trim_end_spaces(&h), h.trim_end_matches(' '));
            prop_assert_eq!(trim_end_blanks(&h), h.trim_end_matches([' ', '\t', '\r']));
        }

        #[test]
        fn any_bytes(b in proptest::collection::vec(any::<u8>(), 0..40), n in any::<u8>(), m in any::<u8>()) {
            prop_assert_eq!(find_byte(n, &b), b.iter().position(|&c| c == n));
            prop_assert_eq!(rfind_byte(n, &b), b.iter().rposition(|&c| c == n));
            prop_assert_eq!(find_either(n, m, &b), b.iter().position(|&c| c == n || c == m));
            let want: Vec<usize> = (0..b.len()).filter(|&i| b[i] == n).collect();
            prop_assert_eq!(positions(n, &b).collect::<Vec<_>>(), want);
            let want: Vec<usize> = (0..b.len()).filter(|&i| b[i] == n || b[i] == m).collect();
            prop_assert_eq!(positions2(n, m, &b).collect::<Vec<_>>(), want);
        }
    }
}
