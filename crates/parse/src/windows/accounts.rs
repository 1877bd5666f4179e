//! Account and group management in the Security channel: users (4720–4726, 4738, 4740,
//! 4767, 4781), computer accounts (4741–4743) and groups (security and distribution,
//! global, local and universal: 4727–4737, 4744–4764).
//!
//! Who is who, as for the shadow tools: the one acting (SubjectUserName) is `user.name`,
//! the account acted on (TargetUserName) is `user.target.name`. In a group event
//! TargetUserName is the group (`group.name`) and the member is MemberName/MemberSid.

use std::borrow::Cow;

use logward_core::{Action, Event, Outcome};

use super::{set, text, WinRecord};

/// Maps one account or group management event; other ids are left `unknown`.
pub(super) fn decode<'r>(id: u32, rec: &'r WinRecord, e: &mut Event<'r>) {
    if let Some((action, reason)) = user_change(id) {
        set(e, action, Outcome::Success);
        e.reason = reason;
        e.user_name = text(rec, "SubjectUserName");
        // 4781: the account is known by its new name from now on; OldTargetUserName stays
        // in winlog.event_data.
        e.user_target_name = text(rec, "TargetUserName").or_else(|| text(rec, "NewTargetUserName"));
    } else if let Some(action) = group_change(id) {
        set(e, action, Outcome::Success);
        e.user_name = text(rec, "SubjectUserName");
        e.group_name = text(rec, "TargetUserName");
        if matches!(
            action,
            Action::GroupMemberAdded | Action::GroupMemberRemoved
        ) {
            e.user_target_name = member(rec);
        }
    }
}

/// A user or computer account event: its action and reason.
fn user_change(id: u32) -> Option<(Action, Option<&'static str>)> {
    Some(match id {
        4720 => (Action::UserCreated, None),
        4722 => (Action::UserModified, Some("enabled")),
        4723 => (Action::PasswordChanged, None),
        4724 => (Action::PasswordChanged, Some("password-reset")),
        4725 => (Action::UserModified, Some("disabled")),
        4726 => (Action::UserDeleted, None),
        4738 => (Action::UserModified, None),
        4740 => (Action::UserModified, Some("locked-out")),
        4767 => (Action::UserModified, Some("unlocked")),
        4781 => (Action::UserModified, Some("renamed")),
        4741 => (Action::UserCreated, Some("computer-account")),
        4742 => (Action::UserModified, Some("computer-account")),
        4743 => (Action::UserDeleted, Some("computer-account")),
        _ => return None,
    })
}

/// A group event's action. Security groups: global 4727–4730, 4737; local 4731–4735;
/// universal 4754–4758. Distribution groups: global 4744–4748, local 4749–4753, universal
/// 4759–4763. 4764: a group's type changed.
fn group_change(id: u32) -> Option<Action> {
    Some(match id {
        4727 | 4731 | 4744 | 4749 | 4754 | 4759 => Action::GroupCreated,
        4730 | 4734 | 4748 | 4753 | 4758 | 4763 => Action::GroupDeleted,
        4735 | 4737 | 4745 | 4750 | 4755 | 4760 | 4764 => Action::GroupModified,
        4728 | 4732 | 4746 | 4751 | 4756 | 4761 => Action::GroupMemberAdded,
        4729 | 4733 | 4747 | 4752 | 4757 | 4762 => Action::GroupMemberRemoved,
        _ => return None,
    })
}

/// The member added or removed: the common name of MemberName's distinguished name
/// (`CN=John Smith,CN=Users,DC=corp,DC=example` → `John Smith`: the one name the event
/// has for a domain member), else MemberSid (a local group's member has no MemberName, only
/// its SID). The whole DN stays in `winlog.event_data.MemberName`.
fn member(rec: &WinRecord) -> Option<Cow<'_, str>> {
    match rec.data("MemberName") {
        Some(dn) => Some(common_name(dn).unwrap_or(Cow::Borrowed(dn))),
        None => text(rec, "MemberSid"),
    }
}

/// The value of a DN's first RDN when it is a `CN=`, unescaped (`\,` → `,`).
fn common_name(dn: &str) -> Option<Cow<'_, str>> {
    let rest = dn.get(..3)?.eq_ignore_ascii_case("CN=").then(|| &dn[3..])?;
    let mut end = rest.len();
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' | '+' => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let cn = rest[..end].trim();
    if cn.is_empty() {
        return None;
    }
    if !cn.contains('\\') {
        return Some(Cow::Borrowed(cn));
    }
    let mut out = String::with_capacity(cn.len());
    let mut chars = cn.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    Some(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::super::{decode, winlogbeat, xml, WinRecord};
    use super::common_name;
    use logward_core::{Action, Outcome};

    fn record(id: u32, data: &[(&str, &str)]) -> WinRecord {
        WinRecord::sample(
            "Microsoft-Windows-Security-Auditing",
            "Security",
            "DC01",
            id,
            data,
        )
    }

    /// (action, reason, user.name, user.target.name, group.name)
    fn summary(
        r: &WinRecord,
    ) -> (
        Action,
        Option<&'static str>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) {
        let e = decode(r);
        assert_eq!(e.outcome, Outcome::Success);
        (
            e.action(),
            e.reason,
            e.user_name.map(|c| c.into_owned()),
            e.user_target_name.map(|c| c.into_owned()),
            e.group_name.map(|c| c.into_owned()),
        )
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_owned())
    }

    #[test]
    fn user_accounts() {
        // ID4720-4726 Fast created-deleted user.evtx
        let created = [
            ("TargetUserName", "admin-kriss"),
            ("TargetDomainName", "OFFSEC"),
            ("SubjectUserName", "lambda-user"),
            ("SamAccountName", "admin-kriss"),
        ];
        assert_eq!(
            summary(&record(4720, &created)),
            (
                Action::UserCreated,
                None,
                s("lambda-user"),
                s("admin-kriss"),
                None
            )
        );
        assert_eq!(summary(&record(4726, &created)).0, Action::UserDeleted);
        // samaccount_spoofing…: enabled, reset, computer account created
        let dc = [("TargetUserName", "DC012$"), ("SubjectUserName", "lgrove")];
        assert_eq!(
            summary(&record(4722, &dc)),
            (
                Action::UserModified,
                Some("enabled"),
                s("lgrove"),
                s("DC012$"),
                None
            )
        );
        assert_eq!(
            summary(&record(4724, &dc)),
            (
                Action::PasswordChanged,
                Some("password-reset"),
                s("lgrove"),
                s("DC012$"),
                None
            )
        );
        assert_eq!(
            summary(&record(4741, &dc)),
            (
                Action::UserCreated,
                Some("computer-account"),
                s("lgrove"),
                s("DC012$"),
                None
            )
        );
        assert_eq!(summary(&record(4725, &dc)).1, Some("disabled"));
        assert_eq!(summary(&record(4740, &dc)).1, Some("locked-out"));
        assert_eq!(summary(&record(4767, &dc)).1, Some("unlocked"));
        assert_eq!(summary(&record(4738, &dc)).0, Action::UserModified);
        assert_eq!(summary(&record(4723, &dc)).0, Action::PasswordChanged);
    }

    /// 4723 and 4724 are written as audit successes and, when the change or reset failed
    /// (a password the policy refused, a wrong old password, no right to reset), as audit
    /// failures with the same id: they read as successes until the readers carried Keywords.
    #[test]
    fn password_change_and_reset_audit_failures_are_failures() {
        let xml = |id: u32, keywords: &str| {
            format!(
                "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>\
                 <Provider Name='Microsoft-Windows-Security-Auditing'/><EventID>{id}</EventID>\
                 <Keywords>{keywords}</Keywords><Channel>Security</Channel><Computer>DC01</Computer>\
                 </System><EventData><Data Name='TargetUserName'>fsir</Data>\
                 <Data Name='SubjectUserName'>lgrove</Data></EventData></Event>"
            )
        };
        for (id, reason) in [(4723, None), (4724, Some("password-reset"))] {
            let (failed, _) = xml::parse_event(&xml(id, "0x8010000000000000")).unwrap();
            assert!(failed.audit_failure());
            let e = decode(&failed);
            assert_eq!(
                (e.action(), e.outcome, e.reason),
                (Action::PasswordChanged, Outcome::Failure, reason),
                "{id}"
            );
            assert_eq!(e.user_target_name.as_deref(), Some("fsir"));
            // The corpus' records (evtx-crate/security.evtx) are audit successes.
            let (done, _) = xml::parse_event(&xml(id, "0x8020000000000000")).unwrap();
            assert_eq!(decode(&done).outcome, Outcome::Success, "{id}");
            // Winlogbeat names the keywords (and sets event.outcome from them).
            let doc = format!(
                r#"{{"winlog":{{"channel":"Security","event_id":{id},"keywords":["Audit Failure"],"provider_name":"Microsoft-Windows-Security-Auditing","event_data":{{"TargetUserName":"fsir"}}}}}}"#
            );
            let beat = winlogbeat::parse(&doc).unwrap();
            assert_eq!(decode(&beat).outcome, Outcome::Failure, "{id}");
            let doc = doc.replace("Audit Failure", "Audit Success");
            let beat = winlogbeat::parse(&doc).unwrap();
            assert_eq!(decode(&beat).outcome, Outcome::Success, "{id}");
        }
        // Keywords that are not a hex mask leave the outcome to the id.
        let (odd, _) = xml::parse_event(&xml(4723, "Audit Failure")).unwrap();
        assert_eq!(decode(&odd).outcome, Outcome::Success);
    }

    #[test]
    fn a_rename_targets_the_new_name() {
        // samaccount_spoofing…: DC012$ → 01566s-win16-ir
        let r = record(
            4781,
            &[
                ("OldTargetUserName", "DC012$"),
                ("NewTargetUserName", "01566s-win16-ir"),
                ("SubjectUserName", "lgrove"),
            ],
        );
        assert_eq!(
            summary(&r),
            (
                Action::UserModified,
                Some("renamed"),
                s("lgrove"),
                s("01566s-win16-ir"),
                None
            )
        );
        let e = decode(&r);
        let w = e.winlog.as_ref().map(|w| w.data("OldTargetUserName"));
        assert_eq!(w, Some(Some("DC012$")));
    }

    #[test]
    fn group_members() {
        // new-user-security.evtx: a local member has only its SID.
        let r = record(
            4732,
            &[
                ("MemberName", "-"),
                (
                    "MemberSid",
                    "S-1-5-21-3463664321-2923530833-3546627382-1000",
                ),
                ("TargetUserName", "Administrators"),
                ("SubjectUserName", "WIN-QALA5Q3KJ43$"),
            ],
        );
        assert_eq!(
            summary(&r),
            (
                Action::GroupMemberAdded,
                None,
                s("WIN-QALA5Q3KJ43$"),
                s("S-1-5-21-3463664321-2923530833-3546627382-1000"),
                s("Administrators")
            )
        );
        let r = record(
            4757,
            &[
                ("MemberName", "CN=Smith\\, John,OU=Staff,DC=corp,DC=example"),
                ("TargetUserName", "Enterprise Admins"),
                ("SubjectUserName", "admmig"),
            ],
        );
        assert_eq!(
            summary(&r),
            (
                Action::GroupMemberRemoved,
                None,
                s("admmig"),
                s("Smith, John"),
                s("Enterprise Admins")
            )
        );
        let r = record(
            4731,
            &[
                ("TargetUserName", "Backup Operators"),
                ("SubjectUserName", "x$"),
            ],
        );
        assert_eq!(
            summary(&r),
            (
                Action::GroupCreated,
                None,
                s("x$"),
                None,
                s("Backup Operators")
            )
        );
        assert_eq!(summary(&record(4735, &[])).0, Action::GroupModified);
        assert_eq!(summary(&record(4758, &[])).0, Action::GroupDeleted);
    }

    #[test]
    fn common_names() {
        assert_eq!(common_name("CN=bob,DC=x").as_deref(), Some("bob"));
        assert_eq!(common_name("cn=a\\+b+uid=1").as_deref(), Some("a+b"));
        assert_eq!(common_name("OU=x"), None);
        assert_eq!(common_name("CN=,DC=x"), None);
        assert_eq!(common_name("CN=trailing\\").as_deref(), Some("trailing"));
        assert_eq!(common_name("é"), None);
    }
}
