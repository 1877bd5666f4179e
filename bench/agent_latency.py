#!/usr/bin/env python3
"""Append -> console-alert latency of `logward run` (issue 3), printed as one JSON line.

    agent_latency.py LOGWARD WORKDIR [--lines N] [--interval-ms MS]

Starts LOGWARD run with a file source on WORKDIR/auth.log (`start_at: end`), a fresh state
dir and the default rules, then appends N sshd `Failed password` lines, one write(2) each,
INTERVAL apart. Five address slots are used round-robin; a slot takes a new address after
its 5th failure, so `ssh-bruteforce` fires on every 5th line on average, spread evenly. Each
line's user name is `u<seq>`; the alert's message ends with `(last user: u<seq>)`, which
names the line that triggered it. Latency = the time the alert line is read from the
daemon's stdout - the time that line's write(2) returned (both CLOCK_MONOTONIC). One
process, one select() loop: no threads, no GIL hand-offs on the measuring path.
"""
import json
import math
import os
import re
import select
import signal
import statistics
import subprocess
import sys
import time

import cli

ALERT = re.compile(rb"ssh-bruteforce .*\(last user: u(\d+)\)")
SLOTS = 5


def address(i):
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def line(seq, addr_index):
    ts = time.strftime("%b %e %H:%M:%S")
    pid = 10000 + addr_index % 50000
    return (f"{ts} bench sshd[{pid}]: Failed password for u{seq} from {address(addr_index)} "
            f"port {40000 + seq % 20000} ssh2\n").encode()


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    # nearest rank
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def main():
    a = cli.parse(lines=(int, 50000), interval_ms=(float, 0.5))

    os.makedirs(a.workdir, exist_ok=True)
    log = os.path.join(a.workdir, "auth.log")
    state = os.path.join(a.workdir, "state")
    cfg = os.path.join(a.workdir, "agent.yaml")
    open(log, "wb").close()
    with open(cfg, "w") as f:
        f.write(f"sources:\n  - {{type: file, path: {log}, start_at: end}}\n"
                "rules: default\noutput: {format: text}\n")
    err = open(os.path.join(a.workdir, "daemon.stderr"), "wb")
    env = dict(os.environ, LOGWARD_LOG="warn")
    p = subprocess.Popen([a.logward, "run", "--config", cfg, "--state-dir", state],
                         stdout=subprocess.PIPE, stderr=err, env=env, bufsize=0)
    out = p.stdout.fileno()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)

    written = {}   # seq -> monotonic ns after write(2)
    arrived = {}   # seq -> monotonic ns when the alert line was read
    other = 0
    pending = b""

    def drain(timeout):
        nonlocal pending, other
        r, _, _ = select.select([out], [], [], max(0.0, timeout))
        if not r:
            return True
        now = time.monotonic_ns()
        chunk = os.read(out, 65536)
        if not chunk:
            return False
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for ln in lines:
            m = ALERT.search(ln)
            if m:
                arrived.setdefault(int(m.group(1)), now)
            elif ln.strip():
                other += 1
        return True

    # Warm-up: five failures of a warm-up address, until their alert shows that the source
    # follows the file (it may open it after the first writes: then another address).
    deadline = time.monotonic() + 30
    for j in range(1, 1000):
        seq = 10 ** 9 + 5 * j
        for k in range(5):
            os.write(fd, line(seq + k, (250 << 16) + j))
        wait = time.monotonic() + 2
        while seq + 4 not in arrived and time.monotonic() < wait and p.poll() is None:
            drain(0.05)
        if seq + 4 in arrived:
            break
        if p.poll() is not None or time.monotonic() > deadline:
            sys.exit("agent_latency: no warm-up alert (see daemon.stderr)")

    interval_ns = int(a.interval_ms * 1e6)
    counts = [k for k in range(SLOTS)]          # staggered so alerts are evenly spread
    addrs = [k + 1 for k in range(SLOTS)]
    next_addr = SLOTS + 1
    triggers = set()
    t0 = time.monotonic_ns()
    for seq in range(a.lines):
        due = t0 + seq * interval_ns
        while True:
            now = time.monotonic_ns()
            if now >= due:
                break
            drain((due - now) / 1e9)
        s = seq % SLOTS
        os.write(fd, line(seq, addrs[s]))
        written[seq] = time.monotonic_ns()
        counts[s] += 1
        if counts[s] == 5:
            if addrs[s] > SLOTS:  # the first round's addresses start part-way
                triggers.add(seq)
            counts[s] = 0
            addrs[s] = next_addr
            next_addr += 1
    end = time.monotonic() + 5
    while time.monotonic() < end and not triggers <= arrived.keys():
        drain(0.05)
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
    os.close(fd)

    lat = sorted((arrived[s] - written[s]) / 1e6 for s in triggers if s in arrived)
    print(json.dumps({
        "lines": a.lines,
        "interval_ms": a.interval_ms,
        "expected_alerts": len(triggers),
        "alerts": len(lat),
        "other_stdout_lines": other,
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": lat[-1] if lat else float("nan"),
        "mean_ms": statistics.fmean(lat) if lat else float("nan"),
        "exit": p.returncode,
    }))


main()
