use super::*;

fn read(format: Option<Format>, text: &str) -> Parsed {
    parse("list.txt", text, format)
}

/// The listed names, sorted, `*.` before wildcard entries.
fn names(p: &Parsed) -> Vec<String> {
    let mut v: Vec<String> = p.domains.iter().map(|m| m.to_string()).collect();
    v.sort();
    v
}

fn errors(p: &Parsed) -> Vec<String> {
    p.report.errors.iter().map(|e| e.to_string()).collect()
}

#[test]
fn hosts_files_with_several_names_a_line_and_comments() {
    let p = read(
        Some(Format::Hosts),
        "# a header\n127.0.0.1 localhost\n::1 localhost ip6-localhost #[IPv6]\n0.0.0.0 0.0.0.0\n\
         0.0.0.0 ads.example.com\t# trailing comment\n127.0.0.1 Tracker.Example.NET. beacon.example.org\n\
         :: v6sink.example\nfe80::1%lo0 localhost\n0.0.0.0 bad_name!.com\nnot-an-address evil.com\n0.0.0.0\n",
    );
    assert_eq!(
        names(&p),
        [
            "ads.example.com",
            "beacon.example.org",
            "tracker.example.net",
            "v6sink.example"
        ]
    );
    assert_eq!(p.report.ignored(IGNORED_LOCAL), 5);
    assert_eq!(
        errors(&p),
        [
            "list.txt:9: \"bad_name!.com\": '!' is not allowed in a domain name",
            "list.txt:10: \"not-an-address\" is not an address (hosts format: ADDRESS NAME…)",
            "list.txt:11: an address without a name",
        ]
    );
    assert_eq!(p.report.invalid, 3);
}

#[test]
fn plain_lists_crlf_bom_comments_and_duplicates() {
    let p = read(None, "\u{feff}# comment\r\nevil.com\r\n\r\nEVIL.com.\r\nsub.evil.com # why\r\n  spaced.example  \r\ntwo words.com\r\n*.wild.example\r\n");
    assert_eq!(p.report.format, Some(Format::Domains));
    assert!(p.report.detected);
    assert_eq!(
        names(&p),
        [
            "*.wild.example",
            "evil.com",
            "spaced.example",
            "sub.evil.com"
        ]
    );
    assert_eq!(p.report.duplicates, 1);
    assert_eq!(
        errors(&p),
        ["list.txt:7: more than one word (domains format: one name per line)"]
    );
}

#[test]
fn invalid_names_are_counted_with_their_line_and_the_rest_kept() {
    let mut text = String::from("good.example\n");
    for i in 0..30 {
        text.push_str(&format!("bad..name{i}.example\n"));
    }
    text.push_str("bücher.de\n10.0.0.1\nlast.example\n");
    let p = read(Some(Format::Domains), &text);
    assert_eq!(names(&p), ["good.example", "last.example"]);
    assert_eq!(p.report.invalid, 32);
    assert_eq!(p.report.errors.len(), MAX_REPORTED_ERRORS);
    assert_eq!(
        p.report.errors[0].to_string(),
        "list.txt:2: \"bad..name0.example\": empty label (two dots, or a leading dot)"
    );
    // Past the kept errors, still counted; and the report says how many.
    assert!(p.report.to_string().contains("32 invalid"), "{}", p.report);
}

#[test]
fn empty_and_comment_only_files_list_nothing() {
    for text in ["", "\n\n", "# only\n# comments\n", "\u{feff}"] {
        let p = read(None, text);
        assert!(p.domains.is_empty() && p.ips.is_empty(), "{text:?}");
        assert_eq!(p.report.invalid, 0);
    }
}

#[test]
fn dnsmasq_address_server_and_local_lines() {
    let p = read(
        None,
        "# dnsmasq\naddress=/evil.com/\naddress=/a.example/b.example/0.0.0.0\nserver=/c2.example/\nserver=/tunnel.example/127.0.0.1#5353\n\
         local=/internal.bad/\naddress=/#/0.0.0.0\naddress=/nothing\ncache-size=1000\nno-resolv\naddress=/*.wild.example/\n",
    );
    assert_eq!(p.report.format, Some(Format::Dnsmasq));
    assert_eq!(
        names(&p),
        [
            "*.wild.example",
            "a.example",
            "b.example",
            "c2.example",
            "evil.com",
            "internal.bad",
            "tunnel.example"
        ]
    );
    assert_eq!(p.report.ignored(IGNORED_DNSMASQ), 2);
    assert_eq!(
        errors(&p),
        [
            "list.txt:7: '#' (every domain) is not a listed domain",
            "list.txt:8: no closing '/' after the domain"
        ]
    );
}

#[test]
fn adblock_network_rules_and_what_is_ignored() {
    let p = read(
        None,
        "[Adblock Plus 2.0]\n! Title: test\n||ads.example.com^\n||tracker.example^$third-party,important\n||pixel.example^|\n\
         ||evil.example\n@@||good.example^\nexample.com##.banner\n##.ad\n#@#.ad\n||cdn.example/path/ad.js\n/banner[0-9]+/\n\
         ||wild*.example^\n||undo.example^$badfilter\n0.0.0.0 hosts-line.example\nplain.example\n# a comment\n",
    );
    assert_eq!(p.report.format, Some(Format::Adblock));
    assert_eq!(
        names(&p),
        [
            "ads.example.com",
            "evil.example",
            "hosts-line.example",
            "pixel.example",
            "plain.example",
            "tracker.example"
        ]
    );
    assert_eq!(p.report.ignored(IGNORED_EXCEPTION), 1);
    assert_eq!(p.report.ignored(IGNORED_COSMETIC), 3);
    assert_eq!(p.report.ignored(IGNORED_NOT_DNS), 3);
    assert_eq!(p.report.ignored(IGNORED_BADFILTER), 1);
    assert_eq!(p.report.invalid, 0);
    assert!(
        p.report
            .to_string()
            .contains("1 ignored (AdBlock exception rule (@@…): allow rules are not applied)"),
        "{}",
        p.report
    );
}

#[test]
fn rpz_zone_files_with_origin_relative_names_wildcards_and_ip_triggers() {
    let p = read(
        None,
        "$TTL 300\n$ORIGIN rpz.example.org.\n@ IN SOA ns.example.org. admin.example.org. (\n  2024010101 ; serial\n  3600 600 86400 300 )\n\
         @ IN NS ns.example.org.\n; a comment\nevil.com CNAME .\n*.evil.com CNAME .\nbad.net 300 IN CNAME *.\n\
         ads.example.com.rpz.example.org. CNAME rpz-drop.\nallowed.example CNAME rpz-passthru.\nredirect.example A 192.0.2.1\n\
         \t\t AAAA 2001:db8::1\n32.4.3.2.1.rpz-ip CNAME .\n64.zz.db8.2001.rpz-ip CNAME .\nns1.evil.rpz-nsdname CNAME .\n\
         outside.example.com. CNAME .\nbad..name CNAME .\n*.only-wild.example CNAME .\n",
    );
    assert_eq!(p.report.format, Some(Format::Rpz));
    assert_eq!(
        names(&p),
        [
            "*.only-wild.example",
            "ads.example.com",
            "bad.net",
            "evil.com",
            "redirect.example"
        ]
    );
    let ips: Vec<String> = p.ips.iter().map(|n| n.to_string()).collect();
    assert_eq!(ips, ["1.2.3.4", "2001:db8::/64"]);
    assert_eq!(p.report.ignored(IGNORED_APEX), 2);
    assert_eq!(p.report.ignored(IGNORED_PASSTHRU), 1);
    assert_eq!(p.report.ignored(IGNORED_TRIGGER), 1);
    // `*.evil.com` after `evil.com`; the AAAA of redirect.example after its A.
    assert_eq!(p.report.duplicates, 2);
    assert_eq!(
        errors(&p),
        [
            "list.txt:18: \"outside.example.com.\" is outside the zone ($ORIGIN rpz.example.org.)",
            "list.txt:19: \"bad..name\": empty label (two dots, or a leading dot)",
        ]
    );
    assert!(p.domains.contains("x.only-wild.example") && !p.domains.contains("only-wild.example"));
}

#[test]
fn rpz_without_origin_takes_owner_names_as_they_are() {
    let p = read(
        Some(Format::Rpz),
        "evil.com CNAME .\nabs.example. CNAME .\n$INCLUDE other.zone\n",
    );
    assert_eq!(names(&p), ["abs.example", "evil.com"]);
    assert_eq!(
        errors(&p),
        ["list.txt:3: $INCLUDE is not supported (only $ORIGIN and $TTL)"]
    );
}

#[test]
fn ip_lists_with_comments_and_cidrs() {
    let p = read(None, "; Spamhaus DROP style\n192.0.2.0/24 ; SBL1\n198.51.100.7\n2001:db8::/32 # v6\n10.0.0.300\n192.0.2.0/24\n");
    assert_eq!(p.report.format, Some(Format::Ip));
    let ips: Vec<String> = p.ips.iter().map(|n| n.to_string()).collect();
    assert_eq!(ips, ["192.0.2.0/24", "198.51.100.7", "2001:db8::/32"]);
    assert_eq!(p.report.duplicates, 1);
    assert_eq!(
        errors(&p),
        ["list.txt:5: \"10.0.0.300\" is not an IP address"]
    );
}

#[test]
fn detection_by_the_first_lines() {
    for (text, f) in [
        (
            "0.0.0.0 a.example\n0.0.0.0 ns\n0.0.0.0 txt\n",
            Format::Hosts,
        ),
        ("a.example\nb.example\n", Format::Domains),
        ("address=/a.example/\n", Format::Dnsmasq),
        ("! x\n||a.example^\n", Format::Adblock),
        ("$ORIGIN rpz.\na.example CNAME .\n", Format::Rpz),
        ("192.0.2.1\n10.0.0.0/8\n", Format::Ip),
        ("", Format::Domains),
    ] {
        assert_eq!(detect(text), f, "{text:?}");
    }
    assert_eq!("rpz".parse::<Format>(), Ok(Format::Rpz));
    assert!("csv"
        .parse::<Format>()
        .unwrap_err()
        .contains("one of hosts, domains, dnsmasq, adblock, rpz, ip"));
}

#[test]
fn a_named_format_is_not_second_guessed() {
    let p = read(Some(Format::Domains), "0.0.0.0 evil.com\n");
    assert!(p.domains.is_empty());
    assert_eq!(p.report.invalid, 1);
    assert!(!p.report.detected);
}
