#![no_main]
//! The PAM decoder on arbitrary (service, message) pairs, sshd's `PAM:` lines and the
//! password-change refusals the shadow tools print: must never panic.
use libfuzzer_sys::fuzz_target;
use logward_parse::decoders::{pam, shadow, sshd};
use logward_parse::Decoded;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let (service, msg) = s.split_once('\n').unwrap_or(("sshd", s));
        let _ = Decoded::run(|e| pam::decode(service, None, msg, e));
        let _ = Decoded::run(|e| pam::decode(service, Some("pam_unix"), msg, e));
        let _ = Decoded::run(|e| pam::decode("unix_chkpwd", None, msg, e));
        let _ = Decoded::run(|e| shadow::decode("chpasswd", msg, e));
        let line = format!("error: PAM: {msg}");
        let _ = Decoded::run(|e| sshd::decode(&line, e));
    }
});
