//! Domain names as the lists hold them: lower-case ASCII, no trailing dot, internationalised
//! names in their punycode (`xn--…`) form, which is what a query carries on the wire.

use std::fmt;

/// The longest name DNS carries in text form (RFC 1035: 255 octets on the wire).
pub const MAX_NAME: usize = 253;
/// The longest label.
pub const MAX_LABEL: usize = 63;

/// Why a list's name was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    Empty,
    TooLong,
    EmptyLabel,
    LabelTooLong,
    /// A character no host name has (`/`, `@`, a space …).
    BadChar(char),
    /// Unicode outside ASCII: the list must give the name in punycode (`xn--…`).
    NotAscii,
    /// An address, or a name whose last label is all digits (no top-level domain is).
    NumericTld,
    /// `*` anywhere but a leading `*.`.
    Wildcard,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("empty name"),
            NameError::TooLong => write!(f, "name longer than {MAX_NAME} characters"),
            NameError::EmptyLabel => f.write_str("empty label (two dots, or a leading dot)"),
            NameError::LabelTooLong => write!(f, "label longer than {MAX_LABEL} characters"),
            NameError::BadChar(c) => write!(f, "{c:?} is not allowed in a domain name"),
            NameError::NotAscii => {
                f.write_str("not ASCII: internationalised names must be listed in punycode (xn--…)")
            }
            NameError::NumericTld => {
                f.write_str("an address or a numeric top-level label, not a domain")
            }
            NameError::Wildcard => {
                f.write_str("'*' is only allowed as a whole leading label (*.example.com)")
            }
        }
    }
}

/// A normalised name: `name` (lower case, no trailing dot) and whether it was written
/// `*.name`, which lists the subdomains of `name` but not `name` itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalised {
    pub subdomains_only: bool,
}

/// Checks `raw` and writes its normal form into `out` (cleared first).
pub fn normalise_into(raw: &str, out: &mut Vec<u8>) -> Result<Normalised, NameError> {
    out.clear();
    let mut s = raw.as_bytes();
    let subdomains_only = s.starts_with(b"*.");
    if subdomains_only {
        s = &s[2..];
    }
    if let Some(rest) = s.strip_suffix(b".") {
        s = rest;
    }
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if s.len() > MAX_NAME {
        return Err(NameError::TooLong);
    }
    let mut label = 0usize;
    let mut label_digits = true;
    for &b in s {
        match b {
            b'.' => {
                if label == 0 {
                    return Err(NameError::EmptyLabel);
                }
                label = 0;
                label_digits = true;
                out.push(b);
                continue;
            }
            b'a'..=b'z' | b'-' | b'_' => label_digits = false,
            b'0'..=b'9' => {}
            b'A'..=b'Z' => label_digits = false,
            b'*' => return Err(NameError::Wildcard),
            0x80.. => return Err(NameError::NotAscii),
            _ => return Err(NameError::BadChar(b as char)),
        }
        label += 1;
        if label > MAX_LABEL {
            return Err(NameError::LabelTooLong);
        }
        out.push(b.to_ascii_lowercase());
    }
    if label == 0 {
        return Err(NameError::EmptyLabel);
    }
    if label_digits {
        return Err(NameError::NumericTld);
    }
    Ok(Normalised { subdomains_only })
}

/// The normal form of `raw` as a `String` (tests, configs; the loaders reuse a buffer).
pub fn normalise(raw: &str) -> Result<(String, Normalised), NameError> {
    let mut out = Vec::with_capacity(raw.len());
    let n = normalise_into(raw, &mut out)?;
    // Only ASCII bytes were pushed.
    Ok((String::from_utf8_lossy(&out).into_owned(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        normalise(raw)
            .map(|(n, _)| n)
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn lower_case_without_the_trailing_dot() {
        assert_eq!(ok("Evil.EXAMPLE.com."), "evil.example.com");
        assert_eq!(ok("xn--bcher-kva.example"), "xn--bcher-kva.example");
        assert_eq!(ok("_dmarc.example.com"), "_dmarc.example.com");
        assert_eq!(ok("zip"), "zip");
        assert_eq!(ok("1.2.3.4.in-addr.arpa"), "1.2.3.4.in-addr.arpa");
    }

    #[test]
    fn a_leading_star_lists_the_subdomains_only() {
        let (n, how) = normalise("*.Evil.com").expect("valid");
        assert_eq!(n, "evil.com");
        assert!(how.subdomains_only);
        assert!(!normalise("evil.com").expect("valid").1.subdomains_only);
    }

    #[test]
    fn invalid_names_say_why() {
        for (raw, e) in [
            ("", NameError::Empty),
            (".", NameError::Empty),
            ("a..b", NameError::EmptyLabel),
            (".a.b", NameError::EmptyLabel),
            ("a.b..", NameError::EmptyLabel),
            ("1.2.3.4", NameError::NumericTld),
            ("ex ample.com", NameError::BadChar(' ')),
            ("http://x.com", NameError::BadChar(':')),
            ("bücher.de", NameError::NotAscii),
            ("a.*.com", NameError::Wildcard),
            ("*", NameError::Wildcard),
        ] {
            assert_eq!(normalise(raw).map(|_| ()), Err(e), "{raw:?}");
        }
        assert_eq!(
            normalise(&format!("{}.com", "a".repeat(64))).map(|_| ()),
            Err(NameError::LabelTooLong)
        );
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(normalise(&long).map(|_| ()), Err(NameError::TooLong));
    }
}
