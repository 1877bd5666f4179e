#![no_main]
//! The mail decoders (Postfix, Dovecot, Exim, Courier, Cyrus, timsieved, Sendmail, UW-IMAP,
//! Roundcube) on arbitrary (program, message) pairs, and their tag-less formats as whole
//! lines: must never panic.
use libfuzzer_sys::fuzz_target;
use logward_parse::decoders::mail;
use logward_parse::{Decoded, LineDecoder, YearResolver};

const PROGRAMS: &[&str] = &[
    "postfix/smtpd",
    "dovecot",
    "exim",
    "imapd",
    "courieresmtpd",
    "cyrus/imap",
    "sieve",
    "sm-mta",
    "ipop3d",
    "roundcube",
];

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        for p in PROGRAMS {
            if let Some(decode) = mail::decoder_for(p) {
                let _ = Decoded::run(|e| decode(s, e));
            }
        }
        let _ = LineDecoder::new(YearResolver::fixed(2026, 0)).decode(s);
    }
});
