//! One name for one thing: every `event.reason` a decoder gives a corpus line is a word core
//! reads back as its own (`logward_core::json_read::is_known_word`) and is documented in
//! docs/EVENTS.md. Decodes every text log in `../shared/corpus`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::Path;

fn text_logs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            text_logs(&p, out);
        } else if !matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("evtx" | "pcap" | "gz" | "md")
        ) && !p.to_string_lossy().contains("wtmp-btmp")
        {
            out.push(p);
        }
    }
}

#[test]
fn reasons_are_known_and_documented() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let events_md =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/EVENTS.md"))
            .unwrap();
    let mut files = Vec::new();
    text_logs(&dir, &mut files);
    files.sort();
    // reason → (lines, first example)
    let mut seen: BTreeMap<&'static str, (usize, String)> = BTreeMap::new();
    for f in &files {
        let text = common::read_lossy(f);
        for (line, e) in text.lines().zip(common::decode_all(&text)) {
            if let Some(r) = e.reason {
                seen.entry(r)
                    .or_insert_with(|| (0, format!("{}: {line}", f.display())))
                    .0 += 1;
            }
        }
    }
    assert!(seen.len() > 50, "too few reasons seen: {seen:?}");
    let mut problems = Vec::new();
    for (r, (n, example)) in &seen {
        if !logward_core::json_read::is_known_word(r) {
            problems.push(format!(
                "`{r}` ({n} lines) is not in core's KNOWN_WORDS, e.g. {example}"
            ));
        }
        if !events_md.contains(&format!("`{r}`")) {
            problems.push(format!(
                "`{r}` ({n} lines) is not in docs/EVENTS.md, e.g. {example}"
            ));
        }
    }
    eprintln!("{} reasons in the corpus", seen.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The same for Windows events, which are not text lines: every reason any event id of any
/// channel can be given (4625/4776's NTSTATUS codes, the Kerberos codes) is known and
/// documented.
#[test]
fn windows_reasons_are_known_and_documented() {
    use logward_parse::windows::{decode, WinRecord};
    let events_md =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/EVENTS.md"))
            .unwrap();
    let channels = [
        "Security",
        "System",
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
        "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
        "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS/Operational",
        "Microsoft-Windows-PowerShell/Operational",
    ];
    // NTSTATUS logon codes (0xC0000000–0xC00004FF) and Kerberos codes (0x0–0x5F).
    let codes: Vec<String> = (0xC000_0000u32..0xC000_0500)
        .chain(0..0x60)
        .map(|c| format!("{c:#x}"))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for channel in channels {
        for id in 1..10_000 {
            let mut r = WinRecord {
                event_id: id,
                channel: channel.into(),
                ..WinRecord::default()
            };
            r.push_data("Status", "0xc000006d".into());
            r.push_data("SubStatus", "-".into());
            seen.extend(decode(&r).reason);
            if channel == "Security" && matches!(id, 4625 | 4768 | 4769 | 4771 | 4776) {
                for code in &codes {
                    r.data = vec![
                        ("Status".into(), code.clone()),
                        ("SubStatus".into(), code.clone()),
                    ];
                    seen.extend(decode(&r).reason);
                }
            }
        }
    }
    assert!(seen.len() > 15, "too few reasons: {seen:?}");
    let problems: Vec<String> = seen
        .iter()
        .filter(|r| {
            !logward_core::json_read::is_known_word(r) || !events_md.contains(&format!("`{r}`"))
        })
        .map(|r| format!("`{r}` is not in core's KNOWN_WORDS or in docs/EVENTS.md"))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
