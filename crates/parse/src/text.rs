//! Small scanning helpers shared by the decoders. All byte-oriented and allocation-free.

/// The text after `prefix`, if `s` starts with it.
#[inline]
pub fn after<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.strip_prefix(prefix)
}

/// Splits at the first space: (word, rest after the space).
#[inline]
pub fn word(s: &str) -> (&str, &str) {
    match memchr::memchr(b' ', s.as_bytes()) {
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
