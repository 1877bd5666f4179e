#![no_main]
//! The shadow-utils decoder for every program it serves: must never panic.
use libfuzzer_sys::fuzz_target;
use logward_parse::Decoded;

const PROGRAMS: &[&str] = &[
    "useradd", "userdel", "usermod", "groupadd", "groupdel", "gpasswd", "passwd", "chpasswd",
    "chage",
];

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = std::str::from_utf8(data) {
        for p in PROGRAMS {
            let _ = Decoded::run(|e| logward_parse::decoders::shadow::decode(p, msg, e));
        }
    }
});
