//! Windows Event XML → [`WinRecord`]: what `wevtutil qe Security /f:xml` writes (a stream of
//! `<Event xmlns=…>` elements, no root, no newline between them), `Get-WinEvent … ToXml()`
//! (one per line), an `<Events>` wrapper, pretty-printed events over several lines, and
//! events pasted from Event Viewer with its `- ` fold markers between the elements.
//!
//! It is also how an `.evtx` record is read: the `evtx` crate renders the record as XML and
//! [`read_event`] reads it, so the two inputs share one reader and cannot drift apart.
//!
//! A small hand-written reader rather than an XML crate: the schema is fixed and shallow, the
//! reader must be bounded ([`MAX_EVENT`] bytes, [`MAX_DEPTH`] levels) and must refuse what an
//! event never holds — a `<!DOCTYPE` (so no entity can be declared, let alone expanded) —
//! and no crate in the build already reads XML. The five predefined entities and character
//! references are decoded; attributes may come in any order and quoted either way; CDATA is
//! text; comments and processing instructions are skipped; `RenderingInfo` (the message
//! rendered in the reader's language) is ignored: the values in EventData are the facts.
//! One pass, no copy until a value is wanted: an element's content is sliced from the text
//! when it closes, and only the values a [`WinRecord`] keeps are unescaped and owned (this
//! is the hot path of `logward scan` over `.evtx` files).
//!
//! A malformed event is an [`XmlError`] (what and where); a stream goes on at the next
//! `<Event` ([`Splitter`]).

use std::borrow::Cow;
use std::fmt;

use logward_core::Timestamp;

use super::WinRecord;

/// The largest `<Event>` element read (from `<Event` to `</Event>`), in bytes. Real events
/// are a few KiB; PowerShell script blocks are cut by Windows at 32 KiB a record.
pub const MAX_EVENT: usize = 1 << 20;

/// The deepest element nesting read inside an event (UserData is the deepest real part,
/// about six levels).
pub const MAX_DEPTH: usize = 32;

/// Why an event could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text ended inside the event.
    Incomplete,
    /// No `</Event>` within [`MAX_EVENT`] bytes.
    TooLarge,
    /// Anything else (a mismatched tag, an unknown entity, a `<!DOCTYPE` …).
    Malformed(Cow<'static, str>),
}

/// A malformed or cut event: what, and at which byte of the event's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    pub kind: ErrorKind,
    /// Byte offset from the event's `<Event`.
    pub offset: usize,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Incomplete => write!(f, "Windows Event XML cut off at byte {}", self.offset),
            ErrorKind::TooLarge => {
                write!(f, "Windows Event XML: no </Event> within {MAX_EVENT} bytes")
            }
            ErrorKind::Malformed(what) => {
                write!(f, "Windows Event XML: {what} at byte {}", self.offset)
            }
        }
    }
}

impl std::error::Error for XmlError {}

/// Whether `text` begins like Event XML: after a byte-order mark, blanks and fold markers,
/// `<Event`, `<Events`, `<?xml` or an XML comment.
pub fn looks_like_xml(text: &[u8]) -> bool {
    let t = text.strip_prefix("\u{feff}".as_bytes()).unwrap_or(text);
    let start = t
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'-'))
        .unwrap_or(t.len());
    let t = &t[start..];
    t.starts_with(b"<?xml") || t.starts_with(b"<!--") || event_start_at(t, 0).is_some()
}

/// Reads the first `<Event>` element of `text`: the record (with its text in
/// [`WinRecord::original`]) and the byte just after its end. Reads at most [`MAX_EVENT`] bytes.
pub fn parse_event(text: &str) -> Result<(WinRecord, usize), XmlError> {
    match find_event(text.as_bytes(), 0) {
        Some(start) => parse_at(text, start),
        None => Err(XmlError {
            kind: ErrorKind::Malformed(Cow::Borrowed("no <Event> element")),
            offset: 0,
        }),
    }
}

/// Fills `rec` from a document that is one event (the `evtx` crate's rendering of a record):
/// an optional prolog (`<?xml?>`, comments, blanks), the `<Event>` element and nothing after
/// it but blanks and comments. Values already in `rec` (the `.evtx` reader's fallbacks: the
/// record header's id and time) stay where the document has none. The whole text is read
/// (it is in memory already); [`WinRecord::original`] is left as it is.
pub fn read_event(xml: &str, rec: &mut WinRecord) -> Result<(), XmlError> {
    read_event_from(xml, rec, &mut Vec::new())
}

/// [`read_event`] into a record [recycled](WinRecord::recycle), its values' strings taken
/// from `spare`: the `.evtx` reader's way, which allocates for the first records only.
pub fn read_event_from(
    xml: &str,
    rec: &mut WinRecord,
    spare: &mut Vec<(String, String)>,
) -> Result<(), XmlError> {
    let b = xml.as_bytes();
    let mut r = Reader::new(xml, 0, xml.len());
    let start = r.prolog()?;
    if event_start_at(b, start) != Some(true) {
        r.p = start;
        return Err(r.error("not one <Event> document"));
    }
    r.start = start;
    r.p = start;
    let end = r.event(rec, spare)?;
    r.p = end;
    if r.prolog()? != b.len() {
        return Err(r.error("not one <Event> document"));
    }
    Ok(())
}

/// `<Event` at `at`, followed by a blank, `>` or `/` (not `<Events`); `Some(false)` when the
/// text ends right after `<Event` (the next piece of a stream decides).
fn event_start_at(b: &[u8], at: usize) -> Option<bool> {
    if !b.get(at..)?.starts_with(b"<Event") {
        return None;
    }
    match b.get(at + 6) {
        None => Some(false),
        Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/') => Some(true),
        Some(_) => None,
    }
}

/// Whether `text` begins with an `<Event` start tag.
pub(crate) fn starts_event(text: &str) -> bool {
    event_start_at(text.as_bytes(), 0) == Some(true)
}

/// The next complete `<Event` start at or after `from`.
fn find_event(b: &[u8], from: usize) -> Option<usize> {
    let mut p = from;
    while let Some(i) = memchr::memmem::find(b.get(p..)?, b"<Event") {
        if event_start_at(b, p + i) == Some(true) {
            return Some(p + i);
        }
        p += i + 1;
    }
    None
}

/// Reads the `<Event>` element starting at `start` (which holds `<Event`): the record and
/// the byte after `</Event>`. Reads at most [`MAX_EVENT`] bytes.
fn parse_at(text: &str, start: usize) -> Result<(WinRecord, usize), XmlError> {
    let limit = text.len().min(start.saturating_add(MAX_EVENT));
    let mut r = Reader::new(text, start, limit);
    let mut rec = WinRecord::default();
    let end = r.event(&mut rec, &mut Vec::new())?;
    rec.original = Some(text[start..end].to_owned());
    Ok((rec, end))
}

/// An open element: its name as written, its attributes' text and where its content starts.
/// Values are sliced from the text when the element closes: nothing is copied before a
/// value is known to be wanted.
#[derive(Debug, Clone, Copy, Default)]
struct Open<'a> {
    name: &'a str,
    attrs: &'a str,
    start: usize,
}

/// Where in the event the children of the innermost open element are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    System,
    EventData,
    UserData,
    Other,
}

/// What is learnt while reading one event besides the record's own fields.
#[derive(Debug, Default)]
struct Seen {
    event_id: bool,
    /// Elements seen in EventData (Winlogbeat numbers unnamed `Data` by position).
    data: usize,
    /// Children of UserData seen (only the first one's leaves are values).
    user_children: usize,
}

/// The event reader: one pass over the text from `start`, no further than `limit`.
struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    p: usize,
    /// Where the event began (offsets in errors are from here).
    start: usize,
    /// Read no further than this.
    limit: usize,
    /// `limit` cuts the text: running into it means the event is too large.
    cut: bool,
}

impl<'a> Reader<'a> {
    fn new(s: &'a str, start: usize, limit: usize) -> Reader<'a> {
        Reader {
            s,
            b: s.as_bytes(),
            p: start,
            start,
            limit,
            cut: limit < s.len(),
        }
    }

    fn error(&self, what: &'static str) -> XmlError {
        self.error_owned(Cow::Borrowed(what))
    }

    fn error_owned(&self, what: Cow<'static, str>) -> XmlError {
        XmlError {
            kind: ErrorKind::Malformed(what),
            offset: self.p.saturating_sub(self.start),
        }
    }

    /// The text ended (or the size limit was reached) before the event did.
    fn eof(&self) -> XmlError {
        XmlError {
            kind: if self.cut {
                ErrorKind::TooLarge
            } else {
                ErrorKind::Incomplete
            },
            offset: self.limit - self.start,
        }
    }

    fn peek(&self, at: usize) -> Option<u8> {
        (at < self.limit).then(|| self.b[at])
    }

    /// The position of `pat` at or after `from`, within the limit.
    fn find(&self, from: usize, pat: &[u8]) -> Result<usize, XmlError> {
        self.b
            .get(from..self.limit)
            .and_then(|hay| memchr::memmem::find(hay, pat))
            .map(|i| from + i)
            .ok_or_else(|| self.eof())
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(self.p), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.p += 1;
        }
    }

    /// Blanks, processing instructions and comments from the cursor: where they end.
    fn prolog(&mut self) -> Result<usize, XmlError> {
        loop {
            self.skip_blanks();
            let rest = &self.b[self.p..self.limit];
            if rest.starts_with(b"<?") {
                self.p = self.find(self.p + 2, b"?>")? + 2;
            } else if rest.starts_with(b"<!--") {
                self.p = self.find(self.p + 4, b"-->")? + 3;
            } else {
                return Ok(self.p);
            }
        }
    }

    /// A name at the cursor (up to a blank, `>`, `/` or `=`).
    fn name(&mut self) -> Result<&'a str, XmlError> {
        let from = self.p;
        while let Some(c) = self.peek(self.p) {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/' | b'=' => break,
                b'<' | b'"' | b'\'' | b'&' => return Err(self.error("bad character in a name")),
                _ => self.p += 1,
            }
        }
        if self.p >= self.limit {
            return Err(self.eof());
        }
        if self.p == from {
            return Err(self.error("a tag without a name"));
        }
        Ok(&self.s[from..self.p])
    }

    /// The event element: its `<Event` is at the cursor. Fills `rec`; returns the byte after
    /// the element's end.
    fn event(
        &mut self,
        rec: &mut WinRecord,
        spare: &mut Vec<(String, String)>,
    ) -> Result<usize, XmlError> {
        let mut stack = [Open::default(); MAX_DEPTH];
        let mut depth = 0usize;
        let mut seen = Seen::default();
        loop {
            // Text between tags is sliced when its element closes.
            let Some(lt) = memchr::memchr(b'<', &self.b[self.p..self.limit]) else {
                return Err(self.eof());
            };
            let at = self.p + lt;
            self.p = at;
            match self.peek(at + 1) {
                Some(b'/') => {
                    self.p += 2;
                    let name = self.name()?;
                    self.skip_blanks();
                    match self.peek(self.p) {
                        Some(b'>') => self.p += 1,
                        Some(_) => return Err(self.error("junk in an end tag")),
                        None => return Err(self.eof()),
                    }
                    if depth == 0 {
                        return Err(self.error("an end tag outside the event"));
                    }
                    depth -= 1;
                    let open = stack[depth];
                    if open.name != name {
                        return Err(self
                            .error_owned(Cow::Owned(format!("</{name}> closes <{}>", open.name))));
                    }
                    let content = &self.s[open.start..at];
                    self.closed(rec, spare, &mut seen, &stack[..depth], open, content)?;
                    if depth == 0 {
                        return self.finish(&seen);
                    }
                }
                Some(b'!') => {
                    let rest = &self.b[at..self.limit];
                    if rest.starts_with(b"<!--") {
                        self.p = self.find(at + 4, b"-->")? + 3;
                    } else if rest.starts_with(b"<![CDATA[") {
                        // Its text is taken with the element's content.
                        self.p = self.find(at + 9, b"]]>")? + 3;
                    } else if b"<![CDATA[".starts_with(rest) || b"<!--".starts_with(rest) {
                        return Err(self.eof());
                    } else {
                        // `<!DOCTYPE`, `<!ENTITY` …: an event declares nothing.
                        return Err(self.error("a declaration (<!DOCTYPE, <!ENTITY) in an event"));
                    }
                }
                Some(b'?') => self.p = self.find(at + 2, b"?>")? + 2,
                Some(_) => {
                    self.p += 1;
                    let name = self.name()?;
                    let attrs_from = self.p;
                    let empty = self.attributes()?;
                    let attrs_to = self.p - if empty { 2 } else { 1 };
                    if depth == 0 && local(name) != "Event" {
                        return Err(self.error("the element is not <Event>"));
                    }
                    if depth == MAX_DEPTH {
                        return Err(self.error("elements nested too deep"));
                    }
                    let open = Open {
                        name,
                        attrs: &self.s[attrs_from..attrs_to],
                        start: self.p,
                    };
                    self.opened(&mut seen, &stack[..depth]);
                    if empty {
                        self.closed(rec, spare, &mut seen, &stack[..depth], open, "")?;
                        if depth == 0 {
                            return self.finish(&seen);
                        }
                    } else {
                        stack[depth] = open;
                        depth += 1;
                    }
                }
                None => return Err(self.eof()),
            }
        }
    }

    fn finish(&self, seen: &Seen) -> Result<usize, XmlError> {
        if !seen.event_id {
            return Err(self.error("no System/EventID"));
        }
        Ok(self.p)
    }

    /// Checks a start tag's attributes up to its `>` (or `/>`: then `true`): each a name, `=`
    /// and a quoted value without `<`. Their values are read only where one is wanted
    /// ([`get_attr`]).
    fn attributes(&mut self) -> Result<bool, XmlError> {
        loop {
            let before = self.p;
            self.skip_blanks();
            match self.peek(self.p) {
                None => return Err(self.eof()),
                Some(b'>') => {
                    self.p += 1;
                    return Ok(false);
                }
                Some(b'/') => {
                    return match self.peek(self.p + 1) {
                        Some(b'>') => {
                            self.p += 2;
                            Ok(true)
                        }
                        Some(_) => Err(self.error("`/` inside a tag")),
                        None => Err(self.eof()),
                    };
                }
                Some(_) if self.p == before => {
                    return Err(self.error("no blank before an attribute"));
                }
                Some(_) => {}
            }
            self.name()?;
            self.skip_blanks();
            match self.peek(self.p) {
                Some(b'=') => self.p += 1,
                Some(_) => return Err(self.error("an attribute without a value")),
                None => return Err(self.eof()),
            }
            self.skip_blanks();
            let quote = match self.peek(self.p) {
                Some(q @ (b'"' | b'\'')) => q,
                Some(_) => return Err(self.error("an unquoted attribute value")),
                None => return Err(self.eof()),
            };
            let from = self.p + 1;
            let end = self.find(from, &[quote])?;
            if memchr::memchr(b'<', &self.b[from..end]).is_some() {
                return Err(self.error("`<` in an attribute value"));
            }
            self.p = end + 1;
        }
    }

    /// A start tag under the open elements `path`: what it counts.
    fn opened(&self, seen: &mut Seen, path: &[Open<'a>]) {
        match (path.len(), section(path)) {
            (2, Section::EventData) => seen.data += 1,
            (2, Section::UserData) => seen.user_children += 1,
            _ => {}
        }
    }

    /// One element closed, with its raw `content`, under the open elements `path`: the
    /// value it completes.
    #[allow(clippy::too_many_arguments)]
    fn closed(
        &self,
        rec: &mut WinRecord,
        spare: &mut Vec<(String, String)>,
        seen: &mut Seen,
        path: &[Open<'a>],
        el: Open<'a>,
        content: &'a str,
    ) -> Result<(), XmlError> {
        let value = |c: &'a str| leaf_text(c).map_err(|what| self.error(what));
        let attr = |key: &str| get_attr(el.attrs, key).map_err(|what| self.error(what));
        match (path.len(), section(path)) {
            (2, Section::System) => match local(el.name) {
                "Provider" => {
                    if let Some(v) = attr("Name")?.or(attr("EventSourceName")?) {
                        set(&mut rec.provider, &v);
                    }
                }
                "TimeCreated" => {
                    if let Some(v) = attr("SystemTime")? {
                        let t = Timestamp::parse_rfc3339(v.trim().as_bytes())
                            .filter(|(_, used)| *used == v.trim().len())
                            .ok_or_else(|| self.error("TimeCreated/@SystemTime is not a time"))?;
                        rec.time = Some(t.0);
                    }
                }
                "Execution" => {
                    if let Some(p) = attr("ProcessID")?.and_then(|v| v.trim().parse().ok()) {
                        rec.process_id = Some(p);
                    }
                }
                "EventID" => {
                    let v = value(content)?.ok_or_else(|| self.error("EventID holds elements"))?;
                    rec.event_id = v
                        .trim()
                        .parse()
                        .map_err(|_| self.error("System/EventID is not a number"))?;
                    seen.event_id = true;
                }
                // A hex mask (`0x8010000000000000`); one that is not leaves the audit bits
                // unknown, as a record without Keywords.
                "Keywords" => {
                    if let Some(k) = value(content)?.and_then(|v| keywords(v.trim())) {
                        rec.keywords = k;
                    }
                }
                "EventRecordID" => {
                    if let Some(id) = value(content)?.and_then(|v| v.trim().parse().ok()) {
                        rec.record_id = Some(id);
                    }
                }
                "Channel" => {
                    if let Some(v) = value(content)? {
                        set(&mut rec.channel, v.trim());
                    }
                }
                "Computer" => {
                    if let Some(v) = value(content)? {
                        set(&mut rec.computer, v.trim());
                    }
                }
                _ => {}
            },
            (2, Section::EventData) => {
                // A value holding elements is not one: its text alone is kept.
                let v = value(content)?;
                let v = v.as_deref().unwrap_or_default();
                let local = local(el.name);
                match attr("Name")?.filter(|_| local == "Data") {
                    Some(n) => rec.push_data_from(&n, v, spare),
                    // Winlogbeat's name for an unnamed value: param and its position.
                    None if local == "Data" => {
                        rec.push_data_from(&format!("param{}", seen.data), v, spare);
                    }
                    // `Binary` and its kin: by element name.
                    None => rec.push_data_from(local, v, spare),
                }
            }
            (d, Section::UserData) if d > 2 && seen.user_children == 1 => {
                if let Some(v) = value(content)? {
                    rec.push_data_from(local(el.name), &v, spare);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Sets a field of the record, in the buffer it has.
fn set(field: &mut String, v: &str) {
    field.clear();
    field.push_str(v);
}

/// The section the children of the innermost open element of `path` belong to.
/// `System/Keywords`' mask, written in hex with `0x` (`0x8010000000000000`).
fn keywords(v: &str) -> Option<u64> {
    let hex = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X"))?;
    u64::from_str_radix(hex, 16).ok()
}

fn section(path: &[Open<'_>]) -> Section {
    match path.get(1).map(|o| local(o.name)) {
        Some("System") => Section::System,
        Some("EventData") => Section::EventData,
        Some("UserData") => Section::UserData,
        _ => Section::Other,
    }
}

/// `Data` of `e:Data`.
fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// The value of attribute `key` (without its namespace prefix) in a start tag's attributes,
/// already checked by [`Reader::attributes`].
fn get_attr<'a>(mut attrs: &'a str, key: &str) -> Result<Option<Cow<'a, str>>, &'static str> {
    loop {
        let Some(eq) = attrs.find('=') else {
            return Ok(None);
        };
        let name = attrs[..eq].trim();
        let after = attrs[eq + 1..].trim_start();
        let Some(q) = after.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
            return Ok(None);
        };
        let Some(len) = after[1..].find(q) else {
            return Ok(None);
        };
        if local(name) == key {
            return unescape(&after[1..1 + len]).map(Some);
        }
        attrs = &after[len + 2..];
    }
}

/// The text of an element: its text and CDATA with references resolved, comments and
/// processing instructions left out; `None` when it has child elements.
fn leaf_text(content: &str) -> Result<Option<Cow<'_, str>>, &'static str> {
    if memchr::memchr(b'<', content.as_bytes()).is_none() {
        return unescape(content).map(Some);
    }
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(lt) = rest.find('<') {
        out.push_str(&unescape(&rest[..lt])?);
        let tail = &rest[lt..];
        if let Some(cdata) = tail.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").ok_or("unterminated CDATA section")?;
            out.push_str(&cdata[..end]);
            rest = &cdata[end + 3..];
        } else if let Some(comment) = tail.strip_prefix("<!--") {
            rest = &comment[comment.find("-->").ok_or("unterminated comment")? + 3..];
        } else if let Some(pi) = tail.strip_prefix("<?") {
            rest = &pi[pi.find("?>").ok_or("unterminated processing instruction")? + 2..];
        } else {
            return Ok(None);
        }
    }
    out.push_str(&unescape(rest)?);
    Ok(Some(Cow::Owned(out)))
}

/// Decodes the predefined entities and character references; anything else is an error
/// (no DTD, so no other entity exists).
fn unescape(raw: &str) -> Result<Cow<'_, str>, &'static str> {
    let Some(first) = memchr::memchr(b'&', raw.as_bytes()) else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..first]);
    let mut rest = &raw[first..];
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let semi = after
            .bytes()
            .take(12)
            .position(|b| b == b';')
            .ok_or("an `&` that starts no entity")?;
        let name = &after[..semi];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) =
                    name.strip_prefix("#x").or_else(|| name.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    return Err("an entity other than &lt; &gt; &amp; &quot; &apos;");
                };
                code.and_then(char::from_u32)
                    .ok_or("a character reference to no character")?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// Cuts a stream of Event XML (fed in pieces of any size) into records: events may be
/// back to back, one per line, pretty-printed over many lines, inside `<Events>`, after an
/// `<?xml?>` declaration. A malformed event is an error and reading goes on at the next
/// `<Event`; text outside any event other than blanks, fold markers, declarations,
/// comments and the `<Events>` wrapper is an error too (it is reported, not dropped
/// silently). Holds at most one unfinished event ([`MAX_EVENT`] bytes) between pieces.
#[derive(Debug, Default)]
pub struct Splitter {
    buf: String,
    /// Bytes of `buf` already searched for an event's end without finding one.
    searched: usize,
    /// Text outside events was reported, or an event was malformed, since the last event
    /// read: what follows up to the next `<Event` is not reported again.
    quiet: bool,
}

impl Splitter {
    /// Adds a piece of the stream; the records (or errors) it completes go to `out`.
    pub fn push(&mut self, piece: &str, out: &mut Vec<Result<WinRecord, XmlError>>) {
        self.buf.push_str(piece);
        self.drain(false, out);
    }

    /// Adds a line and its newline.
    pub fn push_line(&mut self, line: &str, out: &mut Vec<Result<WinRecord, XmlError>>) {
        self.buf.push_str(line);
        self.buf.push('\n');
        self.drain(false, out);
    }

    /// End of the stream: an unfinished event is an error.
    pub fn finish(&mut self, out: &mut Vec<Result<WinRecord, XmlError>>) {
        self.drain(true, out);
        self.buf.clear();
        self.searched = 0;
        self.quiet = false;
    }

    /// Whether an event has begun and not ended.
    pub fn is_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    fn drain(&mut self, last: bool, out: &mut Vec<Result<WinRecord, XmlError>>) {
        let b = self.buf.as_bytes();
        let mut p = 0;
        let keep = loop {
            let Some(start) = find_event(b, p) else {
                // A piece may end inside `<Event`: keep what could still become one.
                let tail = if last { b.len() } else { partial_start(b, p) };
                if !self.quiet {
                    self.quiet = junk(&self.buf[p..tail], p, out);
                }
                break tail;
            };
            if !self.quiet {
                self.quiet = junk(&self.buf[p..start], p, out);
            }
            // Re-read an unfinished event only once its end may have come.
            if !last && self.buf.len() - start < MAX_EVENT {
                let from = self.searched.max(start).saturating_sub(8);
                if memchr::memmem::find(&b[from..], b"Event>").is_none() {
                    self.searched = b.len();
                    break start;
                }
            }
            match parse_at(&self.buf, start) {
                Ok((rec, end)) => {
                    out.push(Ok(rec));
                    p = end;
                    self.quiet = false;
                }
                Err(e) if e.kind == ErrorKind::Incomplete && !last => {
                    self.searched = b.len();
                    break start;
                }
                Err(e) => {
                    out.push(Err(e));
                    p = start + 1;
                    self.quiet = true;
                }
            }
        };
        if keep > 0 {
            self.buf.drain(..keep);
            self.searched = self.searched.saturating_sub(keep);
        }
        if self.buf.is_empty() {
            self.searched = 0;
        }
    }
}

/// Where a markup construct cut by the end of the piece begins (a `<` with no `>` after
/// it), else the end: it is kept for the next piece, up to [`MAX_EVENT`] bytes.
fn partial_start(b: &[u8], from: usize) -> usize {
    match memchr::memrchr(b'<', &b[from..]) {
        Some(i) if !b[from + i..].contains(&b'>') && b.len() - (from + i) < MAX_EVENT => from + i,
        _ => b.len(),
    }
}

/// Text between events: blanks, fold markers, `<?xml?>`, comments and `<Events>`/`</Events>`
/// are the wrapper; anything else is reported (then `true`).
fn junk(text: &str, at: usize, out: &mut Vec<Result<WinRecord, XmlError>>) -> bool {
    let mut t = text;
    loop {
        t = t.trim_start_matches(|c: char| c.is_whitespace() || c == '-' || c == '\u{feff}');
        if t.is_empty() {
            return false;
        }
        let end = if t.starts_with("<?") {
            t.find("?>").map(|i| i + 2)
        } else if t.starts_with("<!--") {
            t.find("-->").map(|i| i + 3)
        } else if t.starts_with("<Events") || t.starts_with("</Events") {
            t.find('>').map(|i| i + 1)
        } else {
            None
        };
        match end {
            Some(e) => t = &t[e..],
            None => {
                out.push(Err(XmlError {
                    kind: ErrorKind::Malformed(Cow::Borrowed("text outside any <Event>")),
                    offset: at + (text.len() - t.len()),
                }));
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRETTY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
  <System>
    <Provider Guid="{54849625-5478-4994-a5ba-3e3b0328c30d}" Name='Microsoft-Windows-Security-Auditing'/>
    <EventID Qualifiers="16384">4625</EventID>
    <TimeCreated SystemTime="2022-04-29T12:36:01.9027913Z"/>
    <EventRecordID>2559</EventRecordID>
    <Execution ProcessID="712" ThreadID="20372"/>
    <Channel>Security</Channel>
    <Computer>exchange-1.mydomain.test</Computer>
  </System>
  <EventData>
    <Data Name="TargetUserName">a&amp;b &lt;&#x41;&#66;&gt;</Data>
    <Data Name="Empty"/>
    <Data Name="Script"><![CDATA[if (1 < 2) { "</Event>" }]]></Data>
    <Data Name="IpAddress">192.168.9.212</Data>
    <!-- a comment -->
  </EventData>
  <RenderingInfo Culture="en-US"><Message>An account failed to log on.</Message></RenderingInfo>
</Event>"#;

    #[test]
    fn a_pretty_printed_event() {
        let (r, end) = parse_event(PRETTY).unwrap();
        assert_eq!(end, PRETTY.len());
        assert_eq!(r.provider, "Microsoft-Windows-Security-Auditing");
        assert_eq!(r.event_id, 4625);
        assert_eq!(r.record_id, Some(2559));
        assert_eq!(r.process_id, Some(712));
        assert_eq!(r.channel, "Security");
        assert_eq!(r.computer, "exchange-1.mydomain.test");
        let t = r.time.unwrap();
        assert_eq!((t.unix, t.nanos), (1_651_235_761, 902_791_300));
        assert_eq!(r.data("TargetUserName"), Some("a&b <AB>"));
        assert_eq!(
            r.data
                .iter()
                .find(|(k, _)| k == "Empty")
                .map(|(_, v)| v.as_str()),
            Some("")
        );
        assert_eq!(r.data("Script"), Some(r#"if (1 < 2) { "</Event>" }"#));
        assert_eq!(r.data("IpAddress"), Some("192.168.9.212"));
        assert_eq!(r.data.len(), 4);
        assert!(r.original.unwrap().starts_with("<Event xmlns"));
    }

    #[test]
    fn unnamed_data_and_user_data() {
        let x = "<Event><System><EventID>7045</EventID><Channel>System</Channel></System>\
                 <EventData><Data>svc</Data><Data>C:\\x.exe</Data><Binary>00</Binary></EventData></Event>";
        let (r, _) = parse_event(x).unwrap();
        let names: Vec<_> = r.data.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["param1", "param2", "Binary"]);
        let x = "<Event><System><EventID>1102</EventID></System><UserData>\
                 <LogFileCleared xmlns='x'><SubjectUserName>bob</SubjectUserName>\
                 <Nested><Leaf>1</Leaf><Leaf>2</Leaf></Nested></LogFileCleared>\
                 <Second><Ignored>x</Ignored></Second></UserData></Event>";
        let (r, _) = parse_event(x).unwrap();
        assert_eq!(
            r.data,
            [
                ("SubjectUserName".to_owned(), "bob".to_owned()),
                ("Leaf".to_owned(), "1".to_owned()),
                ("Leaf_2".to_owned(), "2".to_owned()),
            ]
        );
    }

    #[test]
    fn malformed_events_say_what_and_where() {
        for (x, what) in [
            (
                "<Event><System><EventID>1</EventID></Sys></Event>",
                "</Sys> closes <System>",
            ),
            (
                "<Event><System><EventID>x</EventID></System></Event>",
                "not a number",
            ),
            ("<Event><System></System></Event>", "no System/EventID"),
            (
                "<Event><EventData><Data Name='a'>&bomb;</Data></EventData></Event>",
                "an entity other",
            ),
            (
                "<Event><!DOCTYPE x [<!ENTITY a 'b'>]></Event>",
                "declaration",
            ),
            ("<Event><System a=b></System></Event>", "unquoted"),
        ] {
            let e = parse_event(x).unwrap_err();
            let ErrorKind::Malformed(m) = &e.kind else {
                panic!("{x}: {e}")
            };
            assert!(m.contains(what), "{x}: {e}");
        }
        let e = parse_event("<Event><System><EventID>1</EventID>").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Incomplete);
    }

    #[test]
    fn deep_nesting_and_huge_events_are_bounded() {
        let deep = format!("<Event>{}", "<a>".repeat(100_000));
        let e = parse_event(&deep).unwrap_err();
        assert!(e.to_string().contains("nested too deep"), "{e}");
        let huge = format!("<Event><System a='{}'/></Event>", "x".repeat(MAX_EVENT));
        assert_eq!(parse_event(&huge).unwrap_err().kind, ErrorKind::TooLarge);
    }

    fn split(pieces: &[&str]) -> Vec<Result<u64, String>> {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        for p in pieces {
            s.push(p, &mut out);
        }
        s.finish(&mut out);
        out.into_iter()
            .map(|r| {
                r.map(|r| r.record_id.unwrap_or(0))
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    fn ev(id: u64) -> String {
        format!("<Event xmlns='e'><System><EventID>4624</EventID><EventRecordID>{id}</EventRecordID></System></Event>")
    }

    #[test]
    fn streams_in_any_pieces() {
        let stream = format!(
            "\u{feff}<?xml version='1.0'?><Events>{}{}\n{}</Events>\n",
            ev(1),
            ev(2),
            ev(3)
        );
        assert_eq!(split(&[&stream]), [Ok(1), Ok(2), Ok(3)]);
        // Cut at every byte: the same records.
        for cut in 1..stream.len() {
            if !stream.is_char_boundary(cut) {
                continue;
            }
            assert_eq!(
                split(&[&stream[..cut], &stream[cut..]]),
                [Ok(1), Ok(2), Ok(3)],
                "{cut}"
            );
        }
        // A broken event between good ones: an error, then the next one.
        let broken = format!(
            "{}<Event><System><EventID>x</EventID></System></Event>{}",
            ev(1),
            ev(3)
        );
        let got = split(&[&broken]);
        assert_eq!(got.len(), 3);
        assert_eq!((&got[0], &got[2]), (&Ok(1), &Ok(3)));
        assert!(got[1].as_ref().unwrap_err().contains("not a number"));
        // Cut off at the end, and text that is no event: reported.
        let got = split(&[&format!("{}garbage{}", ev(1), &ev(2)[..30])]);
        assert_eq!(got[0], Ok(1));
        assert!(got[1].as_ref().unwrap_err().contains("outside any <Event>"));
        assert!(got[2].as_ref().unwrap_err().contains("cut off"));
    }

    #[test]
    fn event_viewer_fold_markers() {
        let x = "- <Event xmlns=\"e\">- <System>  <EventID>4625</EventID> </System>- <EventData>  <Data Name=\"IpAddress\">10.0.0.1</Data>  </EventData>  </Event>";
        assert!(looks_like_xml(x.as_bytes()));
        let (r, _) = parse_event(x).unwrap();
        assert_eq!(r.data("IpAddress"), Some("10.0.0.1"));
        assert!(!looks_like_xml(b"<13>Nov 22 host prog: x"));
        assert!(!looks_like_xml(b"<Events2>"));
    }

    #[test]
    fn reads_a_whole_document_system_event_data_and_user_data() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
  <System>
    <Provider Name="Microsoft-Windows-Security-Auditing" Guid="{5484}"/>
    <EventID Qualifiers="0">4625</EventID>
    <TimeCreated SystemTime="2016-07-08T18:12:51.6816408Z"/>
    <EventRecordID>42</EventRecordID>
    <Execution ProcessID="456" ThreadID="460"/>
    <Channel>Security</Channel>
    <Computer>HOST-1</Computer>
  </System>
  <EventData>
    <Data Name="TargetUserName">a&amp;b &lt;x&gt; &#x41;&#66;</Data>
    <Data Name="IpAddress">10.0.0.1</Data>
    <Data Name="Empty"/>
    <Data>free</Data>
    <Data Name="IpAddress"><![CDATA[<raw>]]></Data>
    <Binary>00FF</Binary>
  </EventData>
</Event>"#;
        let mut r = WinRecord::default();
        read_event(xml, &mut r).unwrap();
        assert_eq!(r.provider, "Microsoft-Windows-Security-Auditing");
        assert_eq!(r.event_id, 4625);
        assert_eq!(r.record_id, Some(42));
        assert_eq!(r.process_id, Some(456));
        assert_eq!(r.channel, "Security");
        assert_eq!(r.computer, "HOST-1");
        let t = r.time.unwrap();
        assert_eq!((t.unix, t.nanos), (1_468_001_571, 681_640_800));
        let pairs: Vec<(&str, &str)> = r
            .data
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("TargetUserName", "a&b <x> AB"),
                ("IpAddress", "10.0.0.1"),
                ("Empty", ""),
                ("param4", "free"),
                ("IpAddress_2", "<raw>"),
                ("Binary", "00FF"),
            ]
        );

        let user = r#"<Event><System><EventID>1149</EventID></System><UserData>
<EventXML xmlns="Event_NS"><Param1>bob</Param1><Param2>DOM</Param2><Param3>1.2.3.4</Param3></EventXML>
</UserData></Event>"#;
        let mut r = WinRecord::default();
        read_event(user, &mut r).unwrap();
        assert_eq!(r.event_id, 1149);
        assert_eq!(r.data("Param1"), Some("bob"));
        assert_eq!(r.data("Param3"), Some("1.2.3.4"));
        assert_eq!(
            r.data.len(),
            3,
            "EventXML itself is not a leaf: {:?}",
            r.data
        );
    }

    #[test]
    fn malformed_whole_documents_are_errors_not_panics() {
        for bad in [
            "",
            "<Event>",
            "<Event><System></Event>",
            "<Other/>",
            "<Event/><Event/>",
            "<Event><System><EventID>x</EventID></System></Event>",
            "<Event><System><TimeCreated SystemTime=\"yesterday\"/></System></Event>",
            "<Event a=\"unterminated></Event>",
            "<Event><!-- never closed",
            "<",
            "<>",
        ] {
            assert!(
                read_event(bad, &mut WinRecord::default()).is_err(),
                "{bad:?}"
            );
        }
        let deep = format!("<Event>{}", "<a>".repeat(100));
        let e = read_event(&deep, &mut WinRecord::default()).unwrap_err();
        assert!(e.to_string().contains("nested too deep"), "{e}");
        // Unknown entities are refused, never expanded nor passed through.
        for bad in ["&bogus;", "&#xZZ;", "&#1114112;", "a & b"] {
            let x = format!("<Event><System><EventID>1</EventID></System><EventData><Data Name='x'>{bad}</Data></EventData></Event>");
            assert!(read_event(&x, &mut WinRecord::default()).is_err(), "{bad}");
        }
    }
}
