//! Windows Event XML → [`WinRecord`]: what `wevtutil qe Security /f:xml` writes (a stream of
//! `<Event xmlns=…>` elements, no root, no newline between them), `Get-WinEvent … ToXml()`
//! (one per line), an `<Events>` wrapper, pretty-printed events over several lines, and
//! events pasted from Event Viewer with its `- ` fold markers between the elements.
//!
//! A small hand-written reader rather than an XML crate: the schema is fixed and shallow, the
//! reader must be bounded ([`MAX_EVENT`] bytes, [`MAX_DEPTH`] levels) and must refuse what an
//! event never holds — a `<!DOCTYPE` (so no entity can be declared, let alone expanded) —
//! and no crate in the build already reads XML. The five predefined entities and character
//! references are decoded; attributes may come in any order and quoted either way; CDATA is
//! text; comments and processing instructions are skipped; `RenderingInfo` (the message
//! rendered in the reader's language) is ignored: the values in EventData are the facts.
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

/// Reads the first `<Event>` element of `text`: the record and the byte just after its end.
pub fn parse_event(text: &str) -> Result<(WinRecord, usize), XmlError> {
    match find_event(text.as_bytes(), 0) {
        Some(start) => parse_at(text, start),
        None => Err(XmlError {
            kind: ErrorKind::Malformed(Cow::Borrowed("no <Event> element")),
            offset: 0,
        }),
    }
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
    let mut r = Reader {
        s: text,
        b: text.as_bytes(),
        p: start,
        start,
        limit,
        cut: limit < text.len(),
    };
    let mut build = Builder::default();
    let end = r.event(&mut build)?;
    let mut rec = build.finish(&r)?;
    rec.original = Some(text[start..end].to_owned());
    Ok((rec, end))
}

/// One open element.
#[derive(Debug, Default)]
struct Open<'a> {
    /// The qualified name as written (for matching the end tag).
    name: &'a str,
    /// The text directly inside, when it is kept.
    text: String,
    keep_text: bool,
    has_child: bool,
    /// `Data`'s `Name`.
    data_name: Option<String>,
}

/// Where in the event the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    System,
    EventData,
    UserData,
    Other,
}

#[derive(Debug, Default)]
struct Builder {
    rec: WinRecord,
    event_id: Option<u32>,
    /// Elements seen in EventData (Winlogbeat numbers unnamed ones `param<position>`).
    data_seen: usize,
    /// Children of UserData seen (only the first one's leaves are values).
    user_children: usize,
}

impl Builder {
    fn finish(self, r: &Reader<'_>) -> Result<WinRecord, XmlError> {
        let Some(id) = self.event_id else {
            return Err(r.error("no System/EventID"));
        };
        let mut rec = self.rec;
        rec.event_id = id;
        Ok(rec)
    }
}

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

/// A tag's attributes, as read.
type Attrs<'a> = Vec<(&'a str, Cow<'a, str>)>;

impl<'a> Reader<'a> {
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

    /// The event element: its `<Event` is at the cursor. Returns the byte after its end.
    fn event(&mut self, build: &mut Builder) -> Result<usize, XmlError> {
        let mut stack: Vec<Open<'a>> = Vec::new();
        let mut attrs: Attrs<'a> = Vec::new();
        loop {
            if self.p >= self.limit {
                return Err(self.eof());
            }
            if self.b[self.p] != b'<' {
                let end = memchr::memchr(b'<', &self.b[self.p..self.limit])
                    .map_or(self.limit, |i| self.p + i);
                let raw = &self.s[self.p..end];
                if let Some(top) = stack.last_mut().filter(|o| o.keep_text) {
                    let text = unescape(raw).map_err(|what| self.error(what))?;
                    top.text.push_str(&text);
                }
                self.p = end;
                continue;
            }
            match self.peek(self.p + 1) {
                Some(b'/') => {
                    self.p += 2;
                    let name = self.name()?;
                    self.skip_blanks();
                    match self.peek(self.p) {
                        Some(b'>') => self.p += 1,
                        Some(_) => return Err(self.error("junk in an end tag")),
                        None => return Err(self.eof()),
                    }
                    let Some(open) = stack.pop() else {
                        return Err(self.error("an end tag outside the event"));
                    };
                    if open.name != name {
                        return Err(self
                            .error_owned(Cow::Owned(format!("</{name}> closes <{}>", open.name))));
                    }
                    self.close(build, &stack, open)?;
                    if stack.is_empty() {
                        return Ok(self.p);
                    }
                }
                Some(b'!') => {
                    let rest = &self.b[self.p..self.limit];
                    if rest.starts_with(b"<!--") {
                        self.p = self.find(self.p + 4, b"-->")? + 3;
                    } else if rest.starts_with(b"<![CDATA[") {
                        let end = self.find(self.p + 9, b"]]>")?;
                        if let Some(top) = stack.last_mut().filter(|o| o.keep_text) {
                            top.text.push_str(&self.s[self.p + 9..end]);
                        }
                        self.p = end + 3;
                    } else if b"<![CDATA[".starts_with(rest) || b"<!--".starts_with(rest) {
                        return Err(self.eof());
                    } else {
                        // `<!DOCTYPE`, `<!ENTITY` …: an event declares nothing.
                        return Err(self.error("a declaration (<!DOCTYPE, <!ENTITY) in an event"));
                    }
                }
                Some(b'?') => self.p = self.find(self.p + 2, b"?>")? + 2,
                Some(_) => {
                    self.p += 1;
                    let name = self.name()?;
                    let empty = self.attributes(&mut attrs)?;
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error("elements nested too deep"));
                    }
                    let open = self.open(build, &stack, name, &mut attrs)?;
                    if let Some(parent) = stack.last_mut() {
                        parent.has_child = true;
                    }
                    stack.push(open);
                    if empty {
                        let Some(open) = stack.pop() else {
                            return Err(self.error("an end tag outside the event"));
                        };
                        self.close(build, &stack, open)?;
                        if stack.is_empty() {
                            return Ok(self.p);
                        }
                    }
                }
                None => return Err(self.eof()),
            }
        }
    }

    /// Reads a start tag's attributes up to its `>` (or `/>`: then `true`).
    fn attributes(&mut self, attrs: &mut Attrs<'a>) -> Result<bool, XmlError> {
        attrs.clear();
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
            let name = self.name()?;
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
            let raw = &self.s[from..end];
            if raw.contains('<') {
                return Err(self.error("`<` in an attribute value"));
            }
            let value = unescape(raw).map_err(|what| self.error(what))?;
            self.p = end + 1;
            attrs.push((name, value));
        }
    }

    /// A start tag: what it sets, and whether its text is kept.
    fn open(
        &self,
        build: &mut Builder,
        stack: &[Open<'a>],
        name: &'a str,
        attrs: &mut Attrs<'a>,
    ) -> Result<Open<'a>, XmlError> {
        let local = local(name);
        let mut open = Open {
            name,
            ..Open::default()
        };
        let attr = |attrs: &mut Attrs<'a>, key: &str| {
            attrs
                .iter()
                .position(|(k, _)| local_eq(k, key))
                .map(|i| attrs.swap_remove(i).1)
        };
        match (stack.len(), section(stack)) {
            (0, _) if local != "Event" => return Err(self.error("the element is not <Event>")),
            (2, Section::System) => {
                open.keep_text = true;
                match local {
                    "Provider" => {
                        if let Some(v) =
                            attr(attrs, "Name").or_else(|| attr(attrs, "EventSourceName"))
                        {
                            build.rec.provider = v.into_owned();
                        }
                    }
                    "TimeCreated" => {
                        if let Some(v) = attr(attrs, "SystemTime") {
                            let t = Timestamp::parse_rfc3339(v.trim().as_bytes())
                                .filter(|(_, used)| *used == v.trim().len())
                                .ok_or_else(|| {
                                    self.error("TimeCreated/@SystemTime is not a time")
                                })?;
                            build.rec.time = Some(t.0);
                        }
                    }
                    "Execution" => {
                        build.rec.process_id =
                            attr(attrs, "ProcessID").and_then(|v| v.trim().parse().ok());
                    }
                    _ => {}
                }
            }
            (2, Section::EventData) => {
                build.data_seen += 1;
                open.keep_text = true;
                open.data_name = Some(match attr(attrs, "Name") {
                    Some(n) => n.into_owned(),
                    None => format!("param{}", build.data_seen),
                });
            }
            (2, Section::UserData) => {
                build.user_children += 1;
                open.keep_text = build.user_children == 1;
            }
            (d, Section::UserData) if d > 2 => open.keep_text = build.user_children == 1,
            _ => {}
        }
        Ok(open)
    }

    /// An end tag: the value it completes.
    fn close(
        &self,
        build: &mut Builder,
        stack: &[Open<'a>],
        open: Open<'a>,
    ) -> Result<(), XmlError> {
        // `stack` holds the parents, as when `open` saw the start tag.
        match (stack.len(), section(stack)) {
            (2, Section::System) => match local(open.name) {
                "EventID" => {
                    let id = open
                        .text
                        .trim()
                        .parse()
                        .map_err(|_| self.error("System/EventID is not a number"))?;
                    build.event_id = Some(id);
                }
                "EventRecordID" => build.rec.record_id = open.text.trim().parse().ok(),
                "Channel" => build.rec.channel = open.text.trim().to_owned(),
                "Computer" => build.rec.computer = open.text.trim().to_owned(),
                _ => {}
            },
            (2, Section::EventData) => {
                if let Some(name) = open.data_name {
                    build.rec.push_data(&name, open.text);
                }
            }
            (d, Section::UserData) if d > 2 && open.keep_text && !open.has_child => {
                build.rec.push_data(local(open.name), open.text);
            }
            _ => {}
        }
        Ok(())
    }
}

/// The section the children of the innermost open element belong to.
fn section(stack: &[Open<'_>]) -> Section {
    match stack.get(1).map(|o| local(o.name)) {
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

fn local_eq(name: &str, want: &str) -> bool {
    local(name) == want
}

/// Decodes the predefined entities and character references; anything else is an error
/// (no DTD, so no other entity exists).
fn unescape(raw: &str) -> Result<Cow<'_, str>, &'static str> {
    let Some(first) = raw.find('&') else {
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
        assert_eq!(names, ["param1", "param2", "param3"]);
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
}
