//! nftables bans, tested for real inside network namespaces this test creates.
//!
//! Each test builds its own lab: a namespace `lw-test-<pid>-<n>` that holds the logward table
//! (every nft command runs through `ip netns exec` into it — the host's own ruleset is never
//! touched) and a peer namespace joined to it by a veth pair, whose addresses ping the first.
//! Both namespaces are deleted when the lab is dropped, on panic too.
//!
//! Needs root and the `nftables`, `iproute2` and `iputils-ping` packages: without them the
//! tests say why and return, except under `CI=true`, where that is a failure.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logward_agent::ban::nftables::{BanExecutor, NftConfig, NftError, Nftables};
use logward_agent::ban::{Ban, BanTarget, RestoreList};
use logward_agent::process::ProcessError;
use logward_test_support::netns::{self, cmd, Lab};
use logward_test_support::wait_until;

/// Whether `prog arg` runs and succeeds (see [`cmd`]; here a missing program is an answer).
#[allow(clippy::disallowed_methods)]
fn runs(prog: &str, arg: &str) -> bool {
    std::process::Command::new(prog)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the tests can run here; prints why not, and fails under CI=true.
fn prerequisites() -> bool {
    netns::prerequisites(
        "nftables netns test",
        &[("nft", "--version"), ("ip", "-V"), ("ping", "-V")],
        "nftables, iproute2, iputils-ping",
    )
}

const FW4: &str = "10.200.0.1";
const BANNED4: &str = "10.200.0.2";
const OTHER4: &str = "10.200.0.3";
const FW6: &str = "fd00:200::1";
const BANNED6: &str = "fd00:200::2";
const NEIGHBOUR6: &str = "fd00:200::3";
const FW6_B: &str = "fd00:201::1";
const OTHER6: &str = "fd00:201::2";

/// The shared lab with this file's addresses.
fn lab() -> Lab {
    let cidr = |addrs: &[&str], v4: u8, v6: u8| -> Vec<String> {
        addrs
            .iter()
            .map(|a| format!("{a}/{}", if a.contains(':') { v6 } else { v4 }))
            .collect()
    };
    Lab::new(
        "test",
        &cidr(&[FW4, FW6, FW6_B], 24, 64),
        &cidr(&[BANNED4, OTHER4, BANNED6, NEIGHBOUR6, OTHER6], 24, 64),
    )
}

/// The ban config pointed at the lab's firewall namespace.
fn nft_config(lab: &Lab) -> NftConfig {
    NftConfig {
        argv: lab.nft_argv(),
        ..NftConfig::default()
    }
}

/// The ban executor's nftables backend in the lab.
fn nftables(lab: &Lab) -> Arc<Nftables> {
    Arc::new(Nftables::new(nft_config(lab)).expect("the lab config is valid"))
}

fn target(text: &str) -> BanTarget {
    BanTarget::parse(text).expect("a valid test address")
}

fn ban(text: &str, secs: u64) -> Ban {
    Ban::new(target(text), Some(Duration::from_secs(secs)))
}

#[tokio::test]
async fn banned_address_is_dropped_unbanned_one_passes() {
    if !prerequisites() {
        return;
    }
    let lab = lab();
    let nft = nftables(&lab);
    nft.start(&[]).await.unwrap();
    assert!(lab.passes(BANNED4, FW4), "before any ban");
    assert!(lab.passes(OTHER4, FW4));

    let (exec, _task) = BanExecutor::spawn(Arc::clone(&nft), 10_000);
    exec.ban(vec![ban(BANNED4, 600)]).await.unwrap();
    assert!(!lab.ping_once(BANNED4, FW4), "banned address got through");
    assert!(lab.passes(OTHER4, FW4), "unbanned address was dropped");
    assert!(
        lab.passes(OTHER6, FW6_B),
        "IPv6 traffic of others was dropped"
    );

    exec.unban(vec![target(BANNED4)]).await.unwrap();
    assert!(lab.passes(BANNED4, FW4), "still dropped after the unban");
    // Lifting a ban that is not there is fine.
    exec.unban(vec![target(BANNED4)]).await.unwrap();

    // Restarting re-creates the table: still one rule per set, and the re-applied ban works.
    for _ in 0..2 {
        nft.start(&[ban(BANNED4, 600)]).await.unwrap();
    }
    let chain = lab.nft_text(&["list", "chain", "inet", "logward", "input"]);
    assert_eq!(chain.matches(" drop").count(), 5, "{chain}");
    assert!(!lab.ping_once(BANNED4, FW4));
    assert_eq!(lab.set_len("ipv4_addr"), 1);
}

#[tokio::test]
async fn waiting_requests_fold_into_one_batch_and_failures_are_attributed() {
    if !prerequisites() {
        return;
    }
    let lab = lab();
    let nft = nftables(&lab);
    nft.start(&[]).await.unwrap();
    let (exec, _task) = BanExecutor::spawn(Arc::clone(&nft), 10_000);
    let before = nft.stats().batches_ok.load(Ordering::Relaxed);
    // On this current-thread runtime every request is queued before the executor runs.
    let handles: Vec<_> = (1..=50u32)
        .map(|i| {
            let exec = exec.clone();
            tokio::spawn(async move { exec.ban(vec![ban(&format!("192.0.2.{i}"), 600)]).await })
        })
        .collect();
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let batches = nft.stats().batches_ok.load(Ordering::Relaxed) - before;
    println!("50 concurrent ban requests applied in {batches} nft batch(es)");
    assert!(batches <= 2, "{batches} batches for 50 requests");
    assert_eq!(lab.set_len("ipv4_addr"), 50);

    // Two requests folded together, the second overlapping the first's network: the batch
    // fails, each is retried alone, and only the second caller gets the error.
    let a = tokio::spawn({
        let exec = exec.clone();
        async move { exec.ban(vec![Ban::new(target("10.50.0.0/16"), None)]).await }
    });
    let b = tokio::spawn({
        let exec = exec.clone();
        async move { exec.ban(vec![ban("10.50.1.0/24", 60)]).await }
    });
    a.await.unwrap().unwrap();
    match b.await.unwrap() {
        Err(NftError::Failed { stderr, .. }) => assert!(stderr.contains("overlap"), "{stderr}"),
        other => panic!("expected an nft failure, got {other:?}"),
    }
}

/// Listens on `ports` in the lab's firewall namespace (connections complete in the
/// backlog); killed on drop.
struct Listener(std::process::Child);

impl Listener {
    #[allow(clippy::disallowed_methods)] // tests spawn what they need
    fn start(lab: &Lab, ports: &[u16]) -> Listener {
        let binds: Vec<String> = ports
            .iter()
            .map(|p| format!("s{p}=socket.socket(); s{p}.bind(('0.0.0.0', {p})); s{p}.listen(16)"))
            .collect();
        let script = format!(
            "import socket, sys\n{}\nprint('up', flush=True)\nsys.stdin.read()\n",
            binds.join("\n")
        );
        let mut child = std::process::Command::new("ip")
            .args(["netns", "exec", &lab.fw, "python3", "-c", &script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 listener");
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).expect("read");
        assert_eq!(line.trim(), "up", "the listener did not start");
        Listener(child)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether a TCP connection from `src` to `dst:port` completes within a second.
fn connects(lab: &Lab, src: &str, dst: &str, port: u16) -> bool {
    let script = format!(
        "import socket\ns = socket.socket()\ns.bind(('{src}', 0))\ns.settimeout(1)\ns.connect(('{dst}', {port}))\n"
    );
    cmd(&["ip", "netns", "exec", &lab.peer, "python3", "-c", &script])
        .status
        .success()
}

/// `bans.ports: [22]`: a banned address loses TCP to port 22 only; ping and other ports
/// still pass, and other addresses reach port 22.
#[tokio::test]
async fn a_ban_limited_to_ports_drops_only_those() {
    if !prerequisites() || !runs("python3", "--version") {
        return;
    }
    let lab = lab();
    let nft = Arc::new(
        Nftables::new(NftConfig {
            ports: vec![22],
            ..nft_config(&lab)
        })
        .expect("valid"),
    );
    nft.start(&[]).await.unwrap();
    let chain = lab.nft_text(&["list", "chain", "inet", "logward", "input"]);
    assert!(chain.contains("tcp dport 22"), "{chain}");
    let _l = Listener::start(&lab, &[22, 2222]);
    assert!(connects(&lab, BANNED4, FW4, 22), "before the ban");
    nft.ban(&[ban(BANNED4, 600)]).await.unwrap();
    assert!(!connects(&lab, BANNED4, FW4, 22), "port 22 still reachable");
    assert!(
        connects(&lab, BANNED4, FW4, 2222),
        "another port was dropped"
    );
    assert!(lab.passes(BANNED4, FW4), "ping was dropped");
    assert!(
        connects(&lab, OTHER4, FW4, 22),
        "an unbanned address lost port 22"
    );
    // Port 0 cannot be matched: refused before anything runs.
    assert!(Nftables::new(NftConfig {
        ports: vec![0],
        ..nft_config(&lab)
    })
    .is_err());
}

#[tokio::test]
async fn ban_with_a_timeout_expires() {
    if !prerequisites() {
        return;
    }
    let lab = lab();
    let nft = nftables(&lab);
    nft.start(&[]).await.unwrap();
    nft.ban(&[ban(BANNED4, 2)]).await.unwrap();
    assert!(!lab.ping_once(BANNED4, FW4), "banned address got through");
    // The kernel drops the element when its two seconds are up.
    assert!(
        wait_until(Duration::from_secs(5), || lab.set_len("ipv4_addr") == 0),
        "ban did not expire"
    );
    assert!(lab.passes(BANNED4, FW4), "ban did not expire");
    assert_eq!(lab.set_len("ipv4_addr"), 0);
}

#[tokio::test]
async fn ipv6_ban_covers_the_whole_64() {
    if !prerequisites() {
        return;
    }
    let lab = lab();
    let nft = nftables(&lab);
    nft.start(&[]).await.unwrap();
    assert!(lab.passes(NEIGHBOUR6, FW6), "before any ban");
    nft.ban(&[ban(BANNED6, 600)]).await.unwrap();
    let set = lab.nft_text(&["list", "set", "inet", "logward", "ipv6_addr"]);
    assert!(set.contains("fd00:200::"), "{set}");
    assert!(!lab.ping_once(BANNED6, FW6), "banned address got through");
    assert!(
        !lab.ping_once(NEIGHBOUR6, FW6),
        "a neighbour in the same /64 got through"
    );
    assert!(lab.passes(OTHER6, FW6_B), "another /64 was dropped");
    assert!(lab.passes(OTHER4, FW4), "IPv4 was dropped");
}

#[tokio::test]
async fn restart_reapplies_100k_bans_in_one_batch() {
    if !prerequisites() {
        return;
    }
    let lab = lab();
    let nft = nftables(&lab);
    // 80 k IPv4 addresses, 20 k IPv6 /64s, as the store would return them: text and remaining
    // seconds. The peer's banned address is among them.
    let mut rows: Vec<(String, Option<u64>)> = (0..80_000u32)
        .map(|i| {
            let a = std::net::Ipv4Addr::from(0x0b00_0000 + i); // 11.0.0.0 onwards
            (a.to_string(), Some(60 + u64::from(i % 3600)))
        })
        .collect();
    rows.extend((0..20_000u32).map(|i| {
        (
            format!("2001:db8:{:x}:{:x}::1", i >> 8, i & 0xff),
            Some(600),
        )
    }));
    rows[0] = (BANNED4.to_owned(), Some(600));
    let list = RestoreList::from_rows(rows.iter().map(|(a, s)| (a.as_str(), *s)));
    assert_eq!((list.bans.len(), list.rejected.len()), (100_000, 0));

    let t0 = Instant::now();
    let sent = nft.start(&list.bans).await.unwrap();
    let first = t0.elapsed();
    println!("re-applied {sent} bans (table created) in {first:?}");
    assert_eq!(sent, 100_000);
    assert!(
        first < Duration::from_secs(5),
        "took {first:?} (target < 1 s)"
    );

    // A restart: the table with its 100 k elements is replaced in the same single batch.
    let t0 = Instant::now();
    nft.start(&list.bans).await.unwrap();
    let again = t0.elapsed();
    println!("re-applied {sent} bans (table replaced) in {again:?}");
    assert!(
        again < Duration::from_secs(5),
        "took {again:?} (target < 1 s)"
    );

    // Later bans stay cheap: addresses sit in hash sets.
    let t0 = Instant::now();
    nft.ban(&[ban("198.51.100.7", 600)]).await.unwrap();
    println!("one more ban on top of 100 k in {:?}", t0.elapsed());

    assert_eq!(lab.set_len("ipv4_addr"), 80_001);
    assert_eq!(lab.set_len("ipv6_addr"), 20_000);
    assert!(!lab.ping_once(BANNED4, FW4), "re-applied ban not in force");
    assert!(lab.passes(OTHER4, FW4));
}

#[tokio::test]
async fn invalid_addresses_never_reach_nft() {
    if !prerequisites() {
        return;
    }
    let lab = lab();
    let nft = nftables(&lab);
    let evil = [
        "10.200.0.9 timeout 1s }; delete table inet logward; add element inet logward ipv4_addr { 10.200.0.3",
        "10.200.0.3\nflush ruleset",
        "$(reboot)",
        "10.200.0.0/33",
        "0.0.0.0/0",
    ];
    for text in evil {
        assert!(BanTarget::parse(text).is_err(), "{text:?} accepted");
    }
    let rows = evil
        .iter()
        .map(|t| (*t, Some(600)))
        .chain([(BANNED4, Some(600))]);
    let list = RestoreList::from_rows(rows);
    assert_eq!(list.rejected.len(), evil.len());
    nft.start(&list.bans).await.unwrap();
    let ruleset = lab.nft_text(&["list", "ruleset"]);
    assert!(
        !ruleset.contains("10.200.0.3") && !ruleset.contains("10.200.0.9"),
        "{ruleset}"
    );
    assert_eq!(lab.set_len("ipv4_addr"), 1);
    assert!(lab.passes(OTHER4, FW4));

    // A table name is checked before anything runs: with a program that does not exist,
    // reaching it would be a process error, not a config error.
    let err = Nftables::new(NftConfig {
        argv: vec!["/nonexistent/nft".into()],
        table: "logward; flush ruleset".into(),
        ..nft_config(&lab)
    })
    .unwrap_err();
    assert!(matches!(err, NftError::Config(_)), "{err}");
}

#[tokio::test]
async fn nft_failures_are_errors_not_panics() {
    if !prerequisites() {
        return;
    }
    let lab = lab();
    let nft = nftables(&lab);
    nft.start(&[]).await.unwrap();
    // The table deleted behind the executor's back.
    let out = lab.nft(&["delete", "table", "inet", "logward"]);
    assert!(out.status.success());
    let (exec, _task) = BanExecutor::spawn(Arc::clone(&nft), 10_000);
    match exec.ban(vec![ban(BANNED4, 600)]).await {
        Err(NftError::Failed {
            stderr, elements, ..
        }) => {
            println!("nft's error, as the ban-failed alert would carry it: {stderr}");
            assert!(!stderr.is_empty());
            assert_eq!(elements, 1);
        }
        other => panic!("expected an nft failure, got {other:?}"),
    }
    assert_eq!(nft.stats().batches_failed.load(Ordering::Relaxed), 1);
    // start() repairs it.
    nft.start(&[ban(BANNED4, 600)]).await.unwrap();
    assert!(!lab.ping_once(BANNED4, FW4));

    // nft missing (a bogus argv).
    let missing = Nftables::new(NftConfig {
        argv: vec!["/nonexistent/nft".into()],
        ..nft_config(&lab)
    })
    .unwrap();
    match missing.ban(&[ban(OTHER4, 600)]).await {
        Err(NftError::Process(ProcessError::Spawn { program, .. })) => {
            assert_eq!(program, "/nonexistent/nft")
        }
        other => panic!("expected a spawn error, got {other:?}"),
    }
    assert!(lab.passes(OTHER4, FW4));
}
