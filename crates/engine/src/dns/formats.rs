//! The list formats people download, read line by line into a [`DomainSet`] and an
//! [`IpSet`]. A line that cannot be read is an error with its file:line, counted and skipped;
//! nothing in a list is fatal. Rules that are valid but mean nothing to a DNS check (AdBlock
//! cosmetic and exception rules, a hosts file's `localhost`, an RPZ zone's own SOA/NS) are
//! ignored and counted by kind, so a report can say so.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::dns::domain_set::{DomainSet, DomainSetBuilder, Inserted};
use crate::dns::ip_set::{IpSet, Net};
use crate::dns::name::{normalise_into, NameError};

/// A list's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `0.0.0.0 evil.com` (`127.0.0.1`, `::`, several names per line, `#` comments).
    Hosts,
    /// One domain per line, `#` comments.
    Domains,
    /// dnsmasq configuration: `address=/evil.com/…`, `server=/evil.com/…`, `local=/evil.com/`.
    Dnsmasq,
    /// AdBlock/AdGuard network rules `||evil.com^` (options after `$` ignored).
    Adblock,
    /// A Response Policy Zone file: `evil.com CNAME .`, `*.evil.com CNAME .`, `$ORIGIN`,
    /// `rpz-ip` triggers as addresses.
    Rpz,
    /// IP addresses and CIDR networks, one per line, `#`/`;` comments.
    Ip,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Hosts,
        Format::Domains,
        Format::Dnsmasq,
        Format::Adblock,
        Format::Rpz,
        Format::Ip,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Hosts => "hosts",
            Format::Domains => "domains",
            Format::Dnsmasq => "dnsmasq",
            Format::Adblock => "adblock",
            Format::Rpz => "rpz",
            Format::Ip => "ip",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<_> = Format::ALL.iter().map(|f| f.as_str()).collect();
                format!("unknown list format {s:?} (one of {})", all.join(", "))
            })
    }
}

/// A line that could not be read: `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// How many line errors a report keeps word for word (all are counted).
pub const MAX_REPORTED_ERRORS: usize = 20;

/// What reading one list found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The format read (named by the config, or detected).
    pub format: Option<Format>,
    /// Whether the format was detected rather than named.
    pub detected: bool,
    pub lines: usize,
    /// Distinct names and networks listed.
    pub domains: usize,
    pub ips: usize,
    /// Entries listed again (the same name twice, `a.com` and `*.a.com`, two RPZ records).
    pub duplicates: usize,
    /// Lines or names that could not be read: all counted, the first
    /// [`MAX_REPORTED_ERRORS`] kept in `errors`.
    pub invalid: usize,
    pub errors: Vec<LineError>,
    /// Rules skipped on purpose, by kind (`AdBlock exception rule (@@…)`: 3).
    pub ignored: Vec<(&'static str, usize)>,
}

impl LoadReport {
    fn error(&mut self, file: &str, line: usize, message: impl fmt::Display) {
        self.invalid += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(LineError {
                file: file.to_owned(),
                line,
                message: message.to_string(),
            });
        }
    }

    fn ignore(&mut self, why: &'static str) {
        match self.ignored.iter_mut().find(|(w, _)| *w == why) {
            Some((_, n)) => *n += 1,
            None => self.ignored.push((why, 1)),
        }
    }

    /// How many rules of kind `why` were ignored.
    pub fn ignored(&self, why: &str) -> usize {
        self.ignored
            .iter()
            .find(|(w, _)| *w == why)
            .map_or(0, |(_, n)| *n)
    }

    /// All ignored rules.
    pub fn ignored_total(&self) -> usize {
        self.ignored.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = self.format.map_or("?", Format::as_str);
        write!(
            f,
            "{format}{}, {} lines: {} domains, {} IP networks",
            if self.detected { " (detected)" } else { "" },
            self.lines,
            self.domains,
            self.ips
        )?;
        if self.duplicates > 0 {
            write!(f, ", {} duplicates", self.duplicates)?;
        }
        if self.invalid > 0 {
            write!(f, ", {} invalid", self.invalid)?;
        }
        for (why, n) in &self.ignored {
            write!(f, ", {n} ignored ({why})")?;
        }
        Ok(())
    }
}

/// A list read from text: its sets and the report.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub domains: DomainSet,
    pub ips: IpSet,
    pub report: LoadReport,
}

/// Reads `text` (the contents of `file`, named in errors) as `format`, or as the format
/// [`detect`] finds.
pub fn parse(file: &str, text: &str, format: Option<Format>) -> Parsed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (format, detected) = match format {
        Some(f) => (f, false),
        None => (detect(text), true),
    };
    // Sized for a name a line: the table never grows while a list loads.
    let lines_in = text.bytes().filter(|&b| b == b'\n').count() + 1;
    let domains = match format {
        Format::Ip => DomainSetBuilder::default(),
        _ => DomainSetBuilder::with_capacity(lines_in),
    };
    let mut r = Reader {
        file,
        domains,
        ips: IpSet::default(),
        buf: Vec::new(),
        report: LoadReport {
            format: Some(format),
            detected,
            ..LoadReport::default()
        },
    };
    let mut rpz = Rpz::default();
    let mut lines = lines(text).peekable();
    while let Some((n, line)) = lines.next() {
        r.report.lines = n;
        match format {
            Format::Hosts => r.hosts(n, line),
            Format::Domains => r.domains_line(n, line),
            Format::Dnsmasq => r.dnsmasq(n, line),
            Format::Adblock => r.adblock(n, line),
            Format::Ip => r.ip_line(n, line),
            Format::Rpz => {
                // A record in parentheses spans lines (an SOA, usually): join them.
                // Each line's comment goes before joining: it ends at its own line's end.
                let mut joined = Cow::Borrowed(line);
                while open_parens(&joined) {
                    match lines.next() {
                        Some((m, next)) => {
                            r.report.lines = m;
                            joined =
                                Cow::Owned(format!("{} {}", rpz_code(&joined), rpz_code(next)));
                        }
                        None => break,
                    }
                }
                rpz.line(&mut r, n, &joined);
            }
        }
    }
    r.report.domains = r.domains.len();
    r.report.ips = r.ips.len();
    Parsed {
        domains: r.domains.build(),
        ips: r.ips,
        report: r.report,
    }
}

/// Numbered lines, `\r\n` or `\n`.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !(l.is_empty()))
}

/// The format most of the first content lines have.
pub fn detect(text: &str) -> Format {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut votes = [0usize; 6];
    let mut seen = 0;
    for (_, line) in lines(text) {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let vote = if t.starts_with("[Adblock")
            || t.starts_with("||")
            || t.starts_with("@@")
            || t.starts_with('!')
            || cosmetic(t)
        {
            Format::Adblock
        } else if t.starts_with('#') {
            continue;
        } else if t.starts_with("address=/")
            || t.starts_with("server=/")
            || t.starts_with("local=/")
        {
            Format::Dnsmasq
        } else {
            let mut words = t.split_whitespace();
            let first = words.next().unwrap_or("");
            let more = words
                .next()
                .is_some_and(|w| !w.starts_with('#') && !w.starts_with(';'));
            if host_ip(first).is_some() && more {
                Format::Hosts
            } else if t.starts_with(';') || t.starts_with('$') || rr_type(t).is_some() {
                Format::Rpz
            } else if first.parse::<Net>().is_ok() {
                Format::Ip
            } else {
                Format::Domains
            }
        };
        votes[vote as usize] += 1;
        seen += 1;
        if seen == 100 {
            break;
        }
    }
    // Ties go to the earlier format in the enum's order; none at all is a domain list.
    let mut best = Format::Domains;
    for f in Format::ALL {
        if votes[f as usize] > votes[best as usize] {
            best = f;
        }
    }
    best
}

/// An RPZ/zone record type among a line's words (after the owner, TTL and class).
fn rr_type(line: &str) -> Option<&str> {
    line.split_whitespace().skip(1).take(3).find(|w| {
        matches!(
            w.to_ascii_uppercase().as_str(),
            "CNAME" | "SOA" | "NS" | "A" | "AAAA" | "TXT"
        )
    })
}

/// An AdBlock element-hiding (cosmetic) rule: `##`, `#@#`, `#?#`, `#$#`, `#%#`.
fn cosmetic(line: &str) -> bool {
    ["##", "#@#", "#?#", "#$#", "#%#", "#@?#", "#@$#"]
        .iter()
        .any(|m| line.contains(m))
}

/// A hosts file's address (`fe80::1%lo0` has a zone).
fn host_ip(word: &str) -> Option<IpAddr> {
    word.split('%').next().and_then(|a| a.parse().ok())
}

/// Names a hosts file maps for the machine itself, not to block anything.
const LOCAL_NAMES: [&str; 11] = [
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
];

const IGNORED_LOCAL: &str = "hosts file's own names (localhost …)";
const IGNORED_COSMETIC: &str = "AdBlock cosmetic rule (##…), not a DNS rule";
const IGNORED_EXCEPTION: &str = "AdBlock exception rule (@@…): allow rules are not applied";
const IGNORED_BADFILTER: &str = "AdBlock $badfilter rule";
const IGNORED_NOT_DNS: &str = "AdBlock rule that is not a whole domain (path, regex, pattern)";
const IGNORED_DNSMASQ: &str = "dnsmasq option that lists no domain";
const IGNORED_APEX: &str = "RPZ zone's own records (SOA, NS)";
const IGNORED_PASSTHRU: &str = "RPZ passthru rule (an allow rule, not applied)";
const IGNORED_TRIGGER: &str = "RPZ client-IP, NSIP or NSDNAME trigger";

struct Reader<'a> {
    file: &'a str,
    domains: DomainSetBuilder,
    ips: IpSet,
    buf: Vec<u8>,
    report: LoadReport,
}

/// The line up to its first `#` (hosts, domains and IP lists).
fn before_hash(line: &str) -> &str {
    line.split('#').next().unwrap_or("")
}

impl Reader<'_> {
    fn error(&mut self, n: usize, message: impl fmt::Display) {
        self.report.error(self.file, n, message);
    }

    fn name(&mut self, n: usize, raw: &str) {
        match normalise_into(raw, &mut self.buf) {
            Ok(how) => match self.domains.insert(&self.buf, how.subdomains_only) {
                Inserted::New => {}
                Inserted::Duplicate => self.report.duplicates += 1,
                Inserted::Full => self.error(n, "the list is full (2 GiB of names)"),
            },
            Err(e) => self.name_error(n, raw, e),
        }
    }

    fn name_error(&mut self, n: usize, raw: &str, e: NameError) {
        let shown: String = raw.chars().take(80).collect();
        self.error(n, format_args!("{shown:?}: {e}"));
    }

    fn net(&mut self, net: Net) {
        if !self.ips.insert(net) {
            self.report.duplicates += 1;
        }
    }

    fn hosts(&mut self, n: usize, line: &str) {
        let mut words = before_hash(line).split_whitespace();
        let Some(first) = words.next() else { return };
        if host_ip(first).is_none() {
            return self.error(
                n,
                format_args!("{first:?} is not an address (hosts format: ADDRESS NAME…)"),
            );
        }
        let mut any = false;
        for w in words {
            any = true;
            if LOCAL_NAMES.iter().any(|l| l.eq_ignore_ascii_case(w)) || host_ip(w).is_some() {
                self.report.ignore(IGNORED_LOCAL);
            } else {
                self.name(n, w);
            }
        }
        if !any {
            self.error(n, "an address without a name");
        }
    }

    fn domains_line(&mut self, n: usize, line: &str) {
        let mut words = before_hash(line).split_whitespace();
        let Some(first) = words.next() else { return };
        if words.next().is_some() {
            return self.error(n, "more than one word (domains format: one name per line)");
        }
        self.name(n, first);
    }

    fn ip_line(&mut self, n: usize, line: &str) {
        let line = line.split([';', '#']).next().unwrap_or("");
        let Some(first) = line.split_whitespace().next() else {
            return;
        };
        match first.parse::<Net>() {
            Ok(net) => self.net(net),
            Err(e) => self.error(n, e),
        }
    }

    fn dnsmasq(&mut self, n: usize, line: &str) {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            return;
        }
        let rest = ["address=/", "server=/", "local=/"]
            .iter()
            .find_map(|p| t.strip_prefix(p));
        let Some(rest) = rest else {
            if t.contains('=') || t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return self.report.ignore(IGNORED_DNSMASQ);
            }
            return self.error(
                n,
                "not a dnsmasq option (address=/NAME/…, server=/NAME/…, local=/NAME/)",
            );
        };
        // `/a.com/b.com/target`: every part but the last is a domain.
        let Some((names, _target)) = rest.rsplit_once('/') else {
            return self.error(n, "no closing '/' after the domain");
        };
        if names.is_empty() {
            return self.error(n, "no domain between the slashes");
        }
        for name in names.split('/') {
            if name == "#" {
                // dnsmasq's `#` is every domain: not a list entry.
                self.error(n, "'#' (every domain) is not a listed domain");
            } else {
                self.name(n, name);
            }
        }
    }

    fn adblock(&mut self, n: usize, line: &str) {
        let t = line.trim();
        if t.is_empty() || t.starts_with('!') || t.starts_with('[') {
            return;
        }
        if cosmetic(t) {
            return self.report.ignore(IGNORED_COSMETIC);
        }
        if t.starts_with('#') {
            return;
        }
        if t.starts_with("@@") {
            return self.report.ignore(IGNORED_EXCEPTION);
        }
        let Some(rule) = t.strip_prefix("||") else {
            // AdGuard DNS lists also take hosts lines and bare names.
            let mut words = t.split_whitespace();
            let first = words.next().unwrap_or("");
            if host_ip(first).is_some() {
                return self.hosts(n, t);
            }
            if words.next().is_none() && normalise_into(first, &mut self.buf).is_ok() {
                return self.name(n, first);
            }
            return self.report.ignore(IGNORED_NOT_DNS);
        };
        let (pattern, options) = match rule.split_once('$') {
            Some((p, o)) => (p, o),
            None => (rule, ""),
        };
        if options.split(',').any(|o| o.trim() == "badfilter") {
            return self.report.ignore(IGNORED_BADFILTER);
        }
        let name = pattern
            .strip_suffix("^|")
            .or_else(|| pattern.strip_suffix('^'))
            .unwrap_or(pattern);
        if name.contains(['/', '^', '|', '*', ':']) {
            return self.report.ignore(IGNORED_NOT_DNS);
        }
        self.name(n, name);
    }
}

/// Whether a zone-file line opens more parentheses than it closes (outside its comment).
fn open_parens(line: &str) -> bool {
    let code = rpz_code(line);
    code.matches('(').count() > code.matches(')').count()
}

/// A zone-file line without its `;` comment (a `;` inside quotes is text).
fn rpz_code(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

/// The state an RPZ file carries from line to line.
#[derive(Default)]
struct Rpz {
    /// `$ORIGIN`, normalised (no trailing dot); `None` for the root or none given.
    origin: Option<String>,
    /// The owner of the previous record, for a line that starts with blanks.
    last_owner: Option<String>,
}

impl Rpz {
    fn line(&mut self, r: &mut Reader<'_>, n: usize, line: &str) {
        let code = rpz_code(line).replace(['(', ')'], " ");
        let mut words = code.split_whitespace();
        let Some(first) = words.next() else { return };
        if first.eq_ignore_ascii_case("$ORIGIN") {
            let Some(o) = words.next() else {
                return r.error(n, "$ORIGIN without a name");
            };
            if o == "." {
                self.origin = None;
                return;
            }
            let mut buf = Vec::new();
            match normalise_into(o, &mut buf) {
                Ok(_) => self.origin = Some(String::from_utf8_lossy(&buf).into_owned()),
                Err(e) => r.name_error(n, o, e),
            }
            return;
        }
        if first.eq_ignore_ascii_case("$TTL") {
            return;
        }
        if first.starts_with('$') {
            return r.error(
                n,
                format_args!("{first} is not supported (only $ORIGIN and $TTL)"),
            );
        }
        let continued = line.starts_with([' ', '\t']);
        let owner = if continued {
            match &self.last_owner {
                Some(o) => o.clone(),
                None => return r.error(n, "a record without an owner name"),
            }
        } else {
            first.to_owned()
        };
        let mut rest: Vec<&str> = if continued {
            code.split_whitespace().collect()
        } else {
            words.collect()
        };
        // TTL and class, in either order, before the type.
        while let Some(w) = rest.first() {
            let class = ["IN", "CH", "HS", "CS", "ANY"]
                .iter()
                .any(|c| c.eq_ignore_ascii_case(w));
            if class || w.starts_with(|c: char| c.is_ascii_digit()) {
                rest.remove(0);
            } else {
                break;
            }
        }
        self.last_owner = Some(owner.clone());
        let Some(rtype) = rest.first().map(|t| t.to_ascii_uppercase()) else {
            return r.error(n, "no record type");
        };
        let Some(trigger) = self.trigger(&owner) else {
            return r.report.ignore(IGNORED_APEX);
        };
        let trigger = match trigger {
            Ok(t) => t,
            Err(e) => return r.error(n, e),
        };
        if rtype == "CNAME"
            && rest
                .get(1)
                .is_some_and(|t| t.eq_ignore_ascii_case("rpz-passthru."))
        {
            return r.report.ignore(IGNORED_PASSTHRU);
        }
        if rtype == "SOA" || rtype == "NS" {
            return r.error(n, format_args!("{rtype} below the zone's apex"));
        }
        let labels: Vec<&str> = trigger.rsplit('.').collect();
        match labels.first().map(|l| l.to_ascii_lowercase()).as_deref() {
            Some("rpz-ip") => match rpz_ip(&labels[1..]) {
                Some(net) => r.net(net),
                None => r.error(
                    n,
                    format_args!(
                        "{trigger:?} is not an rpz-ip trigger (PREFIX.reversed-address.rpz-ip)"
                    ),
                ),
            },
            Some("rpz-client-ip" | "rpz-nsip" | "rpz-nsdname") => r.report.ignore(IGNORED_TRIGGER),
            _ => r.name(n, &trigger),
        }
    }

    /// The trigger an owner name stands for (the owner less `$ORIGIN`); `None` for the apex.
    fn trigger(&self, owner: &str) -> Option<Result<String, String>> {
        let origin = self.origin.as_deref();
        if owner == "@" {
            return None;
        }
        let absolute = owner.ends_with('.');
        let bare = owner
            .strip_suffix('.')
            .unwrap_or(owner)
            .to_ascii_lowercase();
        let Some(origin) = origin else {
            return Some(Ok(bare));
        };
        if !absolute {
            return Some(Ok(bare));
        }
        if bare == origin {
            return None;
        }
        match bare.strip_suffix(origin).and_then(|s| s.strip_suffix('.')) {
            Some(t) => Some(Ok(t.to_owned())),
            None => Some(Err(format!(
                "{owner:?} is outside the zone ($ORIGIN {origin}.)"
            ))),
        }
    }
}

/// An `rpz-ip` trigger's labels after `rpz-ip`, from the right: the prefix length, then the
/// address's labels reversed (`32.4.3.2.1` is 1.2.3.4/32; IPv6 groups, `zz` for `::`).
fn rpz_ip(labels_from_right: &[&str]) -> Option<Net> {
    // From the right: the address's first group … its last, then the prefix length.
    let (prefix, parts) = labels_from_right.split_last()?;
    let prefix: u8 = prefix.parse().ok()?;
    let ip: IpAddr = if parts.len() == 4 && parts.iter().all(|p| p.parse::<u8>().is_ok()) {
        parts.join(".").parse().ok()?
    } else {
        let mut text = parts
            .iter()
            .map(|p| if p.eq_ignore_ascii_case("zz") { "" } else { p })
            .collect::<Vec<_>>()
            .join(":");
        // `zz` first or last stands for a leading or trailing `::`.
        if text.starts_with(':') && !text.starts_with("::") {
            text.insert(0, ':');
        }
        if text.ends_with(':') && !text.ends_with("::") {
            text.push(':');
        }
        text.parse().ok()?
    };
    let full = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= full).then(|| Net::new(ip, prefix))
}

#[cfg(test)]
mod tests;
