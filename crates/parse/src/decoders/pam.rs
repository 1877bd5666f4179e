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
    // (module, service, management group, body); the group is empty when the line has none.
    let (module, svc, group, body): (&str, &str, &str, &'a str) = if let Some(m) = module {
        let body = message
            .strip_prefix('(')
            .and_then(|r| scan::split_once(r, ") "))
            .map_or(message, |(_, b)| b);
        (m, service, "", body)
    } else if let Some(r) = message.strip_prefix("(pam_") {
        let (m, b) = scan::split_once(r, ") ")?;
        (m, service, "", b)
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
            let (svc, group) = match colon {
                Some(i) => (r.get(..i)?, r.get(i + 1..close)?),
                None => (service, r.get(..close)?),
            };
            (m, svc, group, r.get(close + 3..)?)
        } else {
            (m, service, "", rest.strip_prefix(": ")?)
        }
    } else if let Some(r) = message.strip_prefix("PAM ") {
        return more_failures(service, r, e).or_else(|| sshd_legacy(service, r, e));
    } else if service == "unix_chkpwd" {
        // pam_unix's helper logs under its own name: `password check failed for user (U)`.
        ("unix", service, "", message)
    } else {
        return None;
    };
    let module = module.strip_prefix("pam_").unwrap_or(module);
    let (dataset, action) = service_kind(svc);
    // `chauthtok` is the password-changing group: its verdicts are about a password change.
    let action = if group == "chauthtok" {
        Action::PasswordChanged
    } else {
        action
    };

    // The common bodies, told apart by their first byte.
    match body.as_bytes().first() {
        Some(b'a') => {
            if let Some(kv) = body.strip_prefix("authentication failure; ") {
                return auth_failure(dataset, action, kv, "pam-failure", e);
            }
            if module == "access" {
                return access_denied(dataset, action, body, e);
            }
            // pam_unix's account check: `account U has expired (account expired)` (or
            // `(failed to change password)`). U is the account pam_unix looked up.
            if let Some(r) = body.strip_prefix("account ") {
                let (user, _) = scan::rsplit_once(r, " has expired (")?;
                return failure(dataset, action, "account-expired", user, e);
            }
        }
        Some(b'c') => {
            if let Some(r) = body.strip_prefix("check pass; user ") {
                // `check pass; user unknown`, or `check pass; user (U) unknown`.
                let user = match r
                    .strip_prefix('(')
                    .and_then(|u| u.strip_suffix(") unknown"))
                {
                    Some(u) => u,
                    None if r == "unknown" => "",
                    None => return None,
                };
                return failure(dataset, action, "invalid-user", user, e);
            }
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
        Some(b'0'..=b'9') => {
            // `sshd(pam_unix)[pid]: 2 more authentication failures; …`: the summary under an
            // old tag, without its `PAM ` prefix.
            return more_failures(service, body, e);
        }
        Some(b'p' | b'n' | b'u' | b'b' | b'r') => {
            if let Some(found) = password_body(dataset, action, module, body, e) {
                return Some(found);
            }
        }
        _ => {}
    }
    match module {
        "tally" | "tally2" => tally(dataset, action, body, e),
        // `pam_systemd(sshd:session): Failed to create session: …`.
        "systemd" if body.starts_with("Failed to create session") => {
            start(e, dataset, Action::SessionStart, Outcome::Failure);
            e.reason = Some("session-failed");
            Found::yes()
        }
        "faillock" => {
            if let Some(r) = body.strip_prefix("Consecutive login failures for user ") {
                let user = r.strip_suffix(" account temporarily locked").unwrap_or(r);
                return locked(dataset, action, user, e);
            }
            // `User unknown` (with `audit`: `User unknown: U`), in the preauth check.
            let user = match body.strip_prefix("User unknown") {
                Some("") => "",
                Some(r) => r.strip_prefix(": ")?,
                None => return None,
            };
            failure(dataset, action, "invalid-user", user, e)
        }
        _ => None,
    }
}

/// A failure of `action` for `user` (the account trying; may be empty): no actor is named.
fn failure<'a>(
    dataset: Dataset,
    action: Action,
    reason: &'static str,
    user: &'a str,
    e: &mut Event<'a>,
) -> Option<Found<'a>> {
    start(e, dataset, action, Outcome::Failure);
    e.reason = Some(reason);
    set_account(e, dataset, action, None, non_empty(user));
    Found::yes()
}

/// pam_unix's password-change (and helper) bodies, pam_pwquality/pam_cracklib's refusals and
/// pam_succeed_if's denials. `None` when `body` is none of them.
fn password_body<'a>(
    dataset: Dataset,
    action: Action,
    module: &str,
    body: &'a str,
    e: &mut Event<'a>,
) -> Option<Found<'a>> {
    use Action::PasswordChanged as Changed;
    let changed = |e: &mut Event<'a>, outcome, reason, target: &'a str| {
        start(e, dataset, Changed, outcome);
        e.reason = reason;
        e.user_target_name = non_empty(target).map(Cow::Borrowed);
        Found::yes()
    };
    match body.as_bytes().first()? {
        b'p' => {
            // `password changed for U`, NIS: `password changed for U on MASTER`.
            if let Some(r) = body.strip_prefix("password changed for ") {
                let user = scan::rsplit_once(r, " on ").map_or(r, |(u, _)| u);
                return changed(e, Outcome::Success, None, user);
            }
            if let Some(r) = body.strip_prefix("password not changed for ") {
                let user = scan::rsplit_once(r, " on ").map_or(r, |(u, _)| u);
                return changed(e, Outcome::Failure, Some("token-error"), user);
            }
            // unix_chkpwd: the password given for U was wrong.
            if let Some(r) = body.strip_prefix("password check failed for user (") {
                let user = r.strip_suffix(')')?;
                return failure(dataset, action, "bad-password", user, e);
            }
            // The current password was not given (the conversation ended).
            if body == "password - (old) token not obtained" {
                return changed(e, Outcome::Failure, Some("pam-failure"), "");
            }
            if body == "password - new password not obtained" {
                return changed(e, Outcome::Failure, Some("password-rejected"), "");
            }
            None
        }
        // `new password not acceptable` (and its ` 2`, after the second check).
        b'n' if body.starts_with("new password not acceptable") => {
            changed(e, Outcome::Failure, Some("password-rejected"), "")
        }
        // pam_pwquality / pam_cracklib with `debug`: `bad password: WHY`.
        b'b' if body.starts_with("bad password: ") => {
            changed(e, Outcome::Failure, Some("password-rejected"), "")
        }
        b'u' => {
            // `user "U" does not exist in /etc/passwd[ or NIS]`, `… has corrupted passwd entry`.
            if let Some(r) = body.strip_prefix("user \"") {
                let user = scan::rsplit_once(r, "\" does not exist in /etc/passwd")
                    .or_else(|| scan::rsplit_once(r, "\" has corrupted passwd entry"))
                    .map(|(u, _)| u)?;
                return changed(e, Outcome::Failure, Some("invalid-user"), user);
            }
            match body {
                // The current password did not check out.
                "user not authenticated" => changed(e, Outcome::Failure, Some("pam-failure"), ""),
                "user password changed by another process" | "user shadow entry expired" => {
                    changed(e, Outcome::Failure, Some("token-error"), "")
                }
                _ => None,
            }
        }
        // pam_succeed_if: `requirement "uid >= 1000" not met by user "root"` (or `by unknown
        // user`). The user is the account's name as given, quoted to the end of the line.
        b'r' if module == "succeed_if" => {
            let r = body.strip_prefix("requirement \"")?;
            // The condition is the configuration's and holds no quote; the user is the client's.
            let (_, by) = scan::split_once(r, "\" not met by ")?;
            let user = match by.strip_prefix("user \"") {
                Some(u) => u.strip_suffix('"')?,
                None if by == "unknown user" => "",
                None => return None,
            };
            failure(dataset, action, "not-allowed", user, e)
        }
        _ => None,
    }
}

/// pam_tally / pam_tally2: `user U (UID) tally N, deny M` (a denied attempt on a locked
/// account), `user U (UID) has time limit [Ns left] since last failure.`, and `pam_get_uid; no
/// such user[ U]`. U is an existing account here (unknown ones take the last form), cut at
/// the last ` (` so a name with blanks stays whole.
fn tally<'a>(
    dataset: Dataset,
    action: Action,
    body: &'a str,
    e: &mut Event<'a>,
) -> Option<Found<'a>> {
    if let Some(r) = body.strip_prefix("pam_get_uid; no such user") {
        let user = if r.is_empty() {
            ""
        } else {
            r.strip_prefix(' ')?
        };
        return failure(dataset, action, "invalid-user", user, e);
    }
    let r = body.strip_prefix("user ")?;
    let (head, _) =
        scan::rsplit_once(r, ") tally ").or_else(|| scan::rsplit_once(r, ") has time limit ["))?;
    let (user, uid) = scan::rsplit_once(head, " (")?;
    if uid.is_empty() || !uid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    locked(dataset, action, user, e)
}

/// pam_access: ``access denied for user `U' from `H'`` — H is the remote host pam_access was
/// given (`PAM_RHOST`), or the tty when there is none. Read from the right: U is the client's.
fn access_denied<'a>(
    dataset: Dataset,
    action: Action,
    body: &'a str,
    e: &mut Event<'a>,
) -> Option<Found<'a>> {
    let r = body.strip_prefix("access denied for user `")?;
    let (user, from) = scan::rsplit_once(r, "' from `")?;
    let from = from.strip_suffix('\'')?;
    let found = failure(dataset, action, "not-allowed", user, e)?;
    if is_remote_host(from) {
        e.set_source(Cow::Borrowed(from), None);
    }
    Some(found)
}

/// Whether pam_access's origin names a remote host rather than a tty (`tty1`, `pts/0`, `:0`,
/// `/dev/…`, `cron`): an address, or a dotted host name.
fn is_remote_host(from: &str) -> bool {
    let b = from.as_bytes();
    !b.is_empty()
        && !b.contains(&b'/')
        && !b.contains(&b' ')
        && b.first() != Some(&b':')
        && (b.contains(&b'.') || b.contains(&b':'))
}

/// OpenSSH 3.x's own PAM lines (sshd, dataset pam): `PAM rejected by account
/// configuration[N]: WHY`, `PAM pam_chauthtok failed[N]: WHY`, `PAM session setup
/// failed[N]: WHY` (the `[N]` only in some versions). They name no user or peer.
fn sshd_legacy<'a>(service: &str, r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (dataset, _) = service_kind(service);
    let (action, reason) = if r.starts_with("rejected by account configuration") {
        (Action::UserLogin, "not-allowed")
    } else if r.starts_with("pam_chauthtok failed") {
        (Action::PasswordChanged, "token-error")
    } else if r.starts_with("session setup failed") {
        (Action::SessionStart, "session-failed")
    } else {
        return None;
    };
    start(e, dataset, action, Outcome::Failure);
    e.reason = Some(reason);
    Found::yes()
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

/// A session line's event; `user` and `by` are already cut at their `(uid=`. `by` is who
/// opened it (su's and sudo's caller; empty or `LOGIN` for a login), `user` the account.
fn session<'a>(
    dataset: Dataset,
    action: Action,
    user: &'a str,
    by: &'a str,
    e: &mut Event<'a>,
) -> Option<Found<'a>> {
    start(e, dataset, action, Outcome::Success);
    set_account(e, dataset, action, actor(by), non_empty(user));
    Found::yes()
}

/// The `logname=` value: pam_unix writes it first (`logname=L uid=…`), so only the first field
/// is read (a later `logname=` would be inside another field's value).
#[inline]
fn logname(kv: &str) -> Option<&str> {
    let v = kv.strip_prefix("logname=")?;
    Some(scan::word(v).0)
}

/// A name that identifies someone acting: not empty, and not login's `LOGIN` placeholder
/// (getlogin() on a terminal where nobody has logged in yet).
#[inline]
fn actor(s: &str) -> Option<&str> {
    (!s.is_empty() && s != "LOGIN").then_some(s)
}

/// The one rule for names on PAM lines: the actor (`ruser`/`logname`, a session's `by`) is
/// `user.name` and the account acted on (`user=`, the session's user) `user.target.name`;
/// with no actor, the account is `user.name` (the account trying to log in, as fail2ban and
/// the anomaly detector read it). su keeps the account as the target even then: `su` is
/// always someone becoming that account. A password change names its account as the target.
#[inline]
fn set_account<'a>(
    e: &mut Event<'a>,
    dataset: Dataset,
    action: Action,
    actor: Option<&'a str>,
    account: Option<&'a str>,
) {
    if actor.is_some() || dataset == Dataset::Su || action == Action::PasswordChanged {
        e.user_name = actor.map(Cow::Borrowed);
        e.user_target_name = account.map(Cow::Borrowed);
    } else {
        e.user_name = account.map(Cow::Borrowed);
    }
}

fn locked<'a>(
    dataset: Dataset,
    action: Action,
    user: &'a str,
    e: &mut Event<'a>,
) -> Option<Found<'a>> {
    failure(dataset, action, "locked-out", user, e)
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
    let ruser = ruser.and_then(actor);
    let user = user.and_then(non_empty);
    // ruser (set by the service: sudo's and su's caller, an FTP or IMAP client's login name)
    // acts; else logname (the terminal's login, empty for network services).
    let by = ruser.or_else(|| logname(kv).and_then(actor));
    // pam_unix leaves user= out for unknown accounts: ruser is then the name the client gave.
    set_account(e, dataset, action, by, user);
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

    /// (service, message, action, outcome, reason, user.name, user.target.name).
    type Want<'a> = (
        &'a str,
        &'a str,
        Action,
        Outcome,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );

    fn check(cases: &[Want<'_>]) {
        for &(svc, m, action, outcome, reason, user, target) in cases {
            let x = d(svc, None, m);
            let e = &x.event;
            assert_eq!(e.dataset, Some(Dataset::Pam), "{m}");
            assert_eq!(
                (e.action(), e.outcome, e.reason),
                (action, outcome, reason),
                "{m}"
            );
            assert_eq!(e.user_name.as_deref(), user, "{m}");
            assert_eq!(e.user_target_name.as_deref(), target, "{m}");
            assert_eq!(e.source_address, None, "{m}");
        }
    }

    #[test]
    fn password_changes() {
        use Action::PasswordChanged as P;
        use Outcome::{Failure as F, Success as S};
        check(&[
            ("passwd", "pam_unix(passwd:chauthtok): password changed for bob", P, S, None, None, Some("bob")),
            ("chpasswd", "pam_unix(chpasswd:chauthtok): password changed for bob", P, S, None, None, Some("bob")),
            ("passwd", "pam_unix(passwd:chauthtok): password changed for bob on nis1", P, S, None, None, Some("bob")),
            ("passwd", "pam_unix(passwd:chauthtok): password not changed for bob on nis1", P, F, Some("token-error"), None, Some("bob")),
            ("passwd", "pam_unix(passwd:chauthtok): new password not acceptable", P, F, Some("password-rejected"), None, None),
            ("passwd", "pam_unix(passwd:chauthtok): new password not acceptable 2", P, F, Some("password-rejected"), None, None),
            ("passwd", "pam_pwquality(passwd:chauthtok): bad password: The password is shorter than 8 characters", P, F, Some("password-rejected"), None, None),
            ("passwd", "pam_unix(passwd:chauthtok): user \"ghost\" does not exist in /etc/passwd", P, F, Some("invalid-user"), None, Some("ghost")),
            ("passwd", "pam_unix(passwd:chauthtok): user \"ghost\" does not exist in /etc/passwd or NIS", P, F, Some("invalid-user"), None, Some("ghost")),
            ("passwd", "pam_unix(passwd:chauthtok): user not authenticated", P, F, Some("pam-failure"), None, None),
            ("passwd", "pam_unix(passwd:chauthtok): password - (old) token not obtained", P, F, Some("pam-failure"), None, None),
            ("passwd", "pam_unix(passwd:chauthtok): user password changed by another process", P, F, Some("token-error"), None, None),
            // The current password was wrong: alice acts on her own account.
            ("passwd", "pam_unix(passwd:chauthtok): authentication failure; logname=alice uid=1000 euid=0 tty=pts/0 ruser= rhost=  user=alice", P, F, Some("pam-failure"), Some("alice"), Some("alice")),
            // sshd forcing an expired password's change.
            ("sshd", "pam_unix(sshd:chauthtok): password changed for carol", P, S, None, None, Some("carol")),
        ]);
        let x = d("passwd", Some("pam_unix"), "password changed for bob");
        assert_eq!(x.event.action(), P);
        assert_eq!(x.event.user_target_name.as_deref(), Some("bob"));
    }

    #[test]
    fn checks_lockouts_and_denials() {
        use Action::{PrivilegeEscalation as Pe, UserLogin as L};
        use Outcome::Failure as F;
        check(&[
            ("unix_chkpwd", "password check failed for user (bob)", L, F, Some("bad-password"), Some("bob"), None),
            ("unix_chkpwd", "check pass; user unknown", L, F, Some("invalid-user"), None, None),
            ("sshd", "pam_unix(sshd:auth): check pass; user (ghost) unknown", L, F, Some("invalid-user"), Some("ghost"), None),
            ("sshd", "pam_faillock(sshd:auth): Consecutive login failures for user root account temporarily locked", L, F, Some("locked-out"), Some("root"), None),
            ("sshd", "pam_faillock(sshd:auth): User unknown", L, F, Some("invalid-user"), None, None),
            ("sshd", "pam_faillock(sshd:auth): User unknown: ghost", L, F, Some("invalid-user"), Some("ghost"), None),
            ("sshd", "pam_tally2(sshd:auth): user root (0) tally 4, deny 3", L, F, Some("locked-out"), Some("root"), None),
            ("sshd", "pam_tally(sshd:auth): user root (0) tally 4, deny 3", L, F, Some("locked-out"), Some("root"), None),
            ("sshd", "pam_tally2(sshd:auth): user bob (1000) has time limit [57s left] since last failure.", L, F, Some("locked-out"), Some("bob"), None),
            ("sshd", "pam_tally2(sshd:auth): pam_get_uid; no such user ghost", L, F, Some("invalid-user"), Some("ghost"), None),
            ("su", "pam_faillock(su:auth): Consecutive login failures for user root account temporarily locked", Pe, F, Some("locked-out"), None, Some("root")),
            ("sshd", "pam_succeed_if(sshd:auth): requirement \"uid >= 1000\" not met by user \"root\"", L, F, Some("not-allowed"), Some("root"), None),
            ("sshd", "pam_succeed_if(sshd:auth): requirement \"uid >= 1000\" not met by user \"x\" not met by user \"y\"", L, F, Some("not-allowed"), Some("x\" not met by user \"y"), None),
            ("login", "pam_succeed_if(login:account): requirement \"user ingroup wheel\" not met by unknown user", L, F, Some("not-allowed"), None, None),
            ("sshd", "pam_unix(sshd:account): account bob has expired (account expired)", L, F, Some("account-expired"), Some("bob"), None),
            ("su", "pam_unix(su:account): account bob has expired (failed to change password)", Pe, F, Some("account-expired"), None, Some("bob")),
        ]);
        // Met requirements are not verdicts.
        assert!(decode(
            "sshd",
            None,
            "pam_succeed_if(sshd:auth): requirement \"uid >= 1000\" was met by user \"bob\""
        )
        .is_none());
        // pam_access names the remote host sshd gave it (a tty for local logins).
        let x = d(
            "sshd",
            None,
            "pam_access(sshd:account): access denied for user `bob' from `203.0.113.9'",
        );
        assert_eq!(x.event.reason, Some("not-allowed"));
        assert_eq!(x.event.user_name.as_deref(), Some("bob"));
        assert_eq!(x.event.source_address.as_deref(), Some("203.0.113.9"));
        let x = d(
            "login",
            None,
            "pam_access(login:account): access denied for user `bob' from `tty1'",
        );
        assert_eq!(x.event.source_address, None);
        let x = d("sshd", None, "pam_access(sshd:account): access denied for user `a' from `198.51.100.1' from `203.0.113.9'");
        assert_eq!(x.event.source_address.as_deref(), Some("203.0.113.9"));
        assert_eq!(x.event.user_name.as_deref(), Some("a' from `198.51.100.1"));
    }

    #[test]
    fn actor_and_target() {
        // sudo: ruser/logname act, user= is the account authenticated.
        let x = d("sudo", None, "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/1 ruser=alice rhost=  user=alice");
        assert_eq!(x.event.user_name.as_deref(), Some("alice"));
        assert_eq!(x.event.user_target_name.as_deref(), Some("alice"));
        // A screen locker: logname only.
        let x = d("xscreensaver", None, "pam_unix(xscreensaver:auth): authentication failure; logname=bob uid=1000 euid=1000 tty=:0.0 ruser= rhost=  user=bob");
        assert_eq!(x.event.user_name.as_deref(), Some("bob"));
        assert_eq!(x.event.user_target_name.as_deref(), Some("bob"));
        // login's `LOGIN` is nobody: the account trying is user.name.
        let x = d("login", None, "pam_unix(login:auth): authentication failure; logname=LOGIN uid=0 euid=0 tty=/dev/tty1 ruser= rhost=  user=root");
        assert_eq!(x.event.user_name.as_deref(), Some("root"));
        assert_eq!(x.event.user_target_name, None);
        // No actor, no user=: nothing to name.
        let x = d("sshd", None, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7");
        assert_eq!(x.event.user_name, None);
        assert_eq!(x.event.user_target_name, None);
        // Sessions: `by` acts when it names someone.
        let x = d(
            "login",
            None,
            "pam_unix(login:session): session opened for user bob(uid=1000) by LOGIN(uid=0)",
        );
        assert_eq!(x.event.user_name.as_deref(), Some("bob"));
        assert_eq!(x.event.user_target_name, None);
        let x = d(
            "runuser",
            None,
            "pam_unix(runuser:session): session opened for user postgres(uid=106) by root(uid=0)",
        );
        assert_eq!(x.event.user_name.as_deref(), Some("root"));
        assert_eq!(x.event.user_target_name.as_deref(), Some("postgres"));
    }

    #[test]
    fn old_tags_and_sshd_legacy_lines() {
        let x = d("sshd", Some("pam_unix"), "2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.0.3.1  user=root");
        assert_eq!(x.event.reason, Some("pam-summary"));
        assert_eq!(x.event.source_address.as_deref(), Some("10.0.3.1"));
        assert_eq!(x.event.user_name.as_deref(), Some("root"));
        for (m, action, reason) in [
            ("PAM rejected by account configuration[9]: User account has expired", Action::UserLogin, "not-allowed"),
            ("PAM rejected by account configuration: Permission denied", Action::UserLogin, "not-allowed"),
            ("PAM pam_chauthtok failed[20]: Authentication token manipulation error", Action::PasswordChanged, "token-error"),
            ("PAM session setup failed[14]: Cannot make/remove an entry for the specified session", Action::SessionStart, "session-failed"),
        ] {
            let x = d("sshd", None, m);
            assert_eq!((x.event.action(), x.event.outcome, x.event.reason), (action, Outcome::Failure, Some(reason)), "{m}");
        }
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
