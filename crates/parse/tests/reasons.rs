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
