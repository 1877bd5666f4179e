//! Reads one event's XML (the `evtx` crate's rendering of a record, or any Windows Event XML
//! document of one `<Event>`) into a [`WinRecord`]: the `System` values, the `EventData`
//! values by name in document order, and the leaves of `UserData`.
//!
//! A tag scanner, not a general XML parser: it reads elements, attributes, text, entity and
//! character references, CDATA, comments and processing instructions, which is all an event
//! document holds, and it never allocates for a value without a reference in it.

use std::borrow::Cow;

use logward_core::Timestamp;

use crate::windows::WinRecord;

/// Elements nest deeper than this only in a document built to exhaust a reader.
const MAX_DEPTH: usize = 32;

/// Fills `rec` from the XML of one event. Values already in `rec` (the reader's fallbacks:
/// the record header's id and time) are replaced by the document's when it has them.
pub fn read_event(xml: &str, rec: &mut WinRecord) -> Result<(), &'static str> {
    let b = xml.as_bytes();
    // The open elements.
    let mut stack: [Open<'_>; MAX_DEPTH] = [Open::default(); MAX_DEPTH];
    let mut depth = 0usize;
    let mut data_pos = 0usize;
    let mut saw_event = false;
    let mut i = 0usize;
    while let Some(lt) = memchr::memchr(b'<', &b[i..]) {
        let at = i + lt;
        let rest = &b[at..];
        if rest.starts_with(b"<?") {
            i = at + find(&rest[2..], b"?>").ok_or("unterminated processing instruction")? + 4;
            continue;
        }
        if rest.starts_with(b"<!--") {
            i = at + find(&rest[4..], b"-->").ok_or("unterminated comment")? + 7;
            continue;
        }
        if rest.starts_with(b"<![CDATA[") {
            i = at + find(&rest[9..], b"]]>").ok_or("unterminated CDATA section")? + 12;
            continue;
        }
        if rest.starts_with(b"<!") {
            // A DOCTYPE: event documents have none; skipped, nothing in it is expanded.
            i = at + memchr::memchr(b'>', rest).ok_or("unterminated declaration")? + 1;
            continue;
        }
        let end = tag_end(rest).ok_or("unterminated tag")?;
        let tag = &xml[at + 1..at + end];
        i = at + end + 1;
        if let Some(close) = tag.strip_prefix('/') {
            let name = local(close.trim_end());
            if depth == 0 || stack[depth - 1].name != name {
                return Err("mismatched closing tag");
            }
            depth -= 1;
            let open = stack[depth];
            closed(
                rec,
                &stack[..depth],
                open,
                &xml[open.start..at],
                &mut data_pos,
            )?;
            continue;
        }
        let (tag, empty) = match tag.strip_suffix('/') {
            Some(t) => (t, true),
            None => (tag, false),
        };
        let name_end = tag
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(tag.len());
        let open = Open {
            name: local(&tag[..name_end]),
            attrs: &tag[name_end..],
            start: i,
        };
        if open.name.is_empty() {
            return Err("element without a name");
        }
        if depth == 0 {
            if open.name != "Event" || saw_event {
                return Err("not one <Event> document");
            }
            saw_event = true;
        }
        if empty {
            closed(rec, &stack[..depth], open, "", &mut data_pos)?;
        } else {
            if depth == MAX_DEPTH {
                return Err("elements nested too deep");
            }
            stack[depth] = open;
            depth += 1;
        }
    }
    if !saw_event {
        return Err("no <Event> element");
    }
    if depth != 0 {
        return Err("unclosed element");
    }
    Ok(())
}

/// An open element: its local name, its attributes' text and where its content starts.
#[derive(Debug, Clone, Copy, Default)]
struct Open<'a> {
    name: &'a str,
    attrs: &'a str,
    start: usize,
}

/// One element closed, with its `content`, under the open elements `path`.
fn closed(
    rec: &mut WinRecord,
    path: &[Open<'_>],
    el: Open<'_>,
    content: &str,
    data_pos: &mut usize,
) -> Result<(), &'static str> {
    let section = path.get(1).map_or("", |p| p.name);
    match (path.len(), section) {
        (2, "System") => match el.name {
            "Provider" => {
                if let Some(v) =
                    attr(el.attrs, "Name").or_else(|| attr(el.attrs, "EventSourceName"))
                {
                    rec.provider = unescape(v).into_owned();
                }
            }
            "TimeCreated" => {
                if let Some(v) = attr(el.attrs, "SystemTime") {
                    match Timestamp::parse_rfc3339(v.trim().as_bytes()) {
                        Some((t, n)) if n == v.trim().len() => rec.time = Some(t),
                        _ => return Err("TimeCreated/@SystemTime is not an RFC 3339 time"),
                    }
                }
            }
            "Execution" => {
                if let Some(p) = attr(el.attrs, "ProcessID").and_then(|v| v.trim().parse().ok()) {
                    rec.process_id = Some(p);
                }
            }
            "EventID" => {
                rec.event_id = text(content)?
                    .trim()
                    .parse()
                    .map_err(|_| "EventID is not a number")?;
            }
            "EventRecordID" => {
                let id = text(content)?
                    .trim()
                    .parse()
                    .map_err(|_| "EventRecordID is not a number")?;
                rec.record_id = Some(id);
            }
            "Channel" => rec.channel = text(content)?.into_owned(),
            "Computer" => rec.computer = text(content)?.into_owned(),
            _ => {}
        },
        (2, "EventData") => {
            *data_pos += 1;
            let value = text(content)?.into_owned();
            match attr(el.attrs, "Name").filter(|_| el.name == "Data") {
                Some(n) if !n.is_empty() => rec.push_data(&unescape(n), value),
                // Winlogbeat's name for an unnamed value: param and its position.
                _ if el.name == "Data" => rec.push_data(&format!("param{data_pos}"), value),
                _ => rec.push_data(el.name, value),
            }
        }
        (d, "UserData") if d >= 3 => {
            if let Some(v) = leaf_text(content)? {
                rec.push_data(el.name, v.into_owned());
            }
        }
        _ => {}
    }
    Ok(())
}

/// Where the tag starting at `s[0] == '<'` ends (its `>`), past quoted attribute values.
fn tag_end(s: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, &c) in s.iter().enumerate().skip(1) {
        match (quote, c) {
            (None, b'"' | b'\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// The name without its namespace prefix (`e:Data` → `Data`).
fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// The raw value of attribute `key` (without its namespace prefix) in a tag's attributes.
fn attr<'a>(mut attrs: &'a str, key: &str) -> Option<&'a str> {
    loop {
        attrs = attrs.trim_start();
        let eq = attrs.find('=')?;
        let name = attrs[..eq].trim_end();
        let after = attrs[eq + 1..].trim_start();
        let q = after.chars().next().filter(|c| matches!(c, '"' | '\''))?;
        let len = after[1..].find(q)?;
        if local(name) == key {
            return Some(&after[1..1 + len]);
        }
        attrs = &after[len + 2..];
    }
}

/// An element's text content: its text and CDATA with references resolved; an element inside
/// it is an error (the values of System and EventData are text).
fn text(content: &str) -> Result<Cow<'_, str>, &'static str> {
    leaf_text(content)?.ok_or("element where a value was expected")
}

/// The text of a leaf element, `None` when it has child elements.
fn leaf_text(content: &str) -> Result<Option<Cow<'_, str>>, &'static str> {
    if !content.contains('<') {
        return Ok(Some(unescape(content)));
    }
    // CDATA or comments among the text: put the pieces together.
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(lt) = rest.find('<') {
        out.push_str(&unescape(&rest[..lt]));
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
    out.push_str(&unescape(rest));
    Ok(Some(Cow::Owned(out)))
}

/// Resolves the five XML entities and character references; an unknown or malformed
/// reference is kept as written.
pub fn unescape(s: &str) -> Cow<'_, str> {
    let Some(first) = s.find('&') else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first]);
    let mut rest = &s[first..];
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let resolved = rest[1..].find(';').filter(|&n| n <= 10).and_then(|n| {
            let c = match &rest[1..1 + n] {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                "apos" => '\'',
                r => {
                    let code = match r.strip_prefix("#x").or_else(|| r.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => r.strip_prefix('#')?.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, n + 2))
        });
        match resolved {
            Some((c, used)) => {
                out.push(c);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_system_event_data_and_user_data() {
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
    fn malformed_documents_are_errors_not_panics() {
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
        assert_eq!(
            read_event(&deep, &mut WinRecord::default()),
            Err("elements nested too deep")
        );
        assert_eq!(
            unescape("&bogus; & &#xZZ; &#1114112;"),
            "&bogus; & &#xZZ; &#1114112;"
        );
    }
}
