//! `logward run` with bans enabled, for real, inside network namespaces this test creates.
//!
//! The daemon's `bans.nft` is `[ip, netns, exec, <test namespace>, nft]`, so every nft call it
//! makes — and every one this test makes — runs in the lab's namespace: the host's own
//! ruleset is never touched. A peer namespace joined by a veth pair pings the first. Both
//! namespaces are deleted when the lab is dropped, on panic too.
//!
//! Needs root and the `nftables`, `iproute2` and `iputils-ping` packages: without them the
//! test says why and returns, except under `CI=true`, where that is a failure.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test, `ip`, `ping`

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use logward_test_support::netns::{self, cmd, ok};

use logward_test_support::daemon::Daemon;
use logward_test_support::wait_until;

#[path = "support/run.rs"]
mod run;
use run::{ago, append, follow, sshd_failure};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

const FW4: &str = "10.200.7.1";
const ATTACKER4: &str = "10.200.7.2";
const MANUAL4: &str = "10.200.7.3";

/// The shared lab with this file's addresses: pings go to [`FW4`].
struct Lab(netns::Lab);

impl std::ops::Deref for Lab {
    type Target = netns::Lab;
    fn deref(&self) -> &netns::Lab {
        &self.0
    }
}

impl Lab {
    /// The lab for `test`, or `None` when this host lacks root or the tools (the test
    /// says why; under `CI=true` that fails). `tag` tells apart the labs of tests running
    /// at once.
    fn new(test: &str, tag: &str) -> Option<Lab> {
        if !netns::prerequisites(
            test,
            &[("nft", "--version"), ("ip", "-V"), ("ping", "-V")],
            "nftables, iproute2, iputils-ping",
        ) {
            return None;
        }
        Some(Lab(netns::Lab::new(
            &format!("run{tag}"),
            &[format!("{FW4}/24")],
            &[format!("{ATTACKER4}/24"), format!("{MANUAL4}/24")],
        )))
    }

    fn ping_once(&self, src: &str) -> bool {
        self.0.ping_once(src, FW4)
    }

    /// Whether `src` gets through, allowing a few tries for neighbour discovery.
    fn passes(&self, src: &str) -> bool {
        self.0.passes(src, FW4)
    }

    /// Runs nft in the lab's firewall namespace (never in the host's); its output.
    fn nft(&self, args: &[&str]) -> String {
        self.0.nft_text(args)
    }

    fn v4_set(&self) -> String {
        self.nft(&["list", "set", "inet", "logward", "ipv4_addr"])
    }
}

/// The timeout nft shows for `addr` in a set listing (`10.200.7.3 timeout 57s expires …`),
/// in seconds.
fn element_timeout(listing: &str, addr: &str) -> Option<u64> {
    let rest = &listing[listing.find(&format!("{addr} timeout "))? + addr.len() + 9..];
    let text = rest.split([' ', ',', '\n']).next()?;
    let mut total = 0u64;
    let mut num = 0u64;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(d) = c.to_digit(10) {
            num = num * 10 + u64::from(d);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3600,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0
            }
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total += num * unit;
        num = 0;
    }
    Some(total)
}

/// An rsyslog (RFC 3339) sshd failure stamped `ago` seconds before now: bans run from the
/// offence's own time.
fn failure(secs: i64, ip: &str, n: usize) -> String {
    sshd_failure(ago(secs), ip, 100 + n, 40000 + n)
}

/// `logward run`, which must come up.
fn start(config: &Path, state: &Path, dir: &Path) -> Daemon {
    let dm = Daemon::start(BIN, config, state, dir);
    assert!(dm.up(), "the daemon did not come up:\n{}", dm.log());
    dm
}

/// Polls `f` for up to five seconds.
fn eventually(f: impl FnMut() -> bool) -> bool {
    wait_until(Duration::from_secs(5), f)
}

/// Runs `logward bans ARGS` against the daemon's state directory.
fn logward_bans(state: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("bans")
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .expect("logward bans")
}

/// Runs `logward bans ARGS`, which must succeed; its stdout.
fn bans(state: &Path, args: &[&str]) -> String {
    let o = logward_bans(state, args);
    assert!(
        o.status.success(),
        "bans {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn daemon_bans_lifts_adds_and_restores_bans_in_a_namespace() {
    let Some(lab) = Lab::new("daemon bans netns test", "") else {
        return;
    };
    let d = tempfile::tempdir().expect("tempdir");
    let (dm, log, state) = start_daemon(&lab, d.path(), "");
    let cfg = d.path().join("agent.yaml");
    assert!(lab.passes(ATTACKER4), "before any ban");

    // Brute force from the peer's address: an alert, the address in the set, pings dropped.
    let attack: Vec<String> = (0..5)
        .map(|i| failure(5 - i, ATTACKER4, i as usize))
        .collect();
    append(&log, &attack);
    let alert = dm.alert(Duration::from_secs(5)).expect("an alert");
    assert!(
        alert.contains("ssh-bruteforce") && alert.contains(ATTACKER4),
        "{alert}"
    );
    assert!(
        eventually(|| lab.v4_set().contains(ATTACKER4)),
        "not in the set:\n{}",
        lab.v4_set()
    );
    assert!(!lab.ping_once(ATTACKER4), "banned address got through");
    assert!(lab.passes(MANUAL4), "an unbanned address was dropped");

    let list = bans(&state, &["list"]);
    assert!(list.contains(ATTACKER4), "{list}");

    // Lifted through the control socket.
    bans(&state, &["del", ATTACKER4]);
    assert!(!lab.v4_set().contains(ATTACKER4), "{}", lab.v4_set());
    assert!(lab.passes(ATTACKER4), "lifted ban still drops");
    assert!(!bans(&state, &["list"]).contains(ATTACKER4));

    // Added by hand for a minute.
    bans(&state, &["add", MANUAL4, "--duration", "60s"]);
    let set = lab.v4_set();
    assert!(
        element_timeout(&set, MANUAL4).is_some_and(|t| (55..=60).contains(&t)),
        "{set}"
    );
    assert!(!lab.ping_once(MANUAL4), "manual ban not in force");
    assert!(bans(&state, &["list"]).contains(MANUAL4));

    // kill -9, the namespace's ruleset flushed behind its back, a restart: the stored ban
    // is back with its remaining time, the lifted one stays lifted.
    drop(dm);
    lab.nft(&["flush", "ruleset"]);
    assert!(lab.passes(MANUAL4), "flushed, yet still dropped");
    std::thread::sleep(Duration::from_secs(3));
    let _dm = start(&cfg, &state, d.path());
    assert!(
        eventually(|| lab
            .nft(&["list", "ruleset"])
            .contains(&format!("{MANUAL4} timeout"))),
        "not re-applied:\n{}",
        lab.nft(&["list", "ruleset"])
    );
    let set = lab.v4_set();
    let left = element_timeout(&set, MANUAL4).expect("a timeout");
    assert!(
        (1..=58).contains(&left),
        "re-applied with {left}s, not the remaining time:\n{set}"
    );
    assert!(!set.contains(ATTACKER4), "{set}");
    assert!(!lab.ping_once(MANUAL4), "re-applied ban not in force");
    assert!(lab.passes(ATTACKER4));
}

/// A lab with `logward run` following a fresh auth.log, bans on in the lab's namespace;
/// `extra` is appended to the config.
fn start_daemon(
    lab: &Lab,
    d: &Path,
    extra: &str,
) -> (Daemon, std::path::PathBuf, std::path::PathBuf) {
    let bans = format!(
        "bans:\n  enabled: true\n  nft: [ip, netns, exec, {}, nft]\n{extra}",
        lab.fw
    );
    let (log, cfg) = follow(d, &bans);
    let state = d.join("state");
    (start(&cfg, &state, d), log, state)
}

/// A backlog (lines read after downtime) bans from the offence's own time: an offence older
/// than the ban it earned raises its alert but bans nothing; one half-way through its ban is
/// banned for what is left.
#[test]
fn backlog_offence_older_than_its_ban_does_not_ban() {
    let Some(lab) = Lab::new("backlog ban netns test", "b") else {
        return;
    };
    const STALE4: &str = "10.200.7.9";
    const HALF4: &str = "10.200.7.10";
    let d = tempfile::tempdir().expect("tempdir");
    let (dm, log, _state) = start_daemon(&lab, d.path(), "");
    let mut lines: Vec<String> = (0..5)
        .map(|i| failure(7200 - i as i64, STALE4, i))
        .collect();
    lines.extend((0..5).map(|i| failure(1800 - i as i64, HALF4, 10 + i)));
    append(&log, &lines);
    for ip in [STALE4, HALF4] {
        let a = dm.alert(Duration::from_secs(5)).expect("an alert");
        assert!(a.contains("ssh-bruteforce") && a.contains(ip), "{a}");
    }
    assert!(
        eventually(|| lab.v4_set().contains(HALF4)),
        "not in the set:\n{}",
        lab.v4_set()
    );
    let set = lab.v4_set();
    let left = element_timeout(&set, HALF4).expect("a timeout");
    // The ban ends an hour after the fifth failure, 1796 s ago.
    assert!((1700..=1805).contains(&left), "banned for {left}s:\n{set}");
    assert!(
        !set.contains(STALE4),
        "a two-hour-old offence was banned:\n{set}"
    );
    let log = dm.log();
    assert!(log.contains("older than the ban it earned"), "{log}");
}

/// Runs `logward bans ARGS`; returns (success, stdout + stderr).
fn bans_try(state: &Path, args: &[&str]) -> (bool, String) {
    let o = logward_bans(state, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

/// The reported bug: the ban layer never checked the ignore list, so a /64 ban dropped an
/// ignored /128 inside it. Every ban — a rule's, `bans add`, one re-applied at start — now
/// passes the ignore list: narrowed to the exact address when only its prefix holds an
/// ignored one, refused when it would cover one.
#[test]
fn a_ban_never_covers_an_ignored_address() {
    let Some(lab) = Lab::new("ignore-list ban netns test", "i") else {
        return;
    };
    const FW6: &str = "2001:db8:77::1";
    const ATTACKER6: &str = "2001:db8:77::2";
    const IGNORED6: &str = "2001:db8:77::3";
    const IGNORED4: &str = "10.200.7.4";
    for (ns, dev, addr) in [
        (&lab.fw, "fw0", FW6),
        (&lab.peer, "peer0", ATTACKER6),
        (&lab.peer, "peer0", IGNORED6),
    ] {
        ok(&[
            "ip",
            "-n",
            ns,
            "addr",
            "add",
            &format!("{addr}/64"),
            "dev",
            dev,
            "nodad",
        ]);
    }
    let ping6 = |src: &str| {
        (0..4).any(|_| {
            cmd(&[
                "ip", "netns", "exec", &lab.peer, "ping", "-6", "-n", "-q", "-c1", "-W1", "-I",
                src, FW6,
            ])
            .status
            .success()
        })
    };
    assert!(ping6(ATTACKER6) && ping6(IGNORED6), "before any ban");

    let d = tempfile::tempdir().expect("tempdir");
    let rules = logward_engine::DEFAULT_RULES.replace(
        "ignore: [127.0.0.0/8, \"::1/128\"]",
        &format!("ignore: [127.0.0.0/8, \"::1/128\", \"{IGNORED6}/128\", {IGNORED4}/32]"),
    );
    assert_ne!(
        rules,
        logward_engine::DEFAULT_RULES,
        "the ignore list moved"
    );
    std::fs::write(d.path().join("rules.yaml"), rules).expect("rules");
    let (dm, log, state) = start_daemon(&lab, d.path(), "rules: rules.yaml\n");
    append(
        &log,
        &(0..5)
            .map(|i| failure(5 - i, ATTACKER6, i as usize))
            .collect::<Vec<_>>(),
    );
    let a = dm.alert(Duration::from_secs(5)).expect("an alert");
    assert!(a.contains("ssh-bruteforce") && a.contains(ATTACKER6), "{a}");
    let host_set = || lab.nft(&["list", "set", "inet", "logward", "ipv6_host"]);
    let prefix_set = || lab.nft(&["list", "set", "inet", "logward", "ipv6_addr"]);
    assert!(
        eventually(|| host_set().contains(ATTACKER6)),
        "not banned alone:\n{}",
        lab.nft(&["list", "ruleset"])
    );
    assert!(!prefix_set().contains("2001:db8:77::"), "{}", prefix_set());
    assert!(!ping6(ATTACKER6), "the attacker got through");
    assert!(
        ping6(IGNORED6),
        "the ignored address inside the /64 was dropped"
    );

    // By hand: another address of the /64 is narrowed too; the ignored address, the /64 and
    // an ignored IPv4 address are refused with a reason.
    let (ok5, text) = bans_try(&state, &["add", "2001:db8:77::5"]);
    assert!(ok5, "{text}");
    assert!(host_set().contains("2001:db8:77::5"), "{}", host_set());
    for target in [IGNORED6, "2001:db8:77::/64", IGNORED4, "10.200.7.0/24"] {
        let (done, text) = bans_try(&state, &["add", target]);
        assert!(!done, "{target}: {text}");
        assert!(text.contains("ignore list"), "{target}: {text}");
    }
    assert!(ping6(IGNORED6));
    assert!(!lab.v4_set().contains(IGNORED4), "{}", lab.v4_set());
    let metrics = Command::new(BIN)
        .args(["metrics", "--state-dir"])
        .arg(&state)
        .output()
        .expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(
        metrics.contains("logward_bans_narrowed_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("logward_bans_refused_total 4"),
        "{metrics}"
    );

    // kill -9 and a restart: the stored bans are re-applied through the guard, still alone.
    drop(dm);
    let _dm = start(&d.path().join("agent.yaml"), &state, d.path());
    assert!(
        eventually(|| host_set().contains(ATTACKER6)),
        "not re-applied alone:\n{}",
        lab.nft(&["list", "ruleset"])
    );
    assert!(!prefix_set().contains("2001:db8:77::"), "{}", prefix_set());
    assert!(ping6(IGNORED6));
    assert!(!ping6(ATTACKER6));
}

/// The reported bug: after a rule fired, its counters ignored the address for ten minutes
/// (the grace that stops repeat alerts), so once the ban was lifted, or ended sooner, the
/// same address guessed uncounted. Counting now resumes when the ban ends or is lifted.
#[test]
fn a_lifted_or_ended_ban_leaves_no_blind_spot() {
    let Some(lab) = Lab::new("blind spot netns test", "g") else {
        return;
    };
    let d = tempfile::tempdir().expect("tempdir");
    // Bans of two seconds: shorter than the rules' ten-minute grace.
    let rules =
        logward_engine::DEFAULT_RULES.replace("duration: 1h, factor: 2", "duration: 2s, factor: 1");
    assert_ne!(rules, logward_engine::DEFAULT_RULES);
    std::fs::write(d.path().join("rules.yaml"), rules).expect("rules");
    let (dm, log, state) = start_daemon(&lab, d.path(), "rules: rules.yaml\n");
    let mut n = 0;
    let mut burst = |log: &Path| {
        let lines: Vec<String> = (0..5)
            .map(|i| failure(5 - i, ATTACKER4, n + i as usize))
            .collect();
        n += 5;
        append(log, &lines);
    };
    let alert = |what: &str| {
        let a = dm
            .alert(Duration::from_secs(15))
            .unwrap_or_else(|| panic!("no alert {what}"));
        assert!(a.contains("ssh-bruteforce") && a.contains(ATTACKER4), "{a}");
    };
    burst(&log);
    alert("for the first burst");
    // Lifted by hand: the next five failures are a brute force again, banned again.
    assert!(eventually(|| lab.v4_set().contains(ATTACKER4)));
    bans(&state, &["del", ATTACKER4]);
    burst(&log);
    alert("after the ban was lifted");
    assert!(eventually(|| lab.v4_set().contains(ATTACKER4)));
    // Ended on its own after two seconds: counted again once the agent sees it over.
    assert!(
        eventually(|| !bans(&state, &["list"]).contains(ATTACKER4)),
        "the two-second ban did not end"
    );
    let released = || {
        dm.log()
            .matches("ban over: the address is counted again")
            .count()
    };
    // Once for the lift, once for the end (the store expires bans every 5 s).
    wait_until(Duration::from_secs(15), || released() >= 2);
    assert_eq!(released(), 2, "the ended ban did not release its address");
    burst(&log);
    alert("after the ban ended");
}

#[test]
fn element_timeouts_are_read_from_nft_listings() {
    let l = "elements = { 10.200.7.3 timeout 57s expires 56s500ms, 10.200.7.2 timeout 1h2m expires 1h }";
    assert_eq!(element_timeout(l, "10.200.7.3"), Some(57));
    assert_eq!(element_timeout(l, "10.200.7.2"), Some(3720));
    assert_eq!(element_timeout(l, "10.200.7.9"), None);
}
