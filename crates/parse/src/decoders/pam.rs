//! PAM messages from any service (`pam_unix(svc:auth): authentication failure; … rhost=…`).
//!
//! Forms: `pam_MOD(svc:type): BODY`, `pam_MOD(type): BODY`, `pam_MOD: BODY`,
//! `(pam_unix) BODY`, a bare BODY when the syslog tag already named the module
//! (`sshd(pam_unix)[pid]:`), and `PAM N more authentication failures; …`.
//!
//! **rhost.** pam_unix writes `… ruser=R rhost=H[  user=U]`; R (vsftpd, pure-ftpd, sshd put
//! the client's login name there) and U can both be the client's text, H is one token. A
//! ` rhost=H` is a candidate when followed by end of line, ` [preauth]` or blanks and `user=`;
//! the leftmost candidate wins (which puts any later ` rhost=` inside U, as the format says).
//! When several candidates remain the line is ambiguous and all are listed in
//! [`Found::ambiguous_peers`], so the correlator keeps the one the session knows or none.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::scan::{self, find_spaced};
use super::{guarded, start, Found};
use crate::text;

/// `service` is the program (or the service named in an old `svc(pam_unix)` tag); `module`
/// is set when the tag already named the PAM module.
///
/// Every event it makes has `event.dataset: pam`, whatever the service (`process.name` says
/// which): a PAM line repeats what the service itself logs about the same attempt (sshd's
/// `Failed password`, sudo's `incorrect password attempts`), so rules that count attempts the
/// way fail2ban does count the service's own dataset, and can still see PAM's view.
///
/// Writes into `e`; `None` (and `e` untouched) when the message is not a PAM line it knows.
pub fn decode<'a>(
    service: &str,
    module: Option<&str>,
    message: &'a str,
    e: &mut Event<'a>,
) -> Option<Found<'a>> {
    guarded(e, |e| {
        let found = decode_service(service, module, message, e)?;
        e.dataset = Some(Dataset::Pam);
        Some(found)
    })
}

fn decode_service<'a>(
    service: &str,
    module: Option<&str>,
    message: &'a str,
    e: &mut Event<'a>,
) -> Option<Found<'a>> {
    let message = scan::trim_end_blanks(message);
    let (module, svc, body): (&str, &str, &'a str) = if let Some(m) = module {
        let body = message
            .strip_prefix('(')
            .and_then(|r| scan::split_once(r, ") "))
            .map_or(message, |(_, b)| b);
        (m, service, body)
    } else if let Some(r) = message.strip_prefix("(pam_") {
        let (m, b) = scan::split_once(r, ") ")?;
        (m, service, b)
    } else if message.starts_with("pam_") {
        let end = scan::find_either(b'(', b':', message.as_bytes())?;
        let m = message.get(..end)?;
        let rest = message.get(end..)?;
        if let Some(r) = rest.strip_prefix('(') {
            // `svc:type): BODY`: the first `): ` ends the parenthesis, the first `:` before
            // it ends the service (one pass over both bytes).
            let rb = r.as_bytes();
            let mut colon = None;
            let mut close = None;
            for i in scan::positions2(b':', b')', rb) {
                if rb.get(i) == Some(&b')') {
                    if rb.get(i + 1..).is_some_and(|t| t.starts_with(b": ")) {
                        close = Some(i);
                        break;
                    }
                } else if colon.is_none() {
                    colon = Some(i);
                }
            }
            let close = close?;
            let svc = match colon {
                Some(i) => r.get(..i)?,
                None => service,
            };
            (m, svc, r.get(close + 3..)?)
        } else {
            (m, service, rest.strip_prefix(": ")?)
        }
    } else if let Some(r) = message.strip_prefix("PAM ") {
        return more_failures(service, r, e);
    } else {
        return None;
    };
    let module = module.strip_prefix("pam_").unwrap_or(module);
    let (dataset, action) = service_kind(svc);

    // The four common bodies, told apart by their first byte.
    match body.as_bytes().first() {
        Some(b'a') => {
            if let Some(kv) = body.strip_prefix("authentication failure; ") {
                return auth_failure(dataset, action, kv, "pam-failure", e);
            }
        }
        Some(b'c') if body.starts_with("check pass; user unknown") => {
            start(e, dataset, action, Outcome::Failure);
            e.reason = Some("invalid-user");
            return Found::yes();
        }
        Some(b's') => {
            if let Some(r) = body.strip_prefix("session opened for user ") {
                let (user, by) = opened_by(r);
                return session(dataset, Action::SessionStart, user, by, e);
            }
            if let Some(r) = body.strip_prefix("session closed for user ") {
                let user = strip_uid(scan::trim_end_spaces(r));
                return session(dataset, Action::UserLogout, user, "", e);
            }
        }
        _ => {}
    }
    match module {
        // `user zbadguy (4001) tally 6, deny 5`: pam_tally2 denies a locked account.
        "tally" | "tally2" => {
            let r = body.strip_prefix("user ")?;
            let (user, r) = scan::word(r);
            if !scan::contains(r, " tally ") {
                return None;
            }
            locked(dataset, action, user, e)
        }
        // `pam_systemd(sshd:session): Failed to create session: …`.
        "systemd" if body.starts_with("Failed to create session") => {
            start(e, dataset, Action::SessionStart, Outcome::Failure);
            e.reason = Some("session-failed");
            Found::yes()
        }
        "faillock" => {
            let r = body.strip_prefix("Consecutive login failures for user ")?;
            let (user, _) = scan::word(r);
            locked(dataset, action, user, e)
        }
        _ => None,
    }
}

/// Which dataset and action a PAM service's lines belong to.
fn service_kind(svc: &str) -> (Dataset, Action) {
    match svc {
        "sshd" | "sshd-session" | "sshd-auth" => (Dataset::Sshd, Action::UserLogin),
        "su" | "su-l" => (Dataset::Su, Action::PrivilegeEscalation),
        "sudo" | "sudo-i" => (Dataset::Sudo, Action::PrivilegeEscalation),
        "login" => (Dataset::Login, Action::UserLogin),
        _ => (Dataset::Pam, Action::UserLogin),
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Strips pam_unix's `(uid=N)` after a name.
fn strip_uid(s: &str) -> &str {
    match scan::find(s, "(uid=") {
        Some(i) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// `USER[(uid=N)][ by BY[(uid=M)]]` after `session opened for user `: (USER, BY), each cut
/// at its first `(uid=`. One pass over the blanks and parentheses; the same as splitting at
/// the first ` by ` and then searching each side, because `(uid=` holds no blank and so
/// never straddles the ` by `.
fn opened_by(r: &str) -> (&str, &str) {
    let b = r.as_bytes();
    let is_uid = |i: usize| b.get(i..).is_some_and(|t| t.starts_with(b"(uid="));
    let mut user_end = None;
    let mut split = None;
    for i in scan::positions2(b' ', b'(', b) {
        match split {
            None if b.get(i) == Some(&b' ') => {
                if b.get(i..).is_some_and(|t| t.starts_with(b" by ")) {
                    split = Some(i);
                }
            }
            None => {
                if user_end.is_none() && is_uid(i) {
                    user_end = Some(i);
                }
            }
            Some(at) => {
                if i >= at + 4 && b.get(i) == Some(&b'(') && is_uid(i) {
                    let by = r.get(at + 4..i).unwrap_or("");
                    return (user_part(r, at, user_end), by);
                }
            }
        }
    }
    match split {
        Some(at) => (user_part(r, at, user_end), r.get(at + 4..).unwrap_or("")),
        None => (user_part(r, r.len(), user_end), ""),
    }
}

/// The user before `end`: cut at its `(uid=` if it has one, else without trailing blanks.
fn user_part(r: &str, end: usize, uid: Option<usize>) -> &str {
    match uid {
        Some(i) => r.get(..i).unwrap_or(""),
        None => scan::trim_end_spaces(r.get(..end).unwrap_or("")),
    }
}

/// A session line's event; `user` and `by` are already cut at their `(uid=`.
fn session<'a>(
    dataset: Dataset,
    action: Action,
    user: &'a str,
    by: &'a str,
    e: &mut Event<'a>,
) -> Option<Found<'a>> {
    start(e, dataset, action, Outcome::Success);
    let (user, by) = (non_empty(user), non_empty(by));
    if matches!(dataset, Dataset::Su | Dataset::Sudo) {
        // `session opened for user root by alice(uid=1000)`: alice acts, root is the target.
        e.user_name = by.map(Cow::Borrowed);
        e.user_target_name = user.map(Cow::Borrowed);
    } else {
        e.user_name = user.map(Cow::Borrowed);
    }
    Found::yes()
}

fn locked<'a>(
    dataset: Dataset,
    action: Action,
    user: &'a str,
    e: &mut Event<'a>,
) -> Option<Found<'a>> {
    start(e, dataset, action, Outcome::Failure);
    e.reason = Some("locked-out");
    e.user_name = non_empty(user).map(Cow::Borrowed);
    Found::yes()
}

/// `N more authentication failure[s]; logname= … rhost=H[  user=U]`: pam's summary when a
/// client used up its retries.
fn more_failures<'a>(service: &str, r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (n, r) = scan::word(r);
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let kv = r
        .strip_prefix("more authentication failures; ")
        .or_else(|| r.strip_prefix("more authentication failure; "))?;
    let (dataset, action) = service_kind(service);
    auth_failure(dataset, action, kv, "pam-summary", e)
}

/// A ` rhost=H` that ends the structure: (position of the space, H, text after `user=`).
fn rhost_candidate(kv: &str, at: usize) -> Option<(usize, &str, Option<&str>)> {
    let v = kv.get(at + 7..)?;
    let (host, follow) = match scan::find_byte(b' ', v.as_bytes()) {
        Some(i) => v.split_at(i),
        None => (v, ""),
    };
    let follow = follow.trim_start_matches(' ');
    if follow.is_empty() || follow == "[preauth]" {
        return Some((at, host, None));
    }
    let user = follow.strip_prefix("user=")?;
    let user = user
        .strip_suffix("[preauth]")
        .map_or(user, |u| u.trim_end_matches(' '));
    Some((at, host, Some(user)))
}

fn auth_failure<'a>(
    dataset: Dataset,
    action: Action,
    kv: &'a str,
    reason: &'static str,
    e: &mut Event<'a>,
) -> Option<Found<'a>> {
    start(e, dataset, action, Outcome::Failure);
    e.reason = Some(reason);
    // R starts after ` ruser=`; candidates are searched after it.
    let ruser_at = if kv.starts_with("ruser=") {
        Some(0)
    } else {
        find_spaced(kv, " ruser=").next().map(|i| i + 1)
    };
    let from = ruser_at.map_or(0, |i| i + 5);
    let tail = kv.get(from..).unwrap_or("");
    let cands = || find_spaced(tail, " rhost=").filter_map(|at| rhost_candidate(tail, at));
    let mut count = 0;
    let mut chosen = None;
    for c in cands() {
        if !c.1.is_empty() {
            count += 1;
        }
        if chosen.is_none() {
            chosen = Some(c);
        }
    }
    let (ruser, user) = match chosen {
        Some((at, _, user)) => (ruser_at.and_then(|_| tail.get(1..at)), user),
        None => (text::kv(kv, "ruser"), text::kv(kv, "user")),
    };
    let ruser = ruser.and_then(non_empty);
    let user = user.and_then(non_empty);
    // Only su and sudo fall back to logname=: looked up only for them.
    let logname = || text::kv(kv, "logname").and_then(non_empty);
    match dataset {
        // su authenticates the target (user=); the one acting is ruser/logname.
        Dataset::Su => {
            e.user_name = ruser.or_else(logname).map(Cow::Borrowed);
            e.user_target_name = user.map(Cow::Borrowed);
        }
        // sudo authenticates the invoking user: user= acts.
        Dataset::Sudo => e.user_name = user.or(ruser).or_else(logname).map(Cow::Borrowed),
        // user= is the account; pam_unix leaves it out for unknown accounts, and then ruser
        // holds the login name the client gave (vsftpd, pure-ftpd, sshd).
        _ => e.user_name = user.or(ruser).map(Cow::Borrowed),
    }
    let Some((_, host, _)) = chosen else {
        return Found::yes();
    };
    if !host.is_empty() {
        e.set_source(Cow::Borrowed(host), None);
    }
    let mut found = Found::default();
    if count > 1 {
        found.ambiguous_peers = cands()
            .filter(|c| !c.1.is_empty())
            .map(|c| (Cow::Borrowed(c.1), None))
            .collect();
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// The one-pass split is the split at the first ` by ` and a cut at each side's
        /// first `(uid=`.
        #[test]
        fn opened_by_is_split_then_strip(
            parts in proptest::collection::vec(
                prop::sample::select(vec!["root", " by ", "(uid=", "0)", " ", "(", "by", "é", "x(uid=1)", "  "]),
                0..8,
            )
        ) {
            let r = parts.concat();
            let (user, by) = scan::split_once(&r, " by ").unwrap_or((&r, ""));
            let want = (strip_uid(scan::trim_end_spaces(user)), strip_uid(by));
            prop_assert_eq!(opened_by(&r), want);
        }
    }

    fn decode<'a>(svc: &str, module: Option<&str>, m: &'a str) -> Option<Decoded<'a>> {
        Decoded::run(|e| super::decode(svc, module, m, e))
    }

    fn d<'a>(svc: &str, module: Option<&str>, m: &'a str) -> Decoded<'a> {
        decode(svc, module, m).unwrap_or_else(|| panic!("not decoded: {m}"))
    }

    #[test]
    fn auth_failure_forms() {
        for (svc, module, m, host, user) in [
            ("sshd", None, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.156  user=root", Some("192.0.2.156"), Some("root")),
            ("sshd", None, "(pam_unix) authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=host-42-17.dyn.example.net  user=root", Some("host-42-17.dyn.example.net"), Some("root")),
            ("pure-ftpd", None, "(pam_unix) authentication failure; logname= uid=0 euid=0 tty=pure-ftpd ruser=demo-user rhost=192.168.1.49 ", Some("192.168.1.49"), Some("demo-user")),
            ("vsftpd", None, "pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=ab1234 rhost=ftp-client.example.org", Some("ftp-client.example.org"), Some("ab1234")),
            ("vsftpd", None, "pam_unix: authentication failure; logname= uid=0 euid=0 tty=ftp ruser=ab1234 rhost=ftp-client.example.org", Some("ftp-client.example.org"), Some("ab1234")),
            ("pop", Some("pam_unix"), "authentication failure; logname= uid=0 euid=0 tty= ruser= rhost=192.168.10.123 user=mbox", Some("192.168.10.123"), Some("mbox")),
            ("sshd", None, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=rdx rhost=192.0.2.193 [preauth]", Some("192.0.2.193"), Some("rdx")),
            ("sudo", None, "pam_unix(sudo:auth): authentication failure; logname=xbad uid=4001 euid=0 tty=/dev/pts/12 ruser=xbad rhost=  user=xbad", None, Some("xbad")),
        ] {
            let x = d(svc, module, m);
            assert_eq!(x.event.outcome, Outcome::Failure, "{m}");
            assert_eq!(x.event.source_address.as_deref(), host, "{m}");
            assert_eq!(x.event.user_name.as_deref(), user, "{m}");
            assert!(x.ambiguous_peers.is_empty(), "{m}");
        }
        let x = d("sshd", None, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.33.63.182 user=lab");
        assert_eq!(x.event.dataset, Some(Dataset::Pam));
        assert_eq!(x.event.action(), Action::UserLogin);
        assert_eq!(x.event.reason, Some("pam-failure"));
    }

    #[test]
    fn injected_rhost_in_ruser_is_not_a_candidate() {
        let x = d("daemon", None, "pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser=test rhost=192.0.2.99 rhost=192.0.2.49");
        assert_eq!(x.event.source_address.as_deref(), Some("192.0.2.49"));
        assert_eq!(x.event.user_name.as_deref(), Some("test rhost=192.0.2.99"));
        assert!(x.ambiguous_peers.is_empty());
        assert_eq!(x.event.dataset, Some(Dataset::Pam));
    }

    #[test]
    fn rhost_in_user_after_host_is_ambiguous() {
        let x = d("daemon", None, "pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= rhost=192.0.2.86 user=test rhost=192.0.2.136");
        assert_eq!(x.event.source_address.as_deref(), Some("192.0.2.86"));
        assert_eq!(x.event.user_name.as_deref(), Some("test rhost=192.0.2.136"));
        assert_eq!(
            x.ambiguous_peers,
            vec![
                (Cow::Borrowed("192.0.2.86"), None),
                (Cow::Borrowed("192.0.2.136"), None)
            ]
        );
    }

    #[test]
    fn services_map_to_datasets() {
        let m = "pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root";
        let x = d("su", None, m);
        assert_eq!(x.event.dataset, Some(Dataset::Pam));
        assert_eq!(x.event.action(), Action::PrivilegeEscalation);
        assert_eq!(x.event.user_name.as_deref(), Some("alice"));
        assert_eq!(x.event.user_target_name.as_deref(), Some("root"));
        let x = d("login", None, "pam_unix(login:auth): authentication failure; logname=LOGIN uid=0 euid=0 tty=tty1 ruser= rhost=  user=bob");
        assert_eq!(x.event.dataset, Some(Dataset::Pam));
        assert_eq!(x.event.user_name.as_deref(), Some("bob"));
        let x = d(
            "cron",
            None,
            "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
        );
        assert_eq!(x.event.dataset, Some(Dataset::Pam));
        assert_eq!(x.event.action(), Action::SessionStart);
        assert_eq!(x.event.user_name.as_deref(), Some("root"));
    }

    #[test]
    fn sessions() {
        let x = d(
            "sshd",
            None,
            "pam_unix(sshd:session): session opened for user rdx by (uid=0)",
        );
        assert_eq!(x.event.action(), Action::SessionStart);
        assert_eq!(x.event.outcome, Outcome::Success);
        assert_eq!(x.event.user_name.as_deref(), Some("rdx"));
        let x = d(
            "sshd",
            None,
            "pam_unix(sshd:session): session closed for user kim",
        );
        assert_eq!(x.event.action(), Action::UserLogout);
        assert_eq!(x.event.user_name.as_deref(), Some("kim"));
        let x = d(
            "su",
            Some("pam_unix"),
            "session opened for user news by (uid=0)",
        );
        assert_eq!(x.event.dataset, Some(Dataset::Pam));
        assert_eq!(x.event.user_target_name.as_deref(), Some("news"));
        let x = d(
            "su",
            None,
            "pam_unix(su-l:session): session opened for user root(uid=0) by alice(uid=1000)",
        );
        assert_eq!(x.event.user_name.as_deref(), Some("alice"));
        assert_eq!(x.event.user_target_name.as_deref(), Some("root"));
    }

    #[test]
    fn lockouts_unknown_users_and_summaries() {
        let x = d(
            "sudo",
            None,
            "pam_tally2(sudo:auth): user xbad (4001) tally 6, deny 5",
        );
        assert_eq!(x.event.reason, Some("locked-out"));
        assert_eq!(x.event.user_name.as_deref(), Some("xbad"));
        assert_eq!(x.event.dataset, Some(Dataset::Pam));
        let x = d("sshd", None, "pam_faillock(sshd:auth): Consecutive login failures for user root account temporarily locked");
        assert_eq!(x.event.reason, Some("locked-out"));
        assert_eq!(x.event.user_name.as_deref(), Some("root"));
        let x = d(
            "sshd",
            None,
            "pam_unix(sshd:auth): check pass; user unknown",
        );
        assert_eq!(x.event.reason, Some("invalid-user"));
        assert_eq!(x.event.outcome, Outcome::Failure);
        let x = d("sshd", None, "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=183.62.140.123  user=root");
        assert_eq!(x.event.reason, Some("pam-summary"));
        assert_eq!(x.event.source_address.as_deref(), Some("183.62.140.123"));
        assert_eq!(x.event.user_name.as_deref(), Some("root"));
        let x = d(
            "sshd",
            None,
            "PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.160",
        );
        assert_eq!(x.event.source_address.as_deref(), Some("1.2.3.160"));
    }

    #[test]
    fn session_creation_failure() {
        let x = d(
            "sshd",
            None,
            "pam_systemd(sshd:session): Failed to create session: Access denied",
        );
        assert_eq!(x.event.action(), Action::SessionStart);
        assert_eq!(x.event.outcome, Outcome::Failure);
    }

    #[test]
    fn not_pam() {
        for m in [
            "PAM service(sshd) ignoring max retries; 6 > 3",
            "Accepted password for root from 1.2.3.160 port 1 ssh2",
            "pam_unix(sshd:auth)",
            "pam_",
            "(pam_unix",
            "",
        ] {
            assert!(decode("sshd", None, m).is_none(), "{m}");
        }
    }
}
