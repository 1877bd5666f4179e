//! Durations as written in configs and on the command line: one grammar for every file and
//! command (rules, agent and collector configs, `bans add`, `decisions add`, notifier rates).
//!
//! A whole number followed by `ms`, `s`, `m`, `h`, `d` or `w`, or a bare number of seconds;
//! spaces around it (and between number and unit) are ignored. This is the union of the
//! grammars the project had: the rules' (bare seconds, up to `w`), notify's (also `ms`) and the
//! agent's intervals (a space before the unit).

use std::time::Duration;

/// `250ms`, `30s`, `10m`, `1h`, `5d`, `1w` or `90` (seconds). `None` for anything else or an
/// overflow.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        // `u64::from_str`, as notify's parser had it: it also takes `+250ms`.
        return ms.parse().ok().map(Duration::from_millis);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n = digits(num)?;
    let mul = match unit.trim_start() {
        "ms" => return Some(Duration::from_millis(n)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    n.checked_mul(mul).map(Duration::from_secs)
}

/// The same grammar in whole seconds, for what is counted in seconds (bans, rule windows): a
/// part of a second rounds up, so `500ms` is never a zero-length ban.
pub fn parse_secs(s: &str) -> Option<i64> {
    let d = parse_duration(s)?;
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).ok()
}

/// A duration as the configs write it, in the largest unit that divides it exactly (`1500ms`,
/// `30s`, `10m`, `3h`, `1d`, `1w`), so generated configs and docs show what [`parse_duration`]
/// reads back as the same value.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let s = d.as_secs();
    for (unit, n) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if s != 0 && s % n == 0 {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

/// ASCII digits only: `u64::from_str` would also take a leading `+`.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the rules' parser (`bans add`, `bans.default_duration`, rule steps) accepted.
    #[test]
    fn accepts_the_rules_grammar() {
        assert_eq!(parse_secs("10m"), Some(600));
        assert_eq!(parse_secs("5d"), Some(432_000));
        assert_eq!(parse_secs("1w"), Some(604_800));
        assert_eq!(parse_secs("90"), Some(90));
        assert_eq!(parse_secs(" 30s "), Some(30));
        assert_eq!(parse_secs("1y"), None);
        assert_eq!(parse_secs("m"), None);
    }

    /// What notify's parser (`decisions add`, `token create`, notifier settings) accepted.
    #[test]
    fn accepts_the_notify_grammar() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_duration("3d"), Some(Duration::from_secs(259_200)));
        assert_eq!(parse_duration("4h"), Some(Duration::from_secs(14_400)));
        assert_eq!(parse_duration("ten"), None);
    }

    #[test]
    fn formatted_durations_read_back_as_themselves() {
        for (d, text) in [
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_secs(600), "10m"),
            (Duration::from_secs(3 * 3600), "3h"),
            (Duration::from_secs(86_400), "1d"),
            (Duration::from_secs(604_800), "1w"),
            (Duration::from_secs(90), "90s"),
            (Duration::ZERO, "0s"),
        ] {
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Some(d));
        }
    }

    #[test]
    fn the_union_is_the_same_everywhere() {
        // `ms` now reaches what counts seconds, rounded up; bare seconds reach notify.
        assert_eq!(parse_secs("250ms"), Some(1));
        assert_eq!(parse_secs("2000ms"), Some(2));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
    }

    /// What the agent's `parse_interval` (forward and anomaly intervals) accepted.
    #[test]
    fn accepts_the_agent_interval_grammar() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5 s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2 d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
    }

    #[test]
    fn rejects_what_neither_accepted() {
        for bad in [
            "",
            " ",
            "-5s",
            "+5s",
            "1.5h",
            "5sec",
            "ms",
            "99999999999999999999w",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
            assert_eq!(parse_secs(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_secs("18446744073709551615"),
            None,
            "beyond i64 seconds"
        );
    }
}
