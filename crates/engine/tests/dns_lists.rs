//! Threat lists read from real files: the corpus's one list in three formats, several lists
//! with severities, reloading on change with the last good copy kept, and suffix matching
//! checked against a naive model.

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;
use std::path::Path;

use logward_core::Severity;
use logward_engine::dns::{parse, DomainSet, Format, ListSet, ListSpec, Outcome};
use proptest::prelude::*;

fn spec(name: &str, severity: Severity, path: &Path, format: Option<Format>) -> ListSpec {
    ListSpec {
        name: name.into(),
        severity,
        path: path.to_owned(),
        format,
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write list");
}

#[test]
fn the_corpus_blocklist_loads_to_the_same_set_in_all_three_formats() {
    let Some(dir) = logward_test_support::corpus("dns/blocklist-badd-boyz-hosts") else {
        return;
    };
    let mut sets = Vec::new();
    for (file, format) in [
        ("hosts", Format::Hosts),
        ("domains", Format::Domains),
        ("dnsmasq", Format::Dnsmasq),
    ] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).expect("corpus file");
        let p = parse(file, &text, None);
        assert_eq!(
            p.report.format,
            Some(format),
            "{file} detected as {:?}",
            p.report.format
        );
        assert_eq!(p.report.invalid, 0, "{file}: {:?}", p.report.errors);
        let names: BTreeSet<String> = p.domains.iter().map(|m| m.to_string()).collect();
        sets.push((file, names));
        if file == "hosts" {
            // `127.0.0.1 localhost` and `::1 localhost` are the machine's, not blocked.
            assert_eq!(p.report.ignored_total(), 2, "{}", p.report);
            assert!(!p.domains.contains("localhost"));
        }
    }
    let (_, hosts) = &sets[0];
    assert_eq!(hosts.len(), 1384, "PROVENANCE.md counts 1384 entries");
    for (file, names) in &sets[1..] {
        assert_eq!(names, hosts, "{file} differs from hosts");
    }
    // And through a ListSet, by suffix.
    let (lists, outcomes) =
        ListSet::load([spec("badd-boyz", Severity::High, &dir.join("hosts"), None)]);
    assert!(outcomes.iter().all(|o| !o.is_problem()), "{outcomes:?}");
    let hit = lists.lookup("x.y.000free.us").expect("listed parent");
    assert_eq!(
        (hit.list, hit.entry, hit.severity),
        ("badd-boyz", "000free.us", Severity::High)
    );
    assert!(lists.lookup("free.us").is_none());
}

#[test]
fn the_most_severe_list_answers_and_names_its_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, c) = (
        dir.path().join("ads.txt"),
        dir.path().join("c2.rpz"),
        dir.path().join("ips.txt"),
    );
    write(&a, "0.0.0.0 tracker.example\n0.0.0.0 shared.example\n");
    write(&b, "$ORIGIN rpz.local.\nshared.example CNAME .\n*.c2.example CNAME .\n32.7.2.0.192.rpz-ip CNAME .\n");
    write(&c, "198.51.100.0/24\n192.0.2.7\n");
    let (lists, outcomes) = ListSet::load([
        spec("ads", Severity::Low, &a, None),
        spec("c2", Severity::Critical, &b, Some(Format::Rpz)),
        spec("bad-ips", Severity::High, &c, None),
    ]);
    assert_eq!(outcomes.len(), 3);
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o.outcome, Outcome::Loaded(_))),
        "{outcomes:?}"
    );
    let hit = lists.lookup("x.shared.example").expect("hit");
    assert_eq!(
        (hit.list, hit.entry, hit.severity),
        ("c2", "shared.example", Severity::Critical)
    );
    let hit = lists.lookup("beacon.c2.example.").expect("hit");
    assert_eq!(
        (hit.list, hit.entry_text().as_str()),
        ("c2", "*.c2.example")
    );
    assert!(
        lists.lookup("c2.example").is_none(),
        "*.c2.example lists the subdomains only"
    );
    assert_eq!(lists.lookup("TRACKER.example").map(|h| h.list), Some("ads"));
    assert!(lists.lookup("example").is_none());
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    // The RPZ's rpz-ip trigger is more severe than the IP list's network.
    let hit = lists.lookup_ip(ip("192.0.2.7")).expect("hit");
    assert_eq!(
        (hit.list, hit.entry.to_string().as_str()),
        ("c2", "192.0.2.7")
    );
    let hit = lists.lookup_ip(ip("198.51.100.9")).expect("hit");
    assert_eq!(
        (hit.list, hit.entry.to_string().as_str(), hit.severity),
        ("bad-ips", "198.51.100.0/24", Severity::High)
    );
    assert!(lists.lookup_ip(ip("203.0.113.1")).is_none());
    assert!(lists.heap_bytes() > 0);
}

#[test]
fn reload_reads_changed_files_and_keeps_the_last_good_copy_of_broken_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("list.txt");
    write(&path, "evil.example\n");
    let (mut lists, _) = ListSet::load([spec("l", Severity::High, &path, None)]);
    assert!(lists.lookup("a.evil.example").is_some());

    assert!(matches!(lists.reload()[0].outcome, Outcome::Unchanged));

    // Changed (a new inode, as a download's rename gives).
    let tmp = dir.path().join("list.tmp");
    write(&tmp, "evil.example\nworse.example\n");
    std::fs::rename(&tmp, &path).expect("rename");
    assert!(matches!(&lists.reload()[0].outcome, Outcome::Loaded(r) if r.domains == 2));
    assert!(lists.lookup("worse.example").is_some());

    // Missing: kept, reported; still kept on the next look.
    std::fs::remove_file(&path).expect("rm");
    let o = &lists.reload()[0];
    assert!(o.is_problem());
    assert!(matches!(&o.outcome, Outcome::Failed { kept: 2, .. }), "{o}");
    assert!(
        o.to_string()
            .contains("keeping the last good copy (2 entries)"),
        "{o}"
    );
    assert!(lists.lookup("worse.example").is_some());

    // Emptied (caught mid-rewrite): kept.
    write(&path, "");
    assert!(matches!(
        lists.reload()[0].outcome,
        Outcome::Failed { kept: 2, .. }
    ));
    // An HTML error page where the list was: kept.
    write(
        &path,
        "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>oops</body>\n</html>\n",
    );
    let o = &lists.reload()[0];
    assert!(matches!(o.outcome, Outcome::Failed { kept: 2, .. }), "{o}");
    assert!(lists.lookup("evil.example").is_some());

    // Repaired: read again even though a failed read left no stamp to compare.
    write(&path, "new.example\n");
    assert!(matches!(&lists.reload()[0].outcome, Outcome::Loaded(r) if r.domains == 1));
    assert!(lists.lookup("evil.example").is_none());
    assert!(lists.lookup("x.new.example").is_some());
}

#[test]
fn a_list_missing_at_start_is_empty_until_its_file_appears() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("later.txt");
    let (mut lists, outcomes) = ListSet::load([spec(
        "later",
        Severity::Medium,
        &path,
        Some(Format::Domains),
    )]);
    assert!(matches!(
        outcomes[0].outcome,
        Outcome::Failed { kept: 0, .. }
    ));
    assert!(
        outcomes[0].to_string().contains("the list is empty"),
        "{}",
        outcomes[0]
    );
    assert!(lists.lookup("evil.example").is_none());
    write(&path, "evil.example\n");
    assert!(matches!(lists.reload()[0].outcome, Outcome::Loaded(_)));
    assert!(lists.lookup("evil.example").is_some());
}

/// A name of 1–4 labels from a small alphabet, so that queries often share parents.
fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "evil", "com", "x-y", "net", "c0"]),
        1..5,
    )
    .prop_map(|labels| labels.join("."))
}

/// The naive model: `q` or one of its parents is in `listed`.
fn model(listed: &HashSet<String>, q: &str) -> Option<String> {
    let mut s = q;
    loop {
        if listed.contains(s) {
            return Some(s.to_owned());
        }
        match s.split_once('.') {
            Some((_, parent)) => s = parent,
            None => return None,
        }
    }
}

proptest! {
    #[test]
    fn a_name_matches_iff_it_or_a_parent_is_listed(
        listed in prop::collection::hash_set(name(), 0..40),
        queries in prop::collection::vec(name(), 1..40),
    ) {
        let set = DomainSet::from_names(listed.iter().map(String::as_str));
        prop_assert_eq!(set.len(), listed.len());
        for q in queries.iter().chain(listed.iter()) {
            let got = set.lookup(q).map(|m| m.name.to_owned());
            prop_assert_eq!(got, model(&listed, q), "query {}", q);
            let upper = format!("{}.", q.to_ascii_uppercase());
            prop_assert_eq!(set.lookup(&upper).map(|m| m.name.to_owned()), model(&listed, q));
        }
    }
}
