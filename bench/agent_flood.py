#!/usr/bin/env python3
"""Peak RSS of `logward run` reading a flood of lines, printed as one JSON line.

    agent_flood.py LOGWARD WORKDIR LOGFILE [--lines N] [--timeout S]

Starts LOGWARD run (default rules, bans disabled, `--format none`, a fresh state dir under
WORKDIR) with one file source on LOGFILE (`start_at: beginning`), then asks the daemon's
control socket for its status every 0.1 s until it has processed N lines. Then it reads the
daemon's VmHWM (peak resident set) from /proc and the counter-table figures from the last
status answer, and stops the daemon with SIGTERM.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import cli

STATUS = re.compile(
    r"running: (\d+) lines, (\d+) events, (\d+) alerts, (\d+) commits, counter keys (\d+) "
    r"\(largest table (\d+) of max (\d+)\), (\d+) evicted")


def status(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(sock_path)
        s.sendall(b'{"op":"status"}\n')
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return json.loads(data)["message"]


def proc_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith(key + ":"):
                return int(ln.split()[1])
    return 0


def main():
    a = cli.parse("logfile", lines=(int, 1_000_000), timeout=(float, 600))

    state = os.path.join(a.workdir, "state")
    shutil.rmtree(state, ignore_errors=True)
    cfg = os.path.join(a.workdir, "flood.yaml")
    with open(cfg, "w") as f:
        f.write(f"sources:\n  - {{type: file, path: {os.path.abspath(a.logfile)}, "
                "start_at: beginning}\nrules: default\noutput: {format: none}\n"
                "bans: {enabled: false}\n")
    err = open(os.path.join(a.workdir, "flood.stderr"), "wb")
    env = dict(os.environ, LOGWARD_LOG="warn")
    t0 = time.monotonic()
    p = subprocess.Popen([a.logward, "run", "--config", cfg, "--state-dir", state],
                         stdout=subprocess.DEVNULL, stderr=err, env=env)
    sock = os.path.join(state, "control.sock")
    msg, m, done = "", None, None
    deadline = t0 + a.timeout
    while time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.1)
        try:
            msg = status(sock)
        except (OSError, ValueError, KeyError):
            continue
        m = STATUS.match(msg)
        if m and int(m.group(1)) >= a.lines:
            done = time.monotonic() - t0
            break
    if done is None:
        p.kill()
        sys.exit(f"agent_flood: not all lines processed (last status: {msg!r}; "
                 f"see {a.workdir}/flood.stderr)")
    hwm, rss = proc_kib(p.pid, "VmHWM"), proc_kib(p.pid, "VmRSS")
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
    lines, events, alerts, _, keys, largest, max_keys, evicted = map(int, m.groups())
    print(json.dumps({
        "lines": lines, "events": events, "alerts": alerts, "seconds": done,
        "vm_hwm_kib": hwm, "vm_rss_kib": rss, "keys": keys, "largest": largest,
        "max_keys": max_keys, "evicted": evicted, "exit": p.returncode, "status": msg,
    }))


main()
