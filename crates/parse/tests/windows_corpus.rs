//! The `.evtx` reader against `../shared/corpus/windows-evtx` (PROVENANCE.md §4): every file's
//! count per (channel, event id) and time range equal INVENTORY.md; the `evtx` crate's own
//! snapshots of security.evtx's first record and its whole-file expectations hold for the
//! crate as we build it; a truncated and a corrupted copy give their errors and every intact
//! record.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::inventory::{self, FileInventory};
use logward_core::Timestamp;
use logward_parse::windows::xml;
use logward_parse::windows::{EvtxReadError, EvtxReader, WinRecord};

fn dir() -> Option<PathBuf> {
    logward_test_support::corpus("windows-evtx")
}

fn read_all(reader: EvtxReader) -> (Vec<WinRecord>, Vec<EvtxReadError>) {
    let (mut recs, mut errs) = (Vec::new(), Vec::new());
    for item in reader {
        match item {
            Ok(r) => recs.push(r),
            Err(e) => errs.push(e),
        }
    }
    (recs, errs)
}

fn read_file(path: &Path) -> (Vec<WinRecord>, Vec<EvtxReadError>) {
    read_all(EvtxReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// A time cut to microseconds, as INVENTORY.md and the snapshots write it.
fn micros(t: Timestamp) -> (i64, u32) {
    (t.unix, t.nanos / 1000)
}

fn parse_time(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s.as_bytes()).unwrap().0
}

#[test]
fn inventory_lines_parse() {
    let f = &inventory::parse(
        "### a/b.evtx\nrecords=3 first=2019-11-15T08:19:02.298512Z last=2019-11-15T08:19:17.134469Z\n  \
         event ids: Security/1102 x1, Microsoft-Windows-X/Operational/131 x2\n  \
         - 4624 LT=3 user=ANONYMOUS LOGON ip=127.0.0.1 (x1)\n  - 4771 target=Administrator by=None (x1)\n  \
         - ... 14 more distinct\n",
    )[0];
    assert_eq!((f.path.as_str(), f.records), ("a/b.evtx", 3));
    assert_eq!(f.first, "2019-11-15T08:19:02.298512Z");
    assert_eq!(
        f.counts[&("Microsoft-Windows-X/Operational".to_owned(), 131)],
        2
    );
    assert_eq!(f.summaries[0].field("user"), Some(Some("ANONYMOUS LOGON")));
    assert_eq!(f.summaries[0].field("ip"), Some(Some("127.0.0.1")));
    assert_eq!(f.summaries[1].field("by"), Some(None));
    assert_eq!(f.summaries[1].field("LT"), None);
    assert_eq!(f.more_distinct, 14);
}

#[test]
fn every_corpus_file_counts_per_channel_and_event_id_as_inventory() {
    let Some(dir) = dir() else { return };
    let inv = inventory::load(&dir);
    let mut on_disk: Vec<String> = Vec::new();
    for sub in std::fs::read_dir(&dir).unwrap() {
        let sub = sub.unwrap().path();
        if !sub.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&sub).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "evtx") {
                on_disk.push(f.strip_prefix(&dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = inv.iter().map(|f| f.path.clone()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "INVENTORY.md lists every .evtx file of the corpus"
    );
    assert_eq!(listed.len(), 27);

    for f in &inv {
        let (recs, errs) = read_file(&dir.join(&f.path));
        assert!(errs.is_empty(), "{}: {errs:?}", f.path);
        check_against(f, &recs);
    }
}

fn check_against(f: &FileInventory, recs: &[WinRecord]) {
    assert_eq!(recs.len(), f.records, "{}", f.path);
    let mut counts: BTreeMap<(String, u32), usize> = BTreeMap::new();
    for r in recs {
        *counts.entry((r.channel.clone(), r.event_id)).or_default() += 1;
    }
    assert_eq!(counts, f.counts, "{}", f.path);
    // INVENTORY's first and last are the earliest and latest times, not the first and last
    // records (Security_with_size_t.evtx's are out of order).
    let first = recs.iter().filter_map(|r| r.time).map(micros).min();
    let last = recs.iter().filter_map(|r| r.time).map(micros).max();
    assert_eq!(
        first,
        Some(micros(parse_time(&f.first))),
        "{} first",
        f.path
    );
    assert_eq!(last, Some(micros(parse_time(&f.last))), "{} last", f.path);
    for r in recs {
        assert!(
            !r.provider.is_empty() && !r.computer.is_empty(),
            "{}: {r:?}",
            f.path
        );
        assert!(
            r.record_id.is_some() && r.time.is_some(),
            "{}: {r:?}",
            f.path
        );
    }
}

/// The snapshot's body: what follows the insta header (`---` … `---`).
fn snapshot(dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(dir.join("evtx-crate").join(name)).unwrap();
    let body = text.splitn(3, "---\n").nth(2).unwrap();
    body.to_owned()
}

/// The crate now writes a GUID in braces and lower case and times to 100 ns; the snapshot's
/// version wrote neither. Everything else must be equal.
fn same_value(snap: &str, ours: &str) -> bool {
    let guid = |s: &str| {
        s.trim_matches(|c| c == '{' || c == '}')
            .to_ascii_lowercase()
    };
    if snap == ours || guid(snap) == guid(ours) {
        return true;
    }
    match (
        Timestamp::parse_rfc3339(snap.as_bytes()),
        Timestamp::parse_rfc3339(ours.as_bytes()),
    ) {
        (Some((a, _)), Some((b, _))) => micros(a) == micros(b),
        _ => false,
    }
}

fn same_json(path: &str, snap: &serde_json::Value, ours: &serde_json::Value) {
    use serde_json::Value;
    match (snap, ours) {
        (Value::Object(a), Value::Object(b)) => {
            let (ka, kb): (Vec<_>, Vec<_>) = (a.keys().collect(), b.keys().collect());
            assert_eq!(ka, kb, "{path}: the same members in the same order");
            for (k, v) in a {
                same_json(&format!("{path}.{k}"), v, &b[k]);
            }
        }
        (Value::String(a), Value::String(b)) => assert!(same_value(a, b), "{path}: {a} vs {b}"),
        (a, b) => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn evtx_crate_snapshots_of_the_first_security_record_round_trip() {
    let Some(dir) = dir() else { return };
    let file = dir.join("evtx-crate/security.evtx");

    // JSON: the crate as built renders the snapshot's document.
    let snap: serde_json::Value = serde_json::from_str(&snapshot(
        &dir,
        "test_record_samples__event_json_sample.snap",
    ))
    .unwrap();
    let mut parser = evtx::EvtxParser::from_path(&file).unwrap();
    let first = parser.records_json_value().next().unwrap().unwrap();
    same_json("", &snap, &first.data);

    // XML: the snapshot read as Event XML is the record our reader gives.
    let mut from_snapshot = WinRecord::default();
    let snap_xml = snapshot(&dir, "test_record_samples__event_xml_sample.snap");
    xml::read_event(&snap_xml, &mut from_snapshot).unwrap();
    let ours = EvtxReader::open(&file)
        .unwrap()
        .with_original(true)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        from_snapshot.provider,
        "Microsoft-Windows-Security-Auditing"
    );
    assert_eq!(from_snapshot.event_id, 4608);
    assert_eq!(from_snapshot.computer, "37L4247F27-25");
    assert_eq!(
        from_snapshot.time.map(micros),
        Some(micros(parse_time("2016-07-08T18:12:51.681640Z")))
    );
    assert_eq!(ours.time.map(micros), from_snapshot.time.map(micros));
    let strip_time = |r: &WinRecord| WinRecord {
        time: None,
        original: None,
        ..r.clone()
    };
    assert_eq!(strip_time(&ours), strip_time(&from_snapshot));
    assert_eq!(
        (ours.process_id, ours.record_id, ours.channel.as_str()),
        (Some(456), Some(1), "Security")
    );
    // The original is the crate's XML of that record, and reads back to the same record.
    let original = ours.original.clone().unwrap();
    assert!(original.contains("<EventID>4608</EventID>"), "{original}");
    let mut again = WinRecord::default();
    xml::read_event(&original, &mut again).unwrap();
    assert_eq!(
        again,
        WinRecord {
            original: None,
            ..ours
        }
    );
}

#[test]
fn security_evtx_first_thousand_record_ids_are_in_order_across_chunks() {
    let Some(dir) = dir() else { return };
    let ids: Vec<u64> = EvtxReader::open(dir.join("evtx-crate/security.evtx"))
        .unwrap()
        .take(1000)
        .map(|r| r.unwrap().record_id.unwrap())
        .collect();
    assert_eq!(ids, (1..=1000).collect::<Vec<u64>>());
}

#[test]
fn post_security_with_invalid_header_flags_reads_126_records_and_no_error() {
    let Some(dir) = dir() else { return };
    let (recs, errs) = read_file(&dir.join("evtx-crate/post-Security.evtx"));
    assert_eq!((recs.len(), errs.len()), (126, 0), "{errs:?}");
}

#[test]
fn start_after_skips_to_the_next_record_id_and_identity_names_the_log() {
    let Some(dir) = dir() else { return };
    let file = dir.join("evtx-crate/security.evtx");
    let reader = EvtxReader::open(&file).unwrap();
    let id = reader.identity();
    assert_eq!(id.first_record_id, Some(1));
    assert!(id.first_record_filetime.is_some());
    // Its header was last written at record 2225: a header can lag behind its chunks.
    assert_eq!(reader.next_record_id(), 2226);
    let rest: Vec<u64> = reader
        .start_after(2000)
        .map(|r| r.unwrap().record_id.unwrap())
        .collect();
    assert_eq!(rest, (2001..=2261).collect::<Vec<u64>>());
    let other = EvtxReader::open(dir.join("evtx-crate/post-Security.evtx")).unwrap();
    assert_ne!(other.identity(), id);
}

/// Where chunk `n`'s records end in a file, and the end of each record in it (offsets in
/// the file), from the record headers' sizes.
fn record_ends(bytes: &[u8], n: usize) -> Vec<usize> {
    let start = 4096 + n * 65536;
    let free = u32::from_le_bytes(bytes[start + 48..start + 52].try_into().unwrap()) as usize;
    let mut at = start + 512;
    let mut ends = Vec::new();
    while at < start + free {
        assert_eq!(&bytes[at..at + 4], b"\x2a\x2a\0\0");
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        at += size;
        ends.push(at);
    }
    ends
}

#[test]
fn from_file_after_reads_what_start_after_reads() {
    let Some(dir) = dir() else { return };
    for name in [
        "evtx-crate/security.evtx",
        "deepbluecli/password-spray.evtx",
    ] {
        let path = dir.join(name);
        let numbered = |mut r: EvtxReader| -> Vec<_> {
            std::iter::from_fn(move || r.next_numbered())
                .map(|(id, item)| (id, item.map(|r| (r.record_id, r.event_id, r.time))))
                .collect()
        };
        for after in [0, 1, 150, 1000, 2225, 2260, 5000] {
            let file = || std::fs::File::open(&path).unwrap();
            let whole = numbered(EvtxReader::from_file(file()).unwrap().start_after(after));
            let picked = numbered(EvtxReader::from_file_after(file(), after).unwrap());
            assert_eq!(picked, whole, "{name} after {after}");
        }
    }
}

#[test]
fn next_numbered_counts_by_record_headers_and_a_record_not_written_whole_is_an_error() {
    let Some(dir) = dir() else { return };
    let mut bytes =
        std::fs::read(dir.join("deepbluecli/smb-password-guessing-security.evtx")).unwrap();
    // Chunk 0 caught while record 50 is written: its header names it, its last bytes are
    // still zeros (the follower reads up to it and tries again).
    let ends = record_ends(&bytes, 0);
    bytes[ends[49] - 20..4096 + 65536].fill(0);
    let mut reader = EvtxReader::from_bytes(bytes).unwrap();
    let (items, notices): (Vec<_>, Vec<_>) = std::iter::from_fn(|| reader.next_numbered())
        .take(51)
        .partition(|(id, _)| id.is_some());
    // The chunk's CRC32 no longer matches: said, not tied to a record.
    assert_eq!(notices.len(), 1, "{notices:?}");
    for (i, (id, item)) in items[..49].iter().enumerate() {
        // An export: its XML keeps the ids of the log it came from, its headers count from 1.
        assert_eq!(*id, Some(i as u64 + 1));
        assert_eq!(item.as_ref().unwrap().record_id, Some(2455 + i as u64));
    }
    let (id, item) = &items[49];
    assert_eq!(*id, Some(50));
    let e = item.as_ref().unwrap_err();
    assert!(
        e.reason.contains("cut short") && e.record_id == Some(50),
        "{e}"
    );
}

#[test]
fn truncated_copy_reports_the_cut_and_gives_every_intact_record() {
    let Some(dir) = dir() else { return };
    let bytes = std::fs::read(dir.join("evtx-crate/security.evtx")).unwrap();
    let (whole, errs) = read_all(EvtxReader::from_bytes(bytes.clone()).unwrap());
    assert!(errs.is_empty());
    let before: usize = (0..3).map(|n| record_ends(&bytes, n).len()).sum();
    // Cut chunk 3 in the middle of a record.
    let ends = record_ends(&bytes, 3);
    let cut = ends[ends.len() / 2] - 10;
    let intact = before + ends.iter().filter(|&&e| e <= cut).count();

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("cut.evtx");
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let (recs, errs) = read_file(&path);
    assert_eq!(recs.len(), intact, "{errs:?}");
    assert_eq!(
        recs,
        whole[..intact],
        "the records read are the intact file's"
    );
    assert!(
        errs.iter()
            .any(|e| e.chunk == Some(3) && e.reason.contains("cut short")),
        "{errs:?}"
    );
    assert!(!errs.is_empty() && errs.len() <= 3, "{errs:?}");

    // Cut at a chunk boundary: the header still counts the missing chunks.
    std::fs::write(&path, &bytes[..4096 + 3 * 65536]).unwrap();
    let (recs, errs) = read_file(&path);
    assert_eq!(recs, whole[..before]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].to_string().starts_with("chunk 3: file cut short"),
        "{}",
        errs[0]
    );

    // Cut inside the file header: not an .evtx file we can read at all.
    std::fs::write(&path, &bytes[..1000]).unwrap();
    let e = EvtxReader::open(&path).unwrap_err();
    assert!(e.to_string().contains("cut short"), "{e}");
    std::fs::write(&path, b"ElfFile").unwrap();
    assert!(EvtxReader::open(&path).is_err());
    std::fs::write(&path, b"").unwrap();
    assert!(EvtxReader::open(&path).is_err());
}

#[test]
fn corrupted_copy_reports_each_damaged_piece_and_reads_the_rest() {
    let Some(dir) = dir() else { return };
    let bytes = std::fs::read(dir.join("evtx-crate/security.evtx")).unwrap();
    let (whole, _) = read_all(EvtxReader::from_bytes(bytes.clone()).unwrap());
    let per_chunk: Vec<usize> = (0..6).map(|n| record_ends(&bytes, n).len()).collect();
    let mut bad = bytes.clone();
    // Chunk 1: one record's magic overwritten; chunk 2: its chunk magic; chunk 4: garbage
    // in the middle of a record's BinXML.
    let ends1 = record_ends(&bytes, 1);
    let victim = ends1[4]; // the sixth record of chunk 1 starts here
    bad[victim..victim + 4].copy_from_slice(b"XXXX");
    let c2 = 4096 + 2 * 65536;
    bad[c2..c2 + 8].copy_from_slice(b"NotChnk\0");
    let ends4 = record_ends(&bytes, 4);
    let r4 = ends4[9];
    for b in &mut bad[r4 + 24..r4 + 64] {
        *b = 0xff;
    }

    let (recs, errs) = read_all(EvtxReader::from_bytes(bad).unwrap());
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        errs.iter()
            .any(|e| e.chunk == Some(1) && e.reason.contains("CRC32")),
        "{text:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.chunk == Some(1) && e.reason.contains("record")),
        "{text:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.chunk == Some(2) && e.reason.contains("ElfChnk")),
        "{text:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.chunk == Some(4) && e.record_id.is_some()),
        "{text:?}"
    );
    // Every record outside the damage is read, equal to the intact file's.
    let lost_ids: Vec<u64> = whole
        .iter()
        .map(|r| r.record_id.unwrap())
        .filter(|id| !recs.iter().any(|r| r.record_id == Some(*id)))
        .collect();
    let chunk2_first = (per_chunk[0] + per_chunk[1]) as u64 + 1;
    let chunk2: Vec<u64> = (chunk2_first..chunk2_first + per_chunk[2] as u64).collect();
    assert!(
        chunk2.iter().all(|id| lost_ids.contains(id)),
        "{lost_ids:?}"
    );
    assert!(
        lost_ids.len() <= chunk2.len() + 2,
        "only the damaged records are lost: {lost_ids:?}"
    );
    for r in &recs {
        let id = r.record_id.unwrap() as usize;
        assert_eq!(*r, whole[id - 1], "record {id}");
    }
}
