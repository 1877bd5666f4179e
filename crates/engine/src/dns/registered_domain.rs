//! The registered (base) domain of a DNS name: the public suffix and one label more
//! (`a.b.co.uk` → `b.co.uk`, `x.github.io` → `x.github.io`), from the public suffix list
//! compiled into the `psl` crate. It fills `dns.question.registered_domain` and keys the
//! heuristics' per-client state.

/// The registered domain of `name` (lower case, no trailing dot, as `Dns::question_name`
/// holds it; a trailing dot is tolerated), a suffix of `name` itself. `None` for the root, a
/// bare public suffix (`com`, `co.uk`) and names that are not ASCII. A name under a suffix
/// the list does not know (`wpad.home`, `printer.lan`) takes its last label as the suffix,
/// the list's default rule.
pub fn registered_domain(name: &str) -> Option<&str> {
    split(name).map(|r| r.domain)
}

/// A registered domain and whether the list knows its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered<'n> {
    /// The registered domain, a suffix of the name.
    pub domain: &'n str,
    /// Whether the public suffix list names its suffix (`com`, `co.uk`, `github.io`); false
    /// for private and made-up ones (`lan`, `home`, `corp`), whose names are internal.
    pub known_suffix: bool,
    /// Whether that suffix is from the list's private section: a provider's domain under
    /// which its customers get names (`github.io`, `cloudfront.net`, `ddns.net`).
    pub private_suffix: bool,
}

impl<'n> Registered<'n> {
    /// The label a registrar's customer chose: the registered label under an ICANN suffix
    /// (`example` of `www.example.co.uk`), the provider's own under a private one
    /// (`cloudfront` of `d228z91au11ukj.cloudfront.net`, whose first label the provider
    /// generated).
    pub fn owner_label(&self) -> &'n str {
        let mut labels = self.domain.split('.');
        let first = labels.next().unwrap_or("");
        if self.private_suffix {
            labels.next().unwrap_or(first)
        } else {
            first
        }
    }
}

/// [`registered_domain`] and whether its suffix is a known public one.
pub fn split(name: &str) -> Option<Registered<'_>> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || !name.is_ascii() {
        return None;
    }
    let d = psl::domain(name.as_bytes())?;
    let len = d.as_bytes().len();
    // The domain psl returns is a suffix of the bytes it was given: slice the input rather
    // than copy it.
    let domain = name.get(name.len().checked_sub(len)?..)?;
    Some(Registered {
        domain,
        known_suffix: d.suffix().is_known(),
        private_suffix: d.suffix().typ() == Some(psl::Type::Private),
    })
}

/// The label left of the public suffix in a registered domain (`b` of `b.co.uk`).
pub fn registered_label(registered: &str) -> &str {
    registered.split('.').next().unwrap_or(registered)
}

/// The part of `name` left of its registered domain, without the joining dot (`a.b` of
/// `a.b.example.com`), empty when the name is the registered domain.
pub fn subdomain<'n>(name: &'n str, registered: &str) -> &'n str {
    let name = name.strip_suffix('.').unwrap_or(name);
    match name.strip_suffix(registered) {
        // Only a whole-label suffix: `notexample.com` has no subdomain of `example.com`.
        Some(rest) => rest.strip_suffix('.').unwrap_or(""),
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_domains_follow_the_public_suffix_list() {
        for (name, want) in [
            ("a.b.co.uk", Some("b.co.uk")),
            ("b.co.uk", Some("b.co.uk")),
            ("co.uk", None),
            ("com", None),
            ("", None),
            ("www.example.com", Some("example.com")),
            ("www.example.com.", Some("example.com")),
            ("6dde0175375169c68f.dnsc.r-1x.com", Some("r-1x.com")),
            ("foo.github.io", Some("foo.github.io")),
            ("a.foo.github.io", Some("foo.github.io")),
            ("www.baidu.com.cn", Some("baidu.com.cn")),
            ("wpad.home", Some("wpad.home")),
            ("_homekit._tcp.local", Some("_tcp.local")),
            ("bücher.de", None),
            ("www.xn--bcher-kva.de", Some("xn--bcher-kva.de")),
        ] {
            assert_eq!(registered_domain(name), want, "{name}");
        }
    }

    #[test]
    fn suffixes_the_list_does_not_know_are_flagged() {
        assert!(split("www.example.com").is_some_and(|r| r.known_suffix));
        assert!(split("x.foo.github.io").is_some_and(|r| r.known_suffix));
        assert!(split("printer.lan").is_some_and(|r| !r.known_suffix));
        let owner = |n| split(n).map(|r| r.owner_label());
        assert_eq!(owner("d228z91au11ukj.cloudfront.net"), Some("cloudfront"));
        assert_eq!(owner("www.example.co.uk"), Some("example"));
        assert_eq!(owner("x.foo.github.io"), Some("github"));
    }

    #[test]
    fn labels_and_subdomains() {
        assert_eq!(registered_label("b.co.uk"), "b");
        assert_eq!(subdomain("a.b.example.com", "example.com"), "a.b");
        assert_eq!(subdomain("example.com", "example.com"), "");
        assert_eq!(subdomain("x.example.com.", "example.com"), "x");
        assert_eq!(subdomain("notexample.com", "example.com"), "");
    }
}
