//! Simplified Chinese wording of what the rules write in English: severities, the built-in
//! rules' names (agent and fleet rules) and their messages, rebuilt from the alert's fields
//! so a zh-CN message has no English sentence in it. A custom rule keeps its own words.

use logward_core::Severity;
use serde_json::Value;

pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "信息",
        Severity::Low => "低",
        Severity::Medium => "中",
        Severity::High => "高",
        Severity::Critical => "严重",
    }
}

/// Chinese names of the built-in rules.
pub fn rule_name(id: &str) -> Option<&'static str> {
    Some(match id {
        "ssh-login" => "SSH 登录",
        "root-login" => "root 登录",
        "ssh-bruteforce" => "SSH 暴力破解",
        "ssh-slow-bruteforce" => "SSH 慢速暴力破解",
        "ssh-user-enumeration" => "SSH 用户名探测",
        "ssh-distributed-bruteforce" => "SSH 分布式暴力破解",
        "ssh-login-after-failures" => "多次失败后 SSH 登录成功",
        "ssh-login-burst" => "SSH 登录过于频繁",
        "auth-bruteforce" => "暴力破解",
        "service-abuse" => "扫描或滥用",
        "account-created" => "新建账户",
        "account-deleted" => "删除账户",
        "account-modified" => "修改账户",
        "group-membership-changed" => "用户组变更",
        "password-changed" => "修改密码",
        "sudo-failure" => "sudo 失败",
        "sudo-not-in-sudoers" => "非 sudoers 用户尝试 sudo",
        "su-root" => "su 切换到 root",
        "user-logout" => "用户登出",
        "ban-failed" => "封禁失败",
        "fleet-bruteforce" => "全网暴力破解",
        "login-anomaly" => "异常登录",
        "impossible-travel" => "不可能的旅行（异地登录）",
        "logward-test" => "logward 测试",
        _ => return None,
    })
}

/// A Windows logon type (`logward.windows.logon_type`) in Chinese.
pub fn logon_type(word: &str) -> Option<&'static str> {
    Some(match word {
        "system" => "系统",
        "interactive" => "本地交互式",
        "network" => "网络",
        "batch" => "批处理",
        "service" => "服务",
        "unlock" => "解锁",
        "network-cleartext" => "网络明文",
        "new-credentials" => "新凭据",
        "remote-interactive" => "远程交互式（RDP）",
        "cached-interactive" => "缓存交互式",
        "cached-remote-interactive" => "缓存远程交互式",
        "cached-unlock" => "缓存解锁",
        _ => return None,
    })
}

fn get(v: &Value, path: &str) -> Option<String> {
    match v.pointer(path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The message of a built-in rule in Chinese, from the alert's fields and the counts the
/// rule saved as labels; `None` for other rules (their own message is shown).
pub fn message(id: &str, a: &Value) -> Option<String> {
    let f = |p: &str| get(a, p).unwrap_or_else(|| "?".into());
    let label = |k: &str| f(&format!("/labels/{k}"));
    let user = f("/user/name");
    let account = get(a, "/user/target/name").unwrap_or_else(|| user.clone());
    let host = f("/host/name");
    let ip = get(a, "/source/ip")
        .or_else(|| get(a, "/source/address"))
        .unwrap_or_else(|| "?".into());
    let from = get(a, "/source/address")
        .or_else(|| get(a, "/source/ip"))
        .or_else(|| get(a, "/process/name"))
        .unwrap_or_else(|| "?".into());
    Some(match id {
        "ssh-user-enumeration" => format!(
            "10 分钟内 {ip} 尝试了 {} 个不存在的用户（最后一个：{user}）",
            label("invalid_users")
        ),
        "ssh-bruteforce" => format!(
            "10 分钟内来自 {ip} 的 SSH 登录失败 {} 次（最后尝试的用户：{user}）",
            label("failures")
        ),
        "ssh-slow-bruteforce" => format!(
            "1 小时内来自 {ip} 的 SSH 登录失败 {} 次（最后尝试的用户：{user}）",
            label("failures_1h")
        ),
        "ssh-distributed-bruteforce" => format!(
            "10 分钟内 {user} 从 {} 个地址 SSH 登录失败 {} 次",
            label("account_sources"),
            label("account_failures")
        ),
        "ssh-login-after-failures" => format!(
            "{user} 从 {ip} SSH 登录成功，此前一小时该地址失败 {} 次",
            label("recent_failures")
        ),
        "ssh-login" => format!("{user} 从 {from} SSH 登录（{}）", f("/logward/auth/method")),
        "ssh-login-burst" => format!(
            "10 分钟内从 {ip} SSH 登录成功 {} 次（最后一个：{user}）",
            label("logins")
        ),
        "auth-bruteforce" => format!(
            "10 分钟内来自 {ip} 的登录失败 {} 次，涉及 {} 个服务（最后：{}，用户 {user}）",
            label("auth_failures"),
            label("auth_services"),
            f("/event/dataset")
        ),
        "service-abuse" => format!(
            "10 分钟内来自 {ip} 的可疑请求 {} 次（最后：{}，{}）",
            label("abuse"),
            f("/event/reason"),
            f("/event/dataset")
        ),
        "root-login" => format!("root 从 {from} 登录（{}）", f("/event/dataset")),
        "account-created" => format!("{host} 上新建了账户 {account}"),
        "account-deleted" => format!("{host} 上删除了账户 {account}"),
        "account-modified" => format!("{host} 上修改了账户 {account}"),
        "group-membership-changed" => format!(
            "{host} 上 {account} 的用户组变更：{} {}",
            f("/event/action"),
            f("/group/name")
        ),
        "password-changed" => format!("{host} 上 {account} 的密码已修改"),
        "sudo-not-in-sudoers" => format!(
            "{user} 不在 sudoers 中，却在 {host} 上执行了 sudo：{}",
            f("/process/command_line")
        ),
        "sudo-failure" => format!("{user} 在 {host} 上 sudo 失败（{}）", f("/event/reason")),
        "su-root" => format!("{user} 在 {host} 上用 su 切换到 root"),
        "user-logout" => format!("{user} 从 {host} 登出"),
        "fleet-bruteforce" => format!(
            "10 分钟内来自 {ip} 的登录失败出现在 {} 台主机上（最后：{}，用户 {user}）",
            label("hosts"),
            get(a, "/labels/event_host").unwrap_or(host)
        ),
        _ => return None,
    })
}

/// The built-in rules' report entries (crates/engine/rules/default.yaml), English pattern
/// (`{}` a value) → Chinese (`{0}`, `{1}` … the values in English order). First match wins.
const REPORT: &[(&str, &str)] = &[
    ("brute force from {} ({})", "来自 {0} 的暴力破解（{1}）"),
    (
        "scanning or abuse from {} ({}: {})",
        "来自 {0} 的扫描或滥用（{1}：{2}）",
    ),
    ("SSH user enumeration from {}", "来自 {0} 的 SSH 用户名探测"),
    ("SSH brute force from {}", "来自 {0} 的 SSH 暴力破解"),
    (
        "SSH slow brute force from {}",
        "来自 {0} 的 SSH 慢速暴力破解",
    ),
    (
        "distributed SSH brute force against {}",
        "针对 {0} 的 SSH 分布式暴力破解",
    ),
    (
        "{} logged in over SSH from {} after failures",
        "{0} 在多次失败后从 {1} SSH 登录成功",
    ),
    (
        "{} logged in over SSH from {} ({})",
        "{0} 从 {1} SSH 登录（{2}）",
    ),
    ("root logged in ({}) from {}", "root 从 {1} 登录（{0}）"),
    ("account {} created on {}", "{1} 上新建了账户 {0}"),
    ("account {} deleted on {}", "{1} 上删除了账户 {0}"),
    ("account {} modified on {}", "{1} 上修改了账户 {0}"),
    ("password of {} changed on {}", "{1} 上 {0} 的密码已修改"),
    (
        "{} (not in sudoers) ran sudo: {}",
        "{0}（不在 sudoers 中）执行了 sudo：{1}",
    ),
    ("sudo failed for {} ({})", "{0} sudo 失败（{1}）"),
    ("{} became root with su", "{0} 用 su 切换到 root"),
    ("{} ran sudo as {}: {}", "{0} 以 {1} 身份执行 sudo：{2}"),
    ("{} logged in ({}) from {}", "{0} 从 {2} 登录（{1}）"),
];

/// What the agent appends to an entry whose event also banned (crates/agent pipeline).
const BAN_NOTES: &[(&str, &str)] = &[
    ("banned for {}", "已封禁 {0}"),
    ("would ban — bans off", "应封禁（封禁未启用）"),
    (
        "counted — not banned, the offence is older than its ban",
        "已计数，未封禁（违规早于其封禁时长）",
    ),
    ("not banned: {}", "未封禁：{0}"),
];

/// The values of `text` in the places of `pattern`'s `{}`s, when it matches.
fn captures<'a>(pattern: &str, text: &'a str) -> Option<Vec<&'a str>> {
    let pieces: Vec<&str> = pattern.split("{}").collect();
    let mut rest = text.strip_prefix(pieces[0])?;
    if pieces.len() == 1 && !rest.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for (i, lit) in pieces.iter().enumerate().skip(1) {
        let at = if i + 1 == pieces.len() {
            // The last literal ends the text.
            rest.strip_suffix(lit)?.len()
        } else {
            rest.find(lit)?
        };
        if at == 0 {
            return None;
        }
        out.push(&rest[..at]);
        rest = &rest[at + lit.len()..];
    }
    Some(out)
}

fn fill(zh: &str, values: &[&str]) -> String {
    let mut out = zh.to_owned();
    for (i, v) in values.iter().enumerate() {
        out = out.replace(&format!("{{{i}}}"), v);
    }
    out
}

fn translate(table: &[(&str, &str)], text: &str) -> Option<String> {
    table
        .iter()
        .find_map(|(en, zh)| captures(en, text).map(|v| fill(zh, &v)))
}

/// A built-in rule's report entry in Chinese (with its ban note); `None` for other text.
pub fn report_entry(text: &str) -> Option<String> {
    // An entry with a ban note first: the note's colon must not end up inside a value.
    let noted = text.rsplit_once(": ").and_then(|(entry, note)| {
        let entry = translate(REPORT, entry)?;
        Some(format!("{entry}：{}", translate(BAN_NOTES, note)?))
    });
    noted.or_else(|| translate(REPORT, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_messages_have_no_english_words() {
        let a = json!({
            "user": {"name": "root", "target": {"name": "alice"}},
            "host": {"name": "web01"},
            "source": {"ip": "203.0.113.9"},
            "labels": {"failures": "6", "hosts": "3", "event_host": "db02"},
        });
        assert_eq!(
            message("ssh-bruteforce", &a).as_deref(),
            Some("10 分钟内来自 203.0.113.9 的 SSH 登录失败 6 次（最后尝试的用户：root）")
        );
        assert_eq!(
            message("account-created", &a).as_deref(),
            Some("web01 上新建了账户 alice")
        );
        assert_eq!(
            message("fleet-bruteforce", &a).as_deref(),
            Some("10 分钟内来自 203.0.113.9 的登录失败出现在 3 台主机上（最后：db02，用户 root）")
        );
        assert_eq!(rule_name("fleet-bruteforce"), Some("全网暴力破解"));
        assert_eq!(message("my-rule", &a), None);
    }

    #[test]
    fn built_in_report_entries_are_worded_in_chinese() {
        for (en, zh) in [
            (
                "SSH brute force from 203.0.113.5: would ban — bans off",
                "来自 203.0.113.5 的 SSH 暴力破解：应封禁（封禁未启用）",
            ),
            (
                "SSH brute force from 203.0.113.5: banned for 1h",
                "来自 203.0.113.5 的 SSH 暴力破解：已封禁 1h",
            ),
            (
                "alice logged in over SSH from 192.0.2.10 (publickey)",
                "alice 从 192.0.2.10 SSH 登录（publickey）",
            ),
            (
                "bob logged in over SSH from 192.0.2.9 after failures",
                "bob 在多次失败后从 192.0.2.9 SSH 登录成功",
            ),
            (
                "root logged in (login) from tty1",
                "root 从 tty1 登录（login）",
            ),
            (
                "account mallory created on web01",
                "web01 上新建了账户 mallory",
            ),
            (
                "alice ran sudo as root: /bin/ls -la",
                "alice 以 root 身份执行 sudo：/bin/ls -la",
            ),
        ] {
            assert_eq!(report_entry(en).as_deref(), Some(zh), "{en}");
        }
        assert_eq!(report_entry("kernel: something odd"), None);
    }
}
