#![no_main]
//! The web decoders on arbitrary text: nginx's and Apache's error logs, access logs and
//! lighttpd's log through the unframed hook, and each syslog form (`nginx`, `httpd`,
//! `lighttpd`, `haproxy`): must never panic, and a source must be an address.
use libfuzzer_sys::fuzz_target;
use logward_parse::decoders::{unframed, web};
use logward_parse::{Decoded, YearResolver};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = std::str::from_utf8(data) {
        let mut years = YearResolver::fixed(2026, 0);
        if let Some(d) = Decoded::run(|e| unframed::decode(msg, &mut years, e).map(|u| u.found)) {
            assert!(d.event.source_address.is_none() || d.event.source_ip.is_some());
        }
        for f in [
            web::nginx::decode,
            web::apache::decode,
            web::access::decode,
            web::lighttpd::decode,
            web::haproxy::decode,
        ] {
            if let Some(d) = Decoded::run(|e| f(msg, e)) {
                assert!(d.event.source_address.is_none() || d.event.source_ip.is_some());
            }
        }
    }
});
