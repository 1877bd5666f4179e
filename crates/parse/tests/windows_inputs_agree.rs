//! The three ways a Windows event reaches logward give the same event, field by field: for
//! every record of every corpus `.evtx` file, the event decoded from the evtx reader equals
//! the one decoded from the record's XML rendering (the `evtx` crate's) through the Event XML
//! reader, and the one decoded from a Winlogbeat 8 document generated here from the record —
//! `event.original` aside, which is each input's own text.
//!
//! The XML also goes through the stream reader (a file's records back to back, as `wevtutil`
//! writes them) and the line decoder (one per line, as `Get-WinEvent … ToXml()`); the
//! documents through the line decoder (a Winlogbeat `output.file`).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use logward_core::Event;
use logward_parse::windows::{self, winlogbeat, xml, EvtxReader, WinRecord};
use logward_parse::{LineDecoder, YearResolver};

fn evtx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            evtx_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "evtx") {
            out.push(p);
        }
    }
}

/// A JSON string.
fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The record as Winlogbeat 8 writes it: ids as strings, the values under `event_data`, or
/// under `user_data` with its `xml_name` when the event has UserData.
fn winlogbeat_doc(rec: &WinRecord, user_data: Option<&str>) -> String {
    let mut d = String::from("{");
    if let Some(t) = rec.time {
        d += &format!("\"@timestamp\":{},", q(&t.to_string()));
    }
    d += &format!(
        "\"event\":{{\"code\":{},\"provider\":{},\"kind\":\"event\"}},\"host\":{{\"name\":{}}},",
        q(&rec.event_id.to_string()),
        q(&rec.provider),
        q(&rec.computer)
    );
    d += &format!(
        "\"winlog\":{{\"channel\":{},\"event_id\":{},\"provider_name\":{},\"computer_name\":{},\"api\":\"wineventlog\"",
        q(&rec.channel),
        q(&rec.event_id.to_string()),
        q(&rec.provider),
        q(&rec.computer)
    );
    if let Some(id) = rec.record_id {
        d += &format!(",\"record_id\":{}", q(&id.to_string()));
    }
    if let Some(pid) = rec.process_id {
        d += &format!(",\"process\":{{\"pid\":{pid},\"thread\":{{\"id\":1}}}}");
    }
    if !rec.data.is_empty() {
        let pairs: Vec<String> = rec
            .data
            .iter()
            .map(|(k, v)| format!("{}:{}", q(k), q(v)))
            .collect();
        match user_data {
            Some(name) => {
                d += &format!(
                    ",\"user_data\":{{\"xml_name\":{},{}}}",
                    q(name),
                    pairs.join(",")
                )
            }
            None => d += &format!(",\"event_data\":{{{}}}", pairs.join(",")),
        }
    }
    d += "}}";
    d
}

/// UserData's first child's name, when the XML has UserData.
fn user_data_name(xml: &str) -> Option<&str> {
    let rest = &xml[xml.find("<UserData>")? + "<UserData>".len()..];
    let rest = &rest[rest.find('<')? + 1..];
    let end = rest.find(|c: char| c == '>' || c == '/' || c.is_whitespace())?;
    Some(&rest[..end])
}

fn without_original(mut e: Event<'static>) -> Event<'static> {
    e.original = None;
    e
}

/// Compares two events; on a difference, says which record and shows both.
fn same(what: &str, file: &Path, n: usize, want: &Event<'_>, got: &Event<'_>, bad: &mut usize) {
    if want != got {
        *bad += 1;
        if *bad <= 3 {
            eprintln!(
                "{} record {n}: {what} differs\n evtx: {want:?}\n {what}: {got:?}",
                file.display()
            );
        }
    }
}

/// The readings of a whole file (stream, lines) take a file's first records only: every
/// record is compared one by one already, and the test must stay quick on two cores.
const WHOLE_FILE_RECORDS: usize = 400;

#[test]
fn evtx_xml_and_winlogbeat_json_of_every_corpus_record_decode_alike() {
    let Some(dir) = logward_test_support::corpus("windows-evtx") else {
        return;
    };
    let mut files = Vec::new();
    evtx_files(&dir, &mut files);
    assert!(files.len() >= 25, "{files:?}");
    let (mut records, mut bad, mut user_data) = (0usize, 0usize, 0usize);
    for file in &files {
        let reader = EvtxReader::open(file).unwrap().with_original(true);
        let mut stream = String::new();
        let mut lines = String::new();
        let mut docs = String::new();
        let mut want = Vec::new();
        for (n, item) in reader.enumerate() {
            let Ok(rec) = item else { continue };
            records += 1;
            let from_evtx = without_original(windows::decode(&rec).into_owned());
            let text = rec.original.clone().unwrap();
            // The XML rendering through the Event XML reader.
            let (from_xml, end) = xml::parse_event(&text)
                .unwrap_or_else(|e| panic!("{} record {n}: {e}\n{text}", file.display()));
            assert_eq!(text[end..].trim(), "", "{}", file.display());
            let from_xml = without_original(windows::decode(&from_xml).into_owned());
            same("xml", file, n, &from_evtx, &from_xml, &mut bad);
            // A Winlogbeat document of the record.
            let ud = user_data_name(&text);
            user_data += usize::from(ud.is_some());
            let doc = winlogbeat_doc(&rec, ud);
            let from_json = winlogbeat::parse(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
            let from_json = without_original(windows::decode(&from_json).into_owned());
            same("json", file, n, &from_evtx, &from_json, &mut bad);
            want.push(from_evtx);
            if want.len() > WHOLE_FILE_RECORDS {
                want.pop();
                continue;
            }
            // For the file-wide readings below: wevtutil's stream, one event per line.
            let body = text.trim_start_matches(|c| c != '<');
            let body = body
                .strip_prefix("<?xml version=\"1.0\" encoding=\"utf-8\"?>")
                .unwrap_or(body)
                .trim();
            stream.push_str(body);
            // Line breaks in values as character references, as a one-line rendering has them.
            lines.push_str(&body.replace('\r', "&#13;").replace('\n', "&#10;"));
            lines.push('\n');
            docs.push_str(&doc);
            docs.push('\n');
        }
        // The whole file as one wevtutil stream.
        let mut s = xml::Splitter::default();
        let mut out = Vec::new();
        s.push(&stream, &mut out);
        s.finish(&mut out);
        let streamed: Vec<_> = out
            .into_iter()
            .map(|r| without_original(windows::decode(&r.unwrap()).into_owned()))
            .collect();
        assert_eq!(streamed.len(), want.len(), "{}", file.display());
        for (n, (w, g)) in want.iter().zip(&streamed).enumerate() {
            same("xml stream", file, n, w, g, &mut bad);
        }
        // One event per line, and one document per line, through the line decoder.
        for (what, text) in [("xml lines", &lines), ("json lines", &docs)] {
            let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
            let mut got = Vec::new();
            for l in text.lines() {
                let mut e = Event::default();
                assert!(d.decode_into(l, &mut e), "{what}: {l}");
                got.push(without_original(e.into_owned()));
            }
            assert!(!d.has_joined());
            assert_eq!(got.len(), want.len(), "{what} {}", file.display());
            for (n, (w, g)) in want.iter().zip(&got).enumerate() {
                same(what, file, n, w, g, &mut bad);
            }
        }
    }
    eprintln!(
        "{records} records in {} files, {user_data} with UserData",
        files.len()
    );
    assert!(records > 7000, "{records}");
    assert!(user_data > 0);
    assert_eq!(
        bad, 0,
        "records whose inputs disagree (the first are above)"
    );
}
