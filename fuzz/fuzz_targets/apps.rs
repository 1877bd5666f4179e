#![no_main]
//! The web-application decoders (Grafana, GitLab, Webmin, Drupal, Guacamole, Monit,
//! Bitwarden/Vaultwarden, openHAB, phpMyAdmin, Centreon), syslog and unframed, on arbitrary
//! messages: must never panic.
use libfuzzer_sys::fuzz_target;
use logward_parse::decoders::{apps, unframed};
use logward_parse::{Decoded, YearResolver};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = std::str::from_utf8(data) {
        let mut years = YearResolver::fixed(2026, 0);
        let _ = Decoded::run(|e| unframed::decode(msg, &mut years, e).map(|u| u.found));
        for f in [
            apps::webmin::decode,
            apps::monit::decode,
            apps::phpmyadmin::decode,
            apps::drupal::decode,
            apps::grafana::decode,
            apps::guacamole::decode,
            apps::vaultwarden::decode,
            apps::vaultwarden::bitwarden,
        ] {
            let _ = Decoded::run(|e| f(msg, e));
        }
    }
});
