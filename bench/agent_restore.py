#!/usr/bin/env python3
"""Start-up time of `logward run` re-applying the stored bans, printed as one JSON line.

    agent_restore.py LOGWARD WORKDIR SEEDED_STATE [--bans N] [--runs R]

SEEDED_STATE is a state dir holding N active bans (crates/store/examples/seed_bans.rs). Each
run copies it to a fresh state dir, creates a fresh network namespace, and starts
`ip netns exec NS LOGWARD run` (bans enabled, one quiet file source, `--format none`); the
time is from just before that process is spawned to the moment its stderr line
`stored bans re-applied` is read. Then `nft -j list set` in the namespace must show N
elements across the address sets, the daemon is stopped and the namespace deleted.

Baseline, same namespace set-up: `nft -f SCRIPT` of the very script the daemon sent (captured
once through a `tee` in `bans.nft`), i.e. nft and the kernel alone, without logward.
Never touches the host's own ruleset: every nft runs inside a namespace made here.
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

import cli

NS = f"lwbench{os.getpid()}"


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def elements(ns):
    total = 0
    for s in ("ipv4_addr", "ipv6_addr", "ipv4_net", "ipv6_net"):
        out = sh("ip", "netns", "exec", ns, "nft", "-j", "list", "set", "inet", "logward", s,
                 stdout=subprocess.PIPE).stdout
        for o in json.loads(out)["nftables"]:
            if "set" in o:
                total += len(o["set"].get("elem", []))
    return total


def run_agent(lw, workdir, seeded, nft_argv, want):
    state = os.path.join(workdir, "state")
    shutil.rmtree(state, ignore_errors=True)
    shutil.copytree(seeded, state)
    quiet = os.path.join(workdir, "quiet.log")
    open(quiet, "w").close()
    cfg = os.path.join(workdir, "restore.yaml")
    with open(cfg, "w") as f:
        f.write(f"sources:\n  - {{type: file, path: {quiet}}}\noutput: {{format: none}}\n"
                f"bans: {{enabled: true, nft: {json.dumps(nft_argv)}}}\n")
    sh("ip", "netns", "add", NS)
    try:
        t0 = time.monotonic()
        p = subprocess.Popen(["ip", "netns", "exec", NS, lw, "run", "--config", cfg,
                              "--state-dir", state],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=dict(os.environ, LOGWARD_LOG="info"))
        took, log = None, []
        for ln in p.stderr:
            log.append(ln.decode(errors="replace"))
            if b"stored bans re-applied" in ln:
                took = time.monotonic() - t0
                break
            if b"ERROR" in ln:
                break
        n = elements(NS) if took is not None else 0
        p.send_signal(signal.SIGTERM)
        try:
            p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
        if took is None or n != want:
            sys.exit(f"agent_restore: re-apply failed or incomplete ({n}/{want} elements):\n"
                     + "".join(log))
        return took, n
    finally:
        subprocess.run(["ip", "netns", "del", NS])


def run_nft(script):
    sh("ip", "netns", "add", NS)
    try:
        t0 = time.monotonic()
        sh("ip", "netns", "exec", NS, "nft", "-f", script)
        took = time.monotonic() - t0
        return took, elements(NS)
    finally:
        subprocess.run(["ip", "netns", "del", NS])


def main():
    a = cli.parse("seeded", bans=(int, 100_000), runs=(int, 3))
    script = os.path.join(a.workdir, "restore.nft")
    # Capture run (not timed): the script the daemon sends, for the baseline.
    run_agent(a.logward, a.workdir, a.seeded, ["sh", "-c", 'tee "$0" | nft "$@"', script],
              a.bans)
    agent, nft = [], []
    for _ in range(a.runs):
        agent.append(run_agent(a.logward, a.workdir, a.seeded, ["nft"], a.bans)[0])
        nft.append(run_nft(script)[0])
    print(json.dumps({
        "bans": a.bans, "runs": a.runs,
        "agent_s": agent, "agent_median_s": statistics.median(agent),
        "nft_s": nft, "nft_median_s": statistics.median(nft),
        "script_bytes": os.path.getsize(script),
    }))


main()
