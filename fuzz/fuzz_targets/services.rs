#![no_main]
//! The service decoders (FTP, databases, OpenVPN, Asterisk, FreeSWITCH, BIND, portsentry,
//! fail2ban) on arbitrary messages, and the unframed service formats (MySQL, MSSQL, MongoDB
//! JSON, squid, 3proxy, …) on arbitrary lines: must never panic.
use libfuzzer_sys::fuzz_target;
use logward_parse::decoders::{self, db, ftp, unframed};
use logward_parse::{Decoded, YearResolver};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = std::str::from_utf8(data) {
        let _ = Decoded::run(|e| ftp::vsftpd::decode(m, e));
        let _ = Decoded::run(|e| ftp::proftpd::decode(m, e));
        let _ = Decoded::run(|e| ftp::pureftpd::decode(m, e));
        let _ = Decoded::run(|e| ftp::wuftpd::decode(m, e));
        let _ = Decoded::run(|e| db::mysql::decode(m, e));
        let _ = Decoded::run(|e| db::mssql::decode(m, e));
        let _ = Decoded::run(|e| db::mongodb::decode(m, e));
        let _ = Decoded::run(|e| decoders::openvpn::decode(m, e));
        let _ = Decoded::run(|e| decoders::asterisk::decode(m, e));
        let _ = Decoded::run(|e| decoders::freeswitch::decode(m, e));
        let _ = Decoded::run(|e| decoders::named::decode(m, e));
        let _ = Decoded::run(|e| decoders::portsentry::decode(m, e));
        let _ = Decoded::run(|e| decoders::fail2ban::decode(m, e));
        let mut years = YearResolver::fixed(2026, 0);
        let _ = Decoded::run(|e| unframed::decode(m, &mut years, e).map(|u| u.found));
    }
});
