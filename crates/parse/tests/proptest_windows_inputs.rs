//! The Event XML and Winlogbeat JSON readers: never a panic on arbitrary input (whole, in
//! pieces, as lines); hostile XML (a huge attribute, deep nesting, a `<!DOCTYPE` declaring
//! entities, unknown entities) is a bounded error and the next event still reads; and any
//! record written as Event XML (attributes in any order, either quote, entities, CDATA,
//! pretty-printed or not) or as a Winlogbeat document reads back as itself.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use logward_core::Event;
use logward_parse::windows::xml::{self, ErrorKind, Splitter, MAX_DEPTH, MAX_EVENT};
use logward_parse::windows::{winlogbeat, WinRecord};
use logward_parse::{LineDecoder, YearResolver};
use proptest::prelude::*;

/// Arbitrary text built from the readers' own words, so the cases reach deep into them.
fn fragments() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "<Event xmlns='e'>",
        "<Event>",
        "</Event>",
        "<Events>",
        "<System>",
        "</System>",
        "<EventID>4625</EventID>",
        "<EventID Qualifiers='1'>",
        "<EventData>",
        "</EventData>",
        "<Data Name='IpAddress'>",
        "<Data Name=\"x\"/>",
        "</Data>",
        "<UserData>",
        "<![CDATA[",
        "]]>",
        "<!--",
        "-->",
        "<?xml version='1.0'?>",
        "<!DOCTYPE x [<!ENTITY a 'b'>]>",
        "&amp;",
        "&#x41;",
        "&#xFFFFFFFF;",
        "&bogus;",
        "<TimeCreated SystemTime='2026-01-01T00:00:00.1234567Z'/>",
        "- ",
        "\n",
        "é",
        "{\"winlog\":{\"event_id\":",
        "\"4625\"",
        ",\"event_data\":{\"a\":",
        "}",
        "\"winlog.event_id\":1",
    ]);
    prop::collection::vec(prop_oneof![words.prop_map(str::to_owned), ".{0,8}"], 0..40)
        .prop_map(|v| v.concat())
}

fn split_in(text: &str, cuts: &[usize]) -> Vec<Result<WinRecord, xml::XmlError>> {
    let mut s = Splitter::default();
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        let mut c = (at + c).min(text.len());
        while !text.is_char_boundary(c) {
            c += 1;
        }
        s.push(&text[at..c], &mut out);
        at = c;
    }
    s.push(&text[at..], &mut out);
    s.finish(&mut out);
    out
}

proptest! {
    #[test]
    fn never_panics(text in fragments(), cuts in prop::collection::vec(0usize..64, 0..8)) {
        let _ = xml::parse_event(&text);
        let _ = winlogbeat::parse(&text);
        let whole = split_in(&text, &[]);
        let pieces = split_in(&text, &cuts);
        // Where the stream is cut does not change what it holds.
        let ids = |v: &[Result<WinRecord, xml::XmlError>]| {
            v.iter().map(|r| r.as_ref().ok().map(|r| r.event_id)).collect::<Vec<_>>()
        };
        prop_assert_eq!(ids(&whole), ids(&pieces));
        let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
        for l in text.lines() {
            let mut e = Event::default();
            d.decode_into(l, &mut e);
            while d.take_joined().is_some() {}
        }
        d.finish();
        while d.take_joined().is_some() {}
    }

    #[test]
    fn records_read_back_as_written(
        id in 0u32..70_000,
        record in prop::option::of(any::<u32>()),
        pid in prop::option::of(any::<u16>()),
        computer in "[A-Za-z0-9.-]{1,20}",
        values in prop::collection::vec(("[A-Za-z][A-Za-z0-9]{0,12}", "\\PC{0,24}"), 0..8),
        pretty in any::<bool>(),
        single in any::<bool>(),
        cdata in any::<bool>(),
    ) {
        let mut want = WinRecord {
            provider: "Microsoft-Windows-Security-Auditing".into(),
            event_id: id,
            channel: "Security".into(),
            computer,
            record_id: record.map(u64::from),
            process_id: pid.map(u32::from),
            ..WinRecord::default()
        };
        for (k, v) in &values {
            want.push_data(k, v.clone());
        }
        let (q, nl) = (if single { '\'' } else { '"' }, if pretty { "\n  " } else { "" });
        let attr = |v: &str| v.replace('&', "&amp;").replace('<', "&lt;").replace(q, if single { "&apos;" } else { "&quot;" });
        let text = |v: &str| {
            if cdata && !v.contains("]]>") {
                format!("<![CDATA[{v}]]>")
            } else {
                v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
            }
        };
        let mut x = format!("<Event xmlns={q}http://schemas.microsoft.com/win/2004/08/events/event{q}>{nl}<System>{nl}");
        x += &format!("<Provider Guid={q}{{x}}{q} Name={q}{}{q}/>{nl}", want.provider);
        x += &format!("<EventID Qualifiers={q}16384{q}>{id}</EventID>{nl}");
        if let Some(r) = want.record_id {
            x += &format!("<EventRecordID>{r}</EventRecordID>{nl}");
        }
        if let Some(p) = want.process_id {
            x += &format!("<Execution ThreadID={q}1{q} ProcessID={q}{p}{q}/>{nl}");
        }
        x += &format!("<Channel>Security</Channel>{nl}<Computer>{}</Computer>{nl}</System>{nl}<EventData>{nl}", want.computer);
        for (k, v) in &values {
            x += &format!("<Data Name={q}{}{q}>{}</Data>{nl}", attr(k), text(v));
        }
        x += &format!("</EventData>{nl}<RenderingInfo><Message>m &lt; n</Message></RenderingInfo></Event>");
        let (mut got, end) = xml::parse_event(&x).unwrap();
        prop_assert_eq!(end, x.len());
        prop_assert_eq!(got.original.take(), Some(x.clone()));
        prop_assert_eq!(&got, &want);
        // The same record as a Winlogbeat document.
        let q = |s: &str| serde_json::Value::from(s).to_string();
        let data: Vec<String> = want.data.iter().map(|(k, v)| format!("{}:{}", q(k), q(v))).collect();
        let mut doc = format!(
            "{{\"event\":{{\"code\":\"{id}\"}},\"host\":{{\"name\":{}}},\"winlog\":{{\"channel\":\"Security\",\"provider_name\":{},\"event_data\":{{{}}}",
            q(&want.computer), q(&want.provider), data.join(",")
        );
        if let Some(r) = want.record_id {
            doc += &format!(",\"record_id\":{r}");
        }
        if let Some(p) = want.process_id {
            doc += &format!(",\"process\":{{\"pid\":{p}}}");
        }
        doc += "}}";
        let mut got = winlogbeat::parse(&doc).unwrap();
        prop_assert_eq!(got.original.take(), Some(doc.clone()));
        prop_assert_eq!(&got, &want);
    }

}

proptest! {
    // Megabyte inputs: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn hostile_xml_is_a_bounded_error_and_the_next_event_reads(
        kind in 0usize..5,
        n in 1usize..4,
    ) {
        let good = "<Event><System><EventID>4624</EventID></System></Event>";
        let hostile = match kind {
            // An attribute past the event limit.
            0 => format!("<Event><System><Provider Name='{}'/></System></Event>", "A".repeat(MAX_EVENT * n / 2 + MAX_EVENT)),
            // Deep nesting.
            1 => format!("<Event>{}{}</Event>", "<a>".repeat(MAX_DEPTH * 10 * n), "</a>".repeat(MAX_DEPTH * 10 * n)),
            // A DTD declaring entities that expand to each other (billion laughs).
            2 => format!(
                "<!DOCTYPE Event [<!ENTITY a 'xxxxxxxxxx'>{}]><Event><System><EventID>1</EventID></System><EventData><Data Name='x'>&e{n};</Data></EventData></Event>",
                (1..=n).map(|i| format!("<!ENTITY e{i} '{}'>", format!("&e{};", i - 1).repeat(10))).collect::<String>()
            ),
            // The same DTD inside the event.
            3 => "<Event><!DOCTYPE x [<!ENTITY a 'b'>]><System><EventID>1</EventID></System></Event>".to_owned(),
            // An entity no DTD declares.
            _ => "<Event><System><EventID>1</EventID></System><EventData><Data Name='x'>&lol;</Data></EventData></Event>".to_owned(),
        };
        let out = split_in(&format!("{hostile}{good}"), &[]);
        let errors: Vec<_> = out.iter().filter_map(|r| r.as_ref().err()).collect();
        prop_assert!(!errors.is_empty(), "{:?}", out.iter().map(|r| r.as_ref().map(|r| r.event_id)).collect::<Vec<_>>());
        for e in &errors {
            let bounded = match &e.kind {
                ErrorKind::TooLarge => kind == 0,
                ErrorKind::Malformed(what) => match kind {
                    1 => what.contains("nested too deep"),
                    3 | 4 => what.contains("declaration") || what.contains("entity"),
                    _ => true,
                },
                ErrorKind::Incomplete => false,
            };
            prop_assert!(bounded, "{kind}: {e}");
        }
        let ok: Vec<_> = out.iter().filter_map(|r| r.as_ref().ok()).collect();
        prop_assert_eq!(ok.len(), 1);
        prop_assert_eq!(ok[0].event_id, 4624);
        if kind == 2 {
            // Nothing was expanded: the DTD is text outside any event, reported.
            prop_assert!(errors.iter().any(|e| e.to_string().contains("outside any <Event>") || e.to_string().contains("entity")));
        }
    }
}
