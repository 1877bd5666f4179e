#![no_main]
//! The DNS log readers through `LineDecoder`: the input's lines, after a Zeek `dns.log` header
//! or not, as dnsmasq and Unbound syslog messages, and as they are (Zeek and packetbeat JSON,
//! Unbound's own log). Never a panic; every open dnsmasq/Unbound query comes out at the end.
use libfuzzer_sys::fuzz_target;
use logward_parse::{LineDecoder, YearResolver};

const ZEEK: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqclass_name\tqtype_name\trcode_name\tanswers\tTTLs";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mode = data.first().copied().unwrap_or(0) % 4;
    let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
    let mut lines: Vec<String> = Vec::new();
    if mode == 0 {
        lines.extend(ZEEK.lines().map(str::to_owned));
    }
    for l in text.lines() {
        lines.push(match mode {
            1 => format!("Dec  7 01:09:02 gw dnsmasq[7]: {l}"),
            2 => format!("Dec  7 01:09:02 gw unbound: [7:0] info: {l}"),
            _ => l.to_owned(),
        });
    }
    for l in &lines {
        let _ = d.decode(l);
        while d.take_joined().is_some() {}
        d.idle();
    }
    d.finish();
    while d.take_joined().is_some() {}
    let _ = d.take_dns_errors();
});
