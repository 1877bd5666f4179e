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
        prefix in prop::sample::select(vec!["", "<13>", "<13>1 ", "Nov 22 10:00:01 ", "2026-11-22T10:00:01.5+01:00 ", "{", "[", "Feb 29 "]),
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
