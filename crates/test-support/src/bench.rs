//! What the Beats benchmarks share (crates/beats/examples/beats_bench.rs,
//! crates/collector/examples/beats_load.rs): the Winlogbeat document they send and the
//! process figures they print.

/// A Winlogbeat 4625 document as `output.logstash` sends it (~1.5 KB), record `rec`: the
/// time, user, workstation, address and port vary with it.
pub fn winlogbeat_4625(rec: u64) -> Vec<u8> {
    let i = rec % 100_000;
    format!(
        r#"{{"@timestamp":"2026-12-06T10:{m:02}:{s:02}.{ms:03}Z","@metadata":{{"beat":"winlogbeat","type":"_doc","version":"8.15.0"}},"agent":{{"type":"winlogbeat","version":"8.15.0","name":"DC01"}},"ecs":{{"version":"8.0.0"}},"host":{{"name":"DC01.corp.example","hostname":"DC01","os":{{"family":"windows","name":"Windows Server 2022 Standard","kernel":"10.0.20348.2529","platform":"windows","type":"windows","version":"10.0"}}}},"event":{{"code":"4625","kind":"event","provider":"Microsoft-Windows-Security-Auditing","action":"logon-failed","category":["authentication"],"type":["start"],"outcome":"failure"}},"log":{{"level":"information"}},"message":"An account failed to log on.","winlog":{{"channel":"Security","event_id":"4625","provider_name":"Microsoft-Windows-Security-Auditing","provider_guid":"{{54849625-5478-4994-a5ba-3e3b0328c30d}}","computer_name":"DC01.corp.example","record_id":{rec},"process":{{"pid":712,"thread":{{"id":4188}}}},"keywords":["Audit Failure"],"opcode":"Info","task":"Logon","event_data":{{"SubjectUserSid":"S-1-0-0","SubjectLogonId":"0x0","TargetUserSid":"S-1-0-0","TargetUserName":"user{u}","TargetDomainName":"CORP","Status":"0xc000006d","FailureReason":"%%2313","SubStatus":"0xc000006a","LogonType":"3","LogonProcessName":"NtLmSsp ","AuthenticationPackageName":"NTLM","WorkstationName":"WS{w}","TransmittedServices":"-","LmPackageName":"-","KeyLength":"0","ProcessId":"0x0","ProcessName":"-","IpAddress":"203.0.113.{a}","IpPort":"{p}"}}}}}}"#,
        m = (i / 60) % 60,
        s = i % 60,
        ms = i % 1000,
        u = i % 97,
        w = i % 13,
        a = i % 250 + 1,
        p = 40_000 + i % 20_000,
    )
    .into_bytes()
}

/// This process's peak resident set (`VmHWM`), in KiB; 0 where /proc does not say.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The CPU time this process has used (user + system, every thread), in seconds, from
/// `/proc/self/stat` (clock ticks of 1/100 s): per event, a figure the machine's other
/// load changes far less than a rate.
pub fn cpu_secs() -> f64 {
    ticks(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// The CPU time (user + system) of this process's threads named `name`, in seconds: a
/// thread's CPU per event bounds the rate it can keep up on a core of its own.
pub fn thread_cpu_secs(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .map(|t| ticks(&std::fs::read_to_string(t.path().join("stat")).unwrap_or_default()))
        .sum()
}

/// utime + stime of a `stat` file's text, in seconds (clock ticks of 1/100 s).
fn ticks(stat: &str) -> f64 {
    // utime and stime are the 12th and 13th fields after the command's closing parenthesis.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}
