#!/usr/bin/env python3
"""Alert -> webhook receiver latency of `logward run` (issue 4), printed as one JSON line.

    notify_latency.py LOGWARD WORKDIR [--lines N] [--interval-ms MS]

Starts a stdlib HTTP receiver on 127.0.0.1 and LOGWARD run following WORKDIR/auth.log with a
`webhook` notifier pointed at it (dedup off, under the rate limit). Appends N sshd
`Accepted publickey for u<seq>` lines INTERVAL apart; each raises one `ssh-login` alert
that the receiver matches to its line by user name. Latency = the receiver's time of the
request - the time that line's write(2) returned (both CLOCK_MONOTONIC, one process).
"""
import http.server
import json
import os
import signal
import statistics
import subprocess
import threading
import time

import cli

arrived = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        t = time.monotonic()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        v = json.loads(body)
        for a in v.get("alerts", [v]):
            arrived.setdefault(a["user"]["name"], t)

    def log_message(self, *args):
        pass


def main():
    a = cli.parse(lines=(int, 1000), interval_ms=(float, 200))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    log = os.path.join(a.workdir, "auth.log")
    open(log, "w").close()
    cfg = os.path.join(a.workdir, "agent.yaml")
    with open(cfg, "w") as f:
        f.write(f"sources:\n  - {{type: file, path: {log}, start_at: end}}\n"
                f"notify:\n  dedup: 0s\n  notifiers:\n"
                f"    hook: {{type: webhook, url: 'http://127.0.0.1:{port}/a', rate: [100/1s]}}\n")
    p = subprocess.Popen([a.logward, "run", "--format", "none", "--config", cfg,
                          "--state-dir", os.path.join(a.workdir, "state")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, TZ="UTC", LOGWARD_LOG="warn"))
    sock = os.path.join(a.workdir, "state", "control.sock")
    t0 = time.monotonic()
    while not os.path.exists(sock) and time.monotonic() - t0 < 10:
        time.sleep(0.02)
    time.sleep(0.5)
    written = {}
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    for i in range(a.lines):
        ts = time.strftime("%b %e %H:%M:%S")
        line = (f"{ts} bench sshd[{1000 + i}]: Accepted publickey for u{i} from "
                f"10.0.{i >> 8 & 255}.{i & 255} port 40000 ssh2: ED25519 SHA256:x\n").encode()
        os.write(fd, line)
        written[f"u{i}"] = time.monotonic()
        time.sleep(a.interval_ms / 1000)
    os.close(fd)
    deadline = time.monotonic() + 10
    while len(arrived) < a.lines and time.monotonic() < deadline:
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    srv.shutdown()
    lat = sorted((arrived[u] - t) * 1000 for u, t in written.items() if u in arrived)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [0] * 99
    print(json.dumps({"lines": a.lines, "received": len(lat), "interval_ms": a.interval_ms,
                      "p50_ms": statistics.median(lat) if lat else None,
                      "p99_ms": q[98], "max_ms": lat[-1] if lat else None}))


if __name__ == "__main__":
    main()
