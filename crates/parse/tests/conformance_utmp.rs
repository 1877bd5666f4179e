//! utmp/wtmp/btmp conformance against `../shared/corpus/wtmp-btmp` (PROVENANCE.md §6): the
//! utmp-rs expectations, the neko-neko IPv6 record, the linux-utmpx dumps against their
//! `utmpdump` text sources, and every record of the DERIVED `utmpdump` outputs.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::path::Path;

use logward_core::{Action, Dataset, Outcome, Timestamp};
use logward_parse::utmp::{
    decode_file, detect_layout, parse_record, Kind, Layout, Record, RecordType, Stats,
};

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    let p = dir.join("wtmp-btmp").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The file's layout and its records, as a reader of the whole file sees them.
fn records(bytes: &[u8]) -> (Layout, Vec<Record<'_>>) {
    let layout = detect_layout(bytes, Some(bytes.len() as u64)).expect("a non-empty file");
    let size = layout.record_size();
    assert_eq!(bytes.len() % size, 0, "no trailing bytes in the samples");
    let recs = bytes
        .chunks_exact(size)
        .map(|c| parse_record(c, layout).expect("a whole record"))
        .collect();
    (layout, recs)
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("UTF-8 in the samples")
}

/// What the utmp-rs test expects of a record: type, pid, line, user, host, seconds, µs.
type Expected<'a> = (RecordType, i32, &'a str, &'a str, &'a str, i64, i64);

fn check(rec: &Record<'_>, want: Expected<'_>, what: &str) {
    let (ty, pid, line, user, host, sec, usec) = want;
    assert_eq!(rec.ut_type, ty, "{what}");
    assert_eq!(rec.pid, pid, "{what}");
    assert_eq!(text(rec.line), line, "{what}");
    assert_eq!(text(rec.user), user, "{what}");
    assert_eq!(text(rec.host), host, "{what}");
    assert_eq!((rec.tv_sec, rec.tv_usec), (sec, usec), "{what}");
}

#[test]
fn utmp_rs_basic32() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let bytes = read(&dir, "utmp-rs/basic32.utmp");
    let (layout, recs) = records(&bytes);
    assert_eq!(layout, Layout::Glibc32);
    let want: [Expected<'_>; 5] = [
        (
            RecordType::BootTime,
            0,
            "~",
            "reboot",
            "5.3.0-29-generic",
            1581199438,
            54727,
        ),
        (
            RecordType::RunLvl,
            53,
            "~",
            "runlevel",
            "5.3.0-29-generic",
            1581199447,
            558900,
        ),
        (
            RecordType::UserProcess,
            2555,
            ":1",
            "upsuper",
            ":1",
            1581199675,
            609322,
        ),
        (
            RecordType::UserProcess,
            28885,
            "tty3",
            "upsuper",
            "",
            1581217267,
            195722,
        ),
        (
            RecordType::LoginProcess,
            28965,
            "tty4",
            "LOGIN",
            "",
            1581217268,
            463588,
        ),
    ];
    assert_eq!(recs.len(), want.len());
    for (i, (r, w)) in recs.iter().zip(want).enumerate() {
        check(r, w, &format!("basic32 record {i}"));
    }
    assert_eq!(recs[3].session, 28786);

    let (ev, st) = decode_file(&bytes, Kind::Wtmp);
    assert_eq!(ev.len(), 2, "the two USER_PROCESS records");
    for e in &ev {
        assert_eq!(
            (e.action(), e.outcome, e.dataset),
            (Action::UserLogin, Outcome::Success, Some(Dataset::Wtmp))
        );
        assert_eq!(e.user_name.as_deref(), Some("upsuper"));
        assert_eq!(e.source_address, None, "`:1` is an X display, not a peer");
    }
    assert_eq!(ev[0].process_pid, Some(2555));
    assert_eq!(ev[0].offset, Some(2 * 384));
    assert_eq!(
        ev[0].timestamp,
        Some(Timestamp {
            unix: 1581199675,
            nanos: 609_322_000,
            offset: 0
        })
    );
    assert_eq!(
        (st.records, st.events, st.skipped, st.invalid),
        (5, 2, 3, 0)
    );
    eprintln!("basic32: {st:?}");
}

#[test]
fn utmp_rs_with_host_32_is_a_wtmp() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let bytes = read(&dir, "utmp-rs/with_host_32.utmp");
    let (layout, recs) = records(&bytes);
    assert_eq!(layout, Layout::Glibc32);
    assert_eq!(recs.len(), 19);
    let types: Vec<i16> = recs.iter().map(|r| r.ut_type.raw()).collect();
    assert_eq!(
        types,
        [1, 2, 1, 5, 5, 6, 6, 7, 7, 8, 8, 7, 7, 7, 8, 7, 7, 8, 7]
    );
    assert_eq!(text(recs[0].user), "shutdown");
    assert_eq!(text(recs[1].user), "reboot");
    check(
        &recs[7],
        (
            RecordType::UserProcess,
            1125,
            "pts/0",
            "root",
            "112.124.2.209",
            1675757226,
            139552,
        ),
        "first ssh login",
    );
    assert_eq!(recs[7].addr(), Some("112.124.2.209".parse().unwrap()));

    let (ev, st) = decode_file(&bytes, Kind::Wtmp);
    let logins: Vec<_> = ev
        .iter()
        .filter(|e| e.action() == Action::UserLogin)
        .collect();
    let logouts: Vec<_> = ev
        .iter()
        .filter(|e| e.action() == Action::UserLogout)
        .collect();
    assert_eq!((logins.len(), logouts.len()), (8, 4));
    assert!(ev.iter().all(|e| e.user_name.as_deref() == Some("root")));
    let from_peer = logins
        .iter()
        .filter(|e| e.source_ip == Some("112.124.2.209".parse().unwrap()))
        .count();
    assert_eq!(from_peer, 5, "pts/0 ×4 and pts/1 ×1 name the peer");
    // Every DEAD_PROCESS record is anonymous; its user comes from the login on its line.
    assert!(recs
        .iter()
        .filter(|r| r.ut_type == RecordType::DeadProcess)
        .all(|r| r.user.is_empty()));
    assert_eq!(logouts[0].process_pid, Some(1020));
    assert_eq!(logouts[0].source_address.as_deref(), Some("112.124.2.209"));
    assert_eq!(logouts[0].offset, Some(9 * 384));
    assert_eq!(
        (st.records, st.events, st.skipped, st.logout_unmatched),
        (19, 12, 7, 0)
    );
    eprintln!("with_host_32: {st:?}");
}

#[test]
fn utmp_rs_long_user_32_is_a_btmp() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let bytes = read(&dir, "utmp-rs/long_user_32.utmp");
    let (layout, recs) = records(&bytes);
    assert_eq!(layout, Layout::Glibc32);
    assert_eq!(recs.len(), 18);
    assert!(recs.iter().all(|r| r.ut_type == RecordType::LoginProcess));
    let full = recs.iter().filter(|r| r.user.len() == 32).count();
    assert_eq!(full, 10, "user names of the full 32 bytes, without NUL");

    let (ev, st) = decode_file(&bytes, Kind::Btmp);
    assert_eq!(ev.len(), 18);
    for e in &ev {
        assert_eq!(
            (e.action(), e.outcome, e.reason, e.dataset),
            (
                Action::UserLogin,
                Outcome::Failure,
                Some("failed-login"),
                Some(Dataset::Btmp)
            )
        );
    }
    let a32 = "a".repeat(32);
    assert_eq!(ev[8].user_name.as_deref(), Some(a32.as_str()));
    assert_eq!(ev[8].source_ip, Some("10.10.4.230".parse().unwrap()));
    assert_eq!(ev[2].source_ip, Some("10.11.0.169".parse().unwrap()));
    assert_eq!(
        ev[0].source_address, None,
        "the first two attempts name no host"
    );
    let with_peer = ev.iter().filter(|e| e.source_ip.is_some()).count();
    assert_eq!(with_peer, 16);
    assert_eq!((st.records, st.events, st.invalid), (18, 18, 0));
    eprintln!("long_user_32: {st:?}");
}

#[test]
fn utmp_rs_basic64() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let bytes = read(&dir, "utmp-rs/basic64.utmp");
    // Decided from the first record alone, without the file length.
    assert_eq!(detect_layout(&bytes[..400], None), Some(Layout::Time64));
    let (layout, recs) = records(&bytes);
    assert_eq!(layout, Layout::Time64);
    let want: [Expected<'_>; 3] = [
        (
            RecordType::BootTime,
            0,
            "~",
            "reboot",
            "5.15.0-41-generic",
            1658083371,
            314869,
        ),
        (
            RecordType::RunLvl,
            53,
            "~",
            "runlevel",
            "5.15.0-41-generic",
            1658083400,
            855073,
        ),
        (
            RecordType::LoginProcess,
            1219,
            "ttyAMA0",
            "LOGIN",
            "",
            1658083400,
            866391,
        ),
    ];
    assert_eq!(recs.len(), want.len());
    for (i, (r, w)) in recs.iter().zip(want).enumerate() {
        check(r, w, &format!("basic64 record {i}"));
    }
    let (ev, st) = decode_file(&bytes, Kind::Wtmp);
    assert!(
        ev.is_empty(),
        "boot, run level and a getty carry no security meaning"
    );
    assert_eq!(
        (st.records, st.skipped, st.by_type[2], st.by_type[6]),
        (3, 3, 1, 1)
    );
    eprintln!("basic64: {st:?}");
}

#[test]
fn utmp_rs_empty() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let bytes = read(&dir, "utmp-rs/empty.utmp");
    assert!(bytes.is_empty());
    assert_eq!(detect_layout(&bytes, Some(0)), None);
    for kind in [Kind::Wtmp, Kind::Btmp] {
        let (ev, st) = decode_file(&bytes, kind);
        assert!(ev.is_empty());
        assert_eq!(st, Stats::default());
    }
}

#[test]
fn neko_neko_ipv6_record() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let bytes = read(&dir, "neko-neko-utmpdump/utmp");
    let (layout, recs) = records(&bytes);
    assert_eq!(layout, Layout::Glibc32);
    assert_eq!(recs.len(), 1);
    let v6 = "2a02:168:4a00:19:2e7d:2730:69d4:372a";
    check(
        &recs[0],
        (
            RecordType::UserProcess,
            1806652,
            "pts/46",
            "michael",
            v6,
            1572636479,
            370637,
        ),
        "neko",
    );
    assert_eq!(recs[0].addr(), Some(v6.parse().unwrap()));
    let (ev, _) = decode_file(&bytes, Kind::Wtmp);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].source_ip, Some(v6.parse().unwrap()));
    assert_eq!(ev[0].source_address.as_deref(), Some(v6));
    let mut ts = String::new();
    ev[0].timestamp.unwrap().write_rfc3339(&mut ts).unwrap();
    assert_eq!(ts, "2019-11-01T19:27:59.370637Z");
}

/// One line of `utmpdump` text:
/// `[type] [pid] [id] [user] [line] [host] [addr] [YYYY-MM-DDTHH:MM:SS,uuuuuu+00:00]`.
#[derive(Debug, PartialEq)]
struct Dumped {
    ty: i16,
    pid: i32,
    id: String,
    user: String,
    line: String,
    host: String,
    /// `None` for `0.0.0.0`.
    addr: Option<std::net::IpAddr>,
    sec: i64,
    usec: i64,
}

fn parse_dump_line(l: &str) -> Dumped {
    let inner = l
        .trim_end()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a utmpdump line: {l}"));
    let f: Vec<&str> = inner.split("] [").map(str::trim_end).collect();
    assert_eq!(f.len(), 8, "{l}");
    let addr: std::net::IpAddr = f[6].parse().unwrap_or_else(|e| panic!("{l}: {e}"));
    let (date, rest) = f[7].split_once('T').expect("a date");
    let (clock, usec_zone) = rest.split_once(',').expect("microseconds");
    let usec_text = usec_zone.strip_suffix("+00:00").expect("UTC");
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let t: Vec<i64> = clock.split(':').map(|x| x.parse().unwrap()).collect();
    let days = logward_core::time::days_from_civil(d[0] as i32, d[1] as u32, d[2] as u32);
    Dumped {
        ty: f[0].trim().parse().unwrap(),
        pid: f[1].trim().parse().unwrap(),
        id: f[2].to_string(),
        user: f[3].to_string(),
        line: f[4].to_string(),
        host: f[5].to_string(),
        addr: (!addr.is_unspecified()).then_some(addr),
        sec: days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2],
        usec: usec_text.parse().unwrap(),
    }
}

/// A record as `utmpdump` prints it (padding aside).
fn dumped(r: &Record<'_>) -> Dumped {
    Dumped {
        ty: r.ut_type.raw(),
        pid: r.pid,
        id: text(r.id).trim_end().to_string(),
        user: text(r.user).to_string(),
        line: text(r.line).to_string(),
        host: text(r.host).to_string(),
        addr: r.addr(),
        sec: r.tv_sec,
        usec: r.tv_usec,
    }
}

fn dump_lines(text: &str) -> Vec<Dumped> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_dump_line)
        .collect()
}

#[test]
fn linux_utmpx_dumps_match_their_text_sources() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let bytes = read(&dir, "linux-utmpx/utmpx_dummy.dump");
    let (layout, recs) = records(&bytes);
    assert_eq!((layout, recs.len()), (Layout::Glibc32, 9));
    let src = dump_lines(&common::read_lossy(
        &dir.join("wtmp-btmp/linux-utmpx/utmpx_dummy.txt"),
    ));
    let got: Vec<Dumped> = recs.iter().map(dumped).collect();
    assert_eq!(got, src);
    // One record of every type 1..=9: wtmp keeps the login (7) and the logout (8, alice8).
    let (ev, st) = decode_file(&bytes, Kind::Wtmp);
    let users: Vec<_> = ev
        .iter()
        .map(|e| (e.action(), e.user_name.as_deref()))
        .collect();
    assert_eq!(
        users,
        [
            (Action::UserLogin, Some("alice7")),
            (Action::UserLogout, Some("alice8"))
        ]
    );
    assert_eq!(ev[0].source_address.as_deref(), Some("host7"));
    assert_eq!(ev[0].source_ip, None);
    assert_eq!(st.by_type[1..], [1u64; 9]);
    let (ev, _) = decode_file(&bytes, Kind::Btmp);
    assert_eq!(ev.len(), 2, "btmp: LOGIN_PROCESS and USER_PROCESS");

    // utmpx_ipv4: the text says type 7, the committed binary holds 1 (PROVENANCE.md): the
    // binary is authoritative; everything else matches.
    let bytes = read(&dir, "linux-utmpx/utmpx_ipv4.dump");
    let (_, recs) = records(&bytes);
    let src = dump_lines(&common::read_lossy(
        &dir.join("wtmp-btmp/linux-utmpx/utmpx_ipv4.txt"),
    ));
    assert_eq!(src.len(), 1);
    assert_eq!((src[0].ty, recs[0].ut_type), (7, RecordType::RunLvl));
    assert_eq!(
        dumped(&recs[0]),
        Dumped {
            ty: 1,
            ..parse_dump_line(&common::read_lossy(
                &dir.join("wtmp-btmp/linux-utmpx/utmpx_ipv4.txt")
            ))
        }
    );
    assert_eq!(recs[0].addr(), Some("127.0.0.1".parse().unwrap()));
}

/// Every record of every file util-linux's `utmpdump` was run on agrees with its output.
#[test]
fn derived_utmpdump_cross_check() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let derived = dir.join("wtmp-btmp/derived-utmpdump");
    let mut files = 0;
    let mut total = 0;
    let mut names: Vec<_> = std::fs::read_dir(&derived)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    for name in names {
        let Some(stem) = name.strip_suffix(".utmpdump.txt") else {
            continue;
        };
        // `<corpus folder>_<file>`: the folder names hold no `_`.
        let (folder, file) = stem.split_once('_').expect("folder_file");
        let bytes = read(&dir, &format!("{folder}/{file}"));
        let (layout, recs) = records(&bytes);
        assert_eq!(
            layout,
            Layout::Glibc32,
            "{name}: utmpdump reads only this layout"
        );
        let want = dump_lines(&common::read_lossy(&derived.join(&name)));
        assert_eq!(recs.len(), want.len(), "{name}");
        for (i, (r, w)) in recs.iter().zip(&want).enumerate() {
            assert_eq!(&dumped(r), w, "{name} record {i}");
        }
        eprintln!("{name}: {} records agree", recs.len());
        files += 1;
        total += recs.len();
    }
    assert_eq!((files, total), (6, 9 + 1 + 1 + 5 + 18 + 19));
}

/// Followed as it grows (any piece size, no length known), every sample decodes as a whole.
#[test]
fn samples_stream_like_whole_files() {
    use logward_parse::utmp::Reader;
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    for rel in [
        "utmp-rs/basic32.utmp",
        "utmp-rs/basic64.utmp",
        "utmp-rs/with_host_32.utmp",
        "utmp-rs/long_user_32.utmp",
        "linux-utmpx/utmpx_dummy.dump",
        "linux-utmpx/utmpx_ipv4.dump",
        "neko-neko-utmpdump/utmp",
    ] {
        let bytes = read(&dir, rel);
        for kind in [Kind::Wtmp, Kind::Btmp] {
            let (whole, _) = decode_file(&bytes, kind);
            for piece in [1, 7, 383, 401, 4096] {
                let mut r = Reader::new(kind);
                let mut out = Vec::new();
                for chunk in bytes.chunks(piece) {
                    r.feed(chunk, &mut out);
                }
                assert_eq!(r.consumed(), bytes.len() as u64, "{rel} by {piece}");
                assert_eq!(r.pending(), 0, "{rel} by {piece}");
                assert_eq!(out, whole, "{rel} by {piece}");
            }
        }
    }
}
