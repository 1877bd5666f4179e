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
        "account-short-lived" => "短期存在的账户",
        "account-enabled" => "启用账户",
        "account-modified" => "修改账户",
        "group-membership-changed" => "用户组变更",
        "group-membership-short-lived" => "特权组成员身份被撤回",
        "log-cleared" => "审计日志被清除",
        "service-installed" => "安装服务",
        "windows-bruteforce" => "Windows 登录暴力破解",
        "windows-local-bruteforce" => "Windows 本地暴力破解",
        "windows-password-spray" => "Windows 密码喷洒",
        "windows-pass-the-hash" => "哈希传递",
        "windows-ntlm-admin-logon" => "特权账户 NTLM 网络登录",
        "windows-rdp-tunnel" => "经隧道的 RDP 登录",
        "windows-login-after-failures" => "多次失败后 Windows 登录成功",
        "windows-rdp-many-hosts" => "RDP 登录多台主机",
        "windows-rdp-new-source" => "来自新地址的 RDP 登录",
        "dns-list-hit" => "DNS 查询命中威胁情报名单",
        "dns-api-verdict" => "威胁情报接口判定的恶意域名查询",
        "dns-tunnel" => "DNS 隧道",
        "dga-domain" => "疑似 DGA 生成的域名查询",
        "windows-rdp-login" => "RDP 登录",
        "windows-rdp-bruteforce" => "RDP 暴力破解",
        "windows-samaccountname-spoofing" => "计算机账户被改名去掉 $",
        "windows-account-renamed-admin" => "账户改名为管理员类名称",
        "windows-fake-computer-account" => "伪装成计算机账户的用户账户",
        "windows-password-never-expires" => "密码设为永不过期",
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
    // A Windows event's EventData value; its logon type in Chinese (else its event id).
    let data = |k: &str| f(&format!("/winlog/event_data/{k}"));
    let logon = || {
        get(a, "/logward/windows/logon_type").map_or_else(
            || format!("事件 {}", f("/winlog/event_id")),
            |t| format!("{}登录", logon_type(&t).unwrap_or(&t)),
        )
    };
    // The client of a DNS query (`client.ip`, the same as `source.ip`).
    let client = || {
        get(a, "/client/ip")
            .or_else(|| get(a, "/source/ip"))
            .unwrap_or_else(|| "?".into())
    };
    let by = |who: &str| {
        get(a, "/user/name")
            .filter(|_| get(a, "/user/target/name").is_some())
            .map_or_else(String::new, |u| format!("（{who}：{u}）"))
    };
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
        "account-created" => format!("{host} 上新建了账户 {account}{}", by("操作者")),
        "account-deleted" => format!("{host} 上删除了账户 {account}{}", by("操作者")),
        "account-short-lived" => format!(
            "{host} 上的账户 {account} 在创建后不到一天即被删除{}",
            by("操作者")
        ),
        "account-enabled" => format!("{host} 上启用了账户 {account}{}", by("操作者")),
        "account-modified" => format!("{host} 上修改了账户 {account}"),
        "group-membership-short-lived" => format!(
            "{host} 上 {account} 在加入 {} 不到一天后被移出{}",
            f("/group/name"),
            by("操作者")
        ),
        "log-cleared" => format!(
            "{host} 的 {} 日志被 {user} 清除",
            get(a, "/winlog/event_data/Channel")
                .or_else(|| get(a, "/winlog/channel"))
                .unwrap_or_else(|| "?".into())
        ),
        "service-installed" => format!(
            "{host} 上安装了服务 {}：{}",
            data("ServiceName"),
            get(a, "/winlog/event_data/ImagePath")
                .or_else(|| get(a, "/winlog/event_data/ServiceFileName"))
                .unwrap_or_else(|| "?".into())
        ),
        "windows-bruteforce" => format!(
            "10 分钟内来自 {ip} 的 Windows 登录失败 {} 次（最后：{host} 上的 {user}，{}）",
            label("win_failures"),
            logon()
        ),
        "windows-local-bruteforce" => format!(
            "10 分钟内 {host} 上经 {} 登录失败 {} 次（最后：{user}，{}）",
            data("ProcessName"),
            label("win_local_failures"),
            logon()
        ),
        "windows-password-spray" => format!(
            "1 小时内从 {ip} 尝试了 {} 个账户（最后：{}，{host} 上的事件 {}）",
            label("spray_accounts"),
            data("TargetUserName"),
            f("/winlog/event_id")
        ),
        "windows-pass-the-hash" => format!(
            "{user} 在 {host} 上发起了新凭据登录（类型 9，seclogo）：哈希传递（mimikatz sekurlsa::pth）或 runas /netonly"
        ),
        "windows-ntlm-admin-logon" => format!(
            "特权账户 {user} 经网络以 NTLM 登录 {host}{}：可能是哈希传递或中继，除非该账户仍需 NTLM",
            get(a, "/source/ip").map_or_else(String::new, |ip| format!("（来自 {ip}）"))
        ),
        "windows-rdp-tunnel" => {
            format!("{user} 从 {ip} 经 RDP 登录 {host}：RDP 经本地端口隧道转发")
        }
        "windows-login-after-failures" => format!(
            "{user} 从 {ip} 登录 {host}（{}），此前一小时该地址登录失败 {} 次",
            logon(),
            label("win_recent_failures")
        ),
        "windows-rdp-many-hosts" => format!(
            "10 分钟内 {ip} 经 RDP 登录了 {} 台主机（最后：{host} 上的 {user}）",
            label("rdp_hosts")
        ),
        "dns-list-hit" => format!(
            "{} 查询了 {}，该域名在威胁名单 {} 中（{}）",
            client(),
            f("/dns/question/name"),
            f("/logward/dns/list"),
            f("/logward/dns/list_entry")
        ),
        "dns-api-verdict" => format!(
            "{} 查询了 {}：威胁情报接口判定为 {}",
            client(),
            f("/dns/question/name"),
            f("/logward/dns/verdict")
        ),
        "dns-tunnel" => format!(
            "{} 疑似通过 DNS 隧道在 {} 下传输数据（最后一次查询：{}）",
            client(),
            get(a, "/dns/question/registered_domain")
                .unwrap_or_else(|| f("/dns/question/name")),
            f("/dns/question/name")
        ),
        "dga-domain" => format!(
            "{} 查询了 {}，该域名疑似由算法生成（DGA，评分 {}）",
            client(),
            f("/dns/question/name"),
            f("/logward/dns/score")
        ),
        "windows-rdp-new-source" => {
            format!("{user} 从 {ip} 经 RDP 登录 {host}，该地址 30 天内未在此主机出现过")
        }
        "windows-rdp-login" => format!("{user} 从 {ip} 经 RDP 登录 {host}"),
        "windows-rdp-bruteforce" => format!(
            "1 分钟内来自 {ip} 的 RDP 连接 {} 次（最后连接 {host}）",
            label("rdp_connections")
        ),
        "windows-samaccountname-spoofing" => format!(
            "{host} 上 {user} 将计算机账户 {} 改名为 {}：sAMAccountName 伪造（CVE-2021-42278，noPac）",
            data("OldTargetUserName"),
            data("NewTargetUserName")
        ),
        "windows-account-renamed-admin" => format!(
            "{host} 上 {user} 将账户 {} 改名为 {}",
            data("OldTargetUserName"),
            data("NewTargetUserName")
        ),
        "windows-fake-computer-account" => format!(
            "{host} 上 {user} 创建了用户账户 {}（名称以 $ 结尾，伪装成计算机账户）",
            data("TargetUserName")
        ),
        "windows-password-never-expires" => format!(
            "{host} 上 {user} 将 {} 的密码设为永不过期",
            get(a, "/user/target/name").unwrap_or_else(|| data("TargetUserName"))
        ),
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
    (
        "Windows logon brute force from {} against {}",
        "来自 {0} 针对 {1} 的 Windows 登录暴力破解",
    ),
    (
        "local brute force on {} through {}",
        "{0} 上经 {1} 的本地暴力破解",
    ),
    (
        "password spraying from {} against {}",
        "来自 {0} 针对 {1} 的密码喷洒",
    ),
    (
        "possible pass-the-hash by {} on {}",
        "{1} 上 {0} 疑似哈希传递",
    ),
    (
        "privileged NTLM logon of {} on {}",
        "{1} 上 {0} 的特权 NTLM 登录",
    ),
    (
        "RDP logon of {} from loopback on {} (tunnel)",
        "{1} 上 {0} 从回环地址 RDP 登录（隧道）",
    ),
    (
        "{} logged on to {} from {} after failures",
        "{0} 在多次失败后从 {2} 登录 {1}",
    ),
    ("RDP from {} to {} hosts", "{0} 经 RDP 登录 {1} 台主机"),
    (
        "{} logged in over RDP to {} from {} (new address)",
        "{0} 从 {2} 经 RDP 登录 {1}（新地址）",
    ),
    (
        "{} logged in over RDP to {} from {}",
        "{0} 从 {2} 经 RDP 登录 {1}",
    ),
    ("RDP brute force from {}", "来自 {0} 的 RDP 暴力破解"),
    (
        "computer account {} renamed to {} by {}",
        "计算机账户 {0} 被 {2} 改名为 {1}",
    ),
    (
        "account {} renamed to {} by {}",
        "账户 {0} 被 {2} 改名为 {1}",
    ),
    (
        "user account {} created by {} on {}",
        "{2} 上 {1} 创建了用户账户 {0}",
    ),
    (
        "password of {} set never to expire by {}",
        "{0} 的密码被 {1} 设为永不过期",
    ),
    (
        "the {} log of {} was cleared by {}",
        "{1} 的 {0} 日志被 {2} 清除",
    ),
    (
        "service {} installed on {}: {}",
        "{1} 上安装了服务 {0}：{2}",
    ),
    ("service {} installed on {}", "{1} 上安装了服务 {0}"),
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
            Some("web01 上新建了账户 alice（操作者：root）")
        );
        assert_eq!(
            message("fleet-bruteforce", &a).as_deref(),
            Some("10 分钟内来自 203.0.113.9 的登录失败出现在 3 台主机上（最后：db02，用户 root）")
        );
        assert_eq!(rule_name("fleet-bruteforce"), Some("全网暴力破解"));
        assert_eq!(message("my-rule", &a), None);
    }

    /// Every alert of the built-in ruleset (crates/engine/rules/default.yaml) has a Chinese
    /// name and message, so a zh-CN message never falls back to English for one.
    #[test]
    fn every_built_in_rule_has_a_chinese_name_and_message() {
        let p =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/rules/default.yaml");
        let rules = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let ids: std::collections::BTreeSet<&str> = rules
            .lines()
            .filter_map(|l| l.trim().strip_prefix("id: "))
            .collect();
        assert!(ids.len() > 30, "{ids:?}");
        let unnamed: Vec<_> = ids.iter().filter(|id| rule_name(id).is_none()).collect();
        let unworded: Vec<_> = ids
            .iter()
            .filter(|id| message(id, &json!({})).is_none())
            .collect();
        assert!(unnamed.is_empty(), "no Chinese name: {unnamed:?}");
        assert!(unworded.is_empty(), "no Chinese message: {unworded:?}");
    }

    #[test]
    fn windows_messages_name_the_logon_type_in_chinese() {
        let a = json!({
            "user": {"name": "administrator"},
            "host": {"name": "DC01"},
            "source": {"ip": "203.0.113.50"},
            "logward": {"windows": {"logon_type": "network"}},
            "winlog": {"event_id": "4625", "event_data": {"TargetUserName": "administrator"}},
            "labels": {"win_failures": "7"},
        });
        assert_eq!(
            message("windows-bruteforce", &a).as_deref(),
            Some("10 分钟内来自 203.0.113.50 的 Windows 登录失败 7 次（最后：DC01 上的 administrator，网络登录）")
        );
        let created = json!({"user": {"name": "alice", "target": {"name": "mallory"}}, "host": {"name": "DC01"}});
        assert_eq!(
            message("account-created", &created).as_deref(),
            Some("DC01 上新建了账户 mallory（操作者：alice）")
        );
        assert_eq!(
            rule_name("windows-password-spray"),
            Some("Windows 密码喷洒")
        );
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
            (
                "password spraying from 172.16.144.128 against DC01: banned for 1h",
                "来自 172.16.144.128 针对 DC01 的密码喷洒：已封禁 1h",
            ),
            (
                "bob logged in over RDP to WS7 from 192.0.2.4 (new address)",
                "bob 从 192.0.2.4 经 RDP 登录 WS7（新地址）",
            ),
            (
                "the Security log of DC01 was cleared by alice",
                "DC01 的 Security 日志被 alice 清除",
            ),
            (
                "service evil installed on DC01: C:\\Windows\\Temp\\x.exe",
                "DC01 上安装了服务 evil：C:\\Windows\\Temp\\x.exe",
            ),
            (
                "service Spooler installed on DC01",
                "DC01 上安装了服务 Spooler",
            ),
        ] {
            assert_eq!(report_entry(en).as_deref(), Some(zh), "{en}");
        }
        assert_eq!(report_entry("kernel: something odd"), None);
    }
}
