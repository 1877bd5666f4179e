//! Framing never panics, and recovers the header fields it was given.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use logward_parse::{frame::frame, LineDecoder, YearResolver};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_frames_without_panic(line in "\\PC{0,200}") {
        let f = frame(&line, &mut YearResolver::fixed(2026, 0));
        prop_assert!(f.message.len() <= line.len());
    }

    #[test]
    fn header_like_noise_never_panics(
        prefix in prop::sample::select(vec![
            "", "<13>", "<13>1 ", "Nov 22 10:00:01 ", "2026-11-22T10:00:01.5+01:00 ", "{", "[", "Feb 29 ",
            "Sun Dec  6 10:00:01 2026 ", "Sun 2026-12-06 10:00:01 CET ", "@400000006b15322b075bca00 ",
            "2026-12-06_10:00:01.5 ", "2026-12-06 10:00:01,5 ", "auth.info: ", "[Dec  6 10:00:01] ",
            "1796547601.5 ", "2015 2015 Nov 13 13:40:01 ", "Dec  6 10:00:01 h kernel: [ 1.0] ",
            "Dec  6 10:00:01 h auth.info ", "0000-12-30 00:00:00 ", "<13>@4000 ",
        ]),
        body in "[ -~]{0,80}",
    ) {
        let line = format!("{prefix}{body}");
        let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
        let e = d.decode(&line);
        prop_assert!(e.message.is_some());
    }

    #[test]
    fn bsd_header_fields_round_trip(
        mon in 0usize..12, day in 1u32..=28, h in 0u32..24, m in 0u32..60, s in 0u32..60,
        host in "[a-z][a-z0-9.-]{0,20}",
        prog in "[a-zA-Z][a-zA-Z0-9_-]{0,15}",
        pid in prop::option::of(1u32..4_000_000),
        msg in "[ -~]{0,60}",
    ) {
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let tag = match pid { Some(p) => format!("{prog}[{p}]"), None => prog.clone() };
        let line = format!("{} {day:>2} {h:02}:{m:02}:{s:02} {host} {tag}: {msg}", MONTHS[mon]);
        let f = frame(&line, &mut YearResolver::fixed(2026, 0));
        let ts = f.timestamp.expect("timestamp");
        let fields = ts.local_fields();
        prop_assert_eq!((fields.1, fields.2, fields.3, fields.4, fields.5), (mon as u32 + 1, day, h, m, s));
        prop_assert_eq!(f.host.as_deref(), Some(host.as_str()));
        prop_assert_eq!(f.program.as_deref(), Some(prog.as_str()));
        prop_assert_eq!(f.pid, pid);
        prop_assert_eq!(f.message.as_ref(), msg.trim_start_matches(' '));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The one-pass path for `host prog[pid]: msg` must frame exactly like the general one:
    /// the same line with an extra space after the timestamp takes the general path.
    #[test]
    fn plain_header_agrees_with_the_general_path(
        host in "[a-z\\[<][a-z0-9.:-]{0,8}",
        tag in "[a-z(][a-z0-9()_-]{0,8}(\\[[0-9a-z]{0,4}\\])?:?",
        sep in prop::sample::select(vec![" ", "", "  "]),
        msg in "[ -~]{0,30}",
    ) {
        let fast = format!("Nov 22 10:00:01 {host} {tag}{sep}{msg}");
        let general = format!("Nov 22 10:00:01  {host} {tag}{sep}{msg}");
        let a = frame(&fast, &mut YearResolver::fixed(2026, 0));
        let b = frame(&general, &mut YearResolver::fixed(2026, 0));
        prop_assert_eq!(a, b);
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const FACILITIES: [(&str, u8); 6] = [
    ("kern", 0),
    ("user", 1),
    ("daemon", 3),
    ("auth", 4),
    ("authpriv", 10),
    ("local7", 23),
];
const LEVELS: [(&str, u8); 5] = [
    ("emerg", 0),
    ("err", 3),
    ("warn", 4),
    ("notice", 5),
    ("info", 6),
];

fn tag_text(prog: &str, pid: Option<u32>) -> String {
    match pid {
        Some(p) => format!("{prog}[{p}]"),
        None => prog.to_owned(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// BusyBox (`host fac.level tag: msg`) and OpenWrt logread (`Www Mmm dd hh:mm:ss YYYY
    /// [host] fac.level tag: msg`).
    #[test]
    fn busybox_and_logread_round_trip(
        mon in 0usize..12, day in 1u32..=28, h in 0u32..24, m in 0u32..60, s in 0u32..60,
        year in 1990i32..2100,
        host in prop::option::of("[a-z][a-z0-9-]{0,12}"),
        fac in 0usize..6, lvl in 0usize..5,
        prog in "[a-z][a-z0-9_-]{0,15}",
        pid in prop::option::of(1u32..4_000_000),
        msg in "[!-~][ -~]{0,60}",
        logread in any::<bool>(),
    ) {
        let (fname, fcode) = FACILITIES[fac];
        let (lname, lcode) = LEVELS[lvl];
        let host_part = host.as_deref().map(|h| format!("{h} ")).unwrap_or_default();
        let date = format!("{} {day:>2} {h:02}:{m:02}:{s:02}", MONTHS[mon]);
        let tag = tag_text(&prog, pid);
        let line = if logread {
            format!("Sun {date} {year} {host_part}{fname}.{lname} {tag}: {msg}")
        } else {
            // BusyBox always writes a host in this form.
            let host = host.clone().unwrap_or_else(|| "box".into());
            format!("{date} {host} {fname}.{lname} {tag}: {msg}")
        };
        let f = frame(&line, &mut YearResolver::fixed(2026, 0));
        let (y, mo, d, hh, mm, ss) = f.timestamp.expect("timestamp").local_fields();
        prop_assert_eq!((mo, d, hh, mm, ss), (mon as u32 + 1, day, h, m, s));
        if logread {
            prop_assert_eq!(y, year);
            prop_assert_eq!(f.host.as_deref(), host.as_deref());
        }
        prop_assert_eq!(f.program.as_deref(), Some(prog.as_str()));
        prop_assert_eq!(f.pid, pid);
        prop_assert_eq!((f.facility, f.severity), (Some(fcode), Some(lcode)));
        prop_assert_eq!(f.message.as_ref(), msg.as_str());
    }

    /// ISO 8601 without a zone (read in the input's zone), with `T`/space, `.`/`,` fractions;
    /// with `±hhmm`; Unix seconds.
    #[test]
    fn iso_and_unix_round_trip(
        year in 1974i32..2100, mo in 1u32..=12, day in 1u32..=28,
        h in 0u32..24, m in 0u32..60, s in 0u32..60,
        frac in prop::option::of("[0-9]{1,9}"),
        sep in prop::sample::select(vec!["T", " "]),
        comma in any::<bool>(),
        zone in prop::option::of(-720i32..=840),
        host in "[a-z][a-z0-9.-]{0,12}",
        prog in "[a-z][a-zA-Z0-9_-]{0,15}",
        pid in prop::option::of(1u32..4_000_000),
        msg in "[!-~][ -~]{0,40}",
    ) {
        let mut text = format!("{year:04}-{mo:02}-{day:02}{sep}{h:02}:{m:02}:{s:02}");
        let mut nanos = 0u32;
        if let Some(fr) = &frac {
            text.push(if comma { ',' } else { '.' });
            text.push_str(fr);
            nanos = format!("{fr:0<9}").parse().unwrap();
        }
        let offset = zone.map(|z| z * 60);
        if let Some(o) = offset {
            let a = o.unsigned_abs();
            text.push_str(&format!("{}{:02}{:02}", if o < 0 { '-' } else { '+' }, a / 3600, a / 60 % 60));
        }
        let line = format!("{text} {host} {}: {msg}", tag_text(&prog, pid));
        let f = frame(&line, &mut YearResolver::fixed(2026, 5400));
        if sep == " " && zone.is_none() && pid.is_none() {
            // A service's own log shape (Exim, MariaDB): whole, for the unframed formats.
            prop_assert_eq!((f.program, f.message.as_ref()), (None, line.as_str()));
            return Ok(());
        }
        let ts = f.timestamp.expect("timestamp");
        prop_assert_eq!(ts.offset, offset.unwrap_or(5400));
        prop_assert_eq!(ts.local_fields(), (year, mo, day, h, m, s));
        prop_assert_eq!(ts.nanos, nanos);
        prop_assert_eq!(f.host.as_deref(), Some(host.as_str()));
        prop_assert_eq!(f.program.as_deref(), Some(prog.as_str()));
        prop_assert_eq!(f.pid, pid);
        prop_assert_eq!(f.message.as_ref(), msg.as_str());

        // The same instant as `journalctl -o short-unix` writes it.
        let unix = format!("{}.{:06} {host} {}: {msg}", ts.unix, nanos / 1000, tag_text(&prog, pid));
        let u = frame(&unix, &mut YearResolver::fixed(2026, 0));
        let ut = u.timestamp.expect("unix timestamp");
        prop_assert_eq!((ut.unix, ut.nanos), (ts.unix, nanos / 1000 * 1000));
        prop_assert_eq!(u.program.as_deref(), Some(prog.as_str()));
    }

    /// socklog behind svlogd: TAI64N or `YYYY-MM-DD_hh:mm:ss.f` (UTC), `fac.level:`, the
    /// program's own BSD line.
    #[test]
    fn socklog_round_trip(
        unix in 0i64..4_102_444_800, nanos in 0u32..1_000_000_000,
        fac in 0usize..6, lvl in 0usize..5,
        prog in "[a-z][a-z0-9_-]{0,15}",
        pid in prop::option::of(1u32..4_000_000),
        msg in "[!-~][ -~]{0,40}",
        iso in any::<bool>(),
    ) {
        let (fname, fcode) = FACILITIES[fac];
        let (lname, lcode) = LEVELS[lvl];
        let (prefix, want_nanos) = if iso {
            let t = logward_core::Timestamp { unix, nanos, offset: 0 };
            let (y, mo, d, h, m, s) = t.local_fields();
            (format!("{y:04}-{mo:02}-{d:02}_{h:02}:{m:02}:{s:02}.{:05}", nanos / 10_000), nanos / 10_000 * 10_000)
        } else {
            (format!("@{:016x}{nanos:08x}", unix as u64 + (1u64 << 62) + 10), nanos)
        };
        let line = format!("{prefix} {fname}.{lname}: Dec  6 10:00:01 {}: {msg}", tag_text(&prog, pid));
        let f = frame(&line, &mut YearResolver::fixed(2026, 0));
        let ts = f.timestamp.expect("timestamp");
        prop_assert_eq!((ts.unix, ts.nanos, ts.offset), (unix, want_nanos, 0));
        prop_assert_eq!(f.program.as_deref(), Some(prog.as_str()));
        prop_assert_eq!(f.pid, pid);
        prop_assert_eq!((f.facility, f.severity), (Some(fcode), Some(lcode)));
        prop_assert_eq!(f.message.as_ref(), msg.as_str());
    }

    /// A tag without its colon after a timestamp: `prog[pid]`, `prog(module)[pid]`,
    /// `[prog][pid]`, and Solaris' `[ID n fac.level]` after it.
    #[test]
    fn colonless_tags_round_trip(
        host in "[a-z][a-z0-9-]{0,12}",
        prog in "[a-z][a-z0-9_-]{0,15}",
        pid in 1u32..4_000_000,
        form in 0usize..3,
        solaris in any::<bool>(),
        msg in "[!-Z\\^-~][ -~]{0,40}",
    ) {
        let (tag, want) = match form {
            0 => (format!("{prog}[{pid}]"), prog.clone()),
            1 => (format!("{prog}(pam_unix)[{pid}]"), format!("{prog}(pam_unix)")),
            _ => (format!("[{prog}][{pid}]"), prog.clone()),
        };
        let id = if solaris { "[ID 800047 auth.info] " } else { "" };
        let line = format!("Dec  6 10:00:01 {host} {tag} {id}{msg}");
        let f = frame(&line, &mut YearResolver::fixed(2026, 0));
        prop_assert_eq!(f.host.as_deref(), Some(host.as_str()));
        prop_assert_eq!(f.program.as_deref(), Some(want.as_str()));
        prop_assert_eq!(f.pid, Some(pid));
        prop_assert_eq!(f.message.as_ref(), msg.as_str());
    }
}
