//! What the network-namespace ban tests share: running a tool by argv, whether the machine
//! can run them at all (root, nft, ip …), which under `CI=true` must be so, the lab of
//! two namespaces they ban and ping in, and the fleet tests' namespace per agent.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `argv`; a tool that cannot start is a test failure.
pub fn cmd(argv: &[&str]) -> Output {
    Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"))
}

/// Runs `argv` and fails the test unless it succeeds.
pub fn ok(argv: &[&str]) {
    let out = cmd(argv);
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `test` can run here: root and every `(program, version flag)` of `tools`. Prints
/// why not and returns false; under `CI=true` that is a failure instead. `packages` names
/// the Debian packages that bring the tools.
pub fn prerequisites(test: &str, tools: &[(&str, &str)], packages: &str) -> bool {
    let mut missing = Vec::new();
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        missing.push("root (effective uid 0)".to_owned());
    }
    for (prog, arg) in tools {
        if !Command::new(prog)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            missing.push(format!("`{prog}` on PATH"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "the {test} needs {} (packages {packages})",
        missing.join(", ")
    );
    crate::skip!("{why}")
}

/// Labs made by this test process, so concurrent tests get their own namespaces.
static LABS: AtomicUsize = AtomicUsize::new(0);

/// Two network namespaces joined by a veth pair (`fw0` in the firewall namespace, `peer0`
/// in the peer): nft runs in `fw` (never in the host's ruleset), pings come from `peer`.
/// Deleted on drop, on panic too.
#[derive(Debug)]
pub struct Lab {
    pub fw: String,
    pub peer: String,
}

impl Lab {
    /// A lab named after `tag`, with `fw_addrs` on `fw0` and `peer_addrs` on `peer0`
    /// (`addr/prefix`; IPv6 ones without duplicate address detection).
    pub fn new(tag: &str, fw_addrs: &[String], peer_addrs: &[String]) -> Lab {
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        // The guard exists before the namespaces, so a failure half-way still cleans up.
        let lab = Lab {
            fw: format!("lw-{tag}-{pid}-{n}"),
            peer: format!("lw-{tag}p-{pid}-{n}"),
        };
        let (fw, peer) = (lab.fw.as_str(), lab.peer.as_str());
        ok(&["ip", "netns", "add", fw]);
        ok(&["ip", "netns", "add", peer]);
        ok(&[
            "ip", "-n", fw, "link", "add", "fw0", "type", "veth", "peer", "name", "peer0", "netns",
            peer,
        ]);
        for (ns, dev, addrs) in [(fw, "fw0", fw_addrs), (peer, "peer0", peer_addrs)] {
            for a in addrs {
                let mut argv = vec!["ip", "-n", ns, "addr", "add", a, "dev", dev];
                if a.contains(':') {
                    argv.push("nodad");
                }
                ok(&argv);
            }
            ok(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            ok(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        lab
    }

    /// The argv that runs nft in the firewall namespace (a daemon's `bans.nft`).
    pub fn nft_argv(&self) -> Vec<String> {
        ["ip", "netns", "exec", &self.fw, "nft"]
            .map(str::to_owned)
            .to_vec()
    }

    /// One ping from `src` (a peer address) to `dst` (a firewall address).
    pub fn ping_once(&self, src: &str, dst: &str) -> bool {
        cmd(&[
            "ip", "netns", "exec", &self.peer, "ping", "-n", "-q", "-c1", "-W1", "-I", src, dst,
        ])
        .status
        .success()
    }

    /// Whether `src` gets through, allowing a few tries for neighbour discovery.
    pub fn passes(&self, src: &str, dst: &str) -> bool {
        (0..4).any(|_| self.ping_once(src, dst))
    }

    /// Runs nft in the lab's firewall namespace (never in the host's).
    pub fn nft(&self, args: &[&str]) -> Output {
        let mut argv = vec!["ip", "netns", "exec", &self.fw, "nft"];
        argv.extend_from_slice(args);
        cmd(&argv)
    }

    /// nft's output, which must succeed.
    pub fn nft_text(&self, args: &[&str]) -> String {
        let out = self.nft(args);
        assert!(out.status.success(), "nft {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The elements of the logward table's `set`.
    pub fn set_len(&self, set: &str) -> usize {
        self.nft_text(&["list", "set", "inet", "logward", set])
            .matches(" expires ")
            .count()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.fw, &self.peer] {
            let _ = cmd(&["ip", "netns", "del", ns]);
        }
    }
}

/// One network namespace per agent (only loopback up), so each agent bans with an nft
/// ruleset of its own and the host's is never touched. Deleted on drop, on panic too.
#[derive(Debug)]
pub struct Namespaces(Vec<String>);

impl Namespaces {
    /// `n` namespaces named after `tag` and this process.
    pub fn new(tag: &str, n: usize) -> Namespaces {
        let pid = std::process::id();
        let mut ns = Namespaces(Vec::new());
        for i in 0..n {
            let name = format!("lw-{tag}{i}-{pid}");
            ok(&["ip", "netns", "add", &name]);
            // Pushed before it is set up, so a failure half-way still deletes it.
            ns.0.push(name.clone());
            ok(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        }
        ns
    }

    /// Agent `i`'s `bans:` config section: nft run in namespace `i`.
    pub fn bans_config(&self, i: usize) -> String {
        format!(
            "bans:\n  enabled: true\n  nft: [ip, netns, exec, {}, nft]\n",
            self.0[i]
        )
    }

    /// The ipv4 ban set of namespace `i` (empty text when the table is not there yet).
    pub fn v4_set(&self, i: usize) -> String {
        let out = cmd(&[
            "ip",
            "netns",
            "exec",
            &self.0[i],
            "nft",
            "list",
            "set",
            "inet",
            "logward",
            "ipv4_addr",
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = cmd(&["ip", "netns", "del", ns]);
        }
    }
}
