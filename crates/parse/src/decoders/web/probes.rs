//! What marks a request as a probe rather than a visit: well-known exploit paths requested
//! and not found, scripts that do not exist, `~user` home directories, harvester user agents,
//! and shellshock payloads. Shared by the access-log and error-log decoders; all
//! allocation-free and case-insensitive where the servers are.

use crate::text::FastFind;

/// First path segments (after any leading slashes) that scanners request on every server:
/// fail2ban's botsearch list (phpMyAdmin and its aliases, webmail front ends, WordPress
/// login pages, `cgi-bin`) and a few secrets nobody serves on purpose. A prefix match, as
/// fail2ban's `<block>[^,]*` is: `/pmapper-3.2`, `/mail_this_entry` count.
const SCAN_PREFIXES: &[&str] = &[
    "pma",
    "phpmyadmin",
    "myadmin",
    "mysqladmin",
    "roundcube",
    "mail",
    "extmail",
    "horde",
    "webmail",
    "v-webmail",
    "vwebmail",
    "wp-login.php",
    "wp-signup.php",
    "wp-admin.php",
    "cgi-bin",
    ".env",
    ".git/",
    ".aws/",
    "wp-config.php",
    "vendor/phpunit",
    "boaform",
    "hnap1",
];

/// Directories scanners put in front of phpMyAdmin (`/typo3/pma`, `/xampp/phpmyadmin`).
const SCAN_DIRS: &[&str] = &["typo3/", "xampp/", "admin/"];

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Whether a request path (`/phpMyAdmin/setup.php`, `//pma/`) starts in a scanned-for place.
pub fn is_scan_path(path: &str) -> bool {
    let p = path.trim_start_matches('/');
    if SCAN_PREFIXES.iter().any(|pre| starts_with_ci(p, pre)) {
        return true;
    }
    SCAN_DIRS.iter().any(|d| {
        starts_with_ci(p, d) && {
            let rest = &p[d.len()..];
            ["pma", "phpmyadmin", "myadmin"]
                .iter()
                .any(|pre| starts_with_ci(rest, pre))
        }
    })
}

/// Whether a file-system path names a script (fail2ban's apache-noscript: `php`, `php4`,
/// `php5`, `php-cgi`, `.asp`, `.exe`, `.pl`, or anything under `cgi-bin/`).
pub fn is_script_path(path: &str) -> bool {
    if path.fcontains("php") || path.fcontains("cgi-bin/") {
        return true;
    }
    [".asp", ".exe", ".pl"].iter().any(|ext| {
        let b = path.as_bytes();
        let mut from = 0;
        while let Some(i) = path.get(from..).and_then(|s| s.ffind(ext)) {
            let end = from + i + ext.len();
            // `.pl` but not `.plain`: what follows is no letter or digit.
            if b.get(end).is_none_or(|c| !c.is_ascii_alphanumeric()) {
                return true;
            }
            from = end;
        }
        false
    })
}

/// A missing file that only a probe asks for: a scanned-for name as the last segment, a
/// script, or a `~user` home directory (apache-botsearch, -noscript, -nohome).
pub fn is_probe_file(path: &str) -> bool {
    let last = match path.trim_end_matches('/').rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    };
    is_scan_path(last) || is_script_path(path) || path.fcontains("/~")
}

/// User agents of e-mail harvesters and comment spammers (fail2ban's apache-badbots list,
/// matched whole as fail2ban does, so a browser naming one in a comment does not count).
pub fn is_bad_bot(agent: &str) -> bool {
    // No listed agent is longer than 66 bytes; a browser's nearly always is.
    if agent.len() > 66 {
        return false;
    }
    // Jorgee, the scanner, with or without a `Mozilla/N.N ` in front.
    if let Some(rest) = agent.strip_suffix("Jorgee") {
        if rest.is_empty() || (rest.starts_with("Mozilla/") && rest.ends_with(' ')) {
            return true;
        }
    }
    matches!(
        agent,
        "EmailCollector"
            | "WebEMailExtrac"
            | "TrackBack/1.02"
            | "sogou music spider"
            | "atSpider/1.0"
            | "autoemailspider"
            | "China Local Browse 2.6"
            | "ContentSmartz"
            | "DataCha0s/2.0"
            | "DBrowse 1.4b"
            | "DBrowse 1.4d"
            | "Demo Bot DOT 16b"
            | "Demo Bot Z 16b"
            | "DSurf15a 01"
            | "DSurf15a 71"
            | "DSurf15a 81"
            | "DSurf15a VA"
            | "EBrowse 1.4b"
            | "Educate Search VxB"
            | "EmailSiphon"
            | "EmailWolf 1.00"
            | "ESurf15a 15"
            | "ExtractorPro"
            | "Franklin Locator 1.8"
            | "FSurf15a 01"
            | "Full Web Bot 0416B"
            | "Full Web Bot 0516B"
            | "Full Web Bot 2816B"
            | "Industry Program 1.0.x"
            | "ISC Systems iRc Search 2.1"
            | "IUPUI Research Bot v 1.9a"
            | "LARBIN-EXPERIMENTAL (efp@gmx.net)"
            | "LetsCrawl.com/1.0 +http://letscrawl.com/"
            | "Lincoln State Web Browser"
            | "LWP::Simple/5.803"
            | "Mac Finder 1.0.xx"
            | "MFC Foundation Class Library 4.0"
            | "Microsoft URL Control - 6.00.8xxx"
            | "Missauga Locate 1.0.0"
            | "Missigua Locator 1.9"
            | "Missouri College Browse"
            | "Mizzu Labs 2.2"
            | "Mo College 1.9"
            | "Mozilla/2.0 (compatible; NEWT ActiveX; Win32)"
            | "Mozilla/3.0 (compatible; Indy Library)"
            | "Mozilla/4.0 (compatible; Advanced Email Extractor v2.xx)"
            | "Mozilla/4.0 (compatible; Iplexx Spider/1.0 http://www.iplexx.at)"
            | "Mozilla/4.0 (compatible; MSIE 5.0; Windows NT; DigExt; DTS Agent"
            | "Mozilla/4.0 efp@gmx.net"
            | "Mozilla/5.0 (Version: xxxx Type:xx)"
            | "MVAClient"
            | "NASA Search 1.0"
            | "Nsauditor/1.x"
            | "PBrowse 1.4b"
            | "PEval 1.4b"
            | "Poirot"
            | "Port Huron Labs"
            | "Production Bot 0116B"
            | "Production Bot 2016B"
            | "Production Bot DOT 3016B"
            | "Program Shareware 1.0.2"
            | "PSurf15a 11"
            | "PSurf15a 51"
            | "PSurf15a VA"
            | "psycheclone"
            | "RSurf15a 41"
            | "RSurf15a 51"
            | "RSurf15a 81"
            | "searchbot admin@google.com"
            | "sogou spider"
            | "sohu agent"
            | "SSurf15a 11 "
            | "TSurf15a 11"
            | "Under the Rainbow 2.2"
            | "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)"
            | "WebVulnCrawl.blogspot.com/1.0 libwww-perl/5.803"
            | "Wells Search II"
            | "WEP Search 00"
    )
}

/// A shellshock payload (`() {` opening a bash function definition) anywhere in `s`.
#[inline]
pub fn has_shellshock(s: &str) -> bool {
    let b = s.as_bytes();
    // Ordinary agents hold `(` but no `{`: one pass settles them.
    if crate::text::find_byte(b'{', b).is_none() {
        return false;
    }
    crate::text::find_byte_iter(b'(', b).any(|i| {
        let rest = &b[i + 1..];
        // `() {` with any blanks between, as bash accepts.
        let rest = match rest.strip_prefix(b")") {
            Some(r) => r,
            None => return false,
        };
        let n = rest
            .iter()
            .take_while(|c| **c == b' ' || **c == b'\t')
            .count();
        rest.get(n) == Some(&b'{')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_paths() {
        for p in [
            "//phpMyAdmin-2.8.2.3/scripts/setup.php",
            "/pma/",
            "/admin/pma/scripts/setup.php",
            "/cgi-bin/php4",
            "/roundcube/",
            "/wp-login.php",
            "/.env",
            "/xampp/phpmyadmin/",
        ] {
            assert!(is_scan_path(p), "{p}");
        }
        for p in [
            "/",
            "/index.html",
            "/admin/",
            "/wp-content/x.css",
            "/images/pma.png",
        ] {
            assert!(!is_scan_path(p), "{p}");
        }
    }

    #[test]
    fn probe_files() {
        for p in [
            "/var/www/pma",
            "/var/www/mail_this_entry",
            "/home/x/public_html/azenv.php",
            "/xxx/~",
            "/var/www/extmail",
            "/srv/cgi-bin/test.pl",
        ] {
            assert!(is_probe_file(p), "{p}");
        }
        for p in [
            "/srv/http/site/[client 192.168.0.1] user root not found",
            "/var/www/favicon.ico",
            "/var/www/doc.plain",
        ] {
            assert!(!is_probe_file(p), "{p}");
        }
    }

    #[test]
    fn bots_and_shellshock() {
        assert!(is_bad_bot("TrackBack/1.02"));
        assert!(is_bad_bot("Mozilla/5.0 Jorgee"));
        assert!(!is_bad_bot(
            "Mozilla/5.0 (X11; Linux x86_64) TrackBack/1.02"
        ));
        assert!(has_shellshock("() { :; }; /bin/bash -c id"));
        assert!(has_shellshock("x=(){ :;}"));
        assert!(!has_shellshock("f(x) {"));
        assert!(!has_shellshock(
            "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"
        ));
        assert!(has_shellshock(
            "Mozilla/5.0 (X11) () { ignored; }; echo; /bin/id"
        ));
    }
}
