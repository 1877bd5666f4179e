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
}
