//! Small scanning helpers shared by the decoders. All byte-oriented and allocation-free.

/// The text after `prefix`, if `s` starts with it.
#[inline]
pub fn after<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.strip_prefix(prefix)
}

/// Position of the first `needle` byte. Log fields are short: below a few dozen bytes a plain
/// loop beats memchr's vector setup and dispatch, which showed up in profiles.
#[inline]
pub fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    if hay.len() < 64 {
        hay.iter().position(|&c| c == needle)
    } else {
        memchr::memchr(needle, hay)
    }
}

/// Position of the last `needle` byte (see [`find_byte`]).
#[inline]
pub fn rfind_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    if hay.len() < 64 {
        hay.iter().rposition(|&c| c == needle)
    } else {
        memchr::memrchr(needle, hay)
    }
}

/// Every position of `needle`, in order (see [`find_byte`]).
#[inline]
pub fn find_byte_iter(needle: u8, hay: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let i = at + find_byte(needle, hay.get(at..)?)?;
        at = i + 1;
        Some(i)
    })
}

/// Every position of `needle`, last first (see [`find_byte`]).
#[inline]
pub fn rfind_byte_iter(needle: u8, hay: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut end = hay.len();
    std::iter::from_fn(move || {
        let i = rfind_byte(needle, hay.get(..end)?)?;
        end = i;
        Some(i)
    })
}

/// Splits at the first space: (word, rest after the space).
#[inline]
pub fn word(s: &str) -> (&str, &str) {
    match find_byte(b' ', s.as_bytes()) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// `key=value` from a PAM-style `k1=v1 k2=v2` list: the value of the first `key=` that starts a
/// field, up to the next space (empty values allowed).
pub fn kv<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let mut rest = s;
    while !rest.is_empty() {
        let (field, tail) = word(rest);
        if let Some(v) = field.strip_prefix(key).and_then(|f| f.strip_prefix('=')) {
            return Some(v);
        }
        rest = tail;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_fields() {
        let s = "logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=root";
        assert_eq!(kv(s, "rhost"), Some("192.0.2.1"));
        assert_eq!(kv(s, "user"), Some("root"));
        assert_eq!(kv(s, "ruser"), Some(""));
        assert_eq!(kv(s, "uid"), Some("0"));
        assert_eq!(kv(s, "nope"), None);
    }
}

/// Substring search tuned for the decoders' short literal patterns on short lines: `memchr`
/// for the first byte, then a compare. `str::find(&str)` builds a Two-Way searcher on every
/// call, which cost more than the search itself on the hot path.
pub trait FastFind {
    fn ffind(&self, pat: &str) -> Option<usize>;
    fn frfind(&self, pat: &str) -> Option<usize>;
    fn fcontains(&self, pat: &str) -> bool {
        self.ffind(pat).is_some()
    }
    fn fsplit_once<'s>(&'s self, pat: &str) -> Option<(&'s str, &'s str)>;
    fn frsplit_once<'s>(&'s self, pat: &str) -> Option<(&'s str, &'s str)>;
}

impl FastFind for str {
    #[inline]
    fn ffind(&self, pat: &str) -> Option<usize> {
        let (h, p) = (self.as_bytes(), pat.as_bytes());
        let Some((&first, rest)) = p.split_first() else {
            return Some(0);
        };
        // A match starts with `pat`'s first byte, never a UTF-8 continuation byte, so every
        // index returned is a char boundary.
        find_byte_iter(first, h).find(|&i| h.get(i + 1..).is_some_and(|t| t.starts_with(rest)))
    }

    #[inline]
    fn frfind(&self, pat: &str) -> Option<usize> {
        let (h, p) = (self.as_bytes(), pat.as_bytes());
        let Some((&first, rest)) = p.split_first() else {
            return Some(h.len());
        };
        rfind_byte_iter(first, h).find(|&i| h.get(i + 1..).is_some_and(|t| t.starts_with(rest)))
    }

    #[inline]
    fn fsplit_once<'s>(&'s self, pat: &str) -> Option<(&'s str, &'s str)> {
        let i = self.ffind(pat)?;
        Some((self.get(..i)?, self.get(i + pat.len()..)?))
    }

    #[inline]
    fn frsplit_once<'s>(&'s self, pat: &str) -> Option<(&'s str, &'s str)> {
        let i = self.frfind(pat)?;
        Some((self.get(..i)?, self.get(i + pat.len()..)?))
    }
}

#[cfg(test)]
mod fast_find_tests {
    use super::FastFind;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_std(h in "[a b:()é]{0,40}", p in "[a b:()é]{0,4}") {
            prop_assert_eq!(h.ffind(&p), h.find(p.as_str()));
            prop_assert_eq!(h.frfind(&p), h.rfind(p.as_str()));
            prop_assert_eq!(h.fsplit_once(&p), h.split_once(p.as_str()));
            prop_assert_eq!(h.frsplit_once(&p), h.rsplit_once(p.as_str()));
            let b = h.as_bytes();
            let all: Vec<usize> = (0..b.len()).filter(|&i| b[i] == b' ').collect();
            prop_assert_eq!(super::find_byte_iter(b' ', b).collect::<Vec<_>>(), all.clone());
            let mut rev = all;
            rev.reverse();
            prop_assert_eq!(super::rfind_byte_iter(b' ', b).collect::<Vec<_>>(), rev);
        }
    }
}
