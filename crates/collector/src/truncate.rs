//! Field size caps for what agents send (`limits.field_bytes`): a text field over the cap is
//! cut on a character boundary and ends with [`MARKER`], so a 5 MiB "user name" can never
//! become a 10 MiB LLM prompt or a 20 MiB API page, and a reader sees that it was cut.

use std::borrow::Cow;

use logward_core::{Alert, Event};

/// What a cut field ends with.
pub const MARKER: &str = "…[truncated]";

/// Cuts `s` to at most `max` bytes (marker included); whether it did.
fn cut_string(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max.saturating_sub(MARKER.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str(MARKER);
    true
}

fn cut_cow(c: &mut Cow<'_, str>, max: usize) -> bool {
    if c.len() <= max {
        return false;
    }
    cut_string(c.to_mut(), max)
}

fn cut_opt(c: &mut Option<Cow<'_, str>>, max: usize) -> u32 {
    c.as_mut().map_or(0, |c| u32::from(cut_cow(c, max)))
}

fn cut_opt_string(c: &mut Option<String>, max: usize) -> u32 {
    c.as_mut().map_or(0, |c| u32::from(cut_string(c, max)))
}

/// Caps every text field of an event; returns how many were cut.
pub fn event(e: &mut Event<'_>, max: usize) -> u32 {
    let mut n = 0;
    for f in [
        &mut e.original,
        &mut e.message,
        &mut e.host_name,
        &mut e.process_name,
        &mut e.command_line,
        &mut e.source_address,
        &mut e.user_name,
        &mut e.user_target_name,
        &mut e.group_name,
        &mut e.auth_key_type,
        &mut e.auth_key_fingerprint,
        &mut e.systemd_unit,
        &mut e.file_path,
        &mut e.agent_id,
        &mut e.claimed_host,
    ] {
        n += cut_opt(f, max);
    }
    for (k, v) in &mut e.journald {
        n += u32::from(cut_cow(k, max)) + u32::from(cut_cow(v, max));
    }
    if let Some(w) = e.winlog.as_deref_mut() {
        for f in [&mut w.channel, &mut w.provider_name, &mut w.computer_name] {
            n += u32::from(cut_cow(f, max));
        }
        for (k, v) in &mut w.event_data {
            n += u32::from(cut_cow(k, max)) + u32::from(cut_cow(v, max));
        }
    }
    if let Some(x) = e.enrichment.as_deref_mut() {
        if let Some(g) = &mut x.geo {
            n += cut_opt_string(&mut g.country_iso_code, max)
                + cut_opt_string(&mut g.country_name, max)
                + cut_opt_string(&mut g.city_name, max);
        }
        if let Some(a) = &mut x.asn {
            n += cut_opt_string(&mut a.organization, max);
        }
        for z in x.dnsbl.iter_mut().flatten() {
            n += u32::from(cut_string(z, max));
        }
    }
    n
}

/// Caps every text field of an alert and its event; returns how many were cut.
pub fn alert(a: &mut Alert, max: usize) -> u32 {
    let mut n = event(&mut a.event, max);
    for s in [&mut a.rule_id, &mut a.rule_name, &mut a.message] {
        n += u32::from(cut_string(s, max));
    }
    for s in a.tags.iter_mut().chain(a.reasons.iter_mut()) {
        n += u32::from(cut_string(s, max));
    }
    for (k, v) in &mut a.labels {
        n += u32::from(cut_string(k, max)) + u32::from(cut_string(v, max));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_a_character_boundary_and_marks_it() {
        let mut s = "é".repeat(100);
        assert!(cut_string(&mut s, 64));
        assert!(s.len() <= 64 && s.ends_with(MARKER), "{s}");
        let mut short = "abc".to_owned();
        assert!(!cut_string(&mut short, 64));
        assert_eq!(short, "abc");
    }
}
