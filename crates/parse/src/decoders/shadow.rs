//! shadow-utils messages (useradd, userdel, usermod, groupadd, groupdel, groupmod, gpasswd,
//! passwd, chpasswd, chage, chfn, chsh, newusers …).
//!
//! The texts are shadow's own syslog formats, which name accounts in quotes (`'bob'`, or
//! `` `bob' `` before shadow 4.2). Each line is one event: useradd writing both
//! `new group: …` and `new user: …` gives a `group-created` and a `user-created`.
//! `user.target.name` / `group.name` are what was acted on; `user.name` is the acting account
//! where the text names it (`password for 'bob' changed by 'root'`, gpasswd's `by root`).
//! PAM lines (`pam_unix(passwd:chauthtok): …`) are left to `pam.rs`.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, start, Found};
use crate::text::FastFind;

pub fn is_shadow_program(program: &str) -> bool {
    // Every name below starts with one of these: `CRON`, `sudo`, … leave at one compare.
    if !matches!(
        program.as_bytes().first(),
        Some(b'u' | b'g' | b'p' | b'c' | b'n')
    ) {
        return false;
    }
    matches!(
        program,
        "useradd"
            | "userdel"
            | "usermod"
            | "groupadd"
            | "groupdel"
            | "groupmod"
            | "gpasswd"
            | "passwd"
            | "chpasswd"
            | "chgpasswd"
            | "chage"
            | "newusers"
            | "chsh"
            | "chfn"
            | "groupmems"
    )
}

/// What a message names: the acting account, the account and the group acted on.
#[derive(Default)]
struct Named<'a> {
    actor: Option<&'a str>,
    target: Option<&'a str>,
    group: Option<&'a str>,
}

/// The program is not needed: the texts are distinct across the shadow-utils programs.
/// Decodes one shadow-utils message into `e`; `None` (and `e` untouched) when it is not one.
pub fn decode<'a>(_program: &str, message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let m = message.trim_start_matches(' ');
    // userdel and groupdel end some texts with a line feed, which syslog daemons keep, drop
    // or escape as `#012`.
    let m = m.trim_end_matches(['\n', '\r']);
    let m = m.strip_suffix("#012").unwrap_or(m);
    guarded(e, |e| {
        let (action, outcome, reason, n) = parse(m)
            .or_else(|| actor_failure(m))
            .or_else(|| pam_refusal(m))?;
        start(e, Dataset::Shadow, action, outcome);
        e.reason = reason;
        e.user_name = n.actor.filter(|s| !s.is_empty()).map(Cow::Borrowed);
        e.user_target_name = n.target.filter(|s| !s.is_empty()).map(Cow::Borrowed);
        e.group_name = n.group.filter(|s| !s.is_empty()).map(Cow::Borrowed);
        Found::yes()
    })
}

type Parsed<'a> = (Action, Outcome, Option<&'static str>, Named<'a>);

fn ok(action: Action, n: Named<'_>) -> Option<Parsed<'_>> {
    Some((action, Outcome::Success, None, n))
}

fn failed(action: Action, n: Named<'_>) -> Option<Parsed<'_>> {
    Some((action, Outcome::Failure, None, n))
}

fn target(t: &str) -> Named<'_> {
    Named {
        target: Some(t),
        ..Named::default()
    }
}

fn group(g: &str) -> Named<'_> {
    Named {
        group: Some(g),
        ..Named::default()
    }
}

fn member<'a>(t: &'a str, g: &'a str) -> Named<'a> {
    Named {
        target: Some(t),
        group: Some(g),
        actor: None,
    }
}

fn parse(m: &str) -> Option<Parsed<'_>> {
    use Action::*;
    match m.as_bytes().first()? {
        b'a' => {
            if let Some(r) = m.strip_prefix("add ") {
                // usermod/useradd `add 'bob' to [shadow ]group 'sudo'`
                if let Some((user, r)) = quoted(r) {
                    let r = r.strip_prefix(" to ")?;
                    let r = r.strip_prefix("shadow ").unwrap_or(r);
                    let (g, _) = quoted(r.strip_prefix("group ")?)?;
                    return ok(GroupMemberAdded, member(user, g));
                }
                // old gpasswd `add member bob to group devs by root`
                let (user, r) = r.strip_prefix("member ")?.fsplit_once(" to group ")?;
                let (g, by) = r.fsplit_once(" by ")?;
                return ok(GroupMemberAdded, with_actor(member(user, g), by));
            }
            if let Some(r) = m.strip_prefix("administrators of group ") {
                return gpasswd_set(r);
            }
            if let Some(r) = m.strip_prefix("access to group ") {
                let (g, by) = r.fsplit_once(" restricted by ")?;
                return ok(GroupModified, with_actor(group(g), word(by)));
            }
            None
        }
        b'c' => {
            if let Some(r) = m.strip_prefix("changed password expiry for ") {
                return ok(UserModified, target(word(r)));
            }
            if let Some(r) = m.strip_prefix("changed user ") {
                // chfn `changed user 'bob' information`, chsh `changed user 'bob' shell to …`
                let (user, _) = quoted(r)?;
                return ok(UserModified, target(user));
            }
            if let Some(r) = m.strip_prefix("change user name ") {
                let (old, _) = quoted(r)?;
                return ok(UserModified, target(old));
            }
            if let Some(r) = m.strip_prefix("change user ") {
                // usermod `change user 'bob' password` / `… shell from '/bin/sh' to …`
                let (user, r) = quoted(r)?;
                let action = if r == " password" {
                    PasswordChanged
                } else {
                    UserModified
                };
                return ok(action, target(user));
            }
            if let Some(r) = m.strip_prefix("change group ") {
                // groupmod `change group 'devs' to 'dev'`
                let (g, _) = quoted(r)?;
                return ok(GroupModified, group(g));
            }
            if let Some(r) = m.strip_prefix("change GID for ") {
                let (g, _) = quoted(r)?;
                return ok(GroupModified, group(g));
            }
            if let Some(r) = m.strip_prefix("change the password for group ") {
                let (g, by) = r.fsplit_once(" by ")?;
                return ok(GroupModified, with_actor(group(g), by));
            }
            if let Some(r) = m.strip_prefix("change admin ") {
                return renamed_member(r);
            }
            if let Some(r) = m.strip_prefix("change ") {
                return renamed_member(r);
            }
            if let Some(r) = m.strip_prefix("can't change shell for ") {
                let (user, _) = quoted(r)?;
                return failed(UserModified, target(user));
            }
            if let Some(r) = m.strip_prefix("can't view or modify password information for ") {
                return Some((
                    PasswordChanged,
                    Outcome::Failure,
                    Some("not-allowed"),
                    target(word(r)),
                ));
            }
            None
        }
        b'd' => {
            let r = m.strip_prefix("delete ")?;
            if let Some(r) = r.strip_prefix("user ") {
                let (user, _) = quoted(r)?;
                return ok(UserDeleted, target(user));
            }
            // userdel/usermod `delete 'bob' from [shadow ]group 'sudo'`
            let (user, r) = quoted(r)?;
            let r = r.strip_prefix(" from ")?;
            let r = r.strip_prefix("shadow ").unwrap_or(r);
            let (g, _) = quoted(r.strip_prefix("group ")?)?;
            ok(GroupMemberRemoved, member(user, g))
        }
        b'f' => {
            if let Some(r) = m.strip_prefix("failed adding user ") {
                // `failed adding user 'x', data deleted` / `…, exit code: 12`
                let (user, _) = quoted(r)?;
                return failed(UserCreated, target(user));
            }
            // The cleanup shared by the programs when a change fails half-way.
            if let Some(r) = m.strip_prefix("failed to add user ") {
                return failed(UserCreated, target(word(r)));
            }
            if let Some(r) = m.strip_prefix("failed to add group ") {
                return failed(GroupCreated, group(word(r)));
            }
            if let Some(r) = m.strip_prefix("failed to remove group ") {
                return failed(GroupDeleted, group(word(r)));
            }
            if let Some(r) = m.strip_prefix("failed to change ") {
                return failed(GroupModified, group(described_group(r)?));
            }
            None
        }
        b'g' => {
            if let Some(r) = m.strip_prefix("group added to ") {
                // groupadd `group added to /etc/group: name=devs, GID=1001`
                let (_db, r) = r.fsplit_once(": name=")?;
                return ok(GroupCreated, group(until_comma(r)));
            }
            if let Some(r) = m.strip_prefix("group changed in ") {
                // groupmod `group changed in /etc/group (group devs/1001, new name: dev)`
                return ok(GroupModified, group(described_group(r)?));
            }
            // groupdel `group 'devs' removed[ from /etc/group]`
            let (g, r) = quoted(m.strip_prefix("group ")?)?;
            r.strip_prefix(" removed")?;
            ok(GroupDeleted, group(g))
        }
        b'i' => {
            // passwd: the old password was wrong.
            let r = m.strip_prefix("incorrect password for ")?;
            Some((
                PasswordChanged,
                Outcome::Failure,
                Some("bad-password"),
                target(word(r)),
            ))
        }
        b'l' => {
            let (user, r) = quoted(m.strip_prefix("lock user ")?)?;
            if r != " password" {
                return None;
            }
            ok(UserModified, target(user))
        }
        b'm' => {
            let r = m.strip_prefix("members of group ")?;
            gpasswd_set(r)
        }
        b'n' => {
            if let Some(r) = m.strip_prefix("new user: name=") {
                // useradd `new user: name=bob, UID=1001, GID=1001, home=…, shell=…[, from=…]`
                return ok(UserCreated, target(until_comma(r)));
            }
            if let Some(r) = m.strip_prefix("new group: name=") {
                return ok(GroupCreated, group(until_comma(r)));
            }
            if let Some(r) = m.strip_prefix("now < minimum age for ") {
                let (user, _) = quoted(r)?;
                return Some((
                    PasswordChanged,
                    Outcome::Failure,
                    Some("too-soon"),
                    target(user),
                ));
            }
            None
        }
        b'p' => {
            if m.starts_with("pam_") {
                return None;
            }
            if let Some(r) = m.strip_prefix("password for ") {
                // passwd `password for 'bob' changed by 'root'`
                let (user, r) = quoted(r)?;
                let by = r.strip_prefix(" changed by ")?;
                let by = quoted(by).map_or(by, |(b, _)| b);
                return ok(PasswordChanged, with_actor(target(user), by));
            }
            if let Some(r) = m.strip_prefix("password changed for ") {
                // chpasswd `password changed for 'bob'` (unquoted in some builds)
                let user = quoted(r).map_or_else(|| word(r), |(u, _)| u);
                return ok(PasswordChanged, target(user));
            }
            if let Some(r) = m.strip_prefix("password locked for ") {
                let (user, _) = quoted(r)?;
                return ok(UserModified, target(user));
            }
            if let Some(r) = m.strip_prefix("password of group ") {
                // gpasswd `password of group devs changed by root` / `removed by root`
                let (g, by) = r
                    .fsplit_once(" changed by ")
                    .or_else(|| r.fsplit_once(" removed by "))?;
                return ok(GroupModified, with_actor(group(g), word(by)));
            }
            None
        }
        b'r' => {
            if let Some(r) = m.strip_prefix("removed ") {
                // userdel `removed [shadow ]group 'bob' owned by 'bob'`, groupdel `removed group 'devs'`
                let r = r.strip_prefix("shadow ").unwrap_or(r);
                let (g, r) = quoted(r.strip_prefix("group ")?)?;
                let owner = r
                    .strip_prefix(" owned by ")
                    .and_then(|o| quoted(o))
                    .map(|(o, _)| o);
                let mut n = group(g);
                n.target = owner;
                return ok(GroupDeleted, n);
            }
            if let Some(r) = m.strip_prefix("remove group ") {
                let (g, _) = quoted(r)?;
                return ok(GroupDeleted, group(g));
            }
            if let Some(r) = m.strip_prefix("remove member ") {
                // old gpasswd `remove member bob from group devs by root`
                let (user, r) = r.fsplit_once(" from group ")?;
                let (g, by) = r.fsplit_once(" by ")?;
                return ok(GroupMemberRemoved, with_actor(member(user, g), by));
            }
            if let Some(r) = m.strip_prefix("remove password from group ") {
                let (g, by) = r.fsplit_once(" by ")?;
                return ok(GroupModified, with_actor(group(g), by));
            }
            if let Some(r) = m.strip_prefix("restrict access to group ") {
                let (g, by) = r.fsplit_once(" by ")?;
                return ok(GroupModified, with_actor(group(g), by));
            }
            None
        }
        b's' => {
            // old gpasswd `set members of devs to a,b` / `set administrators of devs to a`
            let r = m
                .strip_prefix("set members of ")
                .or_else(|| m.strip_prefix("set administrators of "))?;
            let (g, _) = r.fsplit_once(" to ")?;
            ok(GroupModified, group(g))
        }
        b'u' => {
            if let Some(r) = m.strip_prefix("unlock user ") {
                let (user, r) = quoted(r)?;
                if r != " password" {
                    return None;
                }
                return ok(UserModified, target(user));
            }
            // gpasswd `user bob added by root to group devs[ in /etc/gshadow]`
            let r = m.strip_prefix("user ")?;
            let (user, r) = r.split_once(' ')?;
            if let Some(r) = r.strip_prefix("added by ") {
                let (by, g) = r.fsplit_once(" to group ")?;
                return ok(GroupMemberAdded, with_actor(member(user, word(g)), by));
            }
            let r = r.strip_prefix("removed by ")?;
            let (by, g) = r.fsplit_once(" from group ")?;
            ok(GroupMemberRemoved, with_actor(member(user, word(g)), by))
        }
        _ => None,
    }
}

/// What chpasswd, newusers and passwd print when PAM refuses a change (on stderr, which the
/// journal keeps when they run under a service): `[chpasswd: ](user U) pam_chauthtok()
/// failed, error:` then, on the same line after `#012`/a line feed or on the next one, PAM's
/// error; and pam_pwquality's `BAD PASSWORD: WHY` passed on to the user.
fn pam_refusal(m: &str) -> Option<Parsed<'_>> {
    let m = ["chpasswd: ", "newusers: ", "passwd: "]
        .iter()
        .find_map(|p| m.strip_prefix(p))
        .unwrap_or(m);
    if m.starts_with("BAD PASSWORD: ") {
        return Some((
            Action::PasswordChanged,
            Outcome::Failure,
            Some("password-rejected"),
            Named::default(),
        ));
    }
    let r = m.strip_prefix("(user ")?;
    let (user, err) = r.fsplit_once(") pam_chauthtok() failed, error:")?;
    let err = err
        .strip_prefix("#012")
        .or_else(|| err.strip_prefix('\n'))
        .unwrap_or(err);
    let reason = if err.starts_with("User not known") {
        "invalid-user"
    } else {
        "token-error"
    };
    Some((
        Action::PasswordChanged,
        Outcome::Failure,
        Some(reason),
        target(user),
    ))
}

/// gpasswd failures name the actor first: `root failed to add user bob to group devs`.
fn actor_failure(m: &str) -> Option<Parsed<'_>> {
    let (by, r) = m.fsplit_once(" failed to ")?;
    if by.is_empty() || by.contains(' ') {
        return None;
    }
    let (action, n) = if let Some(r) = r.strip_prefix("add user ") {
        let (user, g) = r.fsplit_once(" to group ")?;
        (Action::GroupMemberAdded, member(user, word(g)))
    } else if let Some(r) = r.strip_prefix("remove user ") {
        let (user, g) = r.fsplit_once(" from group ")?;
        (Action::GroupMemberRemoved, member(user, word(g)))
    } else {
        // `… remove password of group devs`, `… restrict access to group devs`, `… set the
        // members of group devs to …`
        let (_, g) = r.fsplit_once("group ")?;
        (Action::GroupModified, group(word(g)))
    };
    failed(action, with_actor(n, by))
}

/// gpasswd `devs set by root to a,b[ in /etc/group]` (after `members of group ` /
/// `administrators of group `).
fn gpasswd_set(r: &str) -> Option<Parsed<'_>> {
    let (g, r) = r.fsplit_once(" set by ")?;
    let by = word(r);
    Some((
        Action::GroupModified,
        Outcome::Success,
        None,
        with_actor(group(g), by),
    ))
}

/// usermod renaming a member: `'old' to 'new' in [shadow ]group 'devs'`.
fn renamed_member(r: &str) -> Option<Parsed<'_>> {
    let (old, r) = quoted(r)?;
    let (_new, r) = quoted(r.strip_prefix(" to ")?)?;
    let r = r.strip_prefix(" in ")?;
    let r = r.strip_prefix("shadow ").unwrap_or(r);
    let (g, _) = quoted(r.strip_prefix("group ")?)?;
    ok(Action::GroupModified, member(old, g))
}

/// groupmod's change description `/etc/group (group devs/1001, new name: dev)`: the group.
fn described_group(r: &str) -> Option<&str> {
    let (_, d) = r.fsplit_once("(group ")?;
    let end = d.find(['/', ',', ' ', ')']).unwrap_or(d.len());
    d.get(..end).filter(|g| !g.is_empty())
}

fn with_actor<'a>(mut n: Named<'a>, by: &'a str) -> Named<'a> {
    n.actor = Some(by);
    n
}

/// `'name'` or `` `name' ``: the name and the text after its closing quote. shadow-utils
/// accepts no quote in an account or group name, so the first closing quote ends it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('\'').or_else(|| s.strip_prefix('`'))?;
    s.split_once('\'')
}

fn word(s: &str) -> &str {
    s.split_once(' ').map_or(s, |(w, _)| w)
}

fn until_comma(s: &str) -> &str {
    s.split_once(',').map_or(s, |(w, _)| w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn decode<'a>(p: &str, m: &'a str) -> Option<Decoded<'a>> {
        Decoded::run(|e| super::decode(p, m, e))
    }
    use Action::*;

    /// (program, message, action, outcome, actor, target, group)
    type Case = (
        &'static str,
        &'static str,
        Action,
        Outcome,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    const S: Outcome = Outcome::Success;
    const F: Outcome = Outcome::Failure;

    fn check(cases: &[Case]) {
        for &(program, m, action, outcome, actor, tgt, grp) in cases {
            let e = decode(program, m)
                .unwrap_or_else(|| panic!("{program}: {m}: not decoded"))
                .event;
            assert_eq!(e.action(), action, "{m}");
            assert_eq!(e.outcome, outcome, "{m}");
            assert_eq!(e.dataset, Some(Dataset::Shadow), "{m}");
            assert_eq!(e.user_name.as_deref(), actor, "{m}: actor");
            assert_eq!(e.user_target_name.as_deref(), tgt, "{m}: target");
            assert_eq!(e.group_name.as_deref(), grp, "{m}: group");
        }
    }

    #[test]
    fn useradd() {
        check(&[
            ("useradd", "new user: name=apache, UID=48, GID=48, home=/usr/share/httpd, shell=/sbin/nologin", UserCreated, S, None, Some("apache"), None),
            ("useradd", "new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0", UserCreated, S, None, Some("bob"), None),
            ("useradd", "new group: name=apache, GID=48", GroupCreated, S, None, None, Some("apache")),
            ("useradd", "add 'bob' to group 'sudo'", GroupMemberAdded, S, None, Some("bob"), Some("sudo")),
            ("useradd", "add 'bob' to shadow group 'sudo'", GroupMemberAdded, S, None, Some("bob"), Some("sudo")),
            ("useradd", "add `bob' to group `sudo'", GroupMemberAdded, S, None, Some("bob"), Some("sudo")),
            ("useradd", "failed adding user 'ansible', data deleted", UserCreated, F, None, Some("ansible"), None),
            ("useradd", "failed adding user 'x', exit code: 12", UserCreated, F, None, Some("x"), None),
            ("newusers", "failed to add user carol", UserCreated, F, None, Some("carol"), None),
        ]);
    }

    #[test]
    fn userdel() {
        check(&[
            (
                "userdel",
                "delete user 'bob'",
                UserDeleted,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "userdel",
                "delete user 'bob'\n",
                UserDeleted,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "userdel",
                "delete user 'bob'#012",
                UserDeleted,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "userdel",
                "removed group 'bob' owned by 'bob'",
                GroupDeleted,
                S,
                None,
                Some("bob"),
                Some("bob"),
            ),
            (
                "userdel",
                "removed shadow group 'bob' owned by 'bob'",
                GroupDeleted,
                S,
                None,
                Some("bob"),
                Some("bob"),
            ),
            (
                "userdel",
                "delete 'bob' from group 'sudo'",
                GroupMemberRemoved,
                S,
                None,
                Some("bob"),
                Some("sudo"),
            ),
            (
                "userdel",
                "delete 'bob' from shadow group 'sudo'",
                GroupMemberRemoved,
                S,
                None,
                Some("bob"),
                Some("sudo"),
            ),
        ]);
    }

    #[test]
    fn usermod() {
        check(&[
            (
                "usermod",
                "change user 'bob' shell from '/bin/sh' to '/bin/bash'",
                UserModified,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "usermod",
                "change user 'bob' home from '/home/b' to '/srv/b'",
                UserModified,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "usermod",
                "change user name 'a' to 'b'",
                UserModified,
                S,
                None,
                Some("a"),
                None,
            ),
            (
                "usermod",
                "change user 'bob' password",
                PasswordChanged,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "usermod",
                "lock user 'bob' password",
                UserModified,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "usermod",
                "unlock user 'bob' password",
                UserModified,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "usermod",
                "add 'bob' to group 'docker'",
                GroupMemberAdded,
                S,
                None,
                Some("bob"),
                Some("docker"),
            ),
            (
                "usermod",
                "delete 'bob' from group 'x'",
                GroupMemberRemoved,
                S,
                None,
                Some("bob"),
                Some("x"),
            ),
            (
                "usermod",
                "change 'a' to 'b' in group 'devs'",
                GroupModified,
                S,
                None,
                Some("a"),
                Some("devs"),
            ),
            (
                "usermod",
                "change admin 'a' to 'b' in shadow group 'devs'",
                GroupModified,
                S,
                None,
                Some("a"),
                Some("devs"),
            ),
        ]);
    }

    #[test]
    fn groups() {
        check(&[
            (
                "groupadd",
                "group added to /etc/group: name=devs, GID=1001",
                GroupCreated,
                S,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupadd",
                "group added to /etc/gshadow: name=devs",
                GroupCreated,
                S,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupadd",
                "new group: name=devs, GID=1001",
                GroupCreated,
                S,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupadd",
                "failed to add group devs",
                GroupCreated,
                F,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupdel",
                "group 'devs' removed",
                GroupDeleted,
                S,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupdel",
                "group 'devs' removed from /etc/group",
                GroupDeleted,
                S,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupdel",
                "removed group 'devs'",
                GroupDeleted,
                S,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupdel",
                "remove group `devs'\n",
                GroupDeleted,
                S,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupmod",
                "change group 'devs' to 'dev'",
                GroupModified,
                S,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupmod",
                "change GID for 'devs' to 2000",
                GroupModified,
                S,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupmod",
                "group changed in /etc/group (group devs/1001, new name: dev)",
                GroupModified,
                S,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupmod",
                "group changed in /etc/gshadow (group devs, new name: dev)",
                GroupModified,
                S,
                None,
                None,
                Some("devs"),
            ),
            (
                "groupmod",
                "failed to change /etc/group (group devs/1001, new GID: 2000)",
                GroupModified,
                F,
                None,
                None,
                Some("devs"),
            ),
        ]);
    }

    #[test]
    fn gpasswd() {
        check(&[
            (
                "gpasswd",
                "user bob added by root to group devs",
                GroupMemberAdded,
                S,
                Some("root"),
                Some("bob"),
                Some("devs"),
            ),
            (
                "gpasswd",
                "user bob added by root to group devs in /etc/gshadow",
                GroupMemberAdded,
                S,
                Some("root"),
                Some("bob"),
                Some("devs"),
            ),
            (
                "gpasswd",
                "user bob removed by root from group devs",
                GroupMemberRemoved,
                S,
                Some("root"),
                Some("bob"),
                Some("devs"),
            ),
            (
                "gpasswd",
                "members of group devs set by root to a,b",
                GroupModified,
                S,
                Some("root"),
                None,
                Some("devs"),
            ),
            (
                "gpasswd",
                "administrators of group devs set by root to a",
                GroupModified,
                S,
                Some("root"),
                None,
                Some("devs"),
            ),
            (
                "gpasswd",
                "password of group devs changed by root",
                GroupModified,
                S,
                Some("root"),
                None,
                Some("devs"),
            ),
            (
                "gpasswd",
                "access to group devs restricted by root",
                GroupModified,
                S,
                Some("root"),
                None,
                Some("devs"),
            ),
            (
                "gpasswd",
                "root failed to add user bob to group devs in /etc/group",
                GroupMemberAdded,
                F,
                Some("root"),
                Some("bob"),
                Some("devs"),
            ),
            (
                "gpasswd",
                "root failed to remove user bob from group devs",
                GroupMemberRemoved,
                F,
                Some("root"),
                Some("bob"),
                Some("devs"),
            ),
            (
                "gpasswd",
                "alice failed to add user bob to group devs",
                GroupMemberAdded,
                F,
                Some("alice"),
                Some("bob"),
                Some("devs"),
            ),
            (
                "gpasswd",
                "root failed to set the members of group devs to a,b",
                GroupModified,
                F,
                Some("root"),
                None,
                Some("devs"),
            ),
            (
                "gpasswd",
                "add member bob to group devs by root",
                GroupMemberAdded,
                S,
                Some("root"),
                Some("bob"),
                Some("devs"),
            ),
            (
                "gpasswd",
                "remove member bob from group devs by root",
                GroupMemberRemoved,
                S,
                Some("root"),
                Some("bob"),
                Some("devs"),
            ),
            (
                "gpasswd",
                "set members of devs to a,b",
                GroupModified,
                S,
                None,
                None,
                Some("devs"),
            ),
        ]);
    }

    #[test]
    fn passwords() {
        check(&[
            (
                "passwd",
                "password for 'bob' changed by 'root'",
                PasswordChanged,
                S,
                Some("root"),
                Some("bob"),
                None,
            ),
            (
                "passwd",
                "password for `bob' changed by `bob'",
                PasswordChanged,
                S,
                Some("bob"),
                Some("bob"),
                None,
            ),
            (
                "passwd",
                "password locked for 'bob'",
                UserModified,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "passwd",
                "incorrect password for bob",
                PasswordChanged,
                F,
                None,
                Some("bob"),
                None,
            ),
            (
                "passwd",
                "now < minimum age for 'bob'",
                PasswordChanged,
                F,
                None,
                Some("bob"),
                None,
            ),
            (
                "chpasswd",
                "password changed for 'bob'",
                PasswordChanged,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "chage",
                "changed password expiry for bob",
                UserModified,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "chfn",
                "changed user 'bob' information",
                UserModified,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "chsh",
                "changed user 'bob' shell to '/bin/zsh'",
                UserModified,
                S,
                None,
                Some("bob"),
                None,
            ),
            (
                "chsh",
                "can't change shell for 'bob'",
                UserModified,
                F,
                None,
                Some("bob"),
                None,
            ),
        ]);
        let e = decode("passwd", "incorrect password for bob")
            .expect("decodes")
            .event;
        assert_eq!(e.reason, Some("bad-password"));
    }

    #[test]
    fn pam_refusals_on_stderr() {
        for (p, m, reason, target) in [
            ("chpasswd", "chpasswd: (user bob) pam_chauthtok() failed, error:#012Authentication token manipulation error", "token-error", Some("bob")),
            ("chpasswd", "(user bob) pam_chauthtok() failed, error:\nAuthentication token manipulation error", "token-error", Some("bob")),
            ("chpasswd", "chpasswd: (user ghost) pam_chauthtok() failed, error:", "token-error", Some("ghost")),
            ("newusers", "newusers: (user x) pam_chauthtok() failed, error:#012User not known to the underlying authentication module", "invalid-user", Some("x")),
            ("passwd", "BAD PASSWORD: The password is shorter than 8 characters", "password-rejected", None),
            ("chpasswd", "chpasswd: BAD PASSWORD: it is based on a dictionary word", "password-rejected", None),
        ] {
            let e = decode(p, m).unwrap_or_else(|| panic!("{m}")).event;
            assert_eq!(e.action(), Action::PasswordChanged, "{m}");
            assert_eq!(e.outcome, Outcome::Failure, "{m}");
            assert_eq!(e.reason, Some(reason), "{m}");
            assert_eq!(e.user_target_name.as_deref(), target, "{m}");
            assert_eq!(e.user_name, None, "{m}");
        }
    }

    #[test]
    fn not_ours() {
        for (p, m) in [
            (
                "passwd",
                "pam_unix(passwd:chauthtok): password changed for bob",
            ),
            (
                "chpasswd",
                "pam_unix(chpasswd:chauthtok): password changed for bob",
            ),
            (
                "passwd",
                "gkr-pam: couldn't update the login keyring password: no old password was entered",
            ),
            ("useradd", "add 'bob'"),
            ("useradd", "add 'bob' to group"),
            ("usermod", "change user 'bob"),
            ("groupdel", "group 'devs' kept"),
            ("gpasswd", "user bob"),
            ("gpasswd", "someone did something"),
            ("useradd", ""),
        ] {
            assert_eq!(decode(p, m), None, "{m}");
        }
    }
}
